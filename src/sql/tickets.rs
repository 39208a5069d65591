//! Tickets: the one write that sells seats.
//!
//! All of a reservation's tickets are written by a single `INSERT … SELECT … WHERE <db clock> <
//! deadline>` statement. A statement outside an explicit transaction commits on its own, inside
//! the server, right after its condition was evaluated: there is no round trip between the check
//! and the commit during which a stalled process could let its hold lapse. The unique index on
//! `tickets.seat_id` refuses the statement as a whole if any seat is already sold, and the one on
//! `tickets.payment_reference_key` (the reference, on the first ticket of a purchase only) if its
//! payment reference already paid for another reservation: one statement still decides all.

use super::entities::tickets;
use super::{SqlStore, placeholder, store_error, unique_violation};
use crate::domain::{
    Currency, EventId, PaymentReference, Price, ReservationId, SeatId, TicketId, UnixMillis,
    UserId, now_millis,
};
use crate::ports::{
    NewTicket, SalesCursor, SoldSeat, StoreError, StoreResult, TicketInsert, TicketRecord,
    TicketStore,
};
use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, Value,
};

/// The database's own clock in Unix milliseconds, read when the statement runs.
fn db_clock(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint",
        _ => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

/// The columns `fenced_insert` writes, in the order of its values.
const COLUMNS: [&str; 10] = [
    "id",
    "seat_id",
    "event_id",
    "user_id",
    "reservation_id",
    "created_at",
    "price_minor",
    "currency",
    "payment_reference",
    "payment_reference_key",
];

fn fenced_insert(
    backend: DbBackend,
    tickets: &[NewTicket],
    fence_deadline: UnixMillis,
) -> StoreResult<Statement> {
    let now = now_millis();
    let mut values: Vec<Value> = Vec::with_capacity(tickets.len() * COLUMNS.len() + 1);
    let mut rows = Vec::with_capacity(tickets.len());
    for (i, ticket) in tickets.iter().enumerate() {
        let base = values.len();
        let price_minor = ticket
            .price
            .as_ref()
            .map(|p| i64::try_from(p.minor))
            .transpose()
            .map_err(|_| StoreError::internal("ticket price out of range"))?;
        let reference = ticket.payment.as_ref().map(|r| r.as_str().to_owned());
        // The reference is unique on the purchase's first ticket only: see the migration.
        let key = reference.clone().filter(|_| i == 0);
        values.extend([
            ticket.id.as_uuid().into(),
            ticket.seat_id.as_uuid().into(),
            ticket.event_id.as_uuid().into(),
            ticket.user_id.as_uuid().into(),
            ticket.reservation.to_string().into(),
            now.into(),
            price_minor.into(),
            ticket
                .price
                .as_ref()
                .map(|p| p.currency.as_str().to_owned())
                .into(),
            reference.into(),
            key.into(),
        ]);
        let params: Vec<String> = (1..=COLUMNS.len())
            .map(|i| placeholder(backend, base + i))
            .collect();
        rows.push(format!("({})", params.join(", ")));
    }
    values.push(fence_deadline.into());
    let sql = format!(
        "INSERT INTO tickets ({}) SELECT * FROM (VALUES {}) AS v WHERE {} < {}",
        COLUMNS.join(", "),
        rows.join(", "),
        db_clock(backend),
        placeholder(backend, values.len()),
    );
    Ok(Statement::from_sql_and_values(backend, sql, values))
}

/// A stored price: both columns or neither (a free event, or a ticket sold before prices were
/// stored).
pub(super) fn stored_price(
    price_minor: Option<i64>,
    currency: Option<String>,
) -> StoreResult<Option<Price>> {
    match (price_minor, currency) {
        (Some(minor), Some(currency)) => Ok(Some(Price {
            minor: u64::try_from(minor)
                .map_err(|_| StoreError::internal("negative ticket price"))?,
            currency: Currency::from_trusted(currency),
        })),
        (None, None) => Ok(None),
        _ => Err(StoreError::internal(
            "ticket with a price but no currency, or the reverse",
        )),
    }
}

#[async_trait]
impl TicketStore for SqlStore {
    #[tracing::instrument(name = "INSERT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "INSERT", db.collection.name = "tickets"))]
    async fn insert_tickets(
        &self,
        tickets: &[NewTicket],
        fence_deadline: UnixMillis,
    ) -> StoreResult<TicketInsert> {
        let statement = fenced_insert(self.backend(), tickets, fence_deadline)?;
        match self.db.execute_raw(statement).await {
            Ok(result) if result.rows_affected() == tickets.len() as u64 => {
                Ok(TicketInsert::Committed)
            }
            Ok(result) if result.rows_affected() == 0 => Ok(TicketInsert::FenceExpired),
            Ok(result) => Err(StoreError::internal(format!(
                "fenced insert wrote {} of {} tickets",
                result.rows_affected(),
                tickets.len()
            ))),
            Err(err) => match unique_violation(&err) {
                // The index's name (PostgreSQL) or its column (SQLite) says which one refused.
                Some(message) if message.contains("payment_reference") => {
                    Ok(TicketInsert::ReferenceUsed)
                }
                Some(_) => Ok(TicketInsert::SeatTaken),
                None => Err(store_error(err)),
            },
        }
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn paid_by(&self, reference: &PaymentReference) -> StoreResult<Option<ReservationId>> {
        let reservation: Option<String> = tickets::Entity::find()
            .select_only()
            .column(tickets::Column::ReservationId)
            .filter(tickets::Column::PaymentReferenceKey.eq(reference.as_str()))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        reservation
            .map(|raw| {
                ReservationId::parse("reservation_id", &raw)
                    .map_err(|_| StoreError::internal("stored reservation id does not parse"))
            })
            .transpose()
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn tickets_of_reservation(
        &self,
        reservation: ReservationId,
    ) -> StoreResult<Vec<TicketRecord>> {
        let rows = tickets::Entity::find()
            .filter(tickets::Column::ReservationId.eq(reservation.to_string()))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(|t| {
                Ok(TicketRecord {
                    id: TicketId::from_uuid(t.id),
                    seat_id: SeatId::from_uuid(t.seat_id),
                    user_id: UserId::from_uuid(t.user_id),
                    price: stored_price(t.price_minor, t.currency)?,
                    payment: t.payment_reference.map(PaymentReference::from_trusted),
                })
            })
            .collect()
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn sold_seats(&self, event: EventId) -> StoreResult<Vec<SeatId>> {
        let ids: Vec<uuid::Uuid> = tickets::Entity::find()
            .select_only()
            .column(tickets::Column::SeatId)
            .filter(tickets::Column::EventId.eq(event.as_uuid()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(ids.into_iter().map(SeatId::from_uuid).collect())
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn tickets_of_user(&self, event: EventId, user: UserId) -> StoreResult<usize> {
        let count = tickets::Entity::find()
            .filter(tickets::Column::UserId.eq(user.as_uuid()))
            .filter(tickets::Column::EventId.eq(event.as_uuid()))
            .count(&self.db)
            .await
            .map_err(store_error)?;
        usize::try_from(count).map_err(|_| StoreError::internal("ticket count overflow"))
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn sold_since(&self, from: SalesCursor, limit: u64) -> StoreResult<Vec<SoldSeat>> {
        use tickets::Column::{CreatedAt, Id};
        let start = match from.after {
            None => Condition::all().add(CreatedAt.gte(from.since)),
            Some(after) => Condition::any().add(CreatedAt.gt(from.since)).add(
                Condition::all()
                    .add(CreatedAt.eq(from.since))
                    .add(Id.gt(after.as_uuid())),
            ),
        };
        let rows: Vec<(uuid::Uuid, uuid::Uuid, uuid::Uuid, i64)> = tickets::Entity::find()
            .select_only()
            .column(Id)
            .column(tickets::Column::EventId)
            .column(tickets::Column::SeatId)
            .column(CreatedAt)
            .filter(start)
            .order_by_asc(CreatedAt)
            .order_by_asc(Id)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(ticket, event, seat, created_at)| SoldSeat {
                ticket: TicketId::from_uuid(ticket),
                event_id: EventId::from_uuid(event),
                seat_id: SeatId::from_uuid(seat),
                created_at,
            })
            .collect())
    }
}
