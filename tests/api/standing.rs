//! General admission (#15) through the API, on both backends: areas of places at CreateEvent,
//! shown on the event, the layout, the statuses and the feed as counts; Reserve of N places held,
//! extended, released, bought and expired like seats; bad requests naming the field; and 10,000
//! concurrent Reserves of 1 to 4 places at the last 100 places, across two instances, never
//! selling more than the capacity.

use crate::both_backends;
use crate::concurrency::{clients, users};
use crate::helpers::{ADMIN_TOKEN, Backend, Storage, TestApp, assert_code, authed, spawn_with};
use pb::watch_seats_response::Payload;
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::StatusExt;

both_backends!(
    an_area_is_shown_as_a_count_and_its_places_are_held_and_sold_like_seats,
    the_feed_reports_an_areas_free_places,
    bad_areas_and_general_admission_requests_are_refused_naming_the_field,
    ten_thousand_concurrent_reserves_at_the_last_hundred_places_never_oversell,
);

fn area(code: &str, capacity: u32, category: &str) -> pb::AreaSpec {
    pb::AreaSpec {
        code: code.into(),
        name: format!("Area {code}"),
        capacity,
        price_category: category.into(),
    }
}

fn create_request(rows: Vec<pb::RowSpec>, areas: Vec<pb::AreaSpec>) -> pb::CreateEventRequest {
    pb::CreateEventRequest {
        name: "Open air".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        }),
        rows,
        areas,
        price_categories: vec![
            pb::PriceCategory {
                code: "SEAT".into(),
                price_minor: 8_000,
                currency: "EUR".into(),
                ..Default::default()
            },
            pb::PriceCategory {
                code: "STAND".into(),
                price_minor: 5_500,
                currency: "EUR".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

async fn create(app: &TestApp, request: pb::CreateEventRequest) -> Result<pb::Event, Status> {
    app.inventory
        .clone()
        .create_event(authed(request, ADMIN_TOKEN))
        .await
        .map(|r| r.into_inner().event.expect("event"))
}

fn seats_row(name: &str, seats: u32) -> pb::RowSpec {
    pb::RowSpec {
        row: name.into(),
        seat_count: seats,
        ..Default::default()
    }
}

fn places(event: &str, area: &str, count: u32) -> pb::ReserveRequest {
    pb::ReserveRequest {
        event_id: event.into(),
        general_admission: Some(pb::GeneralAdmission {
            area: area.into(),
            count,
        }),
        ..Default::default()
    }
}

async fn reserve(
    booking: &mut BookingServiceClient<tonic::transport::Channel>,
    token: &str,
    body: pb::ReserveRequest,
) -> Result<pb::Reservation, Status> {
    booking
        .reserve(authed(body, token))
        .await
        .map(|r| r.into_inner().reservation.expect("reservation"))
}

async fn free_places(app: &TestApp, event: &str) -> HashMap<String, (u32, u32)> {
    let statuses = app
        .booking
        .clone()
        .get_seat_statuses(pb::GetSeatStatusesRequest {
            event_id: event.into(),
        })
        .await
        .expect("statuses")
        .into_inner();
    statuses
        .areas
        .into_iter()
        .map(|a| (a.code, (a.available, a.capacity)))
        .collect()
}

async fn app(backend: Backend) -> TestApp {
    spawn_with(Storage::new(backend).await, |s| {
        s.max_seats_per_user = 10_000;
        s.min_hold_seconds = 1;
    })
    .await
}

async fn an_area_is_shown_as_a_count_and_its_places_are_held_and_sold_like_seats(backend: Backend) {
    let app = app(backend).await;
    let event = create(
        &app,
        create_request(vec![seats_row("A", 4)], vec![area("floor", 2_500, "STAND")]),
    )
    .await
    .expect("create");
    let id = &event.event_id;
    assert_eq!(event.seat_count, 4, "places are not seats");
    assert_eq!(event.areas.len(), 1);
    assert_eq!(
        (event.areas[0].code.as_str(), event.areas[0].capacity),
        ("FLOOR", 2_500)
    );
    assert_eq!(event.areas[0].price_category, "STAND");
    let mut booking = app.booking.clone();
    let layout = booking
        .get_seat_layout(pb::GetSeatLayoutRequest {
            event_id: id.clone(),
        })
        .await
        .expect("layout")
        .into_inner();
    assert_eq!(layout.seat_count, 4);
    assert_eq!(layout.areas.len(), 1);
    assert_eq!(layout.sections.len(), 1, "the area is not a section");
    let statuses = booking
        .get_seat_statuses(pb::GetSeatStatusesRequest {
            event_id: id.clone(),
        })
        .await
        .expect("statuses")
        .into_inner();
    assert_eq!((statuses.seat_count, statuses.statuses.len()), (4, 1));
    assert_eq!(free_places(&app, id).await["FLOOR"], (2_500, 2_500));

    let token = app.user().await;
    let three = reserve(&mut booking, &token, places(id, "floor", 3))
        .await
        .expect("three places");
    assert_eq!(three.seats, ["FLOOR-1-1", "FLOOR-1-2", "FLOOR-1-3"]);
    assert_eq!(three.total_minor, 16_500);
    assert_eq!(free_places(&app, id).await["FLOOR"].0, 2_497);
    let extended = booking
        .extend_hold(authed(
            pb::ExtendHoldRequest {
                reservation_id: three.reservation_id.clone(),
                hold_seconds: 300,
            },
            &token,
        ))
        .await
        .expect("extend")
        .into_inner()
        .reservation
        .expect("reservation");
    assert_eq!(extended.seats, three.seats);
    app.release(&token, &three.reservation_id)
        .await
        .expect("release");
    assert_eq!(free_places(&app, id).await["FLOOR"].0, 2_500);

    let two = reserve(&mut booking, &token, places(id, "FLOOR", 2))
        .await
        .expect("two places");
    let tickets = app
        .purchase(&token, &two.reservation_id)
        .await
        .expect("buy");
    let labels: Vec<&str> = tickets.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels.len(), 2);
    assert!(
        labels.iter().all(|l| l.starts_with("FLOOR-1-")),
        "{labels:?}"
    );
    assert!(tickets.iter().all(|t| t.price_minor == 5_500));
    assert_eq!(free_places(&app, id).await["FLOOR"].0, 2_498);

    // A place is not a seat: it cannot be named, and the seat map has seats alone.
    assert_code(
        app.reserve(&token, id, &["FLOOR-1-9"], 0).await,
        Code::NotFound,
    );
    let map = app.seat_map(id).await;
    assert_eq!(map.len(), 4);
    assert!(map.keys().all(|k| k.starts_with('A')), "{map:?}");

    // An event of places alone; a lapsed hold gives its places back.
    let lawn = create(&app, create_request(vec![], vec![area("LAWN", 10, "")]))
        .await
        .expect("standing only");
    assert_eq!(lawn.seat_count, 0);
    let mut short = places(&lawn.event_id, "LAWN", 10);
    short.hold_seconds = 1;
    reserve(&mut booking, &token, short).await.expect("all ten");
    assert_eq!(free_places(&app, &lawn.event_id).await["LAWN"].0, 0);
    let status = assert_code(
        reserve(&mut booking, &token, places(&lawn.event_id, "LAWN", 1)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status.get_details_error_info().map(|i| i.reason),
        Some("NOT_ENOUGH_SEATS".into())
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while free_places(&app, &lawn.event_id).await["LAWN"].0 < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lapsed places came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reserve(&mut booking, &token, places(&lawn.event_id, "LAWN", 4))
        .await
        .expect("places again");
    app.teardown().await;
}

async fn the_feed_reports_an_areas_free_places(backend: Backend) {
    let app = app(backend).await;
    let event = create(
        &app,
        create_request(vec![seats_row("A", 4)], vec![area("FLOOR", 100, "")]),
    )
    .await
    .expect("create");
    let id = &event.event_id;
    let mut booking = app.booking.clone();
    let mut stream = booking
        .watch_seats(pb::WatchSeatsRequest {
            event_id: id.clone(),
            labels: true,
        })
        .await
        .expect("watch")
        .into_inner();
    let Payload::Snapshot(snapshot) = next(&mut stream).await else {
        panic!("the stream starts with a snapshot");
    };
    assert_eq!(snapshot.seat_count, 4);
    assert_eq!(snapshot.areas.len(), 1);
    assert_eq!(
        (snapshot.areas[0].available, snapshot.areas[0].capacity),
        (100, 100)
    );

    let token = app.user().await;
    let mut short = places(id, "FLOOR", 3);
    short.hold_seconds = 1;
    reserve(&mut booking, &token, short).await.expect("places");
    app.reserve(&token, id, &["A2"], 0).await.expect("a seat");
    // Held: 97 free, the seat as an update; then lapsed: 100 again.
    let mut seen = Vec::new();
    let mut seat_updates = Vec::new();
    while seen.last() != Some(&100) || seen.len() < 2 {
        let Payload::Changes(batch) = next(&mut stream).await else {
            panic!("no resync expected");
        };
        seat_updates.extend(batch.updates.iter().map(|u| u.label.clone()));
        for area in &batch.areas {
            assert_eq!(area.code, "FLOOR");
            seen.push(area.available);
        }
    }
    assert_eq!(seen.first(), Some(&97), "{seen:?}");
    assert_eq!(seat_updates, ["A2"], "places are counts, not seat updates");
    app.teardown().await;
}

async fn bad_areas_and_general_admission_requests_are_refused_naming_the_field(backend: Backend) {
    let app = app(backend).await;
    let refused = |result: Result<pb::Event, Status>, field: &str| {
        let status = assert_code(result, Code::InvalidArgument);
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    };
    refused(
        create(&app, create_request(vec![], vec![area("F", 0, "")])).await,
        "areas[0].capacity",
    );
    refused(
        create(&app, create_request(vec![], vec![area("F!", 5, "")])).await,
        "areas[0].code",
    );
    refused(
        create(
            &app,
            create_request(vec![], vec![area("F", 5, ""), area("f", 5, "")]),
        )
        .await,
        "areas[1].code",
    );
    refused(
        create(&app, create_request(vec![], vec![area("F", 200_000, "")])).await,
        "areas[0].capacity",
    );
    refused(
        create(&app, create_request(vec![], vec![area("F", 5, "VIP")])).await,
        "areas[0].price_category",
    );
    refused(create(&app, create_request(vec![], vec![])).await, "rows");

    let event = create(
        &app,
        create_request(vec![seats_row("A", 4)], vec![area("F", 5, "")]),
    )
    .await
    .expect("create");
    let id = &event.event_id;
    let token = app.user().await;
    let mut booking = app.booking.clone();
    let wrong = |result: Result<pb::Reservation, Status>, code: Code, field: &str| {
        let status = assert_code(result, code);
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    };
    wrong(
        reserve(&mut booking, &token, places(id, "F", 0)).await,
        Code::InvalidArgument,
        "general_admission.count",
    );
    wrong(
        reserve(&mut booking, &token, places(id, "F", 11)).await,
        Code::InvalidArgument,
        "general_admission.count",
    );
    wrong(
        reserve(&mut booking, &token, places(id, "", 1)).await,
        Code::InvalidArgument,
        "general_admission.area",
    );
    wrong(
        reserve(&mut booking, &token, places(id, "LAWN", 1)).await,
        Code::NotFound,
        "area LAWN",
    );
    let mut both = places(id, "F", 1);
    both.seats = vec!["A1".into()];
    wrong(
        reserve(&mut booking, &token, both).await,
        Code::InvalidArgument,
        "general_admission",
    );
    let mut both = places(id, "F", 1);
    both.best_available = Some(pb::BestAvailable {
        count: 1,
        ..Default::default()
    });
    wrong(
        reserve(&mut booking, &token, both).await,
        Code::InvalidArgument,
        "general_admission",
    );
    // Best available never hands out places.
    let best = reserve(
        &mut booking,
        &token,
        pb::ReserveRequest {
            event_id: id.clone(),
            best_available: Some(pb::BestAvailable {
                count: 4,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .expect("the four seats");
    assert!(
        best.seats.iter().all(|s| s.starts_with('A')),
        "{:?}",
        best.seats
    );
    app.teardown().await;
}

/// A small deterministic generator, so a failure can be replayed.
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

async fn ten_thousand_concurrent_reserves_at_the_last_hundred_places_never_oversell(
    backend: Backend,
) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = app(backend).await;
    // The embedded backend's holds live in its one process; the distributed one is shared by
    // every instance, so there the requests go to two.
    let other = match backend {
        Backend::Embedded => None,
        Backend::Distributed => Some(
            spawn_with(app.storage.clone(), |s| {
                s.no_migrate = true;
                s.max_seats_per_user = 10_000;
            })
            .await,
        ),
    };
    let event = create(&app, create_request(vec![], vec![area("FLOOR", 1_000, "")]))
        .await
        .expect("create");
    let id = event.event_id.clone();
    let tokens = users(&app, 50).await;
    let mut booking = app.booking.clone();
    let mut holds: Vec<(String, pb::Reservation)> = Vec::new();
    for i in 0..90 {
        let token = tokens[i % tokens.len()].clone();
        let held = reserve(&mut booking, &token, places(&id, "FLOOR", 10))
            .await
            .expect("the first 900");
        holds.push((token, held));
    }
    assert_eq!(free_places(&app, &id).await["FLOOR"].0, 100);

    let mut channels = clients(&app).await;
    if let Some(other) = &other {
        channels.extend(clients(other).await);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10_000));
    let mut rng = Lcg(0x0a11_0c47);
    let mut calls = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let mut client = channels[i % channels.len()].clone();
        let token = tokens[i % tokens.len()].clone();
        let count = 1 + rng.next(4) as u32;
        let request = authed(places(&id, "FLOOR", count), &token);
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            (token, count, client.reserve(request).await)
        }));
    }
    let mut held_places = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.expect("call task") {
            (token, count, Ok(response)) => {
                let reservation = response.into_inner().reservation.expect("reservation");
                assert_eq!(reservation.seats.len(), count as usize);
                held_places += count;
                holds.push((token, reservation));
            }
            (_, _, Err(status)) if status.code() == Code::FailedPrecondition => refused += 1,
            (_, _, Err(status)) => panic!("unexpected outcome: {status:?}"),
        }
    }
    // Places only ever go, so a refused request of one place means none was left: with
    // thousands of those, every one of the last 100 was taken, and not one more.
    assert_eq!(held_places, 100, "{refused} refused");
    let mut all = HashSet::new();
    for (_, hold) in &holds {
        for place in &hold.seats {
            assert!(all.insert(place.clone()), "{place} held twice");
        }
    }
    assert_eq!(all.len(), 1_000);
    assert_eq!(
        free_places(other.as_ref().unwrap_or(&app), &id).await["FLOOR"].0,
        0
    );

    // Everyone buys, on either instance: exactly the capacity is sold.
    let mut purchases = Vec::new();
    for (i, (token, hold)) in holds.into_iter().enumerate() {
        let mut client = channels[i % channels.len()].clone();
        let request = authed(
            pb::PurchaseRequest {
                reservation_id: hold.reservation_id,
                ..Default::default()
            },
            &token,
        );
        purchases.push(tokio::spawn(async move { client.purchase(request).await }));
    }
    for purchase in purchases {
        purchase.await.expect("task").expect("purchase");
    }
    let sales = app
        .inventory
        .clone()
        .list_event_sales(authed(
            pb::ListEventSalesRequest {
                event_id: id.clone(),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("sales")
        .into_inner();
    assert_eq!(sales.tickets_sold, 1_000);
    assert_code(
        reserve(&mut booking, &tokens[0], places(&id, "FLOOR", 1)).await,
        Code::FailedPrecondition,
    );
    if let Some(other) = other {
        other.stop().await;
    }
    app.teardown().await;
}

async fn next(stream: &mut tonic::Streaming<pb::WatchSeatsResponse>) -> Payload {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a message in time")
        .expect("stream ok")
        .expect("stream open")
        .payload
        .expect("payload")
}
