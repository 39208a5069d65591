//! In-process fan-out of seat changes: one bounded broadcast channel per watched event. Both hold
//! adapters publish into it (the in-process one directly, the Redis one from its single listener
//! connection), and every watcher of the event subscribes to it, so a thousand watchers cost one
//! Redis subscription, not a thousand.
//!
//! A channel exists only while someone watches its event: the last [`Subscription`] to go away
//! removes it, so ids named by callers leave nothing behind. A watcher that falls more than
//! [`BUFFER`] changes behind is told it lagged and resyncs from a fresh snapshot: it never blocks
//! the others and never grows memory.

use crate::domain::{EventId, SeatChange};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast::{self, error::RecvError};

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

/// One watcher's receiving end of an event's channel.
pub struct Subscription {
    hub: Arc<Hub>,
    event: EventId,
    receiver: Option<broadcast::Receiver<FeedMessage>>,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<EventId, broadcast::Sender<FeedMessage>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscribe(self: &Arc<Self>, event: EventId) -> Subscription {
        let receiver = self
            .channels()
            .entry(event)
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe();
        Subscription {
            hub: self.clone(),
            event,
            receiver: Some(receiver),
        }
    }

    /// Delivers a change to the event's watchers, if it has any.
    pub fn publish(&self, change: SeatChange) {
        if let Some(sender) = self.channels().get(&change.event) {
            let _ = sender.send(FeedMessage::Change(change));
        }
    }

    /// Tells every watcher to resync.
    pub fn resync_all(&self) {
        for sender in self.channels().values() {
            let _ = sender.send(FeedMessage::Resync);
        }
    }

    /// Events with a channel (each has at least one watcher).
    #[cfg(test)]
    pub fn watched_events(&self) -> usize {
        self.channels().len()
    }
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<FeedMessage, RecvError> {
        match &mut self.receiver {
            Some(receiver) => receiver.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.channels();
        // Dropped under the lock, so a concurrent subscribe cannot see a channel about to go.
        self.receiver.take();
        if channels
            .get(&self.event)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            channels.remove(&self.event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChangeReason, SeatLabel};

    fn change(event: EventId, version: u64) -> SeatChange {
        SeatChange {
            event,
            label: SeatLabel::parse("label", "A1").expect("label"),
            reason: ChangeReason::Reserved,
            version,
            at: 0,
        }
    }

    #[test]
    fn the_last_watcher_to_leave_removes_the_channel() {
        let hub = Arc::new(Hub::new());
        let event = EventId::generate();
        let first = hub.subscribe(event);
        let second = hub.subscribe(event);
        assert_eq!(hub.watched_events(), 1);
        drop(first);
        assert_eq!(hub.watched_events(), 1);
        drop(second);
        assert_eq!(hub.watched_events(), 0);
    }

    #[test]
    fn publishing_to_an_unwatched_event_keeps_nothing() {
        let hub = Arc::new(Hub::new());
        hub.publish(change(EventId::generate(), 1));
        assert_eq!(hub.watched_events(), 0);
    }

    #[tokio::test]
    async fn watchers_receive_changes_in_order() {
        let hub = Arc::new(Hub::new());
        let event = EventId::generate();
        let mut watcher = hub.subscribe(event);
        hub.publish(change(event, 1));
        hub.publish(change(event, 2));
        hub.resync_all();
        assert_eq!(
            watcher.recv().await,
            Ok(FeedMessage::Change(change(event, 1)))
        );
        assert_eq!(
            watcher.recv().await,
            Ok(FeedMessage::Change(change(event, 2)))
        );
        assert_eq!(watcher.recv().await, Ok(FeedMessage::Resync));
    }
}
