//! Seats let go lately, for [`Cooldown`]: when a hold is released or lapses, neither its user nor
//! its client may hold those seats again until the cool-down ends, so letting a seat go and taking
//! it back at once never gives a hoarder a fresh hold: the seat goes back to everyone else first.
//! Entries leave as their cool-down ends, so the set is bounded by the seats let go in one
//! cool-down.

use crate::domain::lifecycle::Cooldown;
use crate::domain::{SeatLabel, UnixMillis, UserId};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Who let a seat go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Holder {
    User(UserId),
    Client(IpAddr),
}

#[derive(Debug, Default)]
pub(super) struct Cooldowns {
    until: HashMap<(Holder, SeatLabel), UnixMillis>,
    due: BTreeSet<(UnixMillis, Holder, SeatLabel)>,
}

impl Cooldowns {
    /// Those of `seats` that `user` or `client` may not hold yet.
    pub(super) fn cooling(
        &self,
        user: UserId,
        client: Option<IpAddr>,
        seats: &[SeatLabel],
        now: UnixMillis,
    ) -> Vec<SeatLabel> {
        let holders: Vec<Holder> = std::iter::once(Holder::User(user))
            .chain(client.map(Holder::Client))
            .collect();
        seats
            .iter()
            .filter(|seat| {
                holders.iter().any(|h| {
                    self.until
                        .get(&(*h, (*seat).clone()))
                        .is_some_and(|till| *till > now)
                })
            })
            .cloned()
            .collect()
    }

    /// Every seat `user` or `client` may not hold yet.
    pub(super) fn cooling_for(
        &self,
        user: UserId,
        client: Option<IpAddr>,
        now: UnixMillis,
    ) -> Vec<SeatLabel> {
        let holders = [Some(Holder::User(user)), client.map(Holder::Client)];
        self.until
            .iter()
            .filter(|((holder, _), till)| **till > now && holders.contains(&Some(*holder)))
            .map(|((_, seat), _)| seat.clone())
            .collect()
    }

    /// `user` (and the client of the hold, if known) let `seats` go at `now`.
    pub(super) fn start(
        &mut self,
        user: UserId,
        cooldown: Option<Cooldown>,
        seats: &[SeatLabel],
        now: UnixMillis,
    ) {
        let Some(cooldown) = cooldown.filter(|c| !c.length.is_zero()) else {
            return;
        };
        let till = now + crate::domain::millis(cooldown.length);
        let holders =
            std::iter::once(Holder::User(user)).chain(cooldown.client.map(Holder::Client));
        for holder in holders {
            for seat in seats {
                if let Some(previous) = self.until.insert((holder, seat.clone()), till) {
                    self.due.remove(&(previous, holder, seat.clone()));
                }
                self.due.insert((till, holder, seat.clone()));
            }
        }
    }

    /// Drops the cool-downs that ended.
    pub(super) fn forget(&mut self, now: UnixMillis) {
        while let Some((till, holder, seat)) = self.due.first().cloned() {
            if till > now {
                break;
            }
            self.due.pop_first();
            self.until.remove(&(holder, seat));
        }
    }

    pub(super) fn next_due(&self) -> Option<UnixMillis> {
        self.due.first().map(|(at, _, _)| *at)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.until.len()
    }
}
