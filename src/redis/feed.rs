//! The live feed on Redis, per instance: the [`listener`](super::listener) (seat changes and
//! `expired` notifications from Redis into the in-process hub, subscribed before start-up goes
//! on) and the
//! [`sweeper`](super::sweeper) (holds expired on time). [`RedisHolds::start_feed`] starts both.

use super::RedisHolds;
use super::listener::listen;
use super::notifications::ensure_notifications;
use super::sweeper::sweep_loop;
use crate::hub::Hub;
use crate::telemetry::Metrics;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(
        "Redis keyspace notifications are off and cannot be turned on here ({0}); configure \
         `notify-keyspace-events` to include \"Ex\" (e.g. `notify-keyspace-events Ex`)"
    )]
    Notifications(String),
    #[error("cannot read the Redis configuration: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the feed listener could not subscribe to Redis pub/sub within {}s", SUBSCRIBE_TIMEOUT.as_secs())]
    NotSubscribed,
}

/// How long start-up waits for the listener's first subscription.
const SUBSCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl RedisHolds {
    /// Makes sure keyevent notifications for expired keys are on (merging with what is set),
    /// then starts the listener and the sweeper; both stop when `stop` turns true.
    pub async fn start_feed(
        &self,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), FeedError> {
        let topology = self.topology.clone();
        for node in topology.primaries().await? {
            let mut direct = node.get_multiplexed_async_connection().await?;
            match ensure_notifications(&node, &mut direct, &self.keys.probe()).await {
                // A cluster node that refuses CONFIG cannot be probed with a key of our choice;
                // the sweeper and the rescan do not need notifications, so go on without.
                Err(FeedError::Notifications(why)) if topology.is_cluster() => {
                    tracing::warn!(%why, "a cluster node's expiry notifications are not on");
                }
                result => result?,
            }
        }
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        tokio::spawn(listen(
            self.clone(),
            hub,
            metrics.clone(),
            stop.clone(),
            subscribed,
        ));
        tokio::spawn(sweep_loop(
            self.conn.clone(),
            self.keys.clone(),
            self.schedule.clone(),
            metrics,
            stop,
        ));
        // Until the listener is subscribed, changes would reach no watcher: a watcher served
        // before then could miss one made between its snapshot and the subscription.
        match tokio::time::timeout(SUBSCRIBE_TIMEOUT, ready).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(FeedError::NotSubscribed),
        }
    }
}
