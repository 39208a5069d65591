//! The live feed on Redis, per instance: the [`listener`](super::listener) (seat changes and
//! `expired` notifications from Redis into the in-process hub) and the
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
}

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
        tokio::spawn(listen(
            topology,
            self.conn.clone(),
            self.keys.clone(),
            hub,
            self.schedule.clone(),
            metrics.clone(),
            stop.clone(),
        ));
        tokio::spawn(sweep_loop(
            self.conn.clone(),
            self.keys.clone(),
            self.schedule.clone(),
            metrics,
            stop,
        ));
        Ok(())
    }
}
