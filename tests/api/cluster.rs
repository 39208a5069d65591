//! SeatRush on a real Redis Cluster: three redis-server primaries of the tests' own, joined with
//! `redis-cli --cluster create` (one cluster for the whole test run, each test on its own prefix). Each event's keys live on the node owning its hash tag's slot,
//! so several events spread the holds over the nodes; the feed must still see every change and
//! every expiry, on every instance.

use crate::helpers::{Storage, TestApp, spawn_with};
use seatrush::proto::v1::{self as pb, watch_seats_response::Payload};
use seatrush_testkit::redis::{keys_per_node, shared_cluster};
use std::collections::BTreeMap;
use std::time::Duration;
use tonic::Streaming;

async fn on_cluster(storage: Storage, cluster: &[String], migrate: bool) -> TestApp {
    let url = cluster[0].clone();
    spawn_with(storage, move |s| {
        s.redis_url = Some(url);
        s.no_migrate = !migrate;
    })
    .await
}

async fn watch(app: &TestApp, event: &str) -> Streaming<pb::WatchSeatsResponse> {
    app.booking
        .clone()
        .watch_seats(pb::WatchSeatsRequest {
            event_id: event.into(),
        })
        .await
        .expect("watch")
        .into_inner()
}

/// The snapshot's status of each seat, then the next `n` changes as (seat, reason).
async fn snapshot_then_changes(
    stream: &mut Streaming<pb::WatchSeatsResponse>,
    n: usize,
) -> (
    BTreeMap<String, pb::SeatStatus>,
    Vec<(String, pb::ChangeReason)>,
) {
    let mut seats = BTreeMap::new();
    let mut changes = Vec::new();
    while changes.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(15), stream.message())
            .await
            .expect("the feed delivers within 15 s")
            .expect("stream ok")
            .expect("stream open");
        match message.payload {
            Some(Payload::Snapshot(part)) => {
                for seat in part.seats {
                    seats.insert(seat.label.clone(), seat.status());
                }
            }
            Some(Payload::Change(change)) => {
                let reason = change.reason();
                changes.push((change.label, reason));
            }
            None => {}
        }
    }
    (seats, changes)
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
    for watcher in &mut watchers {
        let (_, changes) = snapshot_then_changes(watcher, 4).await;
        assert_eq!(
            changes,
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
        let (seats, changes) = snapshot_then_changes(watcher, 1).await;
        assert_eq!(seats.get("B1"), Some(&pb::SeatStatus::Held));
        assert_eq!(changes, [("B1".to_owned(), Expired)]);
    }
    let map = later.seat_map(&events[0]).await;
    assert_eq!(map.get("B1"), Some(&pb::SeatStatus::Available));
    later.teardown().await;
}
