//! The optional per-account cap: seats one account may hold and buy in one event, together.
//! Unlike the per-user hold limit, buying does not give the room back; and it holds when the
//! account buys while it reserves, which is when the holds and the tickets are read apart.

use crate::helpers::{Backend, Storage, TestApp, assert_code, spawn_with};
use futures::future::join_all;
use seatrush::proto::v1 as pb;
use tonic::Code;

const CAP: usize = 4;

async fn capped(backend: Backend) -> TestApp {
    spawn_with(Storage::new(backend).await, |s| {
        s.max_seats_per_account = CAP;
    })
    .await
}

async fn buy(app: &TestApp, token: &str, event: &str, seats: &[&str]) -> usize {
    let reservation = app.reserve(token, event, seats, 0).await.expect("reserve");
    app.purchase(token, &reservation.reservation_id)
        .await
        .expect("purchase")
        .len()
}

async fn buying_does_not_give_the_room_back(backend: Backend) {
    let app = capped(backend).await;
    let event = app.event(2, 10).await.event_id;
    let (fan, other) = (app.user().await, app.user().await);
    assert_eq!(buy(&app, &fan, &event, &["A1", "A2"]).await, 2);
    // Three more would make five: refused before a seat is touched.
    let refused = assert_code(
        app.reserve(&fan, &event, &["A3", "A4", "A5"], 0).await,
        Code::ResourceExhausted,
    );
    assert!(
        refused.message().contains("at most 4 seats of this event"),
        "{refused:?}"
    );
    assert_eq!(
        app.seat_map(&event).await.get("A3"),
        Some(&pb::SeatStatus::Available)
    );
    // Holding counts too: with one held and two bought, two more do not fit.
    app.reserve(&fan, &event, &["A3"], 0).await.expect("third");
    let refused = assert_code(
        app.reserve(&fan, &event, &["A4", "A5"], 0).await,
        Code::ResourceExhausted,
    );
    assert!(refused.message().contains("holds 1"), "{refused:?}");
    assert_eq!(buy(&app, &fan, &event, &["A4"]).await, 1);
    assert_code(
        app.reserve(&fan, &event, &["A5"], 0).await,
        Code::ResourceExhausted,
    );
    // The cap is per account and per event.
    assert_eq!(
        buy(&app, &other, &event, &["B1", "B2", "B3", "B4"]).await,
        4
    );
    let second = app.event(1, 10).await.event_id;
    assert_eq!(buy(&app, &fan, &second, &["A1", "A2", "A3", "A4"]).await, 4);
    app.teardown().await;
}

/// Fifty one-seat Reserve-then-Purchase flows of one account at once, twice: the account never
/// ends with more tickets than the cap, and a last sequential try fills it to exactly the cap.
async fn buying_while_reserving_stays_within_the_cap(backend: Backend) {
    let app = capped(backend).await;
    let event = app.event(5, 20).await.event_id;
    let fan = app.user().await;
    let labels: Vec<String> = (0..100)
        .map(|i| format!("{}{}", char::from(b'A' + (i / 20) as u8), i % 20 + 1))
        .collect();
    let mut bought = 0;
    for round in labels.chunks(50) {
        let flows = round.iter().map(|label| {
            let (app, fan, event) = (&app, &fan, &event);
            async move {
                let reservation = app.reserve(fan, event, &[label.as_str()], 0).await.ok()?;
                app.purchase(fan, &reservation.reservation_id)
                    .await
                    .ok()
                    .map(|tickets| tickets.len())
            }
        });
        bought += join_all(flows).await.into_iter().flatten().sum::<usize>();
        assert!(bought <= CAP, "{bought} tickets");
    }
    for label in &labels {
        if bought == CAP {
            break;
        }
        if let Ok(reservation) = app.reserve(&fan, &event, &[label.as_str()], 0).await {
            bought += app
                .purchase(&fan, &reservation.reservation_id)
                .await
                .expect("purchase")
                .len();
        }
    }
    let sold = app
        .seat_map(&event)
        .await
        .values()
        .filter(|s| **s == pb::SeatStatus::Sold)
        .count();
    assert_eq!((bought, sold), (CAP, CAP));
    app.teardown().await;
}

#[tokio::test]
async fn buying_does_not_give_the_room_back_embedded() {
    buying_does_not_give_the_room_back(Backend::Embedded).await;
}

#[tokio::test]
async fn buying_does_not_give_the_room_back_distributed() {
    buying_does_not_give_the_room_back(Backend::Distributed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buying_while_reserving_stays_within_the_cap_embedded() {
    buying_while_reserving_stays_within_the_cap(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buying_while_reserving_stays_within_the_cap_distributed() {
    buying_while_reserving_stays_within_the_cap(Backend::Distributed).await;
}
