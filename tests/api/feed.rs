//! WatchSeats over the real server: order, cross-instance delivery, a model check against the
//! seat map, a Redis restart, a slow consumer, leaks and shutdown.

use crate::both_backends;
use crate::helpers::{Backend, OwnRedis, Storage, TestApp, authed, connect, spawn_app, spawn_with};
use seatrush::proto::v1::{
    self as pb, ChangeReason, SeatStatus, booking_service_client::BookingServiceClient,
    watch_seats_response::Payload,
};
use seatrush_testkit::redis::free_port;
use std::collections::BTreeMap;
use std::time::Duration;
use tonic::Code;
use tonic::Streaming;

both_backends!(
    a_watcher_sees_each_change_with_its_reason_in_order,
    every_watcher_ends_up_with_the_seat_map_under_a_random_workload,
    a_slow_watcher_neither_delays_others_nor_misses_the_final_state,
    a_thousand_watchers_that_leave_leave_nothing_running,
    shutdown_ends_streams_with_unavailable,
);

/// One change as a watcher applied it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub label: String,
    pub reason: ChangeReason,
}

/// A client-side replica of the seat map, built from the stream as an app would: the layout once
/// (GetSeatLayout), then the packed statuses and the batches of changes by seat index.
pub struct Watcher {
    stream: Streaming<pb::WatchSeatsResponse>,
    /// Label of each seat index, from the layout.
    labels: Vec<String>,
    pub seats: BTreeMap<String, SeatStatus>,
    pub version: u64,
    pub changes: Vec<Seen>,
    pub snapshots: usize,
    pub batches: usize,
}

/// Every seat's label, in layout order.
pub async fn layout_labels(
    client: &mut BookingServiceClient<tonic::transport::Channel>,
    event: &str,
) -> Vec<String> {
    let layout = client
        .get_seat_layout(pb::GetSeatLayoutRequest {
            event_id: event.into(),
        })
        .await
        .expect("layout")
        .into_inner();
    let mut labels = Vec::with_capacity(layout.seat_count as usize);
    for section in &layout.sections {
        for row in &section.rows {
            assert_eq!(
                row.first_seat_index as usize,
                labels.len(),
                "rows are contiguous"
            );
            for number in 1..=row.seat_count {
                labels.push(if section.code.is_empty() {
                    format!("{}{number}", row.row)
                } else {
                    format!("{}-{}-{number}", section.code, row.row)
                });
            }
        }
    }
    labels
}

/// The status of seat `index` in packed statuses.
pub fn packed(statuses: &[u8], index: usize) -> SeatStatus {
    match (statuses[index / 4] >> (2 * (index % 4))) & 0b11 {
        0 => SeatStatus::Available,
        1 => SeatStatus::Held,
        2 => SeatStatus::Sold,
        other => panic!("no status {other}"),
    }
}

impl Watcher {
    pub async fn start(
        client: &mut BookingServiceClient<tonic::transport::Channel>,
        event: &str,
    ) -> Watcher {
        let labels = layout_labels(client, event).await;
        let stream = client
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.into(),
                labels: true,
            })
            .await
            .expect("watch")
            .into_inner();
        let mut watcher = Watcher {
            stream,
            labels,
            seats: BTreeMap::new(),
            version: 0,
            changes: Vec::new(),
            snapshots: 0,
            batches: 0,
        };
        let first = watcher
            .next(Duration::from_secs(10))
            .await
            .expect("a first message");
        assert!(
            matches!(first, Payload::Snapshot(_)),
            "the stream starts with a snapshot"
        );
        watcher
    }

    /// The next message, applied; `None` on timeout.
    pub async fn next(&mut self, wait: Duration) -> Option<Payload> {
        let message = tokio::time::timeout(wait, self.stream.message())
            .await
            .ok()?;
        let payload = message
            .expect("stream ok")
            .expect("stream open")
            .payload
            .expect("payload");
        match &payload {
            Payload::Snapshot(snapshot) => {
                assert_eq!(snapshot.seat_count as usize, self.labels.len());
                assert_eq!(snapshot.statuses.len(), self.labels.len().div_ceil(4));
                self.snapshots += 1;
                self.version = snapshot.version;
                self.seats = self
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(i, label)| (label.clone(), packed(&snapshot.statuses, i)))
                    .collect();
            }
            Payload::Changes(batch) => {
                assert_eq!(
                    batch.from_version,
                    self.version + 1,
                    "no gap and no duplicate between batches"
                );
                assert_eq!(
                    batch.to_version - batch.from_version + 1,
                    batch.updates.len() as u64,
                    "one update per version"
                );
                self.batches += 1;
                for update in &batch.updates {
                    let label = &self.labels[update.seat_index as usize];
                    assert_eq!(&update.label, label, "labels were asked for");
                    assert_eq!(update.status(), expected_status(update.reason()));
                    self.seats.insert(label.clone(), update.status());
                    self.changes.push(Seen {
                        label: label.clone(),
                        reason: update.reason(),
                    });
                }
                self.version = batch.to_version;
            }
        }
        Some(payload)
    }

    /// Reads until the replica equals the server's seat map (bounded wait).
    pub async fn catch_up(&mut self, app: &TestApp, event: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let truth = app.seat_map(event).await;
            if self.seats == truth {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "watcher never converged on the seat map"
            );
            self.next(Duration::from_millis(300)).await;
        }
    }

    /// The reasons seen for one seat, in order.
    pub fn history(&self, label: &str) -> Vec<ChangeReason> {
        self.changes
            .iter()
            .filter(|c| c.label == label)
            .map(|c| c.reason)
            .collect()
    }
}

