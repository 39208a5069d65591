//! The live feed on Redis: one listener connection and one sweeper per instance.
//!
//! - The **listener** subscribes to the channel the hold scripts publish seat changes on (every
//!   instance's changes, since they come from Redis) and to `expired` keyevent notifications, and
//!   hands changes to the in-process [`Hub`]. Pub/sub is at-most-once: after its connection
//!   drops it reconnects with backoff and, once subscribed again, tells every watcher to resync.
//! - The **sweeper** expires holds on time. Redis raises `expired` only when it actually deletes a
//!   key, which under load can be tens of seconds late; so each instance keeps, per event with
//!   holds, the next deadline, and runs `sweep.lua` when it passes. The script is idempotent, so
//!   several instances sweeping the same event report each expiry once. Events are learned from
//!   RESERVED changes, from `expired` notifications (a hold made while this instance was away) and
//!   from a SCAN of the deadline sets at every (re)connection.
//!
//! On a Redis Cluster, keyevent notifications and SCAN are per node: the listener subscribes to
//! `expired` on every primary (and to the change channel, which every node relays, once), and the
//! rescan covers every primary. A topology change drops a subscription, which triggers the same
//! reconnect-and-resync as a lost connection, with the primaries read afresh.

use super::connection::{RedisConnection, Topology};
use super::{KeyLayout, events_with_holds};
use crate::domain::{ChangeReason, EventId, SeatChange, UnixMillis, now_millis};
use crate::hub::Hub;
use crate::telemetry::Metrics;
use redis::aio::ConnectionLike;
use redis::{Client, Script};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};

static SWEEP: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/sweep.lua")));

/// The keyspace-notification classes the feed needs: `E` keyevent, `x` expired.
const NEEDED_FLAGS: [char; 2] = ['E', 'x'];
/// How often the sweeper looks for holds past their deadline.
const SWEEP_INTERVAL: Duration = Duration::from_millis(50);
/// Holds expired per script call, so one call never blocks Redis for long.
const SWEEP_BATCH: u32 = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(
        "Redis keyspace notifications are off and cannot be turned on here ({0}); configure \
         `notify-keyspace-events` to include \"Ex\" (e.g. `notify-keyspace-events Ex`)"
    )]
    Notifications(String),
    #[error("cannot read the Redis configuration: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Next sweep time per event with live holds. Once the listener has scanned Redis, it also
/// answers "which events have holds" without another scan (for the seats-held gauge).
#[derive(Default)]
pub struct Schedule {
    next: Mutex<HashMap<EventId, UnixMillis>>,
    complete: std::sync::atomic::AtomicBool,
}

impl Schedule {
    /// The events with live holds, if the listener is up and has scanned Redis.
    pub(super) fn events(&self) -> Option<Vec<EventId>> {
        if !self.complete.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        Some(next.keys().copied().collect())
    }

    /// Makes sure the event is swept no later than `at`.
    pub(super) fn note(&self, event: EventId, at: UnixMillis) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let entry = next.entry(event).or_insert(at);
        *entry = (*entry).min(at);
    }

    fn due(&self, now: UnixMillis) -> Vec<EventId> {
        let next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        next.iter()
            .filter(|(_, at)| **at <= now)
            .map(|(e, _)| *e)
            .collect()
    }

    fn set(&self, event: EventId, at: Option<UnixMillis>) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        match at {
            Some(at) => {
                next.insert(event, at);
            }
            None => {
                next.remove(&event);
            }
        }
    }
}

/// The running listener and sweeper; they stop when `stop` turns true.
pub struct RedisFeed;

impl RedisFeed {
    /// Makes sure keyevent notifications for expired keys are on (merging with what is set),
    /// then starts the listener and the sweeper.
    pub async fn start(
        topology: Topology,
        conn: RedisConnection,
        keys: KeyLayout,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        schedule: Arc<Schedule>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), FeedError> {
        for node in topology.primaries().await? {
            let mut direct = node.get_multiplexed_async_connection().await?;
            match ensure_notifications(&node, &mut direct, &keys.probe()).await {
                // A cluster node that refuses CONFIG cannot be probed with a key of our choice;
                // the sweeper and the rescan do not need notifications, so go on without.
                Err(FeedError::Notifications(why)) if topology.is_cluster() => {
                    tracing::warn!(%why, "a cluster node's expiry notifications are not on");
                }
                result => result?,
            }
        }
        tokio::spawn(listen(
            topology,
            conn.clone(),
            keys.clone(),
            hub,
            schedule.clone(),
            metrics.clone(),
            stop.clone(),
        ));
        tokio::spawn(sweep_loop(conn, keys, schedule, metrics, stop));
        Ok(())
    }
}

