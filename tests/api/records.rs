//! A user's own reservations and tickets (ListMyReservations, GetReservation, ListMyTickets,
//! GetTicket) on both backends: every page read to the end with nothing missing or repeated,
//! another user's ids NOT_FOUND, and the refusals that name their field. An event's sales for the
//! admin are in `sales.rs`.

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_code, authed, spawn_app};
use seatrush::proto::v1 as pb;
use std::collections::HashSet;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::StatusExt;

both_backends!(
    a_user_lists_their_live_reservations_only_page_by_page,
    a_reservation_is_found_by_its_owner_only_and_while_live,
    a_user_lists_their_tickets_page_by_page_and_fetches_each,
    the_lists_need_a_session_and_a_valid_page,
);

/// Every page of a list, in order: `fetch` takes a page token and answers a page and the next
/// page's token.
async fn every_page<T, Fut>(page_size: u32, mut fetch: impl FnMut(String) -> Fut) -> Vec<T>
where
    Fut: std::future::Future<Output = (Vec<T>, String)>,
{
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let (items, next) = fetch(page_token).await;
        assert!(items.len() <= page_len(page_size));
        all.extend(items);
        if next.is_empty() {
            return all;
        }
        page_token = next;
    }
}

impl TestApp {
    /// Every page of the caller's reservations, `page_size` at a time, in order.
    async fn all_reservations(&self, token: &str, page_size: u32) -> Vec<pb::Reservation> {
        every_page(page_size, |page_token| async move {
            let request = pb::ListMyReservationsRequest {
                page_size,
                page_token,
            };
            let page = self
                .booking
                .clone()
                .list_my_reservations(authed(request, token))
                .await
                .expect("list reservations")
                .into_inner();
            (page.reservations, page.next_page_token)
        })
        .await
    }

    /// Every page of the caller's tickets, `page_size` at a time, in order.
    async fn all_tickets(&self, token: &str, page_size: u32) -> Vec<pb::Ticket> {
        every_page(page_size, |page_token| async move {
            let request = pb::ListMyTicketsRequest {
                page_size,
                page_token,
            };
            let page = self
                .booking
                .clone()
                .list_my_tickets(authed(request, token))
                .await
                .expect("list tickets")
                .into_inner();
            (page.tickets, page.next_page_token)
        })
        .await
    }

    async fn get_reservation(&self, token: &str, id: &str) -> Result<pb::Reservation, Status> {
        self.booking
            .clone()
            .get_reservation(authed(
                pb::GetReservationRequest {
                    reservation_id: id.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().reservation.expect("reservation"))
    }

    async fn get_ticket(&self, token: &str, id: &str) -> Result<pb::Ticket, Status> {
        self.booking
            .clone()
            .get_ticket(authed(
                pb::GetTicketRequest {
                    ticket_id: id.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().ticket.expect("ticket"))
    }
}

/// The most items a page of `page_size` holds (0 asks for the default, 20).
fn page_len(page_size: u32) -> usize {
    if page_size == 0 {
        20
    } else {
        page_size as usize
    }
}

/// The ids, checking that none repeats.
pub fn distinct<'a>(ids: impl Iterator<Item = &'a String>) -> HashSet<String> {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id.clone()), "{id} listed twice");
    }
    seen
}

pub fn field_of(status: &Status) -> String {
    let bad = status.get_details_bad_request().expect("BadRequest detail");
    bad.field_violations[0].field.clone()
}

async fn a_user_lists_their_live_reservations_only_page_by_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let (one, two) = (app.event(2, 10).await, app.event(1, 10).await);
    let (fan, other) = (app.user().await, app.user().await);
    let mut live = HashSet::new();
    for (event, seats) in [
        (&one, &["A1"][..]),
        (&one, &["A2", "A3"]),
        (&one, &["B1"]),
        (&two, &["A1"]),
        (&two, &["A2"]),
    ] {
        let held = app
            .reserve(&fan, &event.event_id, seats, 0)
            .await
            .expect("reserve");
        live.insert(held.reservation_id);
    }
    let released = app
        .reserve(&fan, &one.event_id, &["B2"], 0)
        .await
        .expect("reserve");
    app.release(&fan, &released.reservation_id)
        .await
        .expect("release");
    let bought = app
        .reserve(&fan, &two.event_id, &["A3"], 0)
        .await
        .expect("reserve");
    app.purchase(&fan, &bought.reservation_id)
        .await
        .expect("purchase");
    app.reserve(&fan, &two.event_id, &["A4"], 1)
        .await
        .expect("reserve for 1 s");
    app.reserve(&other, &one.event_id, &["B9"], 0)
        .await
        .expect("another user's hold");
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let listed = app.all_reservations(&fan, 2).await;
    assert_eq!(
        distinct(listed.iter().map(|r| &r.reservation_id)),
        live,
        "the live holds, each once: not the released, bought, lapsed or another user's"
    );
    let deadlines: Vec<(i64, i32)> = listed
        .iter()
        .map(|r| {
            assert!(!r.seats.is_empty());
            let at = r.expires_at.as_ref().expect("a deadline");
            (at.seconds, at.nanos)
        })
        .collect();
    assert!(
        deadlines.windows(2).all(|w| w[0] >= w[1]),
        "newest first: holds of one length made one after another, {deadlines:?}"
    );
    let order: Vec<_> = listed.iter().map(|r| r.reservation_id.clone()).collect();
    let again: Vec<_> = app
        .all_reservations(&fan, 100)
        .await
        .into_iter()
        .map(|r| r.reservation_id)
        .collect();
    assert_eq!(order, again, "one order, whatever the page size");
    assert_eq!(app.all_reservations(&other, 0).await.len(), 1);
    app.teardown().await;
}

