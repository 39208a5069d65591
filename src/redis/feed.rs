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
//! On Redis Cluster, keyevent notifications are per node: the listener would have to subscribe on
//! every primary. This adapter speaks to a single Redis endpoint; see the README.

use super::KeyLayout;
use crate::domain::{ChangeReason, EventId, SeatChange, UnixMillis, now_millis};
use crate::hub::Hub;
use crate::telemetry::Metrics;
use redis::aio::ConnectionManager;
use redis::{Client, Script};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::StreamExt;

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

/// Next sweep time per event with live holds.
#[derive(Default)]
struct Schedule {
    next: Mutex<HashMap<EventId, UnixMillis>>,
}

impl Schedule {
    /// Makes sure the event is swept no later than `at`.
    fn note(&self, event: EventId, at: UnixMillis) {
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
        client: Client,
        conn: ConnectionManager,
        keys: KeyLayout,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), FeedError> {
        ensure_notifications(&client, &mut conn.clone(), &keys.probe()).await?;
        let schedule = Arc::new(Schedule::default());
        tokio::spawn(listen(
            client,
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
    conn: &mut ConnectionManager,
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
    conn: &mut ConnectionManager,
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
    client: Client,
    conn: ConnectionManager,
    keys: KeyLayout,
    hub: Arc<Hub>,
    schedule: Arc<Schedule>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let expired_channel = format!(
        "__keyevent@{}__:expired",
        client.get_connection_info().redis_settings().db()
    );
    let feed_channel = keys.channel();
    let mut backoff = Duration::from_millis(100);
    let mut reconnecting = false;
    loop {
        match subscribe(&client, &feed_channel, &expired_channel).await {
            Ok(pubsub) => {
                backoff = Duration::from_millis(100);
                if reconnecting {
                    metrics.listener_reconnected();
                    tracing::info!("feed listener reconnected; watchers resync");
                    // Only now: changes made while disconnected are in the new snapshot.
                    hub.resync_all();
                }
                rescan(&mut conn.clone(), &keys, &schedule).await;
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => on_message(&message, &feed_channel, &keys, &hub, &schedule),
                            None => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
                tracing::warn!("feed listener lost its Redis connection; reconnecting");
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

async fn subscribe(
    client: &Client,
    feed: &str,
    expired: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(feed).await?;
    pubsub.subscribe(expired).await?;
    Ok(pubsub)
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
async fn rescan(conn: &mut ConnectionManager, keys: &KeyLayout, schedule: &Schedule) {
    let mut cursor: u64 = 0;
    loop {
        let page: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(keys.deadlines_pattern())
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await;
        let Ok((next, found)) = page else { return };
        let now = now_millis();
        for key in found {
            if let Some(event) = keys.event_of(&key) {
                schedule.note(event, now);
            }
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

async fn sweep_loop(
    conn: ConnectionManager,
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
    conn: &mut ConnectionManager,
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
