//! What the services need from storage, as traits. The SQL adapter (`sql/`), the Redis adapter
//! (`redis/`) and the in-process adapter (`memory/`) implement them; the services never ask which
//! one they run on.
//!
//! Two kinds of state live behind these ports:
//! - durable facts (users, sessions, events, seats, tickets) in the database;
//! - short-lived holds, in Redis or in process, which also remember which seats are sold so that
//!   Reserve never needs the database.

use crate::domain::{
    Email, EventId, EventName, Layout, NewEvent, PageCursor, ReservationId, SeatId, SeatLabel,
    SessionId, TicketId, TokenHash, UnixMillis, UserId,
};
use async_trait::async_trait;

/// A storage failure. Adapters decide which it is; the service decides what the caller hears.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or timed out: worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: a bug or a corrupted row. Logged, never shown to clients.
    #[error("storage failure: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------- accounts

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Deleted,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub password_hash: String,
    pub status: UserStatus,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: TokenHash,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// A session as authentication sees it: joined with its user's status.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub user_status: UserStatus,
    pub expires_at: UnixMillis,
    pub revoked: bool,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Ok(false)` when the email is taken.
    async fn create_user(
        &self,
        id: UserId,
        email: &Email,
        password_hash: &str,
        now: UnixMillis,
    ) -> StoreResult<bool>;
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>>;
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    async fn find_session(&self, token_hash: &TokenHash) -> StoreResult<Option<SessionRecord>>;
    async fn revoke_session(&self, id: SessionId, now: UnixMillis) -> StoreResult<()>;
    /// Marks the user deleted and revokes all of its sessions, in one transaction.
    async fn delete_user(&self, id: UserId, now: UnixMillis) -> StoreResult<()>;
}

// ---------------------------------------------------------------- inventory

#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: EventId,
    pub name: EventName,
    pub starts_at: UnixMillis,
    pub layout: Layout,
}

#[derive(Debug, Clone)]
pub struct SeatRecord {
    pub id: SeatId,
    pub label: SeatLabel,
    pub row: String,
    pub number: u32,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Writes the event and all its seats in one transaction.
    async fn create_event(&self, event: &NewEvent) -> StoreResult<()>;
    async fn get_event(&self, id: EventId) -> StoreResult<Option<EventRecord>>;
    /// Events ordered by `(starts_at, id)`, strictly after `after`.
    async fn list_events(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<EventRecord>>;
    /// The event's seats ordered by row (as created) then number.
    async fn seats(&self, event: EventId) -> StoreResult<Vec<SeatRecord>>;
    async fn ping(&self) -> StoreResult<()>;
}

// ---------------------------------------------------------------- tickets

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
}

// ---------------------------------------------------------------- holds

/// A request to hold seats.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub reservation: ReservationId,
    pub user: UserId,
    pub seats: Vec<SeatLabel>,
    pub ttl_ms: i64,
    pub max_seats_per_user: usize,
    pub retention_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    Held {
        expires_at: UnixMillis,
    },
    /// These seats are held or sold; nothing was held.
    Unavailable(Vec<SeatLabel>),
    /// The user already holds this many seats in the event; nothing was held.
    UserLimit {
        held: usize,
    },
    /// The store does not yet know which seats of this event are sold: load them, then retry.
    NotLoaded,
}

/// What a hold store knows about a reservation when asked to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldRefusal {
    /// Never seen, or forgotten after the retention period.
    Unknown,
    /// Held by another user.
    NotOwner,
    /// The hold lapsed.
    Expired,
    Released,
    /// Already bought: tickets exist.
    Sold,
    /// A purchase of this hold is in flight.
    Purchasing,
}

/// The seats of a hold that a purchase may now turn into tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseLease {
    pub seats: Vec<SeatLabel>,
    /// The hold is guaranteed to stand until this instant (store clock).
    pub deadline: UnixMillis,
}

/// Seat statuses at one instant, with the version of the last change they reflect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSnapshot {
    pub statuses: crate::domain::SeatStatuses,
    pub version: u64,
}

#[async_trait]
pub trait HoldStore: Send + Sync {
    /// Holds all seats or none, atomically.
    async fn hold(&self, request: &HoldRequest) -> StoreResult<HoldOutcome>;
    /// Records seats as sold. `complete` says this is the event's whole sold list, after which
    /// `hold` stops answering `NotLoaded`.
    async fn mark_sold(
        &self,
        event: EventId,
        seats: &[SeatLabel],
        complete: bool,
    ) -> StoreResult<()>;
    /// The status of each of `seats` and the version of the last change reflected, read
    /// atomically; `None` when sold seats are not loaded yet.
    async fn snapshot(
        &self,
        event: EventId,
        seats: &[SeatLabel],
    ) -> StoreResult<Option<SeatSnapshot>>;
    /// Moves a live hold of `user` into the purchasing state and makes sure it stands for at
    /// least `lease_ms` more. Re-entrant: a second purchase of the same hold gets a lease too.
    async fn begin_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        lease_ms: i64,
    ) -> StoreResult<Result<PurchaseLease, HoldRefusal>>;
    /// Puts a purchasing hold back to held (the database write failed and may be retried).
    async fn abort_purchase(&self, reservation: ReservationId) -> StoreResult<()>;
    /// Marks the hold's seats sold and forgets the hold.
    async fn finish_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        seats: &[SeatLabel],
    ) -> StoreResult<()>;
    /// Frees the seats at once. Releasing a released or lapsed hold is fine.
    async fn release(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<(), HoldRefusal>>;
    /// Moves a live hold's deadline to `now + ttl_ms`, capped at `created + max_lifetime_ms`.
    async fn extend(
        &self,
        reservation: ReservationId,
        user: UserId,
        ttl_ms: i64,
        max_lifetime_ms: i64,
    ) -> StoreResult<Result<(Vec<SeatLabel>, UnixMillis), HoldRefusal>>;
    /// Frees every live hold of `user` in every event, except holds being purchased; returns
    /// how many were released.
    async fn release_all_of(&self, user: UserId) -> StoreResult<usize>;
    async fn ping(&self) -> StoreResult<()>;
    /// Seats held right now across all events (for the `seatrush.seats.held` gauge; sampled
    /// every few seconds, so it may cost a scan).
    async fn held_seats(&self) -> StoreResult<u64>;
}
