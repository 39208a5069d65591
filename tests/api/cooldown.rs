//! The release cool-down, as a hoarder meets it: letting seats go (Release, or a hold that
//! lapses) and taking them straight back is refused for the same account from any address and for
//! the same address under any account, so the seats go back to everyone else first.

use crate::helpers::{Backend, Storage, TestApp, assert_code, authed, spawn_with};
use seatrush::proto::v1 as pb;
use std::time::Duration;
use tonic::{Code, Request, Status};

async fn cooling(backend: Backend) -> TestApp {
    spawn_with(Storage::new(backend).await, |s| {
        s.release_cooldown_seconds = 60;
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("cidr")];
    })
    .await
}

fn reserve_from(
    token: &str,
    peer: &str,
    event: &str,
    seats: &[&str],
    hold: u32,
) -> Request<pb::ReserveRequest> {
    let mut request = authed(
        pb::ReserveRequest {
            event_id: event.into(),
            seats: seats.iter().map(|s| s.to_string()).collect(),
            hold_seconds: hold,
            best_available: None,
            general_admission: None,
        },
        token,
    );
    request
        .metadata_mut()
        .insert("x-forwarded-for", peer.parse().expect("ascii"));
    request
}

async fn reserve(
    app: &TestApp,
    request: Request<pb::ReserveRequest>,
) -> Result<pb::Reservation, Status> {
    app.booking
        .clone()
        .reserve(request)
        .await
        .map(|r| r.into_inner().reservation.expect("reservation"))
}

async fn releasing_and_taking_back_is_refused(backend: Backend) {
    let app = cooling(backend).await;
    let event = app.event(2, 10).await.event_id;
    let (hoarder, accomplice, fan) = (app.user().await, app.user().await, app.user().await);
    let held = reserve(
        &app,
        reserve_from(&hoarder, "203.0.113.66", &event, &["A1", "A2"], 0),
    )
    .await
    .expect("first hold");
    app.release(&hoarder, &held.reservation_id)
        .await
        .expect("release");
    // The same account from a fresh address: refused, naming the seat.
    let refused = assert_code(
        reserve(
            &app,
            reserve_from(&hoarder, "198.51.100.1", &event, &["A1", "A3"], 0),
        )
        .await,
        Code::ResourceExhausted,
    );
    assert!(refused.message().contains("let A1 go"), "{refused:?}");
    // The same address with a fresh account: refused.
    assert_code(
        reserve(
            &app,
            reserve_from(&accomplice, "203.0.113.66", &event, &["A2"], 0),
        )
        .await,
        Code::ResourceExhausted,
    );
    // Nothing was held by the refusals; other seats are fine for the hoarder.
    reserve(
        &app,
        reserve_from(&hoarder, "203.0.113.66", &event, &["A3"], 0),
    )
    .await
    .expect("other seats");
    // Anyone else gets the released seats.
    reserve(
        &app,
        reserve_from(&fan, "192.0.2.10", &event, &["A1", "A2"], 0),
    )
    .await
    .expect("the crowd gets them");
    // A hold left to lapse cools down too.
    reserve(
        &app,
        reserve_from(&hoarder, "203.0.113.66", &event, &["B1"], 1),
    )
    .await
    .expect("short hold");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.seat_map(&event).await.get("B1") != Some(&pb::SeatStatus::Available) {
        assert!(tokio::time::Instant::now() < deadline, "B1 never lapsed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_code(
        reserve(
            &app,
            reserve_from(&hoarder, "198.51.100.2", &event, &["B1"], 0),
        )
        .await,
        Code::ResourceExhausted,
    );
    app.teardown().await;
}

#[tokio::test]
async fn releasing_and_taking_back_is_refused_embedded() {
    releasing_and_taking_back_is_refused(Backend::Embedded).await;
}

#[tokio::test]
async fn releasing_and_taking_back_is_refused_distributed() {
    releasing_and_taking_back_is_refused(Backend::Distributed).await;
}
