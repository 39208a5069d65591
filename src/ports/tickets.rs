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
    /// The seats of the tickets from `from` on, in (creation time, ticket id) order, at most
    /// `limit` of them (one range read of an index on the creation time).
    async fn sold_since(&self, from: SalesCursor, limit: u64) -> StoreResult<Vec<SoldSeat>>;
}
