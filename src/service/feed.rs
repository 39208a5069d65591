//! WatchSeats: a snapshot, then every change, with no gap and no duplicate between them.
//!
//! The watcher subscribes to the event's changes *before* taking the snapshot, then skips every
//! change whose version the snapshot already reflects. When it falls too far behind (the hub's
//! buffer overflowed) or the change source lost messages (Redis listener reconnected), it takes a
//! fresh snapshot instead of blocking anyone or buffering without bound.
//!
//! Nothing is kept for an event until it is known to exist: an id made up by a caller costs one
//! catalog lookup and leaves nothing behind.

use super::{BookingService, EventSeats, SeatMap, ServiceResult};
use crate::domain::{EventId, SeatChange};
use crate::hub::{FeedMessage, Hub, Subscription};
use crate::ports::SeatRecord;
use crate::telemetry::Metrics;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub struct FeedService {
    booking: Arc<BookingService>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
}

#[derive(Clone)]
pub enum FeedItem {
    /// The whole seat map: first, and again after every resync.
    Snapshot(SeatMap),
    Change {
        seat: SeatRecord,
        change: SeatChange,
    },
}

/// One watcher's position in the feed of one event.
pub struct Watch {
    booking: Arc<BookingService>,
    event: EventId,
    layout: Arc<EventSeats>,
    changes: Subscription,
    version: u64,
    first: Option<SeatMap>,
    metrics: Arc<Metrics>,
}

impl FeedService {
    pub fn new(booking: Arc<BookingService>, hub: Arc<Hub>, metrics: Arc<Metrics>) -> Self {
        Self {
            booking,
            hub,
            metrics,
        }
    }

    /// Starts watching; NOT_FOUND for an unknown event.
    pub async fn watch(&self, event: EventId) -> ServiceResult<Watch> {
        let layout = self.booking.layout(event).await?;
        let changes = self.hub.subscribe(event);
        let map = self.booking.seat_map(event).await?;
        self.metrics.watcher_joined();
        Ok(Watch {
            booking: self.booking.clone(),
            event,
            layout,
            changes,
            version: map.version,
            first: Some(map),
            metrics: self.metrics.clone(),
        })
    }
}

impl Watch {
    /// The next item; `None` when the feed ends (the server is stopping).
    pub async fn next(&mut self) -> ServiceResult<Option<FeedItem>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(FeedItem::Snapshot(first)));
        }
        loop {
            match self.changes.recv().await {
                Ok(FeedMessage::Change(change)) => {
                    if change.version <= self.version {
                        continue;
                    }
                    self.version = change.version;
                    if let Some(seat) = self.layout.find(&change.label) {
                        self.metrics.changes_sent(1);
                        return Ok(Some(FeedItem::Change {
                            seat: seat.clone(),
                            change,
                        }));
                    }
                }
                Ok(FeedMessage::Resync) | Err(RecvError::Lagged(_)) => {
                    return self.resync().await.map(Some);
                }
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    async fn resync(&mut self) -> ServiceResult<FeedItem> {
        let map = self.booking.seat_map(self.event).await?;
        self.version = map.version;
        self.metrics.resynced();
        tracing::debug!(event = %self.event, version = map.version, "watcher resynced");
        Ok(FeedItem::Snapshot(map))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.metrics.watcher_left();
    }
}
