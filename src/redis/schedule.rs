//! Which events have live holds, and when each is next due for a sweep. The listener fills it
//! (RESERVED changes, `expired` notifications, a SCAN at every connection) and the sweeper drains
//! it; once the listener has scanned Redis it also answers "which events have holds" without
//! another scan (for the seats-held gauge and for releasing a deleted user's holds).

use crate::domain::{EventId, UnixMillis};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Next sweep time per event with live holds.
#[derive(Default)]
pub struct Schedule {
    next: Mutex<HashMap<EventId, UnixMillis>>,
    pub(super) complete: AtomicBool,
}

impl Schedule {
    /// The events with live holds, if the listener is up and has scanned Redis.
    pub(super) fn events(&self) -> Option<Vec<EventId>> {
        if !self.complete.load(Ordering::Acquire) {
            return None;
        }
        let next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        Some(next.keys().copied().collect())
    }

    /// Makes sure the event is swept no later than `at`.
    pub(super) fn note(&self, event: EventId, at: UnixMillis) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let entry = next.entry(event).or_insert(at);
        *entry = (*entry).min(at);
    }

    pub(super) fn due(&self, now: UnixMillis) -> Vec<EventId> {
        let next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        next.iter()
            .filter(|(_, at)| **at <= now)
            .map(|(e, _)| *e)
            .collect()
    }

    pub(super) fn set(&self, event: EventId, at: Option<UnixMillis>) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        match at {
            Some(at) => {
                next.insert(event, at);
            }
            None => {
                next.remove(&event);
            }
        }
    }
}
