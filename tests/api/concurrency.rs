//! Concurrency claims, tested with real concurrency: thousands of in-flight calls over several
//! HTTP/2 connections to a real server, then the database checked for double sales.

use crate::booking::user_id;
use crate::both_backends;
use crate::calls::assert_sales_consistent;
use crate::helpers::{Backend, TestApp, authed, connect, spawn_app};
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::collections::{BTreeSet, HashMap};
use tonic::Code;
use tonic::transport::Channel;

both_backends!(
    ten_thousand_clicks_on_one_seat_make_exactly_one_hold,
    overlapping_multi_seat_holds_never_share_a_seat,
    a_thousand_concurrent_purchases_of_one_hold_sell_it_once,
);

const CONNECTIONS: usize = 8;

pub async fn clients(app: &TestApp) -> Vec<BookingServiceClient<Channel>> {
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        clients.push(BookingServiceClient::new(connect(&app.address).await));
    }
    clients
}

pub async fn users(app: &TestApp, count: usize) -> Vec<String> {
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let accounts = app.accounts.clone();
        let app_user = async move {
            let email = crate::helpers::unique_email();
            let mut accounts = accounts;
            accounts
                .register(pb::RegisterRequest {
                    email: email.clone(),
                    password: crate::helpers::PASSWORD.into(),
                })
                .await
                .expect("register");
            accounts
                .login(pb::LoginRequest {
                    email,
                    password: crate::helpers::PASSWORD.into(),
                })
                .await
                .expect("login")
                .into_inner()
                .session_token
        };
        tasks.push(tokio::spawn(app_user));
    }
    let mut tokens = Vec::with_capacity(count);
    for task in tasks {
        tokens.push(task.await.expect("user task"));
    }
    tokens
}

fn reserve(event: &str, seats: &[String], token: &str) -> tonic::Request<pb::ReserveRequest> {
    authed(
        pb::ReserveRequest {
            event_id: event.into(),
            seats: seats.to_vec(),
            hold_seconds: 0,
            best_available: None,
            general_admission: None,
        },
        token,
    )
}

async fn ten_thousand_clicks_on_one_seat_make_exactly_one_hold(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let tokens = users(&app, 100).await;
    let clients = clients(&app).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10_000));
    let mut calls = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let mut client = clients[i % CONNECTIONS].clone();
        let token = tokens[i % tokens.len()].clone();
        let request = reserve(&event.event_id, &["A1".to_owned()], &token);
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            (token, client.reserve(request).await)
        }));
    }
    let mut winners = Vec::new();
    let mut taken = 0;
    for call in calls {
        match call.await.expect("call task") {
            (token, Ok(response)) => winners.push((
                token,
                response.into_inner().reservation.expect("reservation"),
            )),
            (_, Err(status)) if status.code() == Code::AlreadyExists => taken += 1,
            (_, Err(status)) => panic!("unexpected outcome: {status:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one hold");
    assert_eq!(taken, 9_999);

    let (token, reservation) = winners.pop().expect("winner");
    app.purchase(&token, &reservation.reservation_id)
        .await
        .expect("the winner buys");
    let holders = HashMap::from([(
        reservation.reservation_id.clone(),
        user_id(&app, &token).await,
    )]);
    assert_sales_consistent(&app.storage, &holders).await;
    app.teardown().await;
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }
}

async fn overlapping_multi_seat_holds_never_share_a_seat(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_app(backend).await;
    let event = app.event(1, 40).await;
    let tokens = users(&app, 100).await;
    let clients = clients(&app).await;
    let mut rng = Lcg(0x5ea7_2024);
    let mut calls = Vec::new();
    for i in 0..2_000 {
        let size = 2 + rng.next(3);
        let mut seats = BTreeSet::new();
        while seats.len() < size {
            seats.insert(format!("A{}", 1 + rng.next(40)));
        }
        let seats: Vec<String> = seats.into_iter().collect();
        let mut client = clients[i % CONNECTIONS].clone();
        let token = tokens[i % tokens.len()].clone();
        let request = reserve(&event.event_id, &seats, &token);
        calls.push(tokio::spawn(async move {
            (token, client.reserve(request).await)
        }));
    }
    let mut held: HashMap<String, String> = HashMap::new();
    let mut holds = Vec::new();
    for call in calls {
        match call.await.expect("call task") {
            (token, Ok(response)) => {
                let reservation = response.into_inner().reservation.expect("reservation");
                for seat in &reservation.seats {
                    let previous = held.insert(seat.clone(), reservation.reservation_id.clone());
                    assert!(previous.is_none(), "seat {seat} is in two live holds");
                }
                holds.push((token, reservation));
            }
            (_, Err(status))
                if matches!(status.code(), Code::AlreadyExists | Code::ResourceExhausted) => {}
            (_, Err(status)) => panic!("unexpected outcome: {status:?}"),
        }
    }
    assert!(!holds.is_empty());
    let map = app.seat_map(&event.event_id).await;
    for (label, status) in &map {
        let expected = if held.contains_key(label) {
            pb::SeatStatus::Held
        } else {
            pb::SeatStatus::Available
        };
        assert_eq!(
            *status, expected,
            "seat {label}: no partial holds, no lost holds"
        );
    }

    // Everyone buys what they hold, concurrently; then the database is checked.
    let mut holders = HashMap::new();
    let mut purchases = Vec::new();
    for (i, (token, reservation)) in holds.into_iter().enumerate() {
        holders.insert(
            reservation.reservation_id.clone(),
            user_id(&app, &token).await,
        );
        let mut client = clients[i % CONNECTIONS].clone();
        let request = authed(
            pb::PurchaseRequest {
                reservation_id: reservation.reservation_id.clone(),
                ..Default::default()
            },
            &token,
        );
        purchases.push(tokio::spawn(async move { client.purchase(request).await }));
    }
    for purchase in purchases {
        purchase.await.expect("task").expect("every holder can buy");
    }
    assert_sales_consistent(&app.storage, &holders).await;
    app.teardown().await;
}

async fn a_thousand_concurrent_purchases_of_one_hold_sell_it_once(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1", "A2", "A3"], 0)
        .await
        .expect("reserve");
    let clients = clients(&app).await;
    let mut calls = Vec::with_capacity(1_000);
    for i in 0..1_000 {
        let mut client = clients[i % CONNECTIONS].clone();
        let request = authed(
            pb::PurchaseRequest {
                reservation_id: held.reservation_id.clone(),
                ..Default::default()
            },
            &fan,
        );
        calls.push(tokio::spawn(async move { client.purchase(request).await }));
    }
    let mut sets = BTreeSet::new();
    for call in calls {
        let tickets = call
            .await
            .expect("task")
            .expect("every purchase of one's own hold answers with its tickets")
            .into_inner()
            .tickets;
        let ids: BTreeSet<String> = tickets.into_iter().map(|t| t.ticket_id).collect();
        assert_eq!(ids.len(), 3);
        sets.insert(ids);
    }
    assert_eq!(sets.len(), 1, "one set of tickets");
    let holders = HashMap::from([(held.reservation_id.clone(), user_id(&app, &fan).await)]);
    assert_sales_consistent(&app.storage, &holders).await;
    app.teardown().await;
}
