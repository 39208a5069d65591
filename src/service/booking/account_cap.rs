//! The optional per-account cap (`max_seats_per_account`): seats one account may hold and buy in
//! one event, together. Holds live in the hold store and tickets in the database, so no single
//! read sees both; the cap is checked on each side of the hold:
//! - before, the account's tickets narrow the hold store's per-user limit, so a request that
//!   cannot fit is refused without touching a seat;
//! - after, the hold store has said how many seats the account holds now (this hold included)
//!   and the tickets are counted again. A purchase writes its tickets before its hold ends, and
//!   the hold stands until then (the purchase lease), so every seat the account ends up with was
//!   counted on one side or the other. A seat bought between the two reads is counted twice,
//!   which can refuse a request that would just have fitted, never admit one that does not.
//!   Over the cap, the new hold is given back and the call refused.

use super::BookingService;
use crate::domain::{EventId, ReservationId, UserId};
use crate::service::{ServiceError, ServiceResult};

/// What the account already has in the event, when the cap is on.
#[derive(Debug, Clone, Copy)]
pub(super) struct AccountRoom {
    cap: usize,
    bought: usize,
}

impl AccountRoom {
    /// The most seats the account may hold at once, within `per_user`.
    pub(super) fn hold_limit(&self, per_user: usize) -> usize {
        per_user.min(self.cap.saturating_sub(self.bought))
    }

    /// Whether the hold store's per-user limit came from this cap rather than `per_user`.
    pub(super) fn binds(&self, per_user: usize) -> bool {
        self.hold_limit(per_user) < per_user
    }

    pub(super) fn refusal(&self, held: usize) -> ServiceError {
        full(self.cap, held, self.bought)
    }
}

impl BookingService {
    /// Counts the account's tickets in `event` and refuses at once when `wanted` more seats
    /// cannot fit. `None` when the cap is off.
    pub(super) async fn account_room(
        &self,
        user: UserId,
        event: EventId,
        wanted: usize,
    ) -> ServiceResult<Option<AccountRoom>> {
        let cap = self.policy.max_seats_per_account;
        if cap == 0 {
            return Ok(None);
        }
        let bought = self.tickets.tickets_of_user(event, user).await?;
        if bought + wanted > cap {
            return Err(full(cap, 0, bought));
        }
        Ok(Some(AccountRoom { cap, bought }))
    }

    /// After a hold: counts the tickets again and gives the hold back if the account, with the
    /// `held` seats it now holds, went over the cap (or if its tickets cannot be counted).
    pub(super) async fn confirm_account_room(
        &self,
        user: UserId,
        reservation: ReservationId,
        held: usize,
    ) -> ServiceResult<()> {
        let cap = self.policy.max_seats_per_account;
        if cap == 0 {
            return Ok(());
        }
        let refusal = match self
            .tickets
            .tickets_of_user(reservation.event(), user)
            .await
        {
            Ok(bought) if held + bought <= cap => return Ok(()),
            Ok(bought) => full(cap, held, bought),
            Err(err) => err.into(),
        };
        match self.holds.release(reservation, user).await {
            Ok(Ok(version)) => self.maps.produced(reservation.event(), version),
            Ok(Err(_)) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not give back a hold over the account cap; it lapses at its deadline");
            }
        }
        Err(refusal)
    }
}

fn full(cap: usize, held: usize, bought: usize) -> ServiceError {
    ServiceError::ResourceExhausted(format!(
        "an account may hold and buy at most {cap} seats of this event; this one holds {held} \
         and bought {bought}"
    ))
}
