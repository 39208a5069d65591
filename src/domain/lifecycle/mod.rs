//! The hold lifecycle of one event, as pure code: hold, begin a purchase, extend, release, finish,
//! expire and forget, each with an explicit `now`, each returning the seat changes it made (with
//! their versions) for the caller to publish. Nothing here waits, locks or reads a clock.
//!
//! The in-process adapter runs this under one lock. The Redis scripts repeat it, because one round
//! trip per operation is their point; the `HoldStore` contract suite runs the same cases against
//! both and proves they agree. The rules, in the order they are checked:
//!
//! - A hold takes all its seats or none. Nothing is held until the event's sold seats are loaded.
//!   A seat is taken while it is sold, or held by a hold whose deadline is in the future.
//! - A user holds at most `max_seats_per_user` seats of the event at once, counting live holds.
//! - A client (network peer) takes at most `max_seats` seats of the event within a window, counting
//!   every seat it held in that window, live or not ([`ClientCap`]).
//! - A seat a hold let go (released, or lapsed) cannot be held again by the hold's user or client
//!   until its cool-down ends ([`Cooldown`]); checked after "taken" and before the caps.
//! - Acting on a hold checks, in order: known, owned by the caller, not sold, not released, every
//!   seat still carrying it (else it lapsed), and for extend, not being purchased.
//! - A purchase lifts the deadline to at least `now + lease` (never lowers it) and is re-entrant.
//! - Extend moves the deadline to `now + ttl`, never past `created + max_lifetime`, never earlier.
//! - A hold past its deadline frees its seats, reported EXPIRED once, whether the expiry pass or a
//!   Release gets there first; a released or lapsed hold is remembered for `retention`.
//! - Every change gets the next version of the event.

mod event;
#[cfg(test)]
mod tests;

pub use event::EventHolds;

use super::{ChangeReason, ReservationId, SeatLabel, UnixMillis};
use std::net::IpAddr;
use std::time::Duration;

/// What a new hold obeys, from the server's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTerms {
    pub ttl: Duration,
    pub max_seats_per_user: usize,
    /// How long the hold is remembered after it ends, for precise answers to late calls.
    pub retention: Duration,
    /// The network client asking, and how many seats it may take in the event within a window.
    pub client: Option<ClientCap>,
    /// How long the user and client may not hold again the seats this hold lets go.
    pub cooldown: Option<Cooldown>,
}

/// After a hold is released or lapses, its user and its client (when known) may not hold its seats
/// again for `length`: letting go and taking back at once would otherwise give a hoarder a fresh
/// hold (and a fresh lifetime) without the seat ever going back to the crowd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldown {
    pub length: Duration,
    pub client: Option<IpAddr>,
}

/// Seats one client (a network peer) may take in one event within a window, whichever accounts
/// it signs in as. Every seat a hold takes counts against its client for `window` from the
/// moment it was held, whatever then happens to the hold: releasing and holding again, buying,
/// or switching accounts does not give a client more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCap {
    pub client: IpAddr,
    pub max_seats: usize,
    pub window: Duration,
}

/// What ExtendHold obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendTerms {
    pub ttl: Duration,
    /// No deadline past `created + max_lifetime`.
    pub max_lifetime: Duration,
}

/// Milliseconds of a duration, as deadlines are counted.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    Held {
        expires_at: UnixMillis,
        /// The event's version after the hold's changes.
        version: u64,
        /// Seats the user holds in the event now, this hold's included.
        held_by_user: usize,
    },
    /// These seats are held or sold; nothing was held.
    Unavailable(Vec<SeatLabel>),
    /// The user already holds this many seats in the event; nothing was held.
    UserLimit { held: usize },
    /// The client took this many seats of the event within its window; nothing was held.
    ClientLimit { held: usize },
    /// The user or the client let these seats go within their cool-down; nothing was held.
    CoolingDown(Vec<SeatLabel>),
    /// The store does not yet know which seats of this event are sold: load them, then retry.
    NotLoaded,
}

/// What became of a best-available hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BestOutcome {
    /// These seats were chosen, and holding them came to `outcome` (`Held`, or a cap refused).
    Chosen {
        seats: Vec<SeatLabel>,
        outcome: HoldOutcome,
    },
    /// Fewer seats than asked for are free where the request looked; nothing was held.
    NotEnough,
    /// The store has no index of the event's taken seats yet: prepare it, then retry.
    NotPrepared,
    /// As [`HoldOutcome::NotLoaded`].
    NotLoaded,
}

/// Why an operation on a hold was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A live hold after ExtendHold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extended {
    pub seats: Vec<SeatLabel>,
    pub deadline: UnixMillis,
}

/// A hold that stands right now (held, or being purchased: every seat still carries it), as its
/// owner may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveHold {
    pub reservation: ReservationId,
    pub seats: Vec<SeatLabel>,
    pub deadline: UnixMillis,
    pub created: UnixMillis,
}

/// One seat change made by an operation, with the version it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub label: SeatLabel,
    pub reason: ChangeReason,
    pub version: u64,
}

/// A hold the expiry pass ended, and how late (for the lateness metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lapsed {
    pub late_ms: u64,
}
