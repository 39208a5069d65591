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
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

pub struct FeedService {
    maps: Arc<SeatMaps>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone)]
pub enum FeedItem {
    /// Every seat's status: first, and again after every resync.
    Snapshot(Snapshot),
    /// Consecutive batches: all those the board published since the watcher last read, up to
    /// [`MERGED_UPDATES`] changes. A watcher that reads slower than the board publishes (or a
    /// busy server) gets fewer, larger messages instead of falling behind.
    Changes(Vec<Arc<Batch>>),
}

/// The most changes one [`FeedItem::Changes`] gathers from several batches.
pub const MERGED_UPDATES: usize = 4_096;

/// One watcher's position in the feed of one event.
pub struct Watch {
    board: Arc<Board>,
    updates: broadcast::Receiver<BoardMessage>,
    version: u64,
    first: Option<Snapshot>,
    /// The buffer lapsed or the board was rebuilt while batches were being gathered.
    resync: bool,
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
            resync: false,
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
        if std::mem::take(&mut self.resync) {
            return Ok(Some(self.resynced()));
        }
        let first = loop {
            match self.updates.recv().await {
                Ok(BoardMessage::Batch(batch)) if batch.to_version <= self.version => continue,
                Ok(BoardMessage::Batch(batch)) => break batch,
                Ok(BoardMessage::Resync) | Err(RecvError::Lagged(_)) => {
                    return Ok(Some(self.resynced()));
                }
                Err(RecvError::Closed) => return Ok(None),
            }
        };
        let mut changes = first.updates.len();
        self.version = first.to_version;
        let mut batches = vec![first];
        while changes < MERGED_UPDATES {
            match self.updates.try_recv() {
                Ok(BoardMessage::Batch(batch)) if batch.to_version <= self.version => {}
                Ok(BoardMessage::Batch(batch)) => {
                    changes += batch.updates.len();
                    self.version = batch.to_version;
                    batches.push(batch);
                }
                Ok(BoardMessage::Resync) | Err(TryRecvError::Lagged(_)) => {
                    self.resync = true;
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.metrics.changes_sent(changes);
        Ok(Some(FeedItem::Changes(batches)))
    }

    fn resynced(&mut self) -> FeedItem {
        let snapshot = self.board.snapshot();
        self.version = snapshot.version;
        self.metrics.resynced();
        tracing::debug!(event = %self.board.seats.event.id, version = snapshot.version, "watcher resynced");
        FeedItem::Snapshot(snapshot)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.metrics.watcher_left();
    }
}
