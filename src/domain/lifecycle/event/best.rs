//! Best available in process: which seats are taken, by layout index, kept by every change the
//! event makes (as `redis/lua/prelude.lua`'s `publish` keeps the Redis bitmap), and the choice of
//! `domain::best` made and held under the store's one lock.

use super::EventHolds;
use crate::domain::best::{Choice, PlanRow};
use crate::domain::lifecycle::{BestOutcome, Change, HoldTerms};
use crate::domain::{ChangeReason, HoldToken, Layout, SeatLabel, UnixMillis, UserId};
use std::collections::HashSet;
use std::sync::Arc;

/// The event's seats by layout index: taken (held or sold) or not. A lapsed hold's seats stay
/// taken here until the expiry pass reports them, as on the feed.
#[derive(Debug)]
pub(super) struct TakenSeats {
    layout: Arc<Layout>,
    taken: Vec<bool>,
}

impl TakenSeats {
    pub(super) fn note(&mut self, label: &SeatLabel, reason: ChangeReason) {
        if let Some(slot) = self
            .layout
            .find(label)
            .and_then(|i| self.taken.get_mut(i as usize))
        {
            *slot = matches!(reason, ChangeReason::Reserved | ChangeReason::Sold);
        }
    }
}

impl EventHolds {
    /// Indexes the taken seats of `layout`; best-available holds need it first.
    pub fn prepare_best(&mut self, layout: Arc<Layout>, now: UnixMillis) {
        if self.best.is_some() {
            return;
        }
        let taken = layout.labels().map(|l| self.taken(&l, now)).collect();
        self.best = Some(TakenSeats { layout, taken });
    }

    /// Chooses `count` seats from `plan` (as `choice` says) and holds them for `user`, as one
    /// step.
    #[allow(clippy::too_many_arguments)]
    pub fn hold_best(
        &mut self,
        token: HoldToken,
        user: UserId,
        plan: &[PlanRow],
        choice: Choice,
        count: usize,
        terms: &HoldTerms,
        now: UnixMillis,
    ) -> (BestOutcome, Vec<Change>) {
        if !self.loaded {
            return (BestOutcome::NotLoaded, Vec::new());
        }
        let Some(best) = &self.best else {
            return (BestOutcome::NotPrepared, Vec::new());
        };
        let cooling: HashSet<u32> = match &terms.cooldown {
            Some(cooldown) => self
                .cooldowns
                .cooling_for(user, cooldown.client, now)
                .iter()
                .filter_map(|label| best.layout.find(label))
                .collect(),
            None => HashSet::new(),
        };
        let free = |i: u32| !best.taken[i as usize] && !cooling.contains(&i);
        let Some(chosen) = choice.choose(plan, count, free) else {
            return (BestOutcome::NotEnough, Vec::new());
        };
        let seats: Vec<SeatLabel> = chosen
            .iter()
            .filter_map(|i| best.layout.label(*i))
            .collect();
        let (outcome, changes) = self.hold(token, user, &seats, terms, now);
        (BestOutcome::Chosen { seats, outcome }, changes)
    }
}
