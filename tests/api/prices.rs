//! Price categories (#15), on both backends: categories set at CreateEvent, each seat's price on
//! the layout and the map, a reservation's prices and total, and the price on each ticket. Bad
//! categories are INVALID_ARGUMENT naming the field; an event without categories stays free; a
//! Purchase that confirms another amount than the total is FAILED_PRECONDITION and sells nothing.

use crate::both_backends;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, assert_code, authed, spawn_app};
use seatrush::proto::v1 as pb;
use tonic::{Code, Status};

both_backends!(
    a_priced_event_shows_prices_on_the_map_the_reservation_and_the_tickets,
    sections_give_their_rows_a_category,
    bad_price_categories_are_refused_naming_the_field,
    an_event_without_categories_is_free,
    a_purchase_confirming_another_amount_sells_nothing,
);

fn category(code: &str, price_minor: u64, currency: &str) -> pb::PriceCategory {
    pb::PriceCategory {
        code: code.into(),
        name: format!("Category {code}"),
        price_minor,
        currency: currency.into(),
    }
}

fn row(name: &str, seats: u32, category: &str) -> pb::RowSpec {
    pb::RowSpec {
        row: name.into(),
        seat_count: seats,
        price_category: category.into(),
        ..Default::default()
    }
}

fn request(rows: Vec<pb::RowSpec>, categories: Vec<pb::PriceCategory>) -> pb::CreateEventRequest {
    pb::CreateEventRequest {
        name: "Priced night".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        }),
        rows,
        price_categories: categories,
        ..Default::default()
    }
}

impl TestApp {
    async fn create(&self, body: pb::CreateEventRequest) -> Result<pb::Event, Status> {
        self.inventory
            .clone()
            .create_event(authed(body, ADMIN_TOKEN))
            .await
            .map(|r| r.into_inner().event.expect("event"))
    }

    /// Every seat of the event's map, by label: (category code, price).
    async fn prices(&self, event: &str) -> std::collections::BTreeMap<String, (String, u64)> {
        self.booking
            .clone()
            .get_seat_map(pb::GetSeatMapRequest {
                event_id: event.into(),
                page_size: 5_000,
                ..Default::default()
            })
            .await
            .expect("seat map")
            .into_inner()
            .seats
            .into_iter()
            .map(|s| (s.label, (s.price_category, s.price_minor)))
            .collect()
    }

    async fn layout(&self, event: &str) -> pb::GetSeatLayoutResponse {
        self.booking
            .clone()
            .get_seat_layout(pb::GetSeatLayoutRequest {
                event_id: event.into(),
            })
            .await
            .expect("layout")
            .into_inner()
    }
}

async fn a_priced_event_shows_prices_on_the_map_the_reservation_and_the_tickets(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app
        .create(request(
            vec![row("A", 2, "vip"), row("B", 2, "")],
            vec![category("STD", 2_500, "EUR"), category("VIP", 9_900, "EUR")],
        ))
        .await
        .expect("create");
    assert_eq!(event.price_categories.len(), 2);
    assert_eq!(event.price_categories[1].code, "VIP");
    assert_eq!(
        event
            .rows
            .iter()
            .map(|r| r.price_category.as_str())
            .collect::<Vec<_>>(),
        ["VIP", "STD"]
    );

    let layout = app.layout(&event.event_id).await;
    assert_eq!(layout.digest, event.layout_digest);
    assert_eq!(layout.price_categories, event.price_categories);
    let rows = &layout.sections[0].rows;
    assert_eq!(
        (
            rows[0].price_category.as_str(),
            rows[1].price_category.as_str()
        ),
        ("VIP", "STD")
    );

    let prices = app.prices(&event.event_id).await;
    assert_eq!(prices["A1"], ("VIP".to_owned(), 9_900));
    assert_eq!(prices["B2"], ("STD".to_owned(), 2_500));

    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["B1", "A2"], 0)
        .await
        .expect("reserve");
    assert_eq!(held.prices_minor, [2_500, 9_900]);
    assert_eq!((held.total_minor, held.currency.as_str()), (12_400, "EUR"));
    let extended = app
        .booking
        .clone()
        .extend_hold(authed(
            pb::ExtendHoldRequest {
                reservation_id: held.reservation_id.clone(),
                hold_seconds: 60,
            },
            &fan,
        ))
        .await
        .expect("extend")
        .into_inner()
        .reservation
        .expect("reservation");
    assert_eq!(
        (extended.prices_minor, extended.total_minor),
        (held.prices_minor.clone(), 12_400)
    );
    let read = app
        .booking
        .clone()
        .get_reservation(authed(
            pb::GetReservationRequest {
                reservation_id: held.reservation_id.clone(),
            },
            &fan,
        ))
        .await
        .expect("get reservation")
        .into_inner()
        .reservation
        .expect("reservation");
    assert_eq!(
        (read.total_minor, read.currency),
        (12_400, "EUR".to_owned())
    );

    let mut tickets: Vec<(String, u64, String)> = app
        .purchase(&fan, &held.reservation_id)
        .await
        .expect("purchase")
        .into_iter()
        .map(|t| (t.label, t.price_minor, t.currency))
        .collect();
    tickets.sort();
    assert_eq!(
        tickets,
        [
            ("A2".to_owned(), 9_900, "EUR".to_owned()),
            ("B1".to_owned(), 2_500, "EUR".to_owned())
        ]
    );
    app.teardown().await;
}

