//! The sweeper: expires holds on time. Redis raises `expired` only when it actually deletes a
//! key, which under load can be tens of seconds late; so each instance keeps, per event with
//! holds, the next deadline (the [`Schedule`]), and runs `sweep.lua` when it passes, every
//! [`SWEEP_INTERVAL`] at most. The script is idempotent, so several instances sweeping the same
//! event report each expiry once.

use super::KeyLayout;
use super::connection::RedisConnection;
use super::schedule::Schedule;
use super::scripts::SWEEP;
use crate::domain::{EventId, UnixMillis, now_millis};
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the sweeper looks for holds past their deadline.
const SWEEP_INTERVAL: Duration = Duration::from_millis(50);
/// Holds expired per script call, so one call never blocks Redis for long.
const SWEEP_BATCH: u32 = 500;

pub(super) async fn sweep_loop(
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
            .arg(keys.cooldown_prefix(event))
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
