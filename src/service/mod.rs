//! The rules of SeatRush, written once and run on every backend. Services take parsed domain
//! values, talk to storage only through the traits in [`crate::ports`], and answer with
//! [`ServiceError`], which the api layer maps to gRPC statuses in one place.

mod accounts;
mod booking;
mod catalog;
#[cfg(test)]
mod fakes;
mod feed;
mod hashing;
mod inventory;
mod maps;
mod reconcile;
mod records;
mod sessions;
mod sold;
#[cfg(test)]
mod tests;
mod throttle;

pub use accounts::{AccountLimits, AccountsService, Caller};
pub use booking::{BookingService, Hooks, Pick, PurchaseTerms, Reservation, Ticket};
pub use catalog::{Catalog, EventSeats};
pub use feed::{FeedItem, FeedService, Watch};
pub use inventory::InventoryService;
pub use maps::{AreaCount, Batch, SeatMaps, SeatPage, SeatQuery, Snapshot};
pub use reconcile::SalesReconciler;
pub use records::{RecordsService, TicketView};
pub use sold::SoldSeats;
pub use throttle::ThrottlePolicy;

use crate::domain::{InvalidField, SeatLabel};
use crate::ports::StoreError;

/// Everything a service call can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Some requested seats are held or sold; nothing was held.
    #[error("seats not available: {}", join(.0))]
    SeatsUnavailable(Vec<SeatLabel>),
    /// The hold can no longer (or not now) be purchased, released or extended.
    #[error("{}", .0.message())]
    HoldNotLive(HoldEnd),
    /// The caller confirmed another amount than the seats cost; nothing was sold.
    #[error("the reservation costs {expected} (minor units), not the {confirmed} confirmed")]
    AmountMismatch { expected: u64, confirmed: u64 },
    /// Fewer seats than asked for are free where a best-available Reserve looked.
    #[error("fewer than {asked} seats or places are free {within}")]
    NotEnoughSeats { asked: usize, within: String },
    /// The payment reference already paid for another reservation; nothing was sold.
    #[error("this payment reference already paid for another reservation; nothing was sold")]
    PaymentReferenceUsed,
    /// The reservation was already sold under another payment reference (or none): the one
    /// given paid for nothing here.
    #[error("this reservation was purchased with another payment reference")]
    PaymentReferenceMismatch,
    #[error("{0}")]
    ResourceExhausted(String),
    /// Refused to protect the server or an account; nothing was done, and the same call may
    /// succeed after `retry_after`.
    #[error("{}", .reason.message())]
    Busy {
        reason: BusyReason,
        retry_after: std::time::Duration,
    },
    /// A backend is unreachable; nothing was changed and the call may be retried.
    #[error("a storage backend is unavailable")]
    Unavailable(#[source] StoreError),
    /// A bug or corrupted data. Logged with its cause; clients see no detail.
    #[error("internal error")]
    Internal(#[source] StoreError),
}

/// Why a hold cannot be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldEnd {
    Expired,
    Released,
    Purchased,
    /// A purchase of the hold is in flight.
    Purchasing,
    /// The hold lapsed while its purchase was being written: the fence refused the commit.
    LateCommit,
}

impl HoldEnd {
    pub fn message(self) -> &'static str {
        match self {
            Self::Expired => "hold expired; reserve again",
            Self::Released => "hold was released; reserve again",
            Self::Purchased => "reservation was already purchased",
            Self::Purchasing => "a purchase of this reservation is in progress",
            Self::LateCommit => {
                "hold expired before the purchase could be committed; reserve again"
            }
        }
    }

    /// A stable code for clients (`google.rpc.ErrorInfo.reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Expired => "HOLD_EXPIRED",
            Self::Released => "HOLD_RELEASED",
            Self::Purchased => "HOLD_PURCHASED",
            Self::Purchasing => "PURCHASE_IN_PROGRESS",
            Self::LateCommit => "LATE_COMMIT",
        }
    }
}

/// Why a call was refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyReason {
    /// Too many password hashes are waiting for a core.
    Hashing,
    /// Too many recent failed logins for this email.
    LoginThrottled,
}

impl BusyReason {
    pub fn message(self) -> &'static str {
        match self {
            Self::Hashing => "the server is busy checking passwords; retry shortly",
            Self::LoginThrottled => {
                "too many failed logins for this email; wait before trying again"
            }
        }
    }

    /// A stable code for clients (`google.rpc.ErrorInfo.reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Hashing => "HASHING_BUSY",
            Self::LoginThrottled => "LOGIN_THROTTLED",
        }
    }
}

fn join(labels: &[SeatLabel]) -> String {
    labels
        .iter()
        .map(SeatLabel::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::Unavailable(err),
            StoreError::Internal(_) => Self::Internal(err),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
