//! The `HoldStore` contract: the same cases, run directly against every adapter (in process,
//! Redis, Redis Cluster) without gRPC, so a rule that differs between backends fails one named
//! test, `contract::<adapter>::<rule>`. The rules are `domain::lifecycle`'s; the in-process store
//! runs that code, the Redis scripts repeat it.
//!
//! Each case sees the changes a store publishes through its hub (the Redis adapters through their
//! feed listener, as in production). Time is real, with holds of a few hundred milliseconds: the
//! Redis scripts read Redis's clock, which a test cannot stop.

mod cases;

use seatrush::clock::SystemClock;
use seatrush::internals::domain::{ChangeReason, EventId, SeatLabel};
use seatrush::internals::ports::HoldStore;
use seatrush::internals::{FeedMessage, Hub, MemoryHolds, Metrics, RedisHolds, Subscription};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A store under test, with the hub its changes reach.
pub struct Store {
    pub holds: Arc<dyn HoldStore>,
    hub: Arc<Hub>,
    /// Stops the Redis feed when dropped.
    _stop: watch::Sender<bool>,
    redis: Option<(String, String)>,
}

impl Store {
    pub async fn memory() -> Self {
        let hub = Arc::new(Hub::new());
        let holds = MemoryHolds::new(
            hub.clone(),
            Arc::new(Metrics::disabled()),
            Arc::new(SystemClock),
        );
        Self {
            holds: Arc::new(holds),
            hub,
            _stop: watch::channel(false).0,
            redis: None,
        }
    }

    pub async fn redis() -> Self {
        Self::on_redis(seatrush_testkit::redis::url()).await
    }

    pub async fn cluster() -> Self {
        let nodes = seatrush_testkit::redis::shared_cluster().await;
        Self::on_redis(nodes[0].clone()).await
    }

    async fn on_redis(url: String) -> Self {
        let prefix = seatrush_testkit::redis::fresh_prefix("srcontract");
        let holds = RedisHolds::connect(
            &url,
            None,
            &prefix,
            Duration::from_secs(3_600),
            Duration::from_secs(5),
        )
        .await
        .expect("Redis is required for the contract suite");
        let hub = Arc::new(Hub::new());
        let (stop, stopping) = watch::channel(false);
        holds
            .start_feed(hub.clone(), Arc::new(Metrics::disabled()), stopping)
            .await
            .expect("feed");
        Self {
            holds: Arc::new(holds),
            hub,
            _stop: stop,
            redis: Some((url, prefix)),
        }
    }

    /// A new event whose sold seats are known (none), watched from now on.
    pub async fn event(&self) -> (EventId, Changes) {
        let event = EventId::generate();
        let changes = Changes(self.hub.subscribe(event));
        self.holds
            .mark_sold(event, &[], true)
            .await
            .expect("loaded");
        (event, changes)
    }

    /// Deletes the case's keys from the shared Redis (the cluster lives only as long as the
    /// test process).
    pub async fn finish(self) {
        if let Some((url, prefix)) = &self.redis
            && *url == seatrush_testkit::redis::url()
        {
            seatrush_testkit::redis::delete_keys(url, prefix).await;
        }
    }
}

/// The changes one event's store published, as its watchers get them.
pub struct Changes(Subscription);

impl Changes {
    /// The next `n` changes (within a few seconds), as `(label, reason, version)`.
    pub async fn next(&mut self, n: usize) -> Vec<(String, ChangeReason, u64)> {
        let mut seen = Vec::new();
        while seen.len() < n {
            let message = tokio::time::timeout(Duration::from_secs(5), self.0.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of {n} changes arrived: {seen:?}", seen.len()))
                .expect("the feed is open");
            match message {
                FeedMessage::Change(change) => {
                    seen.push((change.label.to_string(), change.reason, change.version))
                }
                FeedMessage::Resync => panic!("a resync during a contract case"),
            }
        }
        seen
    }

    /// The next `n` changes, without versions.
    pub async fn reasons(&mut self, n: usize) -> Vec<(String, ChangeReason)> {
        self.next(n)
            .await
            .into_iter()
            .map(|(label, reason, _)| (label, reason))
            .collect()
    }

    /// Asserts that nothing more arrives for a while.
    pub async fn none_within(&mut self, wait: Duration) {
        if let Ok(message) = tokio::time::timeout(wait, self.0.recv()).await {
            panic!("unexpected change: {message:?}");
        }
    }
}

pub fn seats(labels: &[&str]) -> Vec<SeatLabel> {
    labels
        .iter()
        .map(|l| SeatLabel::parse("seat", l).expect("label"))
        .collect()
}

/// Runs every case against every adapter, as `contract::<adapter>::<case>`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        contract!(@adapter memory, memory, $($case),*);
        contract!(@adapter redis, redis, $($case),*);
        contract!(@adapter redis_cluster, cluster, $($case),*);
    };
    (@adapter $module:ident, $make:ident, $($case:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store = super::Store::$make().await;
                    super::cases::$case(&store).await;
                    store.finish().await;
                }
            )*
        }
    };
}

contract!(
    a_hold_takes_all_its_seats_or_none,
    nothing_is_held_before_the_sold_seats_are_loaded,
    sold_seats_are_refused_and_reported_sold_once,
    the_per_user_cap_counts_live_seats_only,
    a_client_takes_at_most_its_cap_within_the_window_whatever_the_accounts,
    let_go_seats_cool_down_for_their_user_and_client,
    refusals_come_in_the_lifecycle_order,
    a_purchase_lease_lifts_the_deadline_and_is_reentrant,
    extend_is_capped_by_the_lifetime_and_never_shortens,
    finishing_a_purchase_sells_the_seats_and_ends_the_hold,
    release_frees_only_the_seats_that_still_carry_the_hold,
    a_hold_expires_on_time_reported_once,
    releasing_a_lapsed_hold_reports_it_expired_once,
    versions_follow_each_other_and_snapshots_carry_them,
    releasing_a_user_frees_their_live_holds_only,
    held_seats_count_live_holds_only,
    a_user_sees_their_live_holds_only,
    looking_up_a_hold_answers_in_the_lifecycle_order,
    best_available_chooses_what_the_domain_rule_chooses,
    best_available_takes_back_lapsed_seats_and_skips_cooling_ones,
    places_are_the_first_free_ones_of_their_area,
    ranks_set_at_creation_choose_on_every_adapter,
    a_plan_longer_than_one_call_sends_chooses_the_same,
);
