//! WatchSeats: every seat's status at a version, then the changes in batches, with no gap and no
//! duplicate between them. A watcher follows its event's [`Board`] (`maps/`): the snapshot and
//! the subscription to the board's batches are taken together, and a watcher that falls behind
//! the board's buffer, or whose board was rebuilt, takes a fresh snapshot instead of blocking
//! anyone or buffering without bound.
//!
//! Nothing is kept for an event until it is known to exist: an id made up by a caller costs one
//! catalog lookup and leaves nothing behind.

use super::ServiceResult;
use super::maps::{Batch, Board, BoardMessage, SeatMaps, Snapshot};
use crate::domain::EventId;
use crate::telemetry::Metrics;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

pub struct FeedService {
    maps: Arc<SeatMaps>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone)]
pub enum FeedItem {
    /// Every seat's status: first, and again after every resync.
    Snapshot(Snapshot),
    Changes(Arc<Batch>),
}

/// One watcher's position in the feed of one event.
pub struct Watch {
    board: Arc<Board>,
    updates: broadcast::Receiver<BoardMessage>,
    version: u64,
    first: Option<Snapshot>,
    metrics: Arc<Metrics>,
}

impl FeedService {
    pub fn new(maps: Arc<SeatMaps>, metrics: Arc<Metrics>) -> Self {
        Self { maps, metrics }
    }

    /// Starts watching; NOT_FOUND for an unknown event.
    pub async fn watch(&self, event: EventId) -> ServiceResult<Watch> {
        let (board, _) = self.maps.current(event).await?;
        let (snapshot, updates) = board.watch();
        self.metrics.watcher_joined();
        Ok(Watch {
            board,
            updates,
            version: snapshot.version,
            first: Some(snapshot),
            metrics: self.metrics.clone(),
        })
    }
}

impl Watch {
    /// The event's layout and seat ids.
    pub fn seats(&self) -> &super::EventSeats {
        &self.board.seats
    }

    /// The next item; `None` when the feed ends (the server is stopping).
    pub async fn next(&mut self) -> ServiceResult<Option<FeedItem>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(FeedItem::Snapshot(first)));
        }
        loop {
            match self.updates.recv().await {
                Ok(BoardMessage::Batch(batch)) => {
                    if batch.to_version <= self.version {
                        continue;
                    }
                    self.version = batch.to_version;
                    self.metrics.changes_sent(batch.updates.len());
                    return Ok(Some(FeedItem::Changes(batch)));
                }
                Ok(BoardMessage::Resync) | Err(RecvError::Lagged(_)) => {
                    let snapshot = self.board.snapshot();
                    self.version = snapshot.version;
                    self.metrics.resynced();
                    tracing::debug!(event = %self.board.seats.event.id, version = snapshot.version, "watcher resynced");
                    return Ok(Some(FeedItem::Snapshot(snapshot)));
                }
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.metrics.watcher_left();
    }
}
