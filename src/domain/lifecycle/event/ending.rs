//! How holds end: expired when their deadline passes, sold or released, and forgotten once their
//! retention is over.

use super::{EventHolds, Hold, Phase, Slot};
use crate::domain::lifecycle::{Change, Lapsed};
use crate::domain::{ChangeReason, HoldToken, SeatLabel, UnixMillis, UserId};
use std::collections::BTreeSet;

impl EventHolds {
    /// Expires every hold whose deadline has passed: their seats still carrying them go free,
    /// reported EXPIRED.
    pub fn expire(&mut self, now: UnixMillis) -> (Vec<Lapsed>, Vec<Change>) {
        let mut lapsed = Vec::new();
        let mut changes = Vec::new();
        while let Some(&(deadline, token)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            changes.append(&mut self.expire_hold(token, now));
            lapsed.push(Lapsed {
                late_ms: u64::try_from(now - deadline).unwrap_or(0),
            });
        }
        (lapsed, changes)
    }

    /// Forgets the records of holds that ended more than their retention ago, and clients' seats
    /// whose window closed.
    pub fn forget(&mut self, now: UnixMillis) {
        while let Some(&(at, token)) = self.forgets.first() {
            if at > now {
                break;
            }
            self.forgets.pop_first();
            self.holds.remove(&token);
        }
        self.clients.forget(now);
        self.cooldowns.forget(now);
    }

    /// When [`EventHolds::expire`] or [`EventHolds::forget`] next has something to do.
    pub fn next_due(&self) -> Option<UnixMillis> {
        let deadline = self.deadlines.first().map(|(at, _)| *at);
        let forget = self.forgets.first().map(|(at, _)| *at);
        deadline
            .into_iter()
            .chain(forget)
            .chain(self.clients.next_due())
            .chain(self.cooldowns.next_due())
            .min()
    }

    /// Frees the lapsed hold's seats that still carry it (EXPIRED), cooling down from `now`; it is
    /// no longer live.
    pub(super) fn expire_hold(&mut self, token: HoldToken, now: UnixMillis) -> Vec<Change> {
        let Some(hold) = self.holds.get_mut(&token) else {
            return Vec::new();
        };
        let freed: Vec<SeatLabel> = hold
            .seats
            .iter()
            .filter(
                |s| matches!(self.seats.get(*s), Some(Slot::Held { token: t, .. }) if *t == token),
            )
            .cloned()
            .collect();
        for seat in &freed {
            self.seats.remove(seat);
        }
        let (user, forget_at) = (hold.user, hold.deadline + hold.retention_ms);
        let cooldown = hold.cooldown;
        Self::schedule_forget(&mut self.forgets, token, hold, forget_at);
        self.unlist(user, token);
        self.cooldowns.start(user, cooldown, &freed, now);
        self.changes(&freed, ChangeReason::Expired)
    }

    /// The hold ended (sold or released) at `now`: remembered for its retention from now on.
    pub(super) fn end(&mut self, token: HoldToken, phase: Phase, now: UnixMillis) {
        let Some(hold) = self.holds.get_mut(&token) else {
            return;
        };
        self.deadlines.remove(&(hold.deadline, token));
        hold.phase = phase;
        hold.deadline = hold.deadline.min(now);
        let (user, forget_at) = (hold.user, now + hold.retention_ms);
        Self::schedule_forget(&mut self.forgets, token, hold, forget_at);
        self.unlist(user, token);
    }

    fn schedule_forget(
        forgets: &mut BTreeSet<(UnixMillis, HoldToken)>,
        token: HoldToken,
        hold: &mut Hold,
        at: UnixMillis,
    ) {
        if let Some(previous) = hold.forget_at.replace(at) {
            forgets.remove(&(previous, token));
        }
        forgets.insert((at, token));
    }

    fn unlist(&mut self, user: UserId, token: HoldToken) {
        if let Some(tokens) = self.live_by_user.get_mut(&user) {
            tokens.remove(&token);
            if tokens.is_empty() {
                self.live_by_user.remove(&user);
            }
        }
    }
}
