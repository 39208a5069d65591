//! The database read behind the sales reconciler (`TicketStore::sold_since`), on SQLite and
//! PostgreSQL: page by page, every recent ticket comes back exactly once, even when far more than
//! a page of them share one millisecond (one fenced statement writes all of a purchase's tickets
//! with one creation time).

use crate::booking::user_id;
use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
use seatrush::internals::SqlStore;
use seatrush::internals::domain::{EventId, ReservationId, TicketId, UserId};
use seatrush::internals::ports::{EventStore, NewTicket, SalesCursor, TicketInsert, TicketStore};
use std::collections::HashSet;

both_backends!(recent_sales_are_read_page_by_page_each_once);

const PAGE: u64 = 400;

async fn recent_sales_are_read_page_by_page_each_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let event = app.event(2, 1_000).await.event_id;
    let buyer = app.user().await;
    let store = SqlStore::connect(&app.storage.database_url, 2)
        .await
        .expect("connect");
    let event = EventId::parse("event", &event).expect("event id");
    let user = UserId::from_uuid(user_id(&app, &buyer).await.parse().expect("uuid"));
    let reservation = ReservationId::new(event);
    let tickets: Vec<NewTicket> = store
        .seat_ids(event)
        .await
        .expect("seats")
        .into_iter()
        .take(1_500)
        .map(|seat_id| NewTicket {
            id: TicketId::generate(),
            seat_id,
            event_id: event,
            user_id: user,
            reservation,
            price: None,
            payment: None,
        })
        .collect();
    let written = store.insert_tickets(&tickets, i64::MAX).await;
    assert_eq!(written.expect("insert"), TicketInsert::Committed);

    let mut from = SalesCursor {
        since: 0,
        after: None,
    };
    let mut read = Vec::new();
    loop {
        let page = store.sold_since(from, PAGE).await.expect("page");
        assert!(page.len() as u64 <= PAGE);
        let Some(last) = page.last() else { break };
        from = SalesCursor {
            since: last.created_at,
            after: Some(last.ticket),
        };
        read.extend(page.iter().map(|s| s.ticket));
    }
    let written: HashSet<TicketId> = tickets.iter().map(|t| t.id).collect();
    let unique: HashSet<TicketId> = read.iter().copied().collect();
    assert_eq!(read.len(), unique.len(), "a ticket read twice");
    assert_eq!(unique, written, "every ticket read");

    let future = SalesCursor {
        since: i64::MAX,
        after: None,
    };
    assert!(
        store
            .sold_since(future, PAGE)
            .await
            .expect("read")
            .is_empty()
    );
    store.close().await;
    app.teardown().await;
}
