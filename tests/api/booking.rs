//! Reserve, Purchase, Release and ExtendHold, one behaviour per test, on both backends.

use crate::both_backends;
use crate::calls::assert_sales_consistent;
use crate::helpers::{Backend, Storage, TestApp, assert_code, authed, spawn_app, spawn_with};
use seatrush::proto::v1 as pb;
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

both_backends!(
    a_reserved_seat_is_held_then_sold_to_its_holder,
    a_held_or_sold_seat_is_already_exists_naming_it,
    a_hold_is_all_or_nothing,
    purchasing_twice_returns_the_same_tickets,
    only_the_owner_may_release_or_purchase,
    a_released_hold_frees_its_seats_and_cannot_be_bought,
    a_lapsed_hold_frees_the_seat_and_cannot_be_bought,
    a_purchase_that_stalls_past_its_hold_never_commits,
    extending_a_hold_moves_its_deadline_within_the_lifetime_cap,
    a_user_cannot_hoard_more_than_the_per_user_cap,
    unknown_seats_and_reservations_are_not_found,
    a_sale_recorded_only_in_the_database_is_never_sold_again,
);

fn seconds(ts: &Option<prost_types::Timestamp>) -> f64 {
    let ts = ts.as_ref().expect("timestamp");
    ts.seconds as f64 + f64::from(ts.nanos) / 1e9
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

async fn a_reserved_seat_is_held_then_sold_to_its_holder(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(2, 10).await;
    let fan = app.user().await;
    let reservation = app
        .reserve(&fan, &event.event_id, &["A1", "b2"], 0)
        .await
        .expect("reserve");
    assert_eq!(reservation.seats, ["A1", "B2"]);
    assert_eq!(reservation.reservation_id.len(), 64);
    let lifetime = seconds(&reservation.expires_at) - now();
    assert!(
        (85.0..=91.0).contains(&lifetime),
        "default hold is 90 s, got {lifetime}"
    );
    let map = app.seat_map(&event.event_id).await;
    assert_eq!(map["A1"], pb::SeatStatus::Held);
    assert_eq!(map["B2"], pb::SeatStatus::Held);
    assert_eq!(map["A2"], pb::SeatStatus::Available);

    let tickets = app
        .purchase(&fan, &reservation.reservation_id)
        .await
        .expect("purchase");
    let mut labels: Vec<&str> = tickets.iter().map(|t| t.label.as_str()).collect();
    labels.sort();
    assert_eq!(labels, ["A1", "B2"]);
    assert!(tickets.iter().all(|t| t.event_id == event.event_id));
    let map = app.seat_map(&event.event_id).await;
    assert_eq!(map["A1"], pb::SeatStatus::Sold);
    assert_eq!(map["B2"], pb::SeatStatus::Sold);
    app.teardown().await;
}

async fn a_held_or_sold_seat_is_already_exists_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let (first, second) = (app.user().await, app.user().await);
    let held = app
        .reserve(&first, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    let status = assert_code(
        app.reserve(&second, &event.event_id, &["A3", "A2"], 0)
            .await,
        Code::AlreadyExists,
    );
    assert!(
        status.message().contains("A2") && !status.message().contains("A3"),
        "{}",
        status.message()
    );
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "SEATS_UNAVAILABLE");
    assert_eq!(info.metadata["seats"], "A2");

    app.purchase(&first, &held.reservation_id)
        .await
        .expect("purchase");
    let status = assert_code(
        app.reserve(&second, &event.event_id, &["A1"], 0).await,
        Code::AlreadyExists,
    );
    assert!(status.message().contains("A1"));
    // The sold seat stays sold for its buyer too.
    assert_code(
        app.reserve(&first, &event.event_id, &["A1"], 0).await,
        Code::AlreadyExists,
    );
    app.teardown().await;
}

async fn a_hold_is_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let (first, second) = (app.user().await, app.user().await);
    app.reserve(&first, &event.event_id, &["A5"], 0)
        .await
        .expect("reserve");
    assert_code(
        app.reserve(&second, &event.event_id, &["A4", "A5", "A6"], 0)
            .await,
        Code::AlreadyExists,
    );
    let map = app.seat_map(&event.event_id).await;
    assert_eq!(map["A4"], pb::SeatStatus::Available, "no partial hold");
    assert_eq!(map["A6"], pb::SeatStatus::Available, "no partial hold");
    app.teardown().await;
}

