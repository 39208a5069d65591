//! An event's sales for the admin (ListEventSales), on both backends: the admin token only, every
//! page with the event's totals, and page tokens that belong to one event.

use crate::both_backends;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, assert_code, authed, spawn_app};
use crate::records::{distinct, field_of};
use seatrush::proto::v1 as pb;
use std::collections::HashSet;
use tonic::{Code, Request, Status};

both_backends!(an_admin_lists_an_events_sales_with_totals);

impl TestApp {
    async fn sales(
        &self,
        request: Request<pb::ListEventSalesRequest>,
    ) -> Result<pb::ListEventSalesResponse, Status> {
        self.inventory
            .clone()
            .list_event_sales(request)
            .await
            .map(|r| r.into_inner())
    }
}

async fn an_admin_lists_an_events_sales_with_totals(backend: Backend) {
    let app = spawn_app(backend).await;
    let (event, other_event) = (app.event(1, 10).await, app.event(1, 10).await);
    let (fan, other) = (app.user().await, app.user().await);
    let mut sold = HashSet::new();
    for (token, seats) in [
        (&fan, &["A1", "A2"][..]),
        (&other, &["A3"]),
        (&fan, &["A4"]),
    ] {
        let held = app
            .reserve(token, &event.event_id, seats, 0)
            .await
            .expect("reserve");
        for ticket in app
            .purchase(token, &held.reservation_id)
            .await
            .expect("purchase")
        {
            sold.insert(ticket.ticket_id);
        }
    }
    let request = |token: Option<&str>, event_id: &str, page_size: u32, page_token: &str| {
        let body = pb::ListEventSalesRequest {
            event_id: event_id.into(),
            page_size,
            page_token: page_token.into(),
        };
        match token {
            Some(token) => authed(body, token),
            None => Request::new(body),
        }
    };
    assert_code(
        app.sales(request(None, &event.event_id, 0, "")).await,
        Code::Unauthenticated,
    );
    assert_code(
        app.sales(request(Some(&fan), &event.event_id, 0, "")).await,
        Code::PermissionDenied,
    );

    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .sales(request(Some(ADMIN_TOKEN), &event.event_id, 3, &page_token))
            .await
            .expect("sales");
        assert_eq!((page.tickets_sold, page.seat_count), (4, 10));
        assert!(page.sales.len() <= 3);
        assert!(page.sales.iter().all(|s| s.sold_at.is_some()));
        listed.extend(page.sales);
        if page.next_page_token.is_empty() {
            break;
        }
        let status = assert_code(
            app.sales(request(
                Some(ADMIN_TOKEN),
                &other_event.event_id,
                3,
                &page.next_page_token,
            ))
            .await,
            Code::InvalidArgument,
        );
        assert_eq!(field_of(&status), "page_token", "a token of another event");
        page_token = page.next_page_token;
    }
    assert_eq!(distinct(listed.iter().map(|s| &s.ticket_id)), sold);
    let mut labels: Vec<&str> = listed.iter().map(|s| s.label.as_str()).collect();
    labels.sort();
    assert_eq!(labels, ["A1", "A2", "A3", "A4"]);
    assert_eq!(
        listed
            .iter()
            .map(|s| &s.user_id)
            .collect::<HashSet<_>>()
            .len(),
        2,
        "two buyers"
    );

    let empty = app
        .sales(request(Some(ADMIN_TOKEN), &other_event.event_id, 0, ""))
        .await
        .expect("no sales yet");
    assert!(empty.sales.is_empty() && empty.next_page_token.is_empty());
    assert_eq!(empty.tickets_sold, 0);
    assert_code(
        app.sales(request(
            Some(ADMIN_TOKEN),
            &uuid::Uuid::now_v7().to_string(),
            0,
            "",
        ))
        .await,
        Code::NotFound,
    );
    app.teardown().await;
}
