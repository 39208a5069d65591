//! [`EventHolds`]: the seats and holds of one event, and every operation on them.

mod best;
mod clients;
mod cooldowns;
mod ending;
mod lookup;

use clients::ClientTally;
use cooldowns::Cooldowns;

use super::{
    Change, Cooldown, ExtendTerms, Extended, HoldOutcome, HoldRefusal, HoldTerms, PurchaseLease,
    millis,
};
use crate::domain::{
    ChangeReason, HoldToken, SeatLabel, SeatStatus, SeatStatuses, UnixMillis, UserId,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Held {
        token: HoldToken,
        deadline: UnixMillis,
    },
    Sold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Held,
    Purchasing,
    Sold,
    Released,
}

#[derive(Debug)]
struct Hold {
    user: UserId,
    seats: Vec<SeatLabel>,
    phase: Phase,
    deadline: UnixMillis,
    created: UnixMillis,
    retention_ms: i64,
    /// What the seats it lets go cool down for, and for whom besides its user.
    cooldown: Option<Cooldown>,
    /// When the record goes, once the hold has ended or lapsed.
    forget_at: Option<UnixMillis>,
}

/// One event's seats and holds. See the module documentation for the rules.
#[derive(Debug, Default)]
pub struct EventHolds {
    loaded: bool,
    version: u64,
    seats: HashMap<SeatLabel, Slot>,
    holds: HashMap<HoldToken, Hold>,
    /// Holds not yet expired, by deadline (Redis keeps the same set per event).
    deadlines: BTreeSet<(UnixMillis, HoldToken)>,
    /// Ended or lapsed holds, by the time their record is forgotten.
    forgets: BTreeSet<(UnixMillis, HoldToken)>,
    /// Each user's holds that have not ended: counting a user's seats looks at these alone.
    live_by_user: HashMap<UserId, HashSet<HoldToken>>,
    clients: ClientTally,
    cooldowns: Cooldowns,
    /// Taken seats by layout index, once a best-available hold asked for them.
    best: Option<best::TakenSeats>,
}

impl EventHolds {
    /// The version of the last change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Records seats as sold, reporting those that were not; `complete` says this was the event's
    /// whole sold list, after which holds are accepted.
    pub fn mark_sold(&mut self, seats: &[SeatLabel], complete: bool) -> Vec<Change> {
        self.loaded |= complete;
        self.sell(seats)
    }

    pub fn hold(
        &mut self,
        token: HoldToken,
        user: UserId,
        seats: &[SeatLabel],
        terms: &HoldTerms,
        now: UnixMillis,
    ) -> (HoldOutcome, Vec<Change>) {
        if !self.loaded {
            return (HoldOutcome::NotLoaded, Vec::new());
        }
        let taken: Vec<SeatLabel> = seats
            .iter()
            .filter(|s| self.taken(s, now))
            .cloned()
            .collect();
        if !taken.is_empty() {
            return (HoldOutcome::Unavailable(taken), Vec::new());
        }
        if let Some(cooldown) = &terms.cooldown {
            let cooling = self.cooldowns.cooling(user, cooldown.client, seats, now);
            if !cooling.is_empty() {
                return (HoldOutcome::CoolingDown(cooling), Vec::new());
            }
        }
        let held = self.seats_held_by(user, now);
        if held + seats.len() > terms.max_seats_per_user {
            return (HoldOutcome::UserLimit { held }, Vec::new());
        }
        if let Some(cap) = &terms.client {
            let held = self.clients.taken(cap.client, now);
            if held + seats.len() > cap.max_seats {
                return (HoldOutcome::ClientLimit { held }, Vec::new());
            }
            self.clients.add(cap, seats.len(), now);
        }
        let deadline = now + millis(terms.ttl);
        for seat in seats {
            self.seats
                .insert(seat.clone(), Slot::Held { token, deadline });
        }
        self.holds.insert(
            token,
            Hold {
                user,
                seats: seats.to_vec(),
                phase: Phase::Held,
                deadline,
                created: now,
                retention_ms: millis(terms.retention),
                cooldown: terms.cooldown,
                forget_at: None,
            },
        );
        self.deadlines.insert((deadline, token));
        self.live_by_user.entry(user).or_default().insert(token);
        let changes = self.changes(seats, ChangeReason::Reserved);
        (
            HoldOutcome::Held {
                expires_at: deadline,
                version: self.version,
                held_by_user: held + seats.len(),
            },
            changes,
        )
    }