async fn purchasing_twice_returns_the_same_tickets(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    let first = app
        .purchase(&fan, &held.reservation_id)
        .await
        .expect("purchase");
    let second = app
        .purchase(&fan, &held.reservation_id)
        .await
        .expect("repeat");
    let ids = |t: &[pb::Ticket]| {
        let mut ids: Vec<String> = t.iter().map(|t| t.ticket_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&first), ids(&second));
    // Releasing a bought reservation is refused.
    assert_code(
        app.release(&fan, &held.reservation_id).await,
        Code::FailedPrecondition,
    );
    let holders = HashMap::from([(held.reservation_id.clone(), user_id(&app, &fan).await)]);
    assert_sales_consistent(&app.storage, &holders).await;
    app.teardown().await;
}

/// The user id behind a session token (through a reservation nobody else can make).
pub async fn user_id(app: &TestApp, token: &str) -> String {
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    };
    let ids: Vec<uuid::Uuid> = crate::calls::column(
        &app.storage,
        "SELECT user_id FROM sessions WHERE token_hash = $1",
        hash,
    )
    .await;
    ids.first().expect("session row").to_string()
}

async fn only_the_owner_may_release_or_purchase(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let (owner, other) = (app.user().await, app.user().await);
    let held = app
        .reserve(&owner, &event.event_id, &["A1"], 0)
        .await
        .expect("reserve");
    assert_code(
        app.release(&other, &held.reservation_id).await,
        Code::PermissionDenied,
    );
    assert_code(
        app.purchase(&other, &held.reservation_id).await,
        Code::PermissionDenied,
    );
    let extend = authed(
        pb::ExtendHoldRequest {
            reservation_id: held.reservation_id.clone(),
            hold_seconds: 60,
        },
        &other,
    );
    assert_code(
        app.booking.clone().extend_hold(extend).await,
        Code::PermissionDenied,
    );
    assert_eq!(
        app.seat_map(&event.event_id).await["A1"],
        pb::SeatStatus::Held,
        "still held by its owner"
    );
    app.purchase(&owner, &held.reservation_id)
        .await
        .expect("the owner still can");
    app.teardown().await;
}

