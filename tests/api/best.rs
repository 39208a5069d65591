//! Best available (#15) through the API, on both backends: Reserve without naming seats gets the
//! best free ones of the event, a section or a price category, held like named ones; bad requests
//! name the field; and 5,000 concurrent requests for 2 seats fill a 10,000-seat section exactly,
//! each pair side by side, none refused while seats remained.

use crate::both_backends;
use crate::concurrency::{clients, users};
use crate::helpers::{ADMIN_TOKEN, Backend, Storage, TestApp, assert_code, authed, spawn_with};
use seatrush::proto::v1 as pb;
use std::collections::{BTreeMap, HashSet};
use tonic::{Code, Status};
use tonic_types::StatusExt;

both_backends!(
    best_available_holds_the_best_seats_of_the_event_a_section_or_a_category,
    ranks_set_at_creation_decide_which_seats_are_best,
    bad_best_available_requests_are_refused_naming_the_field,
    five_thousand_concurrent_pairs_fill_a_ten_thousand_seat_section_side_by_side,
);

fn section(code: &str, rows: u32, seats: u32, category: &str) -> pb::SectionSpec {
    pb::SectionSpec {
        code: code.into(),
        rows: (1..=rows)
            .map(|r| pb::RowSpec {
                row: r.to_string(),
                seat_count: seats,
                ..Default::default()
            })
            .collect(),
        price_category: category.into(),
        ..Default::default()
    }
}