/// Makes sure Redis raises `expired` keyevent notifications. Where `CONFIG` is available the
/// flags are read and, if needed, merged in. Where it is not (managed Redis often disables it),
/// the notification is tested for real: a probe key is made to expire and its event must arrive.
async fn ensure_notifications(
    client: &Client,
    conn: &mut (impl ConnectionLike + Send),
    probe_key: &str,
) -> Result<(), FeedError> {
    let current: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(conn)
        .await;
    let Ok(current) = current else {
        return probe_notifications(client, conn, probe_key).await;
    };
    let flags = current.get(1).cloned().unwrap_or_default();
    let has = |c: char| flags.contains(c) || (c == 'x' && flags.contains('A'));
    if NEEDED_FLAGS.iter().all(|&c| has(c)) {
        return Ok(());
    }
    let mut merged = flags.clone();
    merged.extend(NEEDED_FLAGS.iter().filter(|&&c| !has(c)));
    let set: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg(&merged)
        .query_async(conn)
        .await;
    match set {
        Ok(()) => {
            tracing::info!(from = %flags, to = %merged, "enabled Redis keyevent notifications");
            Ok(())
        }
        Err(err) => Err(FeedError::Notifications(err.to_string())),
    }
}

async fn probe_notifications(
    client: &Client,
    conn: &mut (impl ConnectionLike + Send),
    probe_key: &str,
) -> Result<(), FeedError> {
    let channel = format!(
        "__keyevent@{}__:expired",
        client.get_connection_info().redis_settings().db()
    );
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(&channel).await?;
    let _: () = redis::cmd("SET")
        .arg(probe_key)
        .arg("1")
        .arg("PX")
        .arg(20)
        .query_async(conn)
        .await?;
    tokio::time::sleep(Duration::from_millis(40)).await;
    // Reading an expired key deletes it, which raises the event now.
    let _: Option<String> = redis::cmd("GET").arg(probe_key).query_async(conn).await?;
    let mut messages = pubsub.on_message();
    let arrived = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(message) = messages.next().await {
            if message
                .get_payload::<String>()
                .is_ok_and(|key| key == probe_key)
            {
                return true;
            }
        }
        false
    })
    .await;
    if arrived == Ok(true) {
        Ok(())
    } else {
        Err(FeedError::Notifications(
            "CONFIG is not available and a probe key expired without an `expired` event".into(),
        ))
    }
}

