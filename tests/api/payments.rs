//! Payment references at Purchase (#15), on both backends: the reference and the price sold for
//! are stored on the tickets and shown by every RPC that shows a ticket; one reference pays for
//! one reservation (refused on another with PAYMENT_REFERENCE_USED, the hold staying live, even
//! when 50 purchases race for it); a sold reservation repurchased under another reference is
//! PAYMENT_REFERENCE_MISMATCH; a malformed reference is INVALID_ARGUMENT naming the field. The
//! unique index behind it is tested on the adapter itself, where no pre-check can hide it.

use crate::booking::user_id;
use crate::both_backends;
use crate::calls::column;
use crate::helpers::{
    ADMIN_TOKEN, Backend, Storage, TestApp, assert_code, authed, spawn_app, spawn_with,
};
use crate::validation::expect_invalid;
use seatrush::internals::SqlStore;
use seatrush::internals::domain::{
    EventId, PaymentReference, ReservationId, SeatId, TicketId, UserId,
};
use seatrush::internals::ports::{EventStore, NewTicket, TicketInsert, TicketStore};
use seatrush::proto::v1 as pb;
use std::collections::{BTreeSet, HashMap};
use tonic::{Code, Status};
use tonic_types::StatusExt;

both_backends!(
    the_reference_and_the_price_are_stored_on_the_tickets_and_shown_everywhere,
    a_reference_that_paid_for_one_reservation_pays_for_no_other,
    a_sold_reservation_repurchased_under_another_reference_is_a_mismatch,
    malformed_references_are_invalid_argument_naming_the_field,
    fifty_purchases_racing_with_one_reference_sell_one_reservation,
    the_database_refuses_a_second_reservation_under_a_spent_reference,
);

/// Rows A (VIP, 9900) and B (STD, 2500) in EUR, `seats` seats each.
async fn priced_event(app: &TestApp, seats: u32) -> pb::Event {
    let category = |code: &str, price_minor| pb::PriceCategory {
        code: code.into(),
        price_minor,
        currency: "EUR".into(),
        ..Default::default()
    };
    let row = |row: &str, category: &str| pb::RowSpec {
        row: row.into(),
        seat_count: seats,
        price_category: category.into(),
        ..Default::default()
    };
    let body = pb::CreateEventRequest {
        name: "Paid night".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        }),
        rows: vec![row("A", "VIP"), row("B", "STD")],
        price_categories: vec![category("STD", 2_500), category("VIP", 9_900)],
        ..Default::default()
    };
    app.inventory
        .clone()
        .create_event(authed(body, ADMIN_TOKEN))
        .await
        .expect("create event")
        .into_inner()
        .event
        .expect("event")
}

impl TestApp {
    async fn purchase_paid(
        &self,
        token: &str,
        reservation: &str,
        reference: &str,
    ) -> Result<Vec<pb::Ticket>, Status> {
        let body = pb::PurchaseRequest {
            reservation_id: reservation.into(),
            payment_reference: reference.into(),
            ..Default::default()
        };
        self.booking
            .clone()
            .purchase(authed(body, token))
            .await
            .map(|r| r.into_inner().tickets)
    }

    async fn ticket_by_id(&self, token: &str, id: &str) -> pb::Ticket {
        let body = pb::GetTicketRequest {
            ticket_id: id.into(),
        };
        self.booking
            .clone()
            .get_ticket(authed(body, token))
            .await
            .expect("get ticket")
            .into_inner()
            .ticket
            .expect("ticket")
    }
}

/// A ticket as compared across RPCs: (id, label, price, currency, reference).
fn shown(t: &pb::Ticket) -> (String, String, u64, String, String) {
    (
        t.ticket_id.clone(),
        t.label.clone(),
        t.price_minor,
        t.currency.clone(),
        t.payment_reference.clone(),
    )
}

fn sorted(tickets: &[pb::Ticket]) -> Vec<(String, String, u64, String, String)> {
    let mut shown: Vec<_> = tickets.iter().map(shown).collect();
    shown.sort();
    shown
}