async fn event(app: &TestApp, sections: Vec<pb::SectionSpec>) -> pb::Event {
    app.inventory
        .clone()
        .create_event(authed(
            pb::CreateEventRequest {
                name: "Best available".into(),
                starts_at: Some(prost_types::Timestamp {
                    seconds: 2_000_000_000,
                    nanos: 0,
                }),
                sections,
                price_categories: ["CAT1", "CAT2"]
                    .iter()
                    .zip([9_000, 4_500])
                    .map(|(code, price)| pb::PriceCategory {
                        code: (*code).into(),
                        price_minor: price,
                        currency: "EUR".into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("create event")
        .into_inner()
        .event
        .expect("event")
}

fn best(event: &str, count: u32, section: &str, category: &str) -> pb::ReserveRequest {
    pb::ReserveRequest {
        event_id: event.into(),
        best_available: Some(pb::BestAvailable {
            count,
            section: section.into(),
            price_category: category.into(),
        }),
        ..Default::default()
    }
}

async fn reserve(
    app: &TestApp,
    token: &str,
    body: pb::ReserveRequest,
) -> Result<pb::Reservation, Status> {
    app.booking
        .clone()
        .reserve(authed(body, token))
        .await
        .map(|r| r.into_inner().reservation.expect("reservation"))
}

/// The seats as (section, row, number).
fn places(seats: &[String]) -> Vec<(String, String, u32)> {
    seats
        .iter()
        .map(|s| {
            let parts: Vec<&str> = s.split('-').collect();
            assert_eq!(parts.len(), 3, "{s}");
            (
                parts[0].into(),
                parts[1].into(),
                parts[2].parse().expect("number"),
            )
        })
        .collect()
}

/// Side by side in one row of one section.
fn together(seats: &[String]) -> bool {
    let places = places(seats);
    places
        .windows(2)
        .all(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1 && w[1].2 == w[0].2 + 1)
}

async fn best_available_holds_the_best_seats_of_the_event_a_section_or_a_category(
    backend: Backend,
) {
    let app = spawn_with(Storage::new(backend).await, |_| {}).await;
    let event = event(
        &app,
        vec![section("N", 2, 10, "CAT1"), section("S", 1, 10, "CAT2")],
    )
    .await;
    let id = &event.event_id;
    let token = app.user().await;
    // Someone took N-1-4 by name: the middle pair of the front row is still free.
    app.reserve(&app.user().await, id, &["N-1-4"], 0)
        .await
        .expect("named");

    let front = reserve(&app, &token, best(id, 2, "", ""))
        .await
        .expect("best");
    assert_eq!(front.seats, ["N-1-5", "N-1-6"]);
    assert_eq!(front.prices_minor, [9_000, 9_000]);
    assert_eq!(front.total_minor, 18_000);

    let south = reserve(&app, &token, best(id, 3, "s", ""))
        .await
        .expect("in S");
    assert!(together(&south.seats), "{:?}", south.seats);
    assert!(
        south.seats.iter().all(|s| s.starts_with("S-1-")),
        "{:?}",
        south.seats
    );

    let cheap = reserve(&app, &token, best(id, 2, "", "cat2"))
        .await
        .expect("in CAT2");
    assert!(together(&cheap.seats), "{:?}", cheap.seats);
    assert!(
        cheap.seats.iter().all(|s| s.starts_with("S-")),
        "{:?}",
        cheap.seats
    );
    assert_eq!(cheap.total_minor, 9_000);

    // Held like any hold: the map shows it, a purchase sells it, a release gives seats back.
    let map = app.seat_map(id).await;
    for seat in front.seats.iter().chain(&south.seats).chain(&cheap.seats) {
        assert_eq!(map[seat], pb::SeatStatus::Held, "{seat}");
    }
    let tickets = app
        .purchase(&token, &front.reservation_id)
        .await
        .expect("buy");
    assert_eq!(tickets.len(), 2);
    app.release(&token, &south.reservation_id)
        .await
        .expect("release");
    let again = reserve(&app, &token, best(id, 3, "S", ""))
        .await
        .expect("again");
    assert_eq!(
        again.seats, south.seats,
        "released seats are the best again"
    );
    let map = app.seat_map(id).await;
    assert_eq!(map["N-1-5"], pb::SeatStatus::Sold);
    app.teardown().await;
}

async fn bad_best_available_requests_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_with(Storage::new(backend).await, |_| {}).await;
    let event = event(&app, vec![section("N", 1, 4, "CAT1")]).await;
    let id = &event.event_id;
    let token = app.user().await;
    let refused = |result: Result<pb::Reservation, Status>, code: Code, field: &str| {
        let status = assert_code(result, code);
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    };
    let mut both = best(id, 2, "", "");
    both.seats = vec!["N-1-1".into()];
    refused(
        reserve(&app, &token, both).await,
        Code::InvalidArgument,
        "best_available",
    );
    refused(
        reserve(&app, &token, best(id, 0, "", "")).await,
        Code::InvalidArgument,
        "best_available.count",
    );
    refused(
        reserve(&app, &token, best(id, 11, "", "")).await,
        Code::InvalidArgument,
        "best_available.count",
    );
    refused(
        reserve(&app, &token, best(id, 2, "N", "CAT1")).await,
        Code::InvalidArgument,
        "best_available.section",
    );
    refused(
        reserve(&app, &token, best(id, 2, "N!", "")).await,
        Code::InvalidArgument,
        "best_available.section",
    );
    refused(
        reserve(&app, &token, best(id, 2, "", "no such")).await,
        Code::InvalidArgument,
        "best_available.price_category",
    );
    refused(
        reserve(&app, &token, best(id, 2, "X", "")).await,
        Code::NotFound,
        "section X",
    );
    refused(
        reserve(&app, &token, best(id, 2, "", "CAT9")).await,
        Code::NotFound,
        "price category CAT9",
    );

    reserve(&app, &token, best(id, 3, "", ""))
        .await
        .expect("three of four");
    let status = assert_code(
        reserve(&app, &token, best(id, 2, "", "")).await,
        Code::FailedPrecondition,
    );
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "NOT_ENOUGH_SEATS");
    assert!(
        status.message().contains("fewer than 2"),
        "{}",
        status.message()
    );
    reserve(&app, &token, best(id, 1, "", ""))
        .await
        .expect("the last one");
    app.teardown().await;
}

async fn five_thousand_concurrent_pairs_fill_a_ten_thousand_seat_section_side_by_side(
    backend: Backend,
) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_with(Storage::new(backend).await, |s| {
        s.max_seats_per_user = 10_000;
    })
    .await;
    let event = event(
        &app,
        vec![
            section("FLOOR", 100, 100, "CAT1"),
            section("UP", 10, 10, "CAT2"),
        ],
    )
    .await;
    let tokens = users(&app, 50).await;
    let clients = clients(&app).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(5_000));
    let mut calls = Vec::with_capacity(5_000);
    for i in 0..5_000 {
        let mut client = clients[i % clients.len()].clone();
        let request = authed(
            best(&event.event_id, 2, "FLOOR", ""),
            &tokens[i % tokens.len()],
        );
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            client.reserve(request).await
        }));
    }
    let mut held: HashSet<String> = HashSet::new();
    for call in calls {
        let reservation = call
            .await
            .expect("call task")
            .expect("no request is refused while the section has seats")
            .into_inner()
            .reservation
            .expect("reservation");
        assert!(
            together(&reservation.seats),
            "split: {:?}",
            reservation.seats
        );
        for seat in reservation.seats {
            assert!(seat.starts_with("FLOOR-"), "{seat}");
            assert!(held.insert(seat.clone()), "{seat} held twice");
        }
    }
    assert_eq!(held.len(), 10_000);
    let map: BTreeMap<String, pb::SeatStatus> = app.seat_map(&event.event_id).await;
    for (seat, status) in &map {
        let expected = if seat.starts_with("FLOOR-") {
            pb::SeatStatus::Held
        } else {
            pb::SeatStatus::Available
        };
        assert_eq!(*status, expected, "{seat}");
    }
    let status = assert_code(
        reserve(&app, &tokens[0], best(&event.event_id, 1, "FLOOR", "")).await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("section FLOOR"),
        "{}",
        status.message()
    );
    app.teardown().await;
}