async fn listen(
    topology: Topology,
    conn: RedisConnection,
    keys: KeyLayout,
    hub: Arc<Hub>,
    schedule: Arc<Schedule>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let expired_channel = format!(
        "__keyevent@{}__:expired",
        topology.seed().get_connection_info().redis_settings().db()
    );
    let feed_channel = keys.channel();
    let mut backoff = Duration::from_millis(100);
    let mut reconnecting = false;
    loop {
        match subscribe(&topology, &feed_channel, &expired_channel).await {
            Ok(mut messages) => {
                backoff = Duration::from_millis(100);
                if reconnecting {
                    // The snapshots of the resync go through the shared connection, which may
                    // not have noticed the outage yet: its first command would fail.
                    command_connection_ready(&mut conn.clone()).await;
                    metrics.listener_reconnected();
                    tracing::info!("feed listener reconnected; watchers resync");
                    // Only now: changes made while disconnected are in the new snapshot.
                    hub.resync_all();
                }
                rescan(&topology, &keys, &schedule).await;
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(Some(message)) => on_message(&message, &feed_channel, &keys, &hub, &schedule),
                            Some(None) | None => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
                tracing::warn!("feed listener lost its Redis connection; reconnecting");
                schedule
                    .complete
                    .store(false, std::sync::atomic::Ordering::Release);
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "feed listener cannot subscribe")
            }
        }
        reconnecting = true;
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Waits (a few seconds at most) until the shared connection answers again.
async fn command_connection_ready(conn: &mut RedisConnection) {
    for _ in 0..50 {
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(conn).await;
        if pong.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Messages from every subscription, as one stream; a `None` item means one of the
/// connections dropped (then all are made again).
type Messages = Pin<Box<dyn Stream<Item = Option<redis::Msg>> + Send>>;

/// The change channel on the configured node; `expired` on it too (one Redis) or on every
/// primary (a cluster, where each node only announces its own keys).
async fn subscribe(topology: &Topology, feed: &str, expired: &str) -> redis::RedisResult<Messages> {
    let ended = |pubsub: redis::aio::PubSub| -> Messages {
        Box::pin(
            pubsub
                .into_on_message()
                .map(Some)
                .chain(tokio_stream::once(None)),
        )
    };
    let mut pubsub = topology.seed().get_async_pubsub().await?;
    pubsub.subscribe(feed).await?;
    if !topology.is_cluster() {
        pubsub.subscribe(expired).await?;
        return Ok(ended(pubsub));
    }
    let mut messages = ended(pubsub);
    for node in topology.primaries().await? {
        let mut pubsub = node.get_async_pubsub().await?;
        pubsub.subscribe(expired).await?;
        messages = Box::pin(messages.merge(ended(pubsub)));
    }
    Ok(messages)
}

fn on_message(
    message: &redis::Msg,
    feed_channel: &str,
    keys: &KeyLayout,
    hub: &Hub,
    schedule: &Schedule,
) {
    let Ok(payload) = message.get_payload::<String>() else {
        return;
    };
    if message.get_channel_name() == feed_channel {
        match SeatChange::decode(&payload) {
            Some(change) => {
                if change.reason == ChangeReason::Reserved {
                    schedule.note(change.event, now_millis());
                }
                hub.publish(change);
            }
            None => tracing::warn!(%payload, "unreadable seat change on the feed channel"),
        }
    } else if payload.contains(":s:") {
        // A seat key expired in Redis itself: sweep its event now to report it.
        if let Some(event) = keys.event_of(&payload) {
            schedule.note(event, now_millis());
        }
    }
}

/// Finds every event with live holds (after a restart or a reconnection).
async fn rescan(topology: &Topology, keys: &KeyLayout, schedule: &Schedule) {
    match events_with_holds(topology, keys).await {
        Ok(events) => {
            let now = now_millis();
            for event in events {
                schedule.note(event, now);
            }
            schedule
                .complete
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Err(err) => tracing::warn!(error = %err, "cannot list the events with holds"),
    }
}

async fn sweep_loop(
    conn: RedisConnection,
    keys: KeyLayout,
    schedule: Arc<Schedule>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        for event in schedule.due(now_millis()) {
            match sweep(&mut conn.clone(), &keys, event, &metrics).await {
                Ok(next) => schedule.set(event, next),
                Err(err) => {
                    tracing::warn!(%event, error = %err, "hold sweep failed; retrying");
                    break;
                }
            }
        }
    }
}

/// Expires the event's due holds; returns when to sweep it next (`None`: no holds left).
async fn sweep(
    conn: &mut RedisConnection,
    keys: &KeyLayout,
    event: EventId,
    metrics: &Metrics,
) -> redis::RedisResult<Option<UnixMillis>> {
    loop {
        let reply: Vec<String> = SWEEP
            .key(keys.deadlines(event))
            .key(keys.version(event))
            .arg(keys.seat_prefix(event))
            .arg(keys.reservation_prefix(event))
            .arg(keys.channel())
            .arg(event.to_string())
            .arg(SWEEP_BATCH)
            .invoke_async(conn)
            .await?;
        let lateness = reply.get(3).map(String::as_str).unwrap_or_default();
        for late in lateness.split(',').filter_map(|ms| ms.parse::<u64>().ok()) {
            metrics.hold_expired(Duration::from_millis(late));
        }
        if reply.get(2).map(String::as_str) == Some("1") {
            continue;
        }
        return Ok(reply
            .get(1)
            .and_then(|n| n.parse::<UnixMillis>().ok())
            .filter(|&n| n >= 0));
    }
}