/// FAILED_PRECONDITION with ErrorInfo `reason`.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, reason: &str) -> Status {
    let status = assert_code(result, Code::FailedPrecondition);
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, reason, "{}", status.message());
    status
}

async fn the_reference_and_the_price_are_stored_on_the_tickets_and_shown_everywhere(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let event = priced_event(&app, 2).await;
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["B1", "A2"], 0)
        .await
        .expect("reserve");
    let reference = "psp ch_3Qx7/ORDER-42";
    let tickets = app
        .purchase_paid(&fan, &held.reservation_id, reference)
        .await
        .expect("purchase");
    let prices: BTreeSet<_> = tickets
        .iter()
        .map(|t| (t.label.as_str(), t.price_minor, t.currency.as_str()))
        .collect();
    assert_eq!(
        prices,
        BTreeSet::from([("A2", 9_900, "EUR"), ("B1", 2_500, "EUR")])
    );
    assert!(tickets.iter().all(|t| t.payment_reference == reference));

    let mut stored: Vec<i64> = column(
        &app.storage,
        "SELECT price_minor FROM tickets WHERE payment_reference = $1",
        reference.into(),
    )
    .await;
    stored.sort();
    assert_eq!(stored, [2_500, 9_900], "the price is on the ticket row");

    for ticket in &tickets {
        let read = app.ticket_by_id(&fan, &ticket.ticket_id).await;
        assert_eq!(shown(&read), shown(ticket), "GetTicket");
    }
    let mine = app
        .booking
        .clone()
        .list_my_tickets(authed(pb::ListMyTicketsRequest::default(), &fan))
        .await
        .expect("list my tickets")
        .into_inner()
        .tickets;
    assert_eq!(sorted(&mine), sorted(&tickets), "ListMyTickets");
    let sales = app
        .inventory
        .clone()
        .list_event_sales(authed(
            pb::ListEventSalesRequest {
                event_id: event.event_id.clone(),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("list event sales")
        .into_inner()
        .sales;
    let mut sold: Vec<_> = sales
        .iter()
        .map(|s| {
            (
                s.label.as_str(),
                s.price_minor,
                s.payment_reference.as_str(),
            )
        })
        .collect();
    sold.sort();
    assert_eq!(sold, [("A2", 9_900, reference), ("B1", 2_500, reference)]);

    for repeat in [reference, ""] {
        let again = app
            .purchase_paid(&fan, &held.reservation_id, repeat)
            .await
            .expect("a repeat returns the tickets");
        assert_eq!(sorted(&again), sorted(&tickets), "repeat with {repeat:?}");
    }
    app.teardown().await;
}

async fn a_reference_that_paid_for_one_reservation_pays_for_no_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = priced_event(&app, 4).await;
    let (fan, other) = (app.user().await, app.user().await);
    let first = app
        .reserve(&fan, &event.event_id, &["A1"], 0)
        .await
        .expect("reserve");
    let second = app
        .reserve(&fan, &event.event_id, &["A2", "B2"], 0)
        .await
        .expect("reserve");
    let theirs = app
        .reserve(&other, &event.event_id, &["B3"], 0)
        .await
        .expect("reserve");
    app.purchase_paid(&fan, &first.reservation_id, "pay-1")
        .await
        .expect("purchase");

    let status = assert_refused(
        app.purchase_paid(&fan, &second.reservation_id, "pay-1")
            .await,
        "PAYMENT_REFERENCE_USED",
    );
    assert!(!status.message().contains(&first.reservation_id));
    assert_refused(
        app.purchase_paid(&other, &theirs.reservation_id, "pay-1")
            .await,
        "PAYMENT_REFERENCE_USED",
    );
    let map = app.seat_map(&event.event_id).await;
    for seat in ["A2", "B2", "B3"] {
        assert_eq!(map[seat], pb::SeatStatus::Held, "{seat} nothing sold");
    }

    let tickets = app
        .purchase_paid(&fan, &second.reservation_id, "pay-2")
        .await
        .expect("the hold stayed live: another reference buys it");
    assert_eq!(tickets.len(), 2);
    assert!(tickets.iter().all(|t| t.payment_reference == "pay-2"));
    let owners: Vec<String> = column(
        &app.storage,
        "SELECT reservation_id FROM tickets WHERE payment_reference = $1",
        "pay-1".into(),
    )
    .await;
    assert_eq!(owners, [first.reservation_id.as_str()]);
    app.teardown().await;
}

async fn a_sold_reservation_repurchased_under_another_reference_is_a_mismatch(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = priced_event(&app, 4).await;
    let fan = app.user().await;
    let paid = app
        .reserve(&fan, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    let tickets = app
        .purchase_paid(&fan, &paid.reservation_id, "order-7")
        .await
        .expect("purchase");
    let status = assert_refused(
        app.purchase_paid(&fan, &paid.reservation_id, "order-8")
            .await,
        "PAYMENT_REFERENCE_MISMATCH",
    );
    assert!(
        !status.message().contains("order-7"),
        "names no reference: {}",
        status.message()
    );
    let again = app
        .purchase(&fan, &paid.reservation_id)
        .await
        .expect("without a reference, the tickets");
    assert_eq!(sorted(&again), sorted(&tickets));

    let unpaid = app
        .reserve(&fan, &event.event_id, &["B1"], 0)
        .await
        .expect("reserve");
    app.purchase(&fan, &unpaid.reservation_id)
        .await
        .expect("purchase without a reference");
    assert_refused(
        app.purchase_paid(&fan, &unpaid.reservation_id, "order-9")
            .await,
        "PAYMENT_REFERENCE_MISMATCH",
    );

    let next = app
        .reserve(&fan, &event.event_id, &["B2"], 0)
        .await
        .expect("reserve");
    app.purchase_paid(&fan, &next.reservation_id, "order-8")
        .await
        .expect("a refused reference paid for nothing and is still free");
    app.teardown().await;
}

async fn malformed_references_are_invalid_argument_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 4).await;
    let fan = app.user().await;
    let held = app
        .reserve(&fan, &event.event_id, &["A1"], 0)
        .await
        .expect("reserve");
    let too_long = "r".repeat(129);
    for (case, reference) in [
        ("blank", "   "),
        ("leading space", " pay-1"),
        ("trailing space", "pay-1 "),
        ("too long", too_long.as_str()),
        ("control character", "pay\t1"),
        ("newline", "pay\n1"),
        ("not ASCII", "paiement-\u{e9}"),
    ] {
        expect_invalid(
            case,
            app.purchase_paid(&fan, &held.reservation_id, reference)
                .await,
            "payment_reference",
        );
    }
    let longest = "r".repeat(128);
    let tickets = app
        .purchase_paid(&fan, &held.reservation_id, &longest)
        .await
        .expect("128 characters are accepted; nothing was sold before");
    assert_eq!(tickets[0].payment_reference, longest);
    app.teardown().await;
}

