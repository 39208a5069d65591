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