fn expected_status(reason: ChangeReason) -> SeatStatus {
    match reason {
        ChangeReason::Reserved => SeatStatus::Held,
        ChangeReason::Released | ChangeReason::Expired => SeatStatus::Available,
        ChangeReason::Sold => SeatStatus::Sold,
        ChangeReason::Unspecified => SeatStatus::Unspecified,
    }
}

async fn a_watcher_sees_each_change_with_its_reason_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let mut watcher = Watcher::start(&mut app.booking.clone(), &event.event_id).await;
    assert_eq!(watcher.seats.len(), 10);
    let fan = app.user().await;
    app.reserve(&fan, &event.event_id, &["A1"], 1)
        .await
        .expect("short hold");
    let released = app
        .reserve(&fan, &event.event_id, &["A2"], 0)
        .await
        .expect("hold");
    app.release(&fan, &released.reservation_id)
        .await
        .expect("release");
    let bought = app
        .reserve(&fan, &event.event_id, &["A3"], 0)
        .await
        .expect("hold");
    app.purchase(&fan, &bought.reservation_id)
        .await
        .expect("purchase");
    while watcher.history("A1").len() < 2 {
        assert!(
            watcher.next(Duration::from_secs(5)).await.is_some(),
            "the expiry must arrive"
        );
    }
    use ChangeReason::*;
    assert_eq!(watcher.history("A1"), [Reserved, Expired]);
    assert_eq!(watcher.history("A2"), [Reserved, Released]);
    assert_eq!(watcher.history("A3"), [Reserved, Sold]);
    assert_eq!(watcher.seats, app.seat_map(&event.event_id).await);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_of_one_instance_sees_changes_made_through_another() {
    let a = spawn_app(Backend::Distributed).await;
    let b = a.second_instance().await;
    let event = a.event(1, 10).await;
    let mut watcher = Watcher::start(&mut b.booking.clone(), &event.event_id).await;
    let fan = a.user().await;
    a.reserve(&fan, &event.event_id, &["A7"], 0)
        .await
        .expect("hold through A");
    while watcher.changes.is_empty() {
        assert!(
            watcher.next(Duration::from_secs(5)).await.is_some(),
            "B must report A's hold"
        );
    }
    assert_eq!(watcher.changes[0].label, "A7");
    assert_eq!(watcher.changes[0].reason, ChangeReason::Reserved);
    b.stop().await;
    a.teardown().await;
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn every_watcher_ends_up_with_the_seat_map_under_a_random_workload(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(2, 10).await;
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(app.user().await);
    }
    let mut watchers = vec![Watcher::start(&mut app.booking.clone(), &event.event_id).await];
    let mut workers = Vec::new();
    for (w, token) in tokens.into_iter().enumerate() {
        let app_booking = app.booking.clone();
        let event_id = event.event_id.clone();
        workers.push(tokio::spawn(async move {
            let mut booking = app_booking;
            let mut rng = Lcg(w as u64 + 7);
            for _ in 0..40 {
                let seat = format!(
                    "{}{}",
                    if rng.next(2) == 0 { "A" } else { "B" },
                    1 + rng.next(10)
                );
                let hold_seconds = if rng.next(3) == 0 { 1 } else { 30 };
                let reserve = authed(
                    pb::ReserveRequest {
                        event_id: event_id.clone(),
                        seats: vec![seat],
                        hold_seconds,
                        best_available: None,
                        general_admission: None,
                    },
                    &token,
                );
                let Ok(held) = booking.reserve(reserve).await else {
                    continue;
                };
                let id = held
                    .into_inner()
                    .reservation
                    .expect("reservation")
                    .reservation_id;
                match rng.next(3) {
                    0 => {
                        let _ = booking
                            .release(authed(pb::ReleaseRequest { reservation_id: id }, &token))
                            .await;
                    }
                    1 => {
                        let _ = booking
                            .purchase(authed(
                                pb::PurchaseRequest {
                                    reservation_id: id,
                                    ..Default::default()
                                },
                                &token,
                            ))
                            .await;
                    }
                    _ => {}
                }
            }
        }));
    }
    // Watchers joining mid-flight must converge too.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        watchers.push(
            Watcher::start(
                &mut BookingServiceClient::new(connect(&app.address).await),
                &event.event_id,
            )
            .await,
        );
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    // Let the 1-second holds lapse, then every replica must equal the seat map.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for watcher in &mut watchers {
        watcher.catch_up(&app, &event.event_id).await;
    }
    assert!(
        watchers[0]
            .changes
            .iter()
            .any(|c| c.reason == ChangeReason::Expired),
        "the workload expired some holds"
    );
    app.teardown().await;
}