const RACERS: usize = 50;

async fn fifty_purchases_racing_with_one_reference_sell_one_reservation(backend: Backend) {
    let app = spawn_with(Storage::new(backend).await, |s| {
        s.max_seats_per_user = 2 * RACERS;
    })
    .await;
    let event = priced_event(&app, RACERS as u32).await;
    let fan = app.user().await;
    let mut held = Vec::with_capacity(RACERS);
    for i in 1..=RACERS {
        let seats = [format!("A{i}"), format!("B{i}")];
        let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
        let reservation = app
            .reserve(&fan, &event.event_id, &seats, 600)
            .await
            .expect("reserve");
        held.push(reservation.reservation_id);
    }

    let start = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = held
        .iter()
        .map(|reservation| {
            let (client, start) = (app.booking.clone(), start.clone());
            let body = pb::PurchaseRequest {
                reservation_id: reservation.clone(),
                payment_reference: "one-payment".into(),
                ..Default::default()
            };
            let request = authed(body, &fan);
            tokio::spawn(async move {
                let mut client = client;
                start.wait().await;
                client.purchase(request).await
            })
        })
        .collect();
    let mut won = Vec::new();
    for (reservation, racer) in held.iter().zip(racers) {
        match racer.await.expect("task") {
            Ok(response) => {
                assert_eq!(response.into_inner().tickets.len(), 2);
                won.push(reservation.clone());
            }
            Err(status) => {
                assert_refused(Err::<(), _>(status), "PAYMENT_REFERENCE_USED");
            }
        }
    }
    assert_eq!(won.len(), 1, "exactly one purchase wins");

    let sold: Vec<String> = column(
        &app.storage,
        "SELECT reservation_id FROM tickets WHERE payment_reference = $1",
        "one-payment".into(),
    )
    .await;
    assert_eq!(sold, [won[0].clone(), won[0].clone()], "only its seats");
    let map = app.seat_map(&event.event_id).await;
    let sold_seats = map.values().filter(|s| **s == pb::SeatStatus::Sold).count();
    assert_eq!(sold_seats, 2);
    let owner = user_id(&app, &fan).await;
    let owners: HashMap<String, String> = held.iter().map(|r| (r.clone(), owner.clone())).collect();
    crate::calls::assert_sales_consistent(&app.storage, &owners).await;
    app.teardown().await;
}

