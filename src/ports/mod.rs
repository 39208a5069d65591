//! What the services need from storage, as traits. The SQL adapter (`sql/`), the Redis adapter
//! (`redis/`) and the in-process adapter (`memory/`) implement them; the services never ask which
//! one they run on.
//!
//! Two kinds of state live behind these ports:
//! - durable facts (users, sessions, events, seats, tickets) in the database;
//! - short-lived holds, in Redis or in process, which also remember which seats are sold so that
//!   Reserve never needs the database.

mod accounts;
mod holds;
mod inventory;
mod tickets;

pub use accounts::{AccountStore, NewSession, SessionRecord, UserRecord, UserStatus};
pub use holds::{BestRequest, HoldRequest, HoldStore, SeatSnapshot};
pub use inventory::{EventRecord, EventStore, SeatRecord};
pub use tickets::{
    NewTicket, SalesCursor, SoldSeat, SoldTicket, TicketInsert, TicketLedger, TicketRecord,
    TicketStore,
};

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