async fn a_slow_watcher_neither_delays_others_nor_misses_the_final_state(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_with(Storage::new(backend).await, |s| {
        s.max_seats_per_hold = 50;
        s.max_seats_per_user = 50;
    })
    .await;
    let event = app.event(2, 50).await;
    // A client that stops reading: with a small HTTP/2 window, so the backlog builds up in the
    // server, not in the client's 2 MiB default window.
    let small_window = tonic::transport::Endpoint::from_shared(app.address.clone())
        .expect("uri")
        .initial_stream_window_size(Some(4096))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .expect("connect");
    let mut slow = Watcher::start(
        &mut BookingServiceClient::new(small_window),
        &event.event_id,
    )
    .await;
    let mut fast = Watcher::start(&mut app.booking.clone(), &event.event_id).await;
    // 100 changes a round, 4,000 in all, in batches of up to 25 ms: far more than the slow
    // client's 4 KiB window. (Whether it is resynced on the way depends on how many batches
    // pile up; the service's unit tests force that case.)
    let rounds = 40;
    let fast_reader = tokio::spawn(async move {
        while fast.changes.len() < rounds * 100 {
            assert!(
                fast.next(Duration::from_secs(20)).await.is_some(),
                "the fast watcher was held up"
            );
        }
        fast
    });
    let fan = app.user().await;
    let seats: Vec<String> = (1..=50).map(|n| format!("A{n}")).collect();
    let seat_refs: Vec<&str> = seats.iter().map(String::as_str).collect();
    for _ in 0..rounds {
        let held = app
            .reserve(&fan, &event.event_id, &seat_refs, 0)
            .await
            .expect("hold");
        app.release(&fan, &held.reservation_id)
            .await
            .expect("release");
    }
    let fast = fast_reader.await.expect("fast watcher");
    assert_eq!(fast.snapshots, 1, "the fast watcher never needed a resync");
    app.reserve(&fan, &event.event_id, &["B1", "B2"], 0)
        .await
        .expect("a final hold the slow watcher must learn of");
    // The slow one resumes and ends up right, by the batches or by a resync.
    slow.catch_up(&app, &event.event_id).await;
    app.teardown().await;
}

async fn a_thousand_watchers_that_leave_leave_nothing_running(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(BookingServiceClient::new(connect(&app.address).await));
    }
    let metrics = tokio::runtime::Handle::current().metrics();
    // Warm up once so lazily started tasks are counted in the baseline.
    drop(Watcher::start(&mut clients[0], &event.event_id).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = metrics.num_alive_tasks();
    let mut watchers = Vec::with_capacity(1_000);
    for i in 0..1_000 {
        watchers.push(Watcher::start(&mut clients[i % 8], &event.event_id).await);
    }
    assert!(
        metrics.num_alive_tasks() >= baseline + 1_000,
        "one feed task per watcher"
    );
    drop(watchers);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metrics.num_alive_tasks() > baseline + 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "feed tasks leaked: {} alive, baseline {baseline}",
            metrics.num_alive_tasks()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.teardown().await;
}

