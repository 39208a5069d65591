//! WatchSeats: a snapshot, then every change, with no gap and no duplicate between them.
//!
//! The watcher subscribes to the event's changes *before* taking the snapshot, then skips every
//! change whose version the snapshot already reflects. When it falls too far behind (the hub's
//! buffer overflowed) or the change source lost messages (Redis listener reconnected), it takes a
//! fresh snapshot instead of blocking anyone or buffering without bound.

use super::{BookingService, EventSeats, SeatView, ServiceResult};
use crate::domain::{EventId, SeatChange};
use crate::hub::{FeedMessage, Hub};
use crate::ports::SeatRecord;
use crate::telemetry::Metrics;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

pub struct FeedService {
    booking: Arc<BookingService>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone)]
pub enum FeedItem {
    /// The whole seat map: first, and again after every resync.
    Snapshot { seats: Vec<SeatView>, version: u64 },
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
    changes: broadcast::Receiver<FeedMessage>,
    version: u64,
    first: Option<FeedItem>,
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
        let changes = self.hub.subscribe(event);
        let (layout, seats, version) = self.booking.snapshot(event).await?;
        self.metrics.watcher_joined();
        Ok(Watch {
            booking: self.booking.clone(),
            event,
            layout,
            changes,
            version,
            first: Some(FeedItem::Snapshot { seats, version }),
            metrics: self.metrics.clone(),
        })
    }
}

impl Watch {
    /// The next item; `None` when the feed ends (the server is stopping).
    pub async fn next(&mut self) -> ServiceResult<Option<FeedItem>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
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
        let (_, seats, version) = self.booking.snapshot(self.event).await?;
        self.version = version;
        self.metrics.resynced();
        tracing::debug!(event = %self.event, version, "watcher resynced");
        Ok(FeedItem::Snapshot { seats, version })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.metrics.watcher_left();
    }
}
