//! What tests do through the generated clients, in one line each: sign a user up, create an
//! event, reserve, purchase, release, read the seat map; and the database invariants every
//! concurrency test ends with.

use crate::helpers::{ADMIN_TOKEN, PASSWORD, Storage, TestApp, authed, unique_email};
use sea_orm::ConnectionTrait;
use seatrush::proto::v1 as pb;
use tonic::Status;

impl TestApp {
    /// Registers a fresh user and logs in; returns the session token.
    pub async fn user(&self) -> String {
        self.user_with_email().await.1
    }

    /// Registers a fresh user and logs in; returns the email and the session token.
    pub async fn user_with_email(&self) -> (String, String) {
        let email = unique_email();
        self.accounts
            .clone()
            .register(pb::RegisterRequest {
                email: email.clone(),
                password: PASSWORD.into(),
            })
            .await
            .expect("register");
        let token = self.login(&email).await;
        (email, token)
    }

    pub async fn login(&self, email: &str) -> String {
        self.accounts
            .clone()
            .login(pb::LoginRequest {
                email: email.into(),
                password: PASSWORD.into(),
            })
            .await
            .expect("login")
            .into_inner()
            .session_token
    }

    /// Creates an event with rows `A`, `B`, … of `seats_per_row` seats.
    pub async fn event(&self, rows: usize, seats_per_row: u32) -> pb::Event {
        let rows = (0..rows)
            .map(|i| pb::RowSpec {
                row: char::from(b'A' + i as u8).to_string(),
                seat_count: seats_per_row,
                ..Default::default()
            })
            .collect();
        self.event_with_rows(rows).await
    }

    /// Creates an event with these rows.
    pub async fn event_with_rows(&self, rows: Vec<pb::RowSpec>) -> pb::Event {
        self.inventory
            .clone()
            .create_event(authed(
                pb::CreateEventRequest {
                    name: "Test night".into(),
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
            .expect("create event")
            .into_inner()
            .event
            .expect("event")
    }

    pub async fn reserve(
        &self,
        token: &str,
        event: &str,
        seats: &[&str],
        hold_seconds: u32,
    ) -> Result<pb::Reservation, Status> {
        self.booking
            .clone()
            .reserve(authed(
                pb::ReserveRequest {
                    event_id: event.into(),
                    seats: seats.iter().map(|s| s.to_string()).collect(),
                    hold_seconds,
                    best_available: None,
                    general_admission: None,
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().reservation.expect("reservation"))
    }

    pub async fn purchase(
        &self,
        token: &str,
        reservation: &str,
    ) -> Result<Vec<pb::Ticket>, Status> {
        self.booking
            .clone()
            .purchase(authed(
                pb::PurchaseRequest {
                    reservation_id: reservation.into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().tickets)
    }

    pub async fn release(&self, token: &str, reservation: &str) -> Result<(), Status> {
        self.booking
            .clone()
            .release(authed(
                pb::ReleaseRequest {
                    reservation_id: reservation.into(),
                },
                token,
            ))
            .await
            .map(|_| ())
    }

    /// Status of every seat, by label.
    /// Status of every seat, by label (every page of GetSeatMap).
    pub async fn seat_map(
        &self,
        event: &str,
    ) -> std::collections::BTreeMap<String, pb::SeatStatus> {
        let mut seats = std::collections::BTreeMap::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .booking
                .clone()
                .get_seat_map(pb::GetSeatMapRequest {
                    event_id: event.into(),
                    page_size: 5_000,
                    page_token,
                    ..Default::default()
                })
                .await
                .expect("seat map")
                .into_inner();
            seats.extend(page.seats.iter().map(|s| (s.label.clone(), s.status())));
            if page.next_page_token.is_empty() {
                return seats;
            }
            page_token = page.next_page_token;
        }
    }
}

/// The first column of each row `sql` returns for the one parameter `param`. `sql` writes it `$1`,
/// as PostgreSQL does; on SQLite it becomes `?`.
pub async fn column<T: sea_orm::TryGetable>(storage: &Storage, sql: &str, param: String) -> Vec<T> {
    let db = storage.connect_db().await;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace("$1", "?"),
    };
    db.query_all_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [param.into()],
    ))
    .await
    .expect("query")
    .iter()
    .map(|row| row.try_get_by_index(0).expect("first column"))
    .collect()
}

/// Database invariants every concurrency test ends with: no seat sold twice, and every ticket
/// bought by the user its reservation belonged to (`holders`: reservation id -> user id).
pub async fn assert_sales_consistent(
    storage: &Storage,
    holders: &std::collections::HashMap<String, String>,
) {
    let db = storage.connect_db().await;
    let doubles = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT seat_id FROM tickets GROUP BY seat_id HAVING COUNT(*) > 1",
        ))
        .await
        .expect("query");
    assert!(
        doubles.is_empty(),
        "{} seats were sold twice",
        doubles.len()
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT reservation_id, user_id FROM tickets",
        ))
        .await
        .expect("query");
    for row in rows {
        let reservation: String = row.try_get_by_index(0).expect("reservation_id");
        let user: uuid::Uuid = row.try_get_by_index(1).expect("user_id");
        let holder = holders
            .get(&reservation)
            .unwrap_or_else(|| panic!("ticket for unknown reservation {reservation}"));
        assert_eq!(
            holder,
            &user.to_string(),
            "a ticket went to someone other than its holder"
        );
    }
}