async fn sections_give_their_rows_a_category(backend: Backend) {
    let app = spawn_app(backend).await;
    let section = |code: &str, category: &str, rows: Vec<pb::RowSpec>| pb::SectionSpec {
        code: code.into(),
        name: String::new(),
        rows,
        price_category: category.into(),
    };
    let mut body = request(
        Vec::new(),
        vec![category("C1", 5_000, "GBP"), category("C2", 3_000, "GBP")],
    );
    body.sections = vec![
        section("FLOOR", "", vec![row("A", 2, "")]),
        section("112", "c2", vec![row("A", 2, ""), row("B", 2, "C1")]),
    ];
    let event = app.create(body).await.expect("create");
    let prices = app.prices(&event.event_id).await;
    assert_eq!(prices["FLOOR-A-1"], ("C1".to_owned(), 5_000));
    assert_eq!(prices["112-A-2"], ("C2".to_owned(), 3_000));
    assert_eq!(prices["112-B-1"], ("C1".to_owned(), 5_000));

    let unpriced = app
        .create({
            let mut body = request(Vec::new(), Vec::new());
            body.sections = vec![section("FLOOR", "", vec![row("A", 2, "")])];
            body
        })
        .await
        .expect("create");
    assert_ne!(
        app.layout(&unpriced.event_id).await.digest,
        event.layout_digest,
        "a price is part of the layout's digest"
    );
    app.teardown().await;
}

async fn bad_price_categories_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let eur = || category("STD", 100, "EUR");
    let cases: Vec<(pb::CreateEventRequest, &str)> = vec![
        (
            request(vec![row("A", 1, "")], vec![category("STD", 1, "eur")]),
            "price_categories[0].currency",
        ),
        (
            request(vec![row("A", 1, "")], vec![category("", 1, "EUR")]),
            "price_categories[0].code",
        ),
        (
            request(
                vec![row("A", 1, "")],
                vec![eur(), category("VIP", 1, "USD")],
            ),
            "price_categories[1].currency",
        ),
        (
            request(
                vec![row("A", 1, "")],
                vec![eur(), category("std", 1, "EUR")],
            ),
            "price_categories[1].code",
        ),
        (
            request(
                vec![row("A", 1, "")],
                vec![category("STD", 2_000_000_000_000, "EUR")],
            ),
            "price_categories[0].price_minor",
        ),
        (
            request(vec![row("A", 1, ""), row("B", 1, "GOLD")], vec![eur()]),
            "rows[1].price_category",
        ),
        (
            request(vec![row("A", 1, "STD")], Vec::new()),
            "rows[0].price_category",
        ),
        (
            request(
                vec![row("A", 1, "")],
                (0..51)
                    .map(|i| category(&format!("C{i}"), 1, "EUR"))
                    .collect(),
            ),
            "price_categories",
        ),
    ];
    for (body, field) in cases {
        let status = assert_code(app.create(body).await, Code::InvalidArgument);
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    }
    app.teardown().await;
}

async fn an_event_without_categories_is_free(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 3).await;
    assert!(event.price_categories.is_empty());
    assert!(
        app.layout(&event.event_id)
            .await
            .price_categories
            .is_empty()
    );
    assert_eq!(app.prices(&event.event_id).await["A1"], (String::new(), 0));
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    assert_eq!(
        (held.prices_minor, held.total_minor, held.currency),
        (vec![0, 0], 0, String::new())
    );
    let tickets = app
        .purchase(&fan, &held.reservation_id)
        .await
        .expect("purchase");
    assert!(
        tickets
            .iter()
            .all(|t| t.price_minor == 0 && t.currency.is_empty())
    );
    app.teardown().await;
}

async fn a_purchase_confirming_another_amount_sells_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app
        .create(request(
            vec![row("A", 3, "")],
            vec![category("STD", 4_200, "USD")],
        ))
        .await
        .expect("create");
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    assert_eq!(held.total_minor, 8_400);
    let purchase = |amount_minor: Option<u64>| {
        let mut booking = app.booking.clone();
        let body = pb::PurchaseRequest {
            reservation_id: held.reservation_id.clone(),
            confirmed: amount_minor.map(|amount_minor| pb::ConfirmedAmount { amount_minor }),
            ..Default::default()
        };
        let token = fan.clone();
        async move {
            booking
                .purchase(authed(body, &token))
                .await
                .map(|r| r.into_inner().tickets)
        }
    };
    let refused = assert_code(purchase(Some(4_200)).await, Code::FailedPrecondition);
    assert!(refused.message().contains("8400"), "{}", refused.message());
    let sold = app.seat_map(&event.event_id).await;
    assert!(
        sold.values().all(|s| *s != pb::SeatStatus::Sold),
        "nothing sold: {sold:?}"
    );

    let tickets = purchase(Some(8_400)).await.expect("the right amount buys");
    assert_eq!(tickets.len(), 2);
    assert!(
        tickets
            .iter()
            .all(|t| t.price_minor == 4_200 && t.currency == "USD")
    );
    let again = purchase(Some(8_400)).await.expect("repeat");
    let ids = |t: &[pb::Ticket]| {
        let mut ids: Vec<String> = t.iter().map(|t| t.ticket_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&again),
        ids(&tickets),
        "a repeat returns the same tickets"
    );
    app.teardown().await;
}