async fn a_released_hold_frees_its_seats_and_cannot_be_bought(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let (first, second) = (app.user().await, app.user().await);
    let held = app
        .reserve(&first, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    app.release(&first, &held.reservation_id)
        .await
        .expect("release");
    app.release(&first, &held.reservation_id)
        .await
        .expect("release is idempotent");
    assert_eq!(
        app.seat_map(&event.event_id).await["A1"],
        pb::SeatStatus::Available
    );
    let status = assert_code(
        app.purchase(&first, &held.reservation_id).await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("released"),
        "{}",
        status.message()
    );
    app.reserve(&second, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("free for others at once");
    // The first holder's late release must not free the second holder's seats.
    app.release(&first, &held.reservation_id)
        .await
        .expect("still idempotent");
    assert_eq!(
        app.seat_map(&event.event_id).await["A1"],
        pb::SeatStatus::Held
    );
    app.teardown().await;
}

async fn a_lapsed_hold_frees_the_seat_and_cannot_be_bought(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let (first, second) = (app.user().await, app.user().await);
    let held = app
        .reserve(&first, &event.event_id, &["A1"], 1)
        .await
        .expect("reserve for 1 s");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.reserve(&second, &event.event_id, &["A1"], 0)
        .await
        .expect("the seat is free again");
    let status = assert_code(
        app.purchase(&first, &held.reservation_id).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("expired"), "{}", status.message());
    assert_code(
        app.booking
            .clone()
            .extend_hold(authed(
                pb::ExtendHoldRequest {
                    reservation_id: held.reservation_id.clone(),
                    hold_seconds: 60,
                },
                &first,
            ))
            .await,
        Code::FailedPrecondition,
    );
    app.teardown().await;
}

async fn a_purchase_that_stalls_past_its_hold_never_commits(backend: Backend) {
    let storage = Storage::new(backend).await;
    let stalling = spawn_with(storage.clone(), |s| {
        s.purchase_lease_ms = 1_000;
        s.fence_margin_ms = 200;
        s.hooks.stall_before_ticket_write = Some(Duration::from_millis(2_500));
    })
    .await;
    let healthy = stalling.second_instance().await;
    let event = stalling.event(1, 10).await;
    let (slow, fast) = (stalling.user().await, stalling.user().await);
    let held = stalling
        .reserve(&slow, &event.event_id, &["A1"], 1)
        .await
        .expect("reserve");

    let purchase = {
        let mut booking = stalling.booking.clone();
        let request = authed(
            pb::PurchaseRequest {
                reservation_id: held.reservation_id.clone(),
                ..Default::default()
            },
            &slow,
        );
        tokio::spawn(async move { booking.purchase(request).await })
    };
    // The lease (1 s) lapses while the purchase is stalled (2.5 s); then the seat is someone else's.
    let taken = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = healthy.reserve(&fast, &event.event_id, &["A1"], 0).await {
            break r;
        }
    };
    let stalled = purchase.await.expect("task");
    let status = assert_code(stalled, Code::FailedPrecondition);
    assert!(status.message().contains("expired"), "{}", status.message());
    healthy
        .purchase(&fast, &taken.reservation_id)
        .await
        .expect("the new holder buys");

    let holders = HashMap::from([(
        taken.reservation_id.clone(),
        user_id(&stalling, &fast).await,
    )]);
    assert_sales_consistent(&storage, &holders).await;
    healthy.stop().await;
    stalling.teardown().await;
}

async fn extending_a_hold_moves_its_deadline_within_the_lifetime_cap(backend: Backend) {
    let app = spawn_with(Storage::new(backend).await, |s| {
        s.max_hold_lifetime_seconds = 120
    })
    .await;
    let event = app.event(1, 10).await;
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1"], 10)
        .await
        .expect("reserve");
    let extend = |hold_seconds| {
        authed(
            pb::ExtendHoldRequest {
                reservation_id: held.reservation_id.clone(),
                hold_seconds,
            },
            &fan,
        )
    };
    let extended = app
        .booking
        .clone()
        .extend_hold(extend(60))
        .await
        .expect("extend")
        .into_inner()
        .reservation
        .expect("r");
    let remaining = seconds(&extended.expires_at) - now();
    assert!((55.0..=61.0).contains(&remaining), "{remaining}");
    assert_eq!(extended.seats, ["A1"]);
    let capped = app
        .booking
        .clone()
        .extend_hold(extend(600))
        .await
        .expect("extend")
        .into_inner()
        .reservation
        .expect("r");
    let capped_at = seconds(&capped.expires_at) - seconds(&held.expires_at) + 10.0;
    assert!(
        (115.0..=121.0).contains(&capped_at),
        "capped at 120 s after creation, got {capped_at}"
    );
    app.teardown().await;
}

async fn a_user_cannot_hoard_more_than_the_per_user_cap(backend: Backend) {
    let app = spawn_with(Storage::new(backend).await, |s| s.max_seats_per_user = 4).await;
    let event = app.event(1, 20).await;
    let fan = app.user().await;
    let first = app
        .reserve(&fan, &event.event_id, &["A1", "A2", "A3"], 0)
        .await
        .expect("3 seats");
    let status = assert_code(
        app.reserve(&fan, &event.event_id, &["A4", "A5"], 0).await,
        Code::ResourceExhausted,
    );
    assert!(status.message().contains('3'), "{}", status.message());
    app.reserve(&fan, &event.event_id, &["A4"], 0)
        .await
        .expect("a fourth fits");
    app.release(&fan, &first.reservation_id)
        .await
        .expect("release");
    app.reserve(&fan, &event.event_id, &["A5", "A6", "A7"], 0)
        .await
        .expect("room again after release");
    app.reserve(&app.user().await, &event.event_id, &["A8", "A9"], 0)
        .await
        .expect("other users are not limited by it");
    app.teardown().await;
}

async fn unknown_seats_and_reservations_are_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let fan = app.user().await;
    let status = assert_code(
        app.reserve(&fan, &event.event_id, &["A1", "A11", "Z1"], 0)
            .await,
        Code::NotFound,
    );
    assert!(
        status.message().contains("A11") && status.message().contains("Z1"),
        "{}",
        status.message()
    );
    let made_up = format!(
        "{}{}",
        uuid::Uuid::parse_str(&event.event_id)
            .expect("uuid")
            .simple(),
        "ab".repeat(16)
    );
    assert_code(app.purchase(&fan, &made_up).await, Code::NotFound);
    assert_code(app.release(&fan, &made_up).await, Code::NotFound);
    app.teardown().await;
}

