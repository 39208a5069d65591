use crate::both_backends;
use crate::helpers::{ADMIN_TOKEN, Backend, Storage, assert_code, authed, spawn_app, spawn_with};
use seatrush::proto::v1 as pb;
use tonic::Code;

both_backends!(
    an_event_is_created_with_every_seat_in_order,
    event_writes_need_the_admin_token,
    events_are_listed_page_by_page,
    an_unknown_event_is_not_found,
);

fn create_request(rows: &[(&str, u32)]) -> pb::CreateEventRequest {
    pb::CreateEventRequest {
        name: "Cup final".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 1_900_000_000,
            nanos: 0,
        }),
        rows: rows
            .iter()
            .map(|(row, seat_count)| pb::RowSpec {
                row: row.to_string(),
                seat_count: *seat_count,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

async fn an_event_is_created_with_every_seat_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app
        .inventory
        .clone()
        .create_event(authed(create_request(&[("B", 3), ("a", 12)]), ADMIN_TOKEN))
        .await
        .expect("create")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(event.seat_count, 15);
    assert_eq!(event.rows[1].row, "A", "rows are upper-cased");

    let fetched = app
        .inventory
        .clone()
        .get_event(pb::GetEventRequest {
            event_id: event.event_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(fetched, event);

    let seats = app
        .booking
        .clone()
        .get_seat_map(pb::GetSeatMapRequest {
            event_id: event.event_id.clone(),
            ..Default::default()
        })
        .await
        .expect("seat map")
        .into_inner()
        .seats;
    let labels: Vec<&str> = seats.iter().map(|s| s.label.as_str()).collect();
    let expected: Vec<String> = (1..=3)
        .map(|n| format!("B{n}"))
        .chain((1..=12).map(|n| format!("A{n}")))
        .collect();
    assert_eq!(labels, expected, "rows in creation order, seats by number");
    assert!(
        seats
            .iter()
            .all(|s| s.status() == pb::SeatStatus::Available)
    );
    assert!(
        seats
            .iter()
            .all(|s| uuid::Uuid::parse_str(&s.seat_id).is_ok())
    );
    app.teardown().await;
}

async fn event_writes_need_the_admin_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut inventory = app.inventory.clone();
    assert_code(
        inventory.create_event(create_request(&[("A", 1)])).await,
        Code::Unauthenticated,
    );
    let wrong = inventory
        .create_event(authed(create_request(&[("A", 1)]), "not-the-admin-token"))
        .await;
    assert_code(wrong, Code::PermissionDenied);
    let user = app.user().await;
    assert_code(
        inventory
            .create_event(authed(create_request(&[("A", 1)]), &user))
            .await,
        Code::PermissionDenied,
    );

    let storage = Storage::new(backend).await;
    let closed = spawn_with(storage, |s| s.admin_token = None).await;
    let refused = closed
        .inventory
        .clone()
        .create_event(authed(create_request(&[("A", 1)]), ADMIN_TOKEN))
        .await;
    let status = assert_code(refused, Code::PermissionDenied);
    assert!(
        status.message().contains("SEATRUSH_ADMIN_TOKEN"),
        "says how to enable writes: {}",
        status.message()
    );
    closed.teardown().await;
    app.teardown().await;
}

async fn events_are_listed_page_by_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let mut request = create_request(&[("A", 1)]);
        request.starts_at = Some(prost_types::Timestamp {
            seconds: 1_900_000_000 + (i % 2) * 3600,
            nanos: 0,
        });
        created.push(
            app.inventory
                .clone()
                .create_event(authed(request, ADMIN_TOKEN))
                .await
                .expect("create")
                .into_inner()
                .event
                .expect("event"),
        );
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .inventory
            .clone()
            .list_events(pb::ListEventsRequest {
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .expect("list")
            .into_inner();
        assert!(page.events.len() <= 2);
        seen.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5, "every event exactly once");
    let starts: Vec<i64> = seen
        .iter()
        .map(|e| e.starts_at.expect("starts").seconds)
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "ordered by start time"
    );
    // Listed without their layouts.
    let mut summaries: Vec<pb::Event> = created
        .into_iter()
        .map(|e| pb::Event {
            rows: Vec::new(),
            sections: Vec::new(),
            ..e
        })
        .collect();
    summaries.sort_by_key(|e| e.event_id.clone());
    seen.sort_by_key(|e| e.event_id.clone());
    assert_eq!(seen, summaries);
    app.teardown().await;
}

async fn an_unknown_event_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = uuid::Uuid::new_v4().to_string();
    assert_code(
        app.inventory
            .clone()
            .get_event(pb::GetEventRequest {
                event_id: id.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        app.booking
            .clone()
            .get_seat_map(pb::GetSeatMapRequest {
                event_id: id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    let user = app.user().await;
    assert_code(app.reserve(&user, &id, &["A1"], 0).await, Code::NotFound);
    app.teardown().await;
}
