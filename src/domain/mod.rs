//! The vocabulary of SeatRush: identifiers, seat labels, accounts and events as types that can
//! only hold valid values. Everything past the api layer speaks these types, never raw strings.
//!
//! Parsing happens once, at the edge, and a failure names the request field it came from.

mod account;
mod best;
mod email;
mod error;
mod event;
mod feed;
mod hold;
mod ids;
mod layout;
mod lifecycle;
mod page;
mod payment;
mod price;
mod seat;
mod statuses;

pub use account::{NewPassword, Password, SessionToken, TokenHash};
/// The best-available rule itself, for the contract suite.
#[cfg(feature = "internals")]
pub use best::choose as best_choose;
pub use best::{
    BestAvailable, Choice, GeneralAdmission, PlanRow, Pool, Within, area_plan, plan as best_plan,
};
pub use email::Email;
pub use error::InvalidField;
pub use event::{EventName, NewEvent, PageCursor};
pub use feed::{ChangeReason, SeatChange};
pub use hold::{HoldPolicy, HoldTtl};
pub use ids::{EventId, HoldToken, ReservationId, SeatId, SessionId, TicketId, UserId};
pub use layout::{AreaSpec, Layout, LayoutLimits, PLACES_PER_ROW, Row, SectionSpec};
pub use lifecycle::{
    BestOutcome, Change, ClientCap, Cooldown, EventHolds, ExtendTerms, Extended, HoldOutcome,
    HoldRefusal, HoldTerms, LiveHold, PurchaseLease, millis,
};
pub use page::{PageSize, ReservationCursor, TicketCursor, TicketList};
pub use payment::PaymentReference;
pub use price::{CategorySpec, Currency, Price, PriceCategory, Quote};
pub use seat::{SeatLabel, SeatStatus};
pub use statuses::SeatStatuses;

/// Milliseconds since the Unix epoch, as stored in the database and in Redis.
pub type UnixMillis = i64;

/// The wall clock in [`UnixMillis`].
pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
