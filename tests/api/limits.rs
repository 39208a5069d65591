//! Rate limits bind the client, not the account: per peer (behind a trusted proxy, the address
//! it forwards), per user for writing calls, and registrations per peer per minute. A refusal is
//! RESOURCE_EXHAUSTED with `retry-after` and RetryInfo. The limits live in the gRPC edge, the same
//! code whatever the backend, so these run on the embedded one.

use crate::helpers::Backend;
use crate::helpers::{PASSWORD, Storage, assert_code, authed, spawn_with, unique_email};
use seatrush::proto::v1 as pb;
use std::time::Duration;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

fn from<T>(peer: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-forwarded-for", peer.parse().expect("ascii"));
    request
}

fn assert_retry_later(status: &Status) {
    assert_eq!(
        status
            .metadata()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "{status:?}"
    );
    let delay = status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("RetryInfo");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
}

#[tokio::test]
async fn every_call_counts_against_its_client_and_a_refusal_says_when_to_retry() {
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.peer_rate = 2;
        s.peer_burst = 3;
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("cidr")];
    })
    .await;
    let mut inventory = app.inventory.clone();
    let list = || pb::ListEventsRequest::default();
    for _ in 0..3 {
        inventory
            .list_events(from("203.0.113.7", list()))
            .await
            .expect("within the burst");
    }
    let refused = assert_code(
        inventory.list_events(from("203.0.113.7", list())).await,
        Code::ResourceExhausted,
    );
    assert_retry_later(&refused);
    inventory
        .list_events(from("203.0.113.8", list()))
        .await
        .expect("another client has its own allowance");
    // The client cannot choose a fresh address by prepending one: the proxy's entry counts.
    assert_code(
        inventory
            .list_events(from("198.51.100.1, 203.0.113.7", list()))
            .await,
        Code::ResourceExhausted,
    );
    app.teardown().await;
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forwarded_address_changes_nothing() {
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.peer_rate = 1;
        s.peer_burst = 2;
    })
    .await;
    let mut inventory = app.inventory.clone();
    for peer in ["203.0.113.1", "203.0.113.2"] {
        inventory
            .list_events(from(peer, pb::ListEventsRequest::default()))
            .await
            .expect("within the burst");
    }
    assert_code(
        inventory
            .list_events(from("203.0.113.3", pb::ListEventsRequest::default()))
            .await,
        Code::ResourceExhausted,
    );
    app.teardown().await;
}

#[tokio::test]
async fn one_client_cannot_register_accounts_in_bulk() {
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.registrations_per_minute = 3;
        s.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")];
    })
    .await;
    // The hoarding attack registered 47 accounts a second from one client.
    let attempts = (0..20).map(|_| {
        let mut accounts = app.accounts.clone();
        async move {
            accounts
                .register(from(
                    "203.0.113.50",
                    pb::RegisterRequest {
                        email: unique_email(),
                        password: PASSWORD.into(),
                    },
                ))
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let made = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(made, 3, "{results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        let refused = assert_code(result, Code::ResourceExhausted);
        assert!(refused.message().contains("registrations"), "{refused:?}");
    }
    app.accounts
        .clone()
        .register(from(
            "203.0.113.51",
            pb::RegisterRequest {
                email: unique_email(),
                password: PASSWORD.into(),
            },
        ))
        .await
        .expect("another client registers");
    app.teardown().await;
}

#[tokio::test]
async fn a_user_writing_faster_than_the_rate_is_told_to_wait() {
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.user_rate = 1;
        s.user_burst = 2;
    })
    .await;
    let (ann, bob) = (app.user().await, app.user().await);
    let release = |token: &str| {
        authed(
            pb::ReleaseRequest {
                reservation_id: "ab".repeat(32),
            },
            token,
        )
    };
    let mut booking = app.booking.clone();
    for _ in 0..2 {
        assert_code(booking.release(release(&ann)).await, Code::NotFound);
    }
    let refused = assert_code(
        booking.release(release(&ann)).await,
        Code::ResourceExhausted,
    );
    assert_retry_later(&refused);
    assert_code(booking.release(release(&bob)).await, Code::NotFound);
    app.teardown().await;
}

/// The hoarding attack as it was measured: 20 fresh accounts from one client, 10 seats each,
/// the whole 200-seat event. Only the client's share is held, and releasing does not reset it.
async fn hoarding_with_fresh_accounts_from_one_client_fails(backend: Backend) {
    let app = spawn_with(Storage::new(backend).await, |s| {
        s.max_seats_per_client = 20;
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("cidr")];
    })
    .await;
    let event = app.event(10, 20).await;
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(app.user().await);
    }
    // Account i takes the i-th block of ten seats: row A seats 1-10, row A 11-20, row B 1-10, ...
    let reserve = |token: &str, block: usize, peer: &str| {
        let row = char::from(b'A' + (block / 2) as u8);
        let first = 1 + 10 * (block % 2);
        let mut request = authed(
            pb::ReserveRequest {
                event_id: event.event_id.clone(),
                seats: (first..first + 10).map(|n| format!("{row}{n}")).collect(),
                hold_seconds: 0,
                best_available: None,
                general_admission: None,
            },
            token,
        );
        request
            .metadata_mut()
            .insert("x-forwarded-for", peer.parse().expect("ascii"));
        request
    };
    let attempts = tokens.iter().enumerate().map(|(i, token)| {
        let mut booking = app.booking.clone();
        let request = reserve(token, i, "203.0.113.66");
        async move { booking.reserve(request).await }
    });
    let results = futures::future::join_all(attempts).await;
    let held: Vec<(usize, pb::Reservation)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.as_ref().ok()?.get_ref().reservation.clone()?)))
        .collect();
    assert_eq!(held.len(), 2, "20 seats of 200: {results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        let refused = assert_code(result, Code::ResourceExhausted);
        assert!(refused.message().contains("this client"), "{refused:?}");
    }
    // Releasing and holding again gives the client nothing more.
    let mut booking = app.booking.clone();
    for (owner, reservation) in &held {
        booking
            .release(authed(
                pb::ReleaseRequest {
                    reservation_id: reservation.reservation_id.clone(),
                },
                &tokens[*owner],
            ))
            .await
            .expect("release");
    }
    assert_code(
        booking
            .reserve(reserve(&tokens[0], 0, "203.0.113.66"))
            .await,
        Code::ResourceExhausted,
    );
    // Another client still finds seats.
    booking
        .reserve(reserve(&tokens[1], 5, "198.51.100.20"))
        .await
        .expect("another client holds seats");
    app.teardown().await;
}

#[tokio::test]
async fn hoarding_with_fresh_accounts_from_one_client_fails_embedded() {
    hoarding_with_fresh_accounts_from_one_client_fails(Backend::Embedded).await;
}

#[tokio::test]
async fn hoarding_with_fresh_accounts_from_one_client_fails_distributed() {
    hoarding_with_fresh_accounts_from_one_client_fails(Backend::Distributed).await;
}