async fn ranks_set_at_creation_decide_which_seats_are_best(backend: Backend) {
    let app = spawn_with(Storage::new(backend).await, |_| {}).await;
    let create = |rows: Vec<pb::RowSpec>| {
        let mut inventory = app.inventory.clone();
        async move {
            inventory
                .create_event(authed(
                    pb::CreateEventRequest {
                        name: "Ranked".into(),
                        starts_at: Some(prost_types::Timestamp {
                            seconds: 2_000_000_000,
                            nanos: 0,
                        }),
                        rows,
                        ..Default::default()
                    },
                    ADMIN_TOKEN,
                ))
                .await
                .map(|r| r.into_inner().event.expect("event"))
        }
    };
    let row = |name: &str, ranks: Vec<u32>| pb::RowSpec {
        row: name.into(),
        seat_count: 6,
        seat_ranks: ranks,
        ..Default::default()
    };
    // Row B (the balcony's front) is better than row A, best at its aisle end (B6); row A's
    // seats are all alike.
    let event = create(vec![
        row("A", vec![100; 6]),
        row("B", vec![60, 50, 40, 30, 20, 10]),
    ])
    .await
    .expect("create");
    assert_eq!(event.rows[1].seat_ranks, [60, 50, 40, 30, 20, 10]);
    assert_eq!(event.rows[0].seat_ranks, [100; 6]);
    let token = app.user().await;
    let first = reserve(&app, &token, best(&event.event_id, 2, "", ""))
        .await
        .expect("best");
    assert_eq!(first.seats, ["B5", "B6"]);
    let next = reserve(&app, &token, best(&event.event_id, 3, "", ""))
        .await
        .expect("best");
    assert_eq!(
        next.seats,
        ["A1", "A2", "A3"],
        "three of B1-B4 would leave one seat alone, so row A"
    );

    let status = assert_code(
        create(vec![row("A", vec![1, 2, 3])]).await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().contains("rows[0].seat_ranks"),
        "{}",
        status.message()
    );
    let status = assert_code(
        create(vec![row("A", vec![2_000_000_000; 6])]).await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().contains("rows[0].seat_ranks"),
        "{}",
        status.message()
    );
    app.teardown().await;
}
