//! Reading the record of sales ([`TicketLedger`]): keyset pages over `tickets`, newest first by
//! id. Ticket ids are UUIDv7, so id order is sale order, and `id < <last id of the page>` with
//! the indexes on `(user_id, id)` and `(event_id, id)` reads one page's rows whatever the page
//! number (no OFFSET).

use super::entities::tickets;
use super::tickets::stored_price;
use super::{SqlStore, store_error};
use crate::domain::{EventId, PaymentReference, SeatId, TicketId, UserId};
use crate::ports::{SoldTicket, StoreResult, TicketLedger};
use async_trait::async_trait;
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

fn sold(row: tickets::Model) -> StoreResult<SoldTicket> {
    Ok(SoldTicket {
        id: TicketId::from_uuid(row.id),
        seat_id: SeatId::from_uuid(row.seat_id),
        event_id: EventId::from_uuid(row.event_id),
        user_id: UserId::from_uuid(row.user_id),
        sold_at: row.created_at,
        price: stored_price(row.price_minor, row.currency)?,
        payment: row.payment_reference.map(PaymentReference::from_trusted),
    })
}

impl SqlStore {
    /// One page of the tickets matching `filter`, newest first.
    async fn page(
        &self,
        filter: SimpleExpr,
        before: Option<TicketId>,
        limit: u32,
    ) -> StoreResult<Vec<SoldTicket>> {
        let mut query = tickets::Entity::find().filter(filter);
        if let Some(before) = before {
            query = query.filter(tickets::Column::Id.lt(before.as_uuid()));
        }
        let rows = query
            .order_by_desc(tickets::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(sold).collect()
    }
}

#[async_trait]
impl TicketLedger for SqlStore {
    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn tickets_of_user(
        &self,
        user: UserId,
        before: Option<TicketId>,
        limit: u32,
    ) -> StoreResult<Vec<SoldTicket>> {
        self.page(tickets::Column::UserId.eq(user.as_uuid()), before, limit)
            .await
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn tickets_of_event(
        &self,
        event: EventId,
        before: Option<TicketId>,
        limit: u32,
    ) -> StoreResult<Vec<SoldTicket>> {
        self.page(tickets::Column::EventId.eq(event.as_uuid()), before, limit)
            .await
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn ticket(&self, id: TicketId) -> StoreResult<Option<SoldTicket>> {
        let row = tickets::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(store_error)?;
        row.map(sold).transpose()
    }

    #[tracing::instrument(name = "SELECT tickets", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "tickets"))]
    async fn count_tickets(&self, event: EventId) -> StoreResult<u64> {
        tickets::Entity::find()
            .filter(tickets::Column::EventId.eq(event.as_uuid()))
            .count(&self.db)
            .await
            .map_err(store_error)
    }
}