    /// Moves a live hold into the purchasing state and makes it stand at least `lease` more.
    pub fn begin_purchase(
        &mut self,
        token: HoldToken,
        user: UserId,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<PurchaseLease, HoldRefusal> {
        let hold = self.live(token, user, now)?;
        let deadline = hold.deadline.max(now + millis(lease));
        let seats = hold.seats.clone();
        self.set_deadline(token, deadline);
        if let Some(hold) = self.holds.get_mut(&token) {
            hold.phase = Phase::Purchasing;
        }
        Ok(PurchaseLease { seats, deadline })
    }

    /// Puts a purchasing hold back to held (its ticket write failed and may be retried).
    pub fn abort_purchase(&mut self, token: HoldToken) {
        if let Some(hold) = self.holds.get_mut(&token)
            && hold.phase == Phase::Purchasing
        {
            hold.phase = Phase::Held;
        }
    }

    /// The tickets are written: the seats are sold for good and the hold has ended.
    pub fn finish_purchase(
        &mut self,
        token: HoldToken,
        seats: &[SeatLabel],
        now: UnixMillis,
    ) -> Vec<Change> {
        let changes = self.sell(seats);
        self.end(token, Phase::Sold, now);
        changes
    }

    /// Frees the hold's seats now. A hold already past its deadline is expired instead (EXPIRED,
    /// unless the expiry pass already reported it) and answered `Expired`.
    pub fn release(
        &mut self,
        token: HoldToken,
        user: UserId,
        now: UnixMillis,
    ) -> (Result<(), HoldRefusal>, Vec<Change>) {
        self.let_go(token, user, now, true)
    }

    /// [`EventHolds::release`], with the released seats cooling down or not (an account being
    /// deleted lets its seats go for good).
    fn let_go(
        &mut self,
        token: HoldToken,
        user: UserId,
        now: UnixMillis,
        cool: bool,
    ) -> (Result<(), HoldRefusal>, Vec<Change>) {
        let Some(hold) = self.holds.get(&token) else {
            return (Err(HoldRefusal::Unknown), Vec::new());
        };
        if hold.user != user {
            return (Err(HoldRefusal::NotOwner), Vec::new());
        }
        match hold.phase {
            Phase::Sold => return (Err(HoldRefusal::Sold), Vec::new()),
            Phase::Released => return (Err(HoldRefusal::Released), Vec::new()),
            Phase::Held | Phase::Purchasing => {}
        }
        let mine: Vec<SeatLabel> = hold
            .seats
            .iter()
            .filter(|s| self.carries(s, token, now))
            .cloned()
            .collect();
        if hold.phase == Phase::Purchasing && !mine.is_empty() {
            return (Err(HoldRefusal::Purchasing), Vec::new());
        }
        let (deadline, cooldown) = (hold.deadline, hold.cooldown);
        if deadline <= now {
            let changes = if self.deadlines.remove(&(deadline, token)) {
                self.expire_hold(token, now)
            } else {
                Vec::new()
            };
            self.end(token, Phase::Released, now);
            return (Err(HoldRefusal::Expired), changes);
        }
        for seat in &mine {
            self.seats.remove(seat);
        }
        if cool {
            self.cooldowns.start(user, cooldown, &mine, now);
        }
        let changes = self.changes(&mine, ChangeReason::Released);
        self.end(token, Phase::Released, now);
        (Ok(()), changes)
    }

    /// Moves a live hold's deadline to `now + ttl`, capped at `created + max_lifetime`, never
    /// earlier than it was.
    pub fn extend(
        &mut self,
        token: HoldToken,
        user: UserId,
        terms: &ExtendTerms,
        now: UnixMillis,
    ) -> Result<Extended, HoldRefusal> {
        let hold = self.live(token, user, now)?;
        if hold.phase == Phase::Purchasing {
            return Err(HoldRefusal::Purchasing);
        }
        let wanted = (now + millis(terms.ttl)).min(hold.created + millis(terms.max_lifetime));
        let deadline = hold.deadline.max(wanted);
        let seats = hold.seats.clone();
        self.set_deadline(token, deadline);
        Ok(Extended { seats, deadline })
    }

    /// Releases every live hold of `user` that is not being purchased; returns how many.
    pub fn release_user(&mut self, user: UserId, now: UnixMillis) -> (usize, Vec<Change>) {
        let tokens: Vec<HoldToken> = self
            .live_by_user
            .get(&user)
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default();
        let mut released = 0;
        let mut changes = Vec::new();
        for token in tokens {
            let held = self
                .holds
                .get(&token)
                .is_some_and(|h| h.phase == Phase::Held && h.deadline > now);
            if held && let (Ok(()), mut freed) = self.let_go(token, user, now, false) {
                released += 1;
                changes.append(&mut freed);
            }
        }
        (released, changes)
    }

    /// The status of each of `labels`; `None` until the sold seats are loaded.
    pub fn statuses(
        &self,
        labels: impl IntoIterator<Item = SeatLabel>,
        now: UnixMillis,
    ) -> Option<SeatStatuses> {
        self.loaded.then(|| {
            labels
                .into_iter()
                .map(|label| match self.seats.get(&label) {
                    Some(Slot::Sold) => SeatStatus::Sold,
                    Some(Slot::Held { deadline, .. }) if *deadline > now => SeatStatus::Held,
                    _ => SeatStatus::Available,
                })
                .collect()
        })
    }

    /// Seats held right now.
    pub fn held_seats(&self, now: UnixMillis) -> usize {
        self.seats
            .values()
            .filter(|slot| matches!(slot, Slot::Held { deadline, .. } if *deadline > now))
            .count()
    }

    /// Clients with seats counted against them (for tests of the tally's bound).
    #[cfg(test)]
    pub fn clients_remembered(&self) -> usize {
        self.clients.len()
    }

    /// Seats cooling down, per user or client (for tests of the set's bound).
    #[cfg(test)]
    pub fn cooldowns_remembered(&self) -> usize {
        self.cooldowns.len()
    }

    /// Hold records kept (live, lapsed or ended within their retention).
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.holds.len()
    }