/// Tickets for `seats` of `reservation` under `reference`, written straight to the adapter.
fn tickets(
    event: EventId,
    user: UserId,
    reservation: ReservationId,
    seats: &[SeatId],
    reference: Option<&str>,
) -> Vec<NewTicket> {
    let payment = reference.map(|r| {
        PaymentReference::parse_optional("payment_reference", r)
            .expect("valid")
            .expect("some")
    });
    seats
        .iter()
        .map(|seat_id| NewTicket {
            id: TicketId::generate(),
            seat_id: *seat_id,
            event_id: event,
            user_id: user,
            reservation,
            price: None,
            payment: payment.clone(),
        })
        .collect()
}

async fn the_database_refuses_a_second_reservation_under_a_spent_reference(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = priced_event(&app, 2).await;
    let fan = app.user().await;
    let store = SqlStore::connect(&app.storage.database_url, 2)
        .await
        .expect("connect");
    let id = EventId::parse("event", &event.event_id).expect("event id");
    let user = UserId::from_uuid(user_id(&app, &fan).await.parse().expect("uuid"));
    // In layout order: A1, A2 (VIP), B1, B2 (STD).
    let seats = store.seat_ids(id).await.expect("seats");
    let (first, second) = (ReservationId::new(id), ReservationId::new(id));
    let insert = |tickets: Vec<NewTicket>| {
        let store = store.clone();
        async move { store.insert_tickets(&tickets, i64::MAX).await }
    };

    let written = insert(tickets(id, user, first, &seats[0..2], Some("ref-1"))).await;
    assert_eq!(
        written.expect("insert"),
        TicketInsert::Committed,
        "one reference on all of a purchase's tickets"
    );
    let written = insert(tickets(id, user, second, &seats[2..3], Some("ref-1"))).await;
    assert_eq!(written.expect("insert"), TicketInsert::ReferenceUsed);
    let written = insert(tickets(id, user, second, &seats[1..2], Some("ref-2"))).await;
    assert_eq!(written.expect("insert"), TicketInsert::SeatTaken);
    let spent = PaymentReference::parse_optional("payment_reference", "ref-1")
        .expect("valid")
        .expect("some");
    assert_eq!(store.paid_by(&spent).await.expect("read"), Some(first));

    // Sold before prices were stored (no price on the row): the layout's price shows.
    let written = insert(tickets(id, user, second, &seats[2..3], None)).await;
    assert_eq!(written.expect("insert"), TicketInsert::Committed);
    let ticket = store
        .tickets_of_reservation(second)
        .await
        .expect("read")
        .pop()
        .expect("ticket");
    assert_eq!(ticket.price, None);
    let read = app.ticket_by_id(&fan, &ticket.id.to_string()).await;
    assert_eq!(
        (
            read.label.as_str(),
            read.price_minor,
            read.currency.as_str(),
            read.payment_reference.as_str()
        ),
        ("B1", 2_500, "EUR", "")
    );
    store.close().await;
    app.teardown().await;
}
