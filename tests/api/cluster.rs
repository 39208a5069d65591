//! SeatRush on a real Redis Cluster: three redis-server primaries of the tests' own, joined with
//! `redis-cli --cluster create` (one cluster for the whole test run, each test on its own prefix). Each event's keys live on the node owning its hash tag's slot,
//! so several events spread the holds over the nodes; the feed must still see every change and
//! every expiry, on every instance.

use crate::feed::Watcher;
use crate::helpers::{Storage, TestApp, spawn_with};
use seatrush::proto::v1 as pb;
use seatrush_testkit::redis::{keys_per_node, shared_cluster};
use std::collections::BTreeMap;
use std::time::Duration;

async fn on_cluster(storage: Storage, cluster: &[String], migrate: bool) -> TestApp {
    let url = cluster[0].clone();
    spawn_with(storage, move |s| {
        s.redis_url = Some(url);
        s.no_migrate = !migrate;
    })
    .await
}

/// A watcher of `event` through `app`, with the statuses of its first snapshot.
async fn watch(app: &TestApp, event: &str) -> (Watcher, BTreeMap<String, pb::SeatStatus>) {
    let watcher = Watcher::start(&mut app.booking.clone(), event).await;
    let snapshot = watcher.seats.clone();
    (watcher, snapshot)
}

/// The first `n` changes after the snapshot, as (seat, reason).
async fn changes(watcher: &mut Watcher, n: usize) -> Vec<(String, pb::ChangeReason)> {
    while watcher.changes.len() < n {
        assert!(
            watcher.next(Duration::from_secs(15)).await.is_some(),
            "the feed delivers within 15 s"
        );
    }
    watcher
        .changes
        .iter()
        .map(|c| (c.label.clone(), c.reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_purchases_and_the_feed_work_across_the_nodes_of_a_cluster() {
    use pb::ChangeReason::{Expired, Reserved, Sold};
    let cluster = shared_cluster().await;
    let storage = Storage::new(crate::helpers::Backend::Distributed).await;
    let first = on_cluster(storage.clone(), cluster, true).await;
    let second = on_cluster(storage.clone(), cluster, false).await;
    let token = first.user().await;
    let mut events = Vec::new();
    for _ in 0..6 {
        events.push(first.event(1, 4).await.event_id);
    }
    let mut watchers = Vec::new();
    for event in &events {
        watchers.push(watch(&second, event).await);
    }
    for event in &events {
        first
            .reserve(&token, event, &["A1"], 1)
            .await
            .expect("reserve A1");
        let held = second
            .reserve(&token, event, &["A2"], 60)
            .await
            .expect("reserve A2");
        let tickets = first
            .purchase(&token, &held.reservation_id)
            .await
            .expect("purchase A2");
        assert_eq!(tickets.len(), 1);
    }
    let busy = keys_per_node(cluster).await;
    assert!(
        busy.iter().filter(|&&n| n > 0).count() >= 2,
        "events should spread over the nodes: {busy:?}"
    );
    for (watcher, _) in &mut watchers {
        assert_eq!(
            changes(watcher, 4).await,
            [
                ("A1".to_owned(), Reserved),
                ("A2".to_owned(), Reserved),
                ("A2".to_owned(), Sold),
                ("A1".to_owned(), Expired),
            ]
        );
    }
    // The sold seat stays sold for a Reserve through either instance.
    let refused = second.reserve(&token, &events[0], &["A2"], 60).await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::AlreadyExists);

    // The seats-held count sees every node.
    let holds = seatrush::internals::RedisHolds::connect(
        &cluster[0],
        None,
        &storage.redis_prefix,
        Duration::from_secs(60),
        Duration::from_secs(5),
    )
    .await
    .expect("cluster");
    for event in &events {
        first
            .reserve(&token, event, &["A3"], 60)
            .await
            .expect("reserve A3");
    }
    use seatrush::internals::ports::HoldStore;
    assert_eq!(
        holds.held_seats().await.expect("count"),
        events.len() as u64
    );
    second.stop().await;
    first.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_later_expires_the_holds_on_every_node() {
    use pb::ChangeReason::Expired;
    let cluster = shared_cluster().await;
    let storage = Storage::new(crate::helpers::Backend::Distributed).await;
    let first = on_cluster(storage.clone(), cluster, true).await;
    let token = first.user().await;
    let mut events = Vec::new();
    for _ in 0..6 {
        events.push(first.event(2, 4).await.event_id);
    }
    for event in &events {
        first
            .reserve(&token, event, &["B1"], 6)
            .await
            .expect("reserve");
    }
    // The instance that made the holds (and would sweep them) goes away.
    first.stop().await;
    let later = on_cluster(storage.clone(), cluster, false).await;
    let mut watchers = Vec::new();
    for event in &events {
        watchers.push(watch(&later, event).await);
    }
    for watcher in &mut watchers {
        let (watcher, snapshot) = watcher;
        assert_eq!(snapshot.get("B1"), Some(&pb::SeatStatus::Held));
        assert_eq!(changes(watcher, 1).await, [("B1".to_owned(), Expired)]);
    }
    let map = later.seat_map(&events[0]).await;
    assert_eq!(map.get("B1"), Some(&pb::SeatStatus::Available));
    later.teardown().await;
}