/// Sold seats live in the hold store as well as in the database. When the hold store loses them
/// (a Redis restart), they are loaded again from the database; and if it ever shows a sold seat
/// as free, the unique index refuses the second sale and the hold store is repaired.
async fn a_sale_recorded_only_in_the_database_is_never_sold_again(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = spawn_with(storage.clone(), |_| {}).await;
    let event = app.event(1, 10).await;
    let (buyer, latecomer) = (app.user().await, app.user().await);
    let held = app
        .reserve(&buyer, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    app.purchase(&buyer, &held.reservation_id)
        .await
        .expect("purchase");
    let buyer_id = user_id(&app, &buyer).await;
    app.stop().await;

    // A restarted instance (and, on Redis, a wiped Redis) knows the sale from the database alone.
    if backend == Backend::Distributed {
        crate::helpers::delete_redis_keys(&storage.redis_prefix).await;
    }
    let app = spawn_with(storage.clone(), |s| s.no_migrate = true).await;
    assert_code(
        app.reserve(&latecomer, &event.event_id, &["A2"], 0).await,
        Code::AlreadyExists,
    );
    assert_eq!(
        app.seat_map(&event.event_id).await["A1"],
        pb::SeatStatus::Sold
    );

    if backend == Backend::Distributed {
        // Redis forgets one sold seat but not that the event is loaded: the database still refuses.
        let client = redis::Client::open(crate::helpers::redis_url()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let key = format!("{}:{{{}}}:s:A1", storage.redis_prefix, event.event_id);
        let _: i64 = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("del");
        let stale = app
            .reserve(&latecomer, &event.event_id, &["A1", "A3"], 0)
            .await
            .expect("Redis thinks A1 is free");
        let status = assert_code(
            app.purchase(&latecomer, &stale.reservation_id).await,
            Code::AlreadyExists,
        );
        assert!(status.message().contains("A1"), "{}", status.message());
        let map = app.seat_map(&event.event_id).await;
        assert_eq!(map["A1"], pb::SeatStatus::Sold, "Redis repaired");
        assert_eq!(
            map["A3"],
            pb::SeatStatus::Available,
            "the rest of the stale hold given back"
        );
    }
    let holders = HashMap::from([(held.reservation_id.clone(), buyer_id)]);
    assert_sales_consistent(&storage, &holders).await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_held_through_one_instance_cannot_be_held_through_another() {
    let a = spawn_app(Backend::Distributed).await;
    let b = a.second_instance().await;
    let event = a.event(1, 10).await;
    let (first, second) = (a.user().await, a.user().await);
    let held = a
        .reserve(&first, &event.event_id, &["A1"], 0)
        .await
        .expect("hold through A");
    assert_code(
        b.reserve(&second, &event.event_id, &["A1"], 0).await,
        Code::AlreadyExists,
    );
    assert_eq!(
        b.seat_map(&event.event_id).await["A1"],
        pb::SeatStatus::Held
    );
    b.purchase(&first, &held.reservation_id)
        .await
        .expect("bought through B");
    assert_code(
        a.reserve(&second, &event.event_id, &["A1"], 0).await,
        Code::AlreadyExists,
    );
    b.stop().await;
    a.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_during_purchase_is_unavailable_and_keeps_the_hold() {
    // A long session cache, so that authentication does not need the database during the outage.
    let app = spawn_with(Storage::new(Backend::Distributed).await, |s| {
        s.session_cache_ms = 600_000
    })
    .await;
    let event = app.event(1, 10).await;
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1"], 0)
        .await
        .expect("reserve");
    // Warm the catalog so the purchase reaches the ticket write.
    app.seat_map(&event.event_id).await;

    app.storage.cut_database().await;
    let status = assert_code(
        app.purchase(&fan, &held.reservation_id).await,
        Code::Unavailable,
    );
    assert!(
        !status.message().to_lowercase().contains("sql"),
        "no database text: {}",
        status.message()
    );
    app.storage.restore_database().await;

    assert_eq!(
        app.seat_map(&event.event_id).await["A1"],
        pb::SeatStatus::Held,
        "the hold was kept"
    );
    let tickets = app
        .purchase(&fan, &held.reservation_id)
        .await
        .expect("the retry succeeds");
    assert_eq!(tickets.len(), 1);
    app.teardown().await;
}
