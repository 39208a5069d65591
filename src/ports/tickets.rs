//! Tickets: the record of sales, in the database.

use super::StoreResult;
use crate::domain::{
    EventId, PaymentReference, Price, ReservationId, SeatId, TicketId, UnixMillis, UserId,
};
use async_trait::async_trait;

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub reservation: ReservationId,
    /// What the seat is sold for; `None` for a free event.
    pub price: Option<Price>,
    /// The caller's external payment reference: the same on every ticket of one insert.
    pub payment: Option<PaymentReference>,
}

#[derive(Debug, Clone)]
pub struct TicketRecord {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub user_id: UserId,
    /// As stored; `None` for a free event and for tickets sold before prices were stored (the
    /// layout's price then holds).
    pub price: Option<Price>,
    pub payment: Option<PaymentReference>,
}

/// A sold seat as the sales reconciler reads it: which ticket, when it was written (by the
/// writer's clock, before its commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldSeat {
    pub ticket: TicketId,
    pub event_id: EventId,
    pub seat_id: SeatId,
    pub created_at: UnixMillis,
}

/// Where a read of recent sales starts: the tickets created at or after `since`; with `after`,
/// only those of `since` that come after that ticket (the next page after a full one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesCursor {
    pub since: UnixMillis,
    pub after: Option<TicketId>,
}

/// What became of an attempt to write a reservation's tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketInsert {
    Committed,
    /// The database clock had passed the fence deadline: nothing was written.
    FenceExpired,
    /// The unique index on the seat refused: some seat already has a ticket. Nothing was written.
    SeatTaken,
    /// The tickets' payment reference already paid for a reservation (maybe this one, written by
    /// a concurrent purchase: see [`TicketStore::paid_by`]). Nothing was written.
    ReferenceUsed,
}

#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Writes all tickets (of one reservation) in one statement, which commits only if the
    /// database clock is still before `fence_deadline`, no seat has a ticket yet, and their
    /// payment reference, if any, paid for no reservation yet.
    async fn insert_tickets(
        &self,
        tickets: &[NewTicket],
        fence_deadline: UnixMillis,
    ) -> StoreResult<TicketInsert>;
    /// The reservation that `reference` paid for, if any.
    async fn paid_by(&self, reference: &PaymentReference) -> StoreResult<Option<ReservationId>>;
    async fn tickets_of_reservation(
        &self,
        reservation: ReservationId,
    ) -> StoreResult<Vec<TicketRecord>>;
    /// Every sold seat of the event.
    async fn sold_seats(&self, event: EventId) -> StoreResult<Vec<SeatId>>;
    /// How many tickets `user` has in `event`.
    async fn tickets_of_user(&self, event: EventId, user: UserId) -> StoreResult<usize>;
    /// The seats of the tickets from `from` on, in (creation time, ticket id) order, at most
    /// `limit` of them (one range read of an index on the creation time).
    async fn sold_since(&self, from: SalesCursor, limit: u64) -> StoreResult<Vec<SoldSeat>>;
}

/// A sold ticket as the lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldTicket {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub sold_at: UnixMillis,
    /// As stored; `None` for a free event or a ticket sold before prices were stored.
    pub price: Option<Price>,
    pub payment: Option<PaymentReference>,
}

/// Reading the record of sales: a user's tickets and an event's, newest first (by id: ticket ids
/// are time-ordered), a page at a time. Kept apart from [`TicketStore`], the write path.
#[async_trait]
pub trait TicketLedger: Send + Sync {
    /// At most `limit` of the user's tickets with an id below `before` (all, without), newest
    /// first.
    async fn tickets_of_user(
        &self,
        user: UserId,
        before: Option<TicketId>,
        limit: u32,
    ) -> StoreResult<Vec<SoldTicket>>;
    /// At most `limit` of the event's tickets with an id below `before`, newest first.
    async fn tickets_of_event(
        &self,
        event: EventId,
        before: Option<TicketId>,
        limit: u32,
    ) -> StoreResult<Vec<SoldTicket>>;
    async fn ticket(&self, id: TicketId) -> StoreResult<Option<SoldTicket>>;
    /// Tickets sold in the event.
    async fn count_tickets(&self, event: EventId) -> StoreResult<u64>;
}