async fn shutdown_ends_streams_with_unavailable(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let mut watcher = Watcher::start(&mut app.booking.clone(), &event.event_id).await;
    let storage = app.storage.clone();
    let stopping = tokio::spawn(app.stop());
    let ended = tokio::time::timeout(Duration::from_secs(10), watcher.stream.message())
        .await
        .expect("the stream ends promptly");
    let status = ended.expect_err("ends with a status");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("reconnect"),
        "{}",
        status.message()
    );
    stopping.await.expect("server stopped");
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_is_resynced_after_a_redis_restart_and_keeps_receiving() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    redis.ready().await;
    let storage = Storage::new(Backend::Distributed).await;
    let app = spawn_with(storage, |s| {
        s.redis_url = Some(format!("redis://127.0.0.1:{port}"))
    })
    .await;
    let event = app.event(1, 10).await;
    let fan = app.user().await;
    let sold = app
        .reserve(&fan, &event.event_id, &["A1"], 0)
        .await
        .expect("hold");
    app.purchase(&fan, &sold.reservation_id)
        .await
        .expect("sold before the restart");
    let mut watcher = Watcher::start(&mut app.booking.clone(), &event.event_id).await;

    redis.stop();
    let mut redis = OwnRedis::start(port);
    redis.ready().await;
    while watcher.snapshots < 2 {
        assert!(
            watcher.next(Duration::from_secs(15)).await.is_some(),
            "no resync after the restart"
        );
    }
    assert_eq!(
        watcher.seats["A1"],
        SeatStatus::Sold,
        "sold seats survive a Redis restart"
    );
    // The restarted Redis lost the holds; the feed keeps working.
    let held = loop {
        match app.reserve(&fan, &event.event_id, &["A2"], 0).await {
            Ok(held) => break held,
            Err(status) if status.code() == Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(status) => panic!("{status:?}"),
        }
    };
    while watcher.seats["A2"] != SeatStatus::Held {
        assert!(
            watcher.next(Duration::from_secs(5)).await.is_some(),
            "changes after the restart must arrive"
        );
    }
    assert_eq!(held.seats, ["A2"]);
    app.teardown().await;
    redis.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_merges_the_keyevent_flags_it_needs_into_what_is_set() {
    let port = free_port();
    let redis = OwnRedis::start_with(port, &["--notify-keyspace-events", "Kg"]);
    redis.ready().await;
    let storage = Storage::new(Backend::Distributed).await;
    let app = spawn_with(storage, |s| {
        s.redis_url = Some(format!("redis://127.0.0.1:{port}"))
    })
    .await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let flags: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(&mut conn)
        .await
        .expect("config");
    for flag in ['K', 'g', 'E', 'x'] {
        assert!(
            flags[1].contains(flag),
            "{flag} missing from {:?}",
            flags[1]
        );
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_a_redis_whose_notifications_cannot_be_enabled() {
    let port = free_port();
    // As on a managed Redis: CONFIG is not available and the flags are not set.
    let redis = OwnRedis::start_with(port, &["--rename-command", "CONFIG", ""]);
    redis.ready().await;
    let storage = Storage::new(Backend::Distributed).await;
    let mut settings = storage.settings();
    settings.listen = "127.0.0.1:0".parse().expect("address");
    settings.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    let refused = seatrush::startup::Application::build(settings).await;
    let error = refused.err().expect("start-up must fail").to_string();
    assert!(
        error.contains("notify-keyspace-events") && error.contains("Ex"),
        "{error}"
    );
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_accepts_a_managed_redis_whose_notifications_are_configured() {
    let port = free_port();
    // CONFIG disabled, but the operator configured the flags: the probe sees the event.
    let redis = OwnRedis::start_with(
        port,
        &[
            "--rename-command",
            "CONFIG",
            "",
            "--notify-keyspace-events",
            "Ex",
        ],
    );
    redis.ready().await;
    let storage = Storage::new(Backend::Distributed).await;
    let app = spawn_with(storage, |s| {
        s.redis_url = Some(format!("redis://127.0.0.1:{port}"))
    })
    .await;
    let event = app.event(1, 5).await;
    let fan = app.user().await;
    app.reserve(&fan, &event.event_id, &["A1"], 0)
        .await
        .expect("serves");
    app.teardown().await;
}
