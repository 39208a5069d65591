//! What each client (network peer) took of the event lately, for [`ClientCap`]: every seat a
//! hold takes counts against its client until `held at + window`, whatever then happens to the
//! hold. Entries leave as their window closes, so the tally is bounded by the holds of one window.

use crate::domain::UnixMillis;
use crate::domain::lifecycle::ClientCap;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;

#[derive(Debug, Default)]
pub(super) struct ClientTally {
    /// Per client: (counted until, seats), oldest first (the window is fixed, so in order).
    taken: HashMap<IpAddr, VecDeque<(UnixMillis, usize)>>,
    /// When each client's entries next close, for [`ClientTally::forget`].
    due: BTreeSet<(UnixMillis, IpAddr)>,
}

impl ClientTally {
    /// Seats the client took within its window, as of `now`.
    pub(super) fn taken(&mut self, client: IpAddr, now: UnixMillis) -> usize {
        self.close(client, now);
        self.taken
            .get(&client)
            .map_or(0, |entries| entries.iter().map(|(_, n)| n).sum())
    }

    pub(super) fn add(&mut self, cap: &ClientCap, seats: usize, now: UnixMillis) {
        let until = now + crate::domain::millis(cap.window);
        self.taken
            .entry(cap.client)
            .or_default()
            .push_back((until, seats));
        self.due.insert((until, cap.client));
    }

    /// Drops the entries whose window closed.
    pub(super) fn forget(&mut self, now: UnixMillis) {
        while let Some(&(until, client)) = self.due.first() {
            if until > now {
                break;
            }
            self.due.pop_first();
            self.close(client, now);
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.taken.len()
    }

    pub(super) fn next_due(&self) -> Option<UnixMillis> {
        self.due.first().map(|(at, _)| *at)
    }

    fn close(&mut self, client: IpAddr, now: UnixMillis) {
        let Some(entries) = self.taken.get_mut(&client) else {
            return;
        };
        while entries.front().is_some_and(|(until, _)| *until <= now) {
            entries.pop_front();
        }
        if entries.is_empty() {
            self.taken.remove(&client);
        }
    }
}
