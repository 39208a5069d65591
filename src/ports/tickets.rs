//! Tickets: the record of sales, in the database.

use super::StoreResult;
use crate::domain::{EventId, ReservationId, SeatId, TicketId, UnixMillis, UserId};
use async_trait::async_trait;

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub reservation: ReservationId,
}

#[derive(Debug, Clone)]
pub struct TicketRecord {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub user_id: UserId,
}

/// What became of an attempt to write a reservation's tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketInsert {
    Committed,
    /// The database clock had passed the fence deadline: nothing was written.
    FenceExpired,
    /// The unique index on the seat refused: some seat already has a ticket. Nothing was written.
    SeatTaken,
}

#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Writes all tickets in one statement, which commits only if the database clock is still
    /// before `fence_deadline`.
    async fn insert_tickets(
        &self,
        tickets: &[NewTicket],
        fence_deadline: UnixMillis,
    ) -> StoreResult<TicketInsert>;
    async fn tickets_of_reservation(
        &self,
        reservation: ReservationId,
    ) -> StoreResult<Vec<TicketRecord>>;
    /// Every sold seat of the event.
    async fn sold_seats(&self, event: EventId) -> StoreResult<Vec<SeatId>>;
    /// How many tickets `user` has in `event`.
    async fn tickets_of_user(&self, event: EventId, user: UserId) -> StoreResult<usize>;
}

/// A sold ticket as the lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldTicket {
    pub id: TicketId,
    pub seat_id: SeatId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub sold_at: UnixMillis,
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
