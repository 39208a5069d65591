//! Holds, in Redis or in process: short-lived, and also the record of which seats are sold, so
//! that Reserve never needs the database. Every adapter follows the hold lifecycle of
//! `domain::lifecycle` (the in-process one runs it; the Redis scripts repeat it), and the
//! contract suite runs the same cases against each.

use super::StoreResult;
use crate::domain::{
    BestOutcome, Choice, EventId, ExtendTerms, Extended, HoldOutcome, HoldRefusal, HoldTerms,
    Layout, LiveHold, PlanRow, PurchaseLease, ReservationId, SeatLabel, SeatStatuses, UserId,
};
use async_trait::async_trait;
use std::time::Duration;

/// A request to hold seats.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub reservation: ReservationId,
    pub user: UserId,
    pub seats: Vec<SeatLabel>,
    pub terms: HoldTerms,
}

/// A request to hold the best `count` free seats of a plan (see `domain::best`).
#[derive(Debug, Clone)]
pub struct BestRequest {
    pub reservation: ReservationId,
    pub user: UserId,
    pub count: usize,
    /// The rows the seats may come from, in plan order (shared: see `EventSeats::plan`).
    pub plan: std::sync::Arc<[PlanRow]>,
    /// The best seats, or any places of a general-admission area.
    pub choice: Choice,
    pub terms: HoldTerms,
}

/// Seat statuses at one instant, with the version of the last change they reflect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSnapshot {
    pub statuses: SeatStatuses,
    pub version: u64,
}

/// Every change a store makes is published to the in-process hub with its version (the Redis
/// adapter through its feed listener), atomically with the change. Operations that change seats
/// return the event's version after them, so a reader on this instance can wait until its copy
/// of the statuses has caught up.
#[async_trait]
pub trait HoldStore: Send + Sync {
    /// Holds all seats or none, atomically.
    async fn hold(&self, request: &HoldRequest) -> StoreResult<HoldOutcome>;
    /// Chooses the best free seats of the plan and holds them, as one atomic step: two requests
    /// never get the same seat, and none is refused while the plan still had the seats.
    async fn hold_best(&self, request: &BestRequest) -> StoreResult<BestOutcome>;
    /// Builds the index of the event's taken seats that `hold_best` reads (once per event;
    /// again after the store lost it).
    async fn prepare_best(&self, event: EventId, layout: &Layout) -> StoreResult<()>;
    /// Records seats as sold. `complete` says this is the event's whole sold list, after which
    /// `hold` stops answering `NotLoaded`. Returns the event's version after it.
    async fn mark_sold(
        &self,
        event: EventId,
        seats: &[SeatLabel],
        complete: bool,
    ) -> StoreResult<u64>;
    /// The status of every seat of `layout`, in layout order, and the version of the last change
    /// reflected, read atomically; `None` when sold seats are not loaded yet.
    async fn snapshot(&self, event: EventId, layout: &Layout) -> StoreResult<Option<SeatSnapshot>>;
    /// Moves a live hold of `user` into the purchasing state and makes sure it stands for at
    /// least `lease` more. Re-entrant: a second purchase of the same hold gets a lease too.
    async fn begin_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        lease: Duration,
    ) -> StoreResult<Result<PurchaseLease, HoldRefusal>>;
    /// Puts a purchasing hold back to held (the database write failed and may be retried).
    async fn abort_purchase(&self, reservation: ReservationId) -> StoreResult<()>;
    /// Marks the seats sold and ends the hold; returns the event's version after it.
    async fn finish_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        seats: &[SeatLabel],
    ) -> StoreResult<u64>;
    /// Frees the hold's seats now. The refusal says exactly why not (`Released`, `Expired`: the
    /// lapsed hold was expired instead, `Sold`, `Purchasing`, `NotOwner`, `Unknown`); which of
    /// those a caller hears as an error is the booking service's decision. Returns the event's
    /// version after the release.
    async fn release(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<u64, HoldRefusal>>;
    /// Moves a live hold's deadline to `now + ttl`, capped at `created + max_lifetime`.
    async fn extend(
        &self,
        reservation: ReservationId,
        user: UserId,
        terms: &ExtendTerms,
    ) -> StoreResult<Result<Extended, HoldRefusal>>;
    /// Frees every live hold of `user` in every event, except holds being purchased; returns
    /// how many were released.
    async fn release_all_of(&self, user: UserId) -> StoreResult<usize>;
    /// The hold, if it is `user`'s and live (held or being purchased, every seat still carrying
    /// it); otherwise why not, in the lifecycle's order.
    async fn live_hold(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<LiveHold, HoldRefusal>>;
    /// Every live hold of `user` in every event, in no particular order (a user holds few: at
    /// most `max_seats_per_user` seats per event).
    async fn holds_of(&self, user: UserId) -> StoreResult<Vec<LiveHold>>;
    async fn ping(&self) -> StoreResult<()>;
    /// Seats held right now across all events (for the `seatrush.seats.held` gauge; sampled
    /// every few seconds, so it may cost a scan).
    async fn held_seats(&self) -> StoreResult<u64>;
}
