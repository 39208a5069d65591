//! How long seats may be held, and the other limits a hold obeys. The bounds are deployment
//! settings, so a requested length is parsed against a [`HoldPolicy`].

use super::{ClientCap, Cooldown, ExtendTerms, HoldTerms, InvalidField};
use std::net::IpAddr;
use std::time::Duration;

/// The limits on holds, from the server's settings.
#[derive(Debug, Clone)]
pub struct HoldPolicy {
    /// Used when a request asks for no particular length.
    pub default_ttl: Duration,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    /// A hold cannot be extended past `created + max_lifetime`.
    pub max_lifetime: Duration,
    pub max_seats_per_hold: usize,
    /// Seats one user may hold at once in one event (anti-hoarding).
    pub max_seats_per_user: usize,
    /// Seats one client (network peer) may take in one event within `client_window`, whichever
    /// accounts it uses; 0: no limit.
    pub max_seats_per_client: usize,
    pub client_window: Duration,
    /// Seats one account may hold and buy in one event, together; 0: no limit. Unlike
    /// `max_seats_per_user`, a purchase does not give the room back.
    pub max_seats_per_account: usize,
    /// How long the user and the client of a released or lapsed hold may not hold its seats
    /// again; zero: no cool-down.
    pub release_cooldown: Duration,
    /// The time a purchase is given to commit once it has started (see the README's "fence").
    pub purchase_lease: Duration,
    /// Subtracted from a hold's deadline before the database compares it with its own clock:
    /// the largest clock difference between Redis and the database that stays safe.
    pub fence_margin: Duration,
    /// How long a finished or lapsed reservation is remembered, so that a late Purchase or
    /// Release gets a precise answer instead of NOT_FOUND.
    pub retention: Duration,
}

/// A hold length within the policy's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTtl(Duration);

impl HoldTtl {
    /// `0` means the policy's default; anything else outside `[min, max]` is refused, not clamped,
    /// so a client never gets a shorter hold than it asked for without knowing.
    pub fn parse(field: &str, seconds: u32, policy: &HoldPolicy) -> Result<Self, InvalidField> {
        if seconds == 0 {
            return Ok(Self(policy.default_ttl));
        }
        let ttl = Duration::from_secs(u64::from(seconds));
        if ttl < policy.min_ttl || ttl > policy.max_ttl {
            return Err(InvalidField::new(
                field,
                format!(
                    "must be 0 (server default) or between {} and {} seconds",
                    policy.min_ttl.as_secs(),
                    policy.max_ttl.as_secs()
                ),
            ));
        }
        Ok(Self(ttl))
    }

    pub fn duration(&self) -> Duration {
        self.0
    }
}

impl HoldPolicy {
    /// The terms of a new hold of length `ttl`, asked for by `client` when it is known.
    pub fn hold_terms(&self, ttl: HoldTtl, client: Option<IpAddr>) -> HoldTerms {
        HoldTerms {
            ttl: ttl.duration(),
            max_seats_per_user: self.max_seats_per_user,
            retention: self.retention,
            client: client
                .filter(|_| self.max_seats_per_client > 0)
                .map(|client| ClientCap {
                    client,
                    max_seats: self.max_seats_per_client,
                    window: self.client_window,
                }),
            cooldown: (!self.release_cooldown.is_zero()).then_some(Cooldown {
                length: self.release_cooldown,
                client,
            }),
        }
    }

    /// The terms of extending a hold to `ttl` from now.
    pub fn extend_terms(&self, ttl: HoldTtl) -> ExtendTerms {
        ExtendTerms {
            ttl: ttl.duration(),
            max_lifetime: self.max_lifetime,
        }
    }
}