async fn a_reservation_is_found_by_its_owner_only_and_while_live(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(1, 10).await;
    let (fan, other) = (app.user().await, app.user().await);
    let held = app
        .reserve(&fan, &event.event_id, &["A1", "A2"], 0)
        .await
        .expect("reserve");
    let found = app
        .get_reservation(&fan, &held.reservation_id)
        .await
        .expect("the owner finds it");
    assert_eq!(found, held);

    let status = assert_code(
        app.get_reservation(&other, &held.reservation_id).await,
        Code::NotFound,
    );
    let unknown = format!("{}{}", &held.reservation_id[..32], "0".repeat(32));
    let status_unknown = assert_code(app.get_reservation(&fan, &unknown).await, Code::NotFound);
    assert_eq!(
        status.message(),
        status_unknown.message(),
        "another user's id reads exactly like an unknown one"
    );
    let status = assert_code(
        app.get_reservation(&fan, "nope").await,
        Code::InvalidArgument,
    );
    assert_eq!(field_of(&status), "reservation_id");

    app.release(&fan, &held.reservation_id)
        .await
        .expect("release");
    let status = assert_code(
        app.get_reservation(&fan, &held.reservation_id).await,
        Code::NotFound,
    );
    assert!(
        status.message().contains("released"),
        "{}",
        status.message()
    );
    app.teardown().await;
}

async fn a_user_lists_their_tickets_page_by_page_and_fetches_each(backend: Backend) {
    let app = spawn_app(backend).await;
    let (one, two) = (app.event(1, 10).await, app.event(1, 10).await);
    let (fan, other) = (app.user().await, app.user().await);
    let mut bought = Vec::new();
    for (event, seats) in [
        (&one, &["A1", "A2"][..]),
        (&two, &["A1", "A2"]),
        (&one, &["A3"]),
    ] {
        let held = app
            .reserve(&fan, &event.event_id, seats, 0)
            .await
            .expect("reserve");
        bought.extend(
            app.purchase(&fan, &held.reservation_id)
                .await
                .expect("purchase"),
        );
    }
    let held = app
        .reserve(&other, &one.event_id, &["A9"], 0)
        .await
        .expect("reserve");
    let theirs = app
        .purchase(&other, &held.reservation_id)
        .await
        .expect("purchase");

    let listed = app.all_tickets(&fan, 2).await;
    assert_eq!(
        distinct(listed.iter().map(|t| &t.ticket_id)),
        distinct(bought.iter().map(|t| &t.ticket_id)),
    );
    let mut ids: Vec<&String> = listed.iter().map(|t| &t.ticket_id).collect();
    ids.sort();
    ids.reverse();
    let order: Vec<&String> = listed.iter().map(|t| &t.ticket_id).collect();
    assert_eq!(order, ids, "newest first (ticket ids are time-ordered)");
    for ticket in &bought {
        assert_eq!(
            &app.get_ticket(&fan, &ticket.ticket_id)
                .await
                .expect("own ticket"),
            ticket
        );
    }
    let status = assert_code(
        app.get_ticket(&fan, &theirs[0].ticket_id).await,
        Code::NotFound,
    );
    let unknown = assert_code(
        app.get_ticket(&fan, &uuid::Uuid::now_v7().to_string())
            .await,
        Code::NotFound,
    );
    assert_eq!(status.message(), unknown.message());
    assert_eq!(app.all_tickets(&other, 0).await, theirs);
    let status = assert_code(app.get_ticket(&fan, "A1").await, Code::InvalidArgument);
    assert_eq!(field_of(&status), "ticket_id");
    app.teardown().await;
}

async fn the_lists_need_a_session_and_a_valid_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let fan = app.user().await;
    let mut booking = app.booking.clone();
    assert_code(
        booking
            .list_my_reservations(pb::ListMyReservationsRequest::default())
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        booking
            .list_my_tickets(pb::ListMyTicketsRequest::default())
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        booking
            .get_ticket(pb::GetTicketRequest {
                ticket_id: uuid::Uuid::now_v7().to_string(),
            })
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        app.get_reservation("not-a-session", &"0".repeat(64)).await,
        Code::Unauthenticated,
    );

    for (page_size, page_token, field) in [
        (101, "", "page_size"),
        (0, "garbage", "page_token"),
        (0, "74696b636574737c6e6f7065", "page_token"),
    ] {
        let status = assert_code(
            booking
                .list_my_tickets(authed(
                    pb::ListMyTicketsRequest {
                        page_size,
                        page_token: page_token.into(),
                    },
                    &fan,
                ))
                .await,
            Code::InvalidArgument,
        );
        assert_eq!(field_of(&status), field);
        let status = assert_code(
            booking
                .list_my_reservations(authed(
                    pb::ListMyReservationsRequest {
                        page_size,
                        page_token: page_token.into(),
                    },
                    &fan,
                ))
                .await,
            Code::InvalidArgument,
        );
        assert_eq!(field_of(&status), field);
    }
    app.teardown().await;
}
