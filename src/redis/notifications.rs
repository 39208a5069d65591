//! Redis's `expired` keyevent notifications, which the listener subscribes to: a hold made while
//! this instance was away is swept the moment Redis expires its keys. Start-up makes sure they are
//! on, merging `Ex` into `notify-keyspace-events`, or, where `CONFIG` is disabled (managed Redis),
//! proving that they arrive.

use super::feed::FeedError;
use redis::Client;
use redis::aio::ConnectionLike;
use std::time::Duration;
use tokio_stream::StreamExt;

/// The keyspace-notification classes the feed needs: `E` keyevent, `x` expired.
const NEEDED_FLAGS: [char; 2] = ['E', 'x'];

/// Makes sure Redis raises `expired` keyevent notifications. Where `CONFIG` is available the
/// flags are read and, if needed, merged in. Where it is not (managed Redis often disables it),
/// the notification is tested for real: a probe key is made to expire and its event must arrive.
pub(super) async fn ensure_notifications(
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
