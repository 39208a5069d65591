//! In-process fan-out of seat changes: one bounded broadcast channel per watched event. Both hold
//! adapters publish into it (the in-process one directly, the Redis one from its single listener
//! connection), and every watcher of the event subscribes to it, so a thousand watchers cost one
//! Redis subscription, not a thousand.
//!
//! A watcher that falls more than [`BUFFER`] changes behind is told it lagged and resyncs from a
//! fresh snapshot: it never blocks the others and never grows memory.

use crate::domain::{EventId, SeatChange};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Changes buffered per event for the slowest watcher.
pub const BUFFER: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedMessage {
    Change(SeatChange),
    /// Changes may have been lost (the Redis listener reconnected): take a fresh snapshot.
    Resync,
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<EventId, broadcast::Sender<FeedMessage>>>,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, event: EventId) -> broadcast::Receiver<FeedMessage> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(event)
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    /// Delivers a change to the event's watchers; forgets the channel once nobody watches.
    pub fn publish(&self, change: SeatChange) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(&change.event) {
            if sender.receiver_count() == 0 {
                channels.remove(&change.event);
            } else {
                let _ = sender.send(FeedMessage::Change(change));
            }
        }
    }

    /// Tells every watcher to resync.
    pub fn resync_all(&self) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.retain(|_, sender| sender.receiver_count() > 0);
        for sender in channels.values() {
            let _ = sender.send(FeedMessage::Resync);
        }
    }
}
