//! The listener: one pub/sub connection per instance. It receives the seat changes every
//! instance's scripts publish and hands them to the in-process [`Hub`], and the `expired` keyevent
//! notifications, which tell the [`Schedule`] an event needs a sweep. Pub/sub is at-most-once:
//! after its connection drops it reconnects with backoff and, once subscribed again, tells every
//! watcher to resync.
//!
//! On a Redis Cluster, keyevent notifications are per node: it subscribes to `expired` on every
//! primary (and to the change channel, which every node relays, once). A topology change drops a
//! subscription, which triggers the same reconnect-and-resync as a lost connection, with the
//! primaries read afresh.

use super::connection::{RedisConnection, Topology};
use super::schedule::Schedule;
use super::{KeyLayout, RedisHolds, events_with_holds, wire};
use crate::domain::{ChangeReason, now_millis};
use crate::hub::Hub;
use crate::telemetry::Metrics;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until `stop`; `ready` fires once the first subscription is made.
pub(super) async fn listen(
    store: RedisHolds,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let RedisHolds {
        topology,
        conn,
        schedule,
        keys,
        ..
    } = store;
    let mut ready = Some(ready);
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
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
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
        match wire::decode(&payload) {
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