    /// The holds counted against `user`'s cap (for tests of the cap's cost).
    #[cfg(test)]
    pub(crate) fn counted_holds(&self, user: UserId) -> usize {
        self.live_by_user.get(&user).map_or(0, HashSet::len)
    }

    fn taken(&self, seat: &SeatLabel, now: UnixMillis) -> bool {
        match self.seats.get(seat) {
            Some(Slot::Sold) => true,
            Some(Slot::Held { deadline, .. }) => *deadline > now,
            None => false,
        }
    }

    /// Whether `seat` is held by `token` right now.
    fn carries(&self, seat: &SeatLabel, token: HoldToken, now: UnixMillis) -> bool {
        matches!(self.seats.get(seat), Some(Slot::Held { token: t, deadline }) if *t == token && *deadline > now)
    }

    fn seats_held_by(&self, user: UserId, now: UnixMillis) -> usize {
        self.live_by_user.get(&user).map_or(0, |tokens| {
            tokens
                .iter()
                .filter_map(|t| self.holds.get(t))
                .filter(|h| h.deadline > now)
                .map(|h| h.seats.len())
                .sum()
        })
    }

    /// The hold, if `user` may act on it now: known, theirs, not sold or released, intact.
    fn live(&self, token: HoldToken, user: UserId, now: UnixMillis) -> Result<&Hold, HoldRefusal> {
        let hold = self.holds.get(&token).ok_or(HoldRefusal::Unknown)?;
        if hold.user != user {
            return Err(HoldRefusal::NotOwner);
        }
        match hold.phase {
            Phase::Sold => Err(HoldRefusal::Sold),
            Phase::Released => Err(HoldRefusal::Released),
            Phase::Held | Phase::Purchasing
                if hold.seats.iter().all(|s| self.carries(s, token, now)) =>
            {
                Ok(hold)
            }
            Phase::Held | Phase::Purchasing => Err(HoldRefusal::Expired),
        }
    }

    fn set_deadline(&mut self, token: HoldToken, deadline: UnixMillis) {
        let Some(hold) = self.holds.get_mut(&token) else {
            return;
        };
        self.deadlines.remove(&(hold.deadline, token));
        self.deadlines.insert((deadline, token));
        hold.deadline = deadline;
        for seat in &hold.seats {
            self.seats
                .insert(seat.clone(), Slot::Held { token, deadline });
        }
    }

    /// Marks seats sold; reports those that were not sold before.
    fn sell(&mut self, seats: &[SeatLabel]) -> Vec<Change> {
        let newly: Vec<SeatLabel> = seats
            .iter()
            .filter(|s| self.seats.insert((*s).clone(), Slot::Sold) != Some(Slot::Sold))
            .cloned()
            .collect();
        self.changes(&newly, ChangeReason::Sold)
    }

    /// One change per seat, each with the next version.
    fn changes(&mut self, seats: &[SeatLabel], reason: ChangeReason) -> Vec<Change> {
        seats
            .iter()
            .map(|label| {
                if let Some(best) = &mut self.best {
                    best.note(label, reason);
                }
                self.version += 1;
                Change {
                    label: label.clone(),
                    reason,
                    version: self.version,
                }
            })
            .collect()
    }
}
