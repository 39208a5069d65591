//! Seat maps served from memory. Every instance already receives every change of every event
//! through the feed (with versions), so it keeps, per event being read or watched, an exact copy
//! of the statuses: a [`Board`]. A read costs no Redis or database call; a watcher gets the
//! statuses once and then batches of changes, one batch per window for all watchers.
//!
//! How a board stays exact: it subscribes to the event's changes *before* reading the store, then
//! applies only changes above the version it read, in version order. A missing version, a lagged
//! subscription or a lost feed connection makes it read the store again (and its watchers
//! resync). A read on this instance never sees a state older than this instance's own last change:
//! every Reserve, Release and Purchase returns the event's version after it, and a read waits
//! (briefly) for the board to reach it, else reads the store.
//!
//! A board nobody has read or watched for a minute goes away.

mod board;
mod page;

pub use board::{AreaCount, Batch, Board, BoardMessage, Snapshot};
pub use page::{SeatPage, SeatQuery};

use super::sold::SoldSeats;
use super::{Catalog, EventSeats, ServiceResult};
use crate::domain::{EventId, SeatChange};
use crate::hub::{FeedMessage, Hub, Subscription};
use crate::ports::{HoldStore, SeatSnapshot};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// Changes that arrive within this window after the first travel as one batch.
const BATCH_WINDOW: Duration = Duration::from_millis(25);
/// The most changes in one batch.
const MAX_BATCH: usize = 4_096;
/// How long a read waits for the board to reach this instance's last change.
const CATCH_UP: Duration = Duration::from_millis(500);
/// A board unused this long (and unwatched) goes away.
const IDLE: Duration = Duration::from_secs(60);
/// Batches a slow watcher may fall behind by before it is resynced.
const BATCHES_BUFFERED: usize = 256;

type Registry = Mutex<HashMap<EventId, Arc<OnceCell<Arc<Board>>>>>;

pub struct SeatMaps {
    catalog: Arc<Catalog>,
    holds: Arc<dyn HoldStore>,
    sold: Arc<SoldSeats>,
    hub: Arc<Hub>,
    boards: Arc<Registry>,
    /// The latest version this instance's own changes gave each event.
    produced: Mutex<HashMap<EventId, u64>>,
    buffered: usize,
    stop: watch::Receiver<bool>,
}

impl SeatMaps {
    pub fn new(
        catalog: Arc<Catalog>,
        holds: Arc<dyn HoldStore>,
        sold: Arc<SoldSeats>,
        hub: Arc<Hub>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            catalog,
            holds,
            sold,
            hub,
            boards: Arc::default(),
            produced: Mutex::default(),
            buffered: BATCHES_BUFFERED,
            stop,
        }
    }

    /// Boards that keep only `batches` batches for slow watchers (tests of the resync).
    #[cfg(test)]
    pub fn buffering(mut self, batches: usize) -> Self {
        self.buffered = batches;
        self
    }

    /// Records that a change made here brought `event` to `version`.
    pub fn produced(&self, event: EventId, version: u64) {
        let mut produced = self.produced.lock().unwrap_or_else(|p| p.into_inner());
        let seen = produced.entry(event).or_default();
        *seen = (*seen).max(version);
    }

    /// The event's layout and seats; NOT_FOUND for an unknown event.
    pub async fn seats(&self, event: EventId) -> ServiceResult<Arc<EventSeats>> {
        self.catalog.event_seats(event).await
    }

    /// The event's board; NOT_FOUND for an unknown event (which leaves nothing behind).
    pub async fn board(&self, event: EventId) -> ServiceResult<Arc<Board>> {
        let seats = self.catalog.event_seats(event).await?;
        let cell = self
            .boards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(event)
            .or_default()
            .clone();
        let result = cell.get_or_try_init(|| self.open(seats)).await.cloned();
        if result.is_err() {
            let mut boards = self.boards.lock().unwrap_or_else(|p| p.into_inner());
            if boards.get(&event).is_some_and(|c| c.get().is_none()) {
                boards.remove(&event);
            }
        }
        result
    }

    /// The event's statuses, no older than this instance's own last change.
    pub async fn current(&self, event: EventId) -> ServiceResult<(Arc<Board>, Snapshot)> {
        let board = self.board(event).await?;
        let produced = self
            .produced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&event)
            .copied()
            .unwrap_or(0);
        if !board.caught_up(produced, CATCH_UP).await {
            tracing::debug!(%event, produced, "seat map behind this instance's change; reloading");
            board.replace(load(&self.sold, &self.holds, &board.seats).await?);
        }
        let snapshot = board.snapshot();
        Ok((board, snapshot))
    }

    /// Subscribes, then reads the store, then starts the board's task.
    async fn open(&self, seats: Arc<EventSeats>) -> ServiceResult<Arc<Board>> {
        let event = seats.event.id;
        let changes = self.hub.subscribe(event);
        let snapshot = load(&self.sold, &self.holds, &seats).await?;
        let board = Arc::new(Board::new(seats, snapshot, self.buffered));
        tokio::spawn(follow(
            board.clone(),
            changes,
            Source {
                sold: self.sold.clone(),
                holds: self.holds.clone(),
            },
            self.boards.clone(),
            self.stop.clone(),
        ));
        Ok(board)
    }
}

/// Where a board reloads from.
struct Source {
    sold: Arc<SoldSeats>,
    holds: Arc<dyn HoldStore>,
}

async fn load(
    sold: &SoldSeats,
    holds: &Arc<dyn HoldStore>,
    seats: &EventSeats,
) -> ServiceResult<SeatSnapshot> {
    let event = seats.event.id;
    sold.with_loaded(seats, || holds.snapshot(event, seats.layout()))
        .await
}

/// A board's task: gathers the event's changes into windows, applies and publishes each as one
/// batch, reloads on a gap, and retires the board when it has been idle.
async fn follow(
    board: Arc<Board>,
    mut changes: Subscription,
    source: Source,
    boards: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    let event = board.seats.event.id;
    let mut idle_check = tokio::time::interval(IDLE / 4);
    idle_check.tick().await;
    let mut window: Vec<SeatChange> = Vec::new();
    loop {
        let first = tokio::select! {
            message = changes.recv() => message,
            _ = idle_check.tick() => {
                if board.idle(IDLE) && retire(&boards, &board) {
                    return;
                }
                continue;
            }
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let mut reload = false;
        match first {
            Ok(FeedMessage::Change(change)) => window.push(change),
            Ok(FeedMessage::Resync) | Err(RecvError::Lagged(_)) => reload = true,
            Err(RecvError::Closed) => return,
        }
        let closes = tokio::time::Instant::now() + BATCH_WINDOW;
        while !reload && !window.is_empty() && window.len() < MAX_BATCH {
            tokio::select! {
                message = changes.recv() => match message {
                    Ok(FeedMessage::Change(change)) => window.push(change),
                    Ok(FeedMessage::Resync) | Err(RecvError::Lagged(_)) => reload = true,
                    Err(RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(closes) => break,
            }
        }
        if board.apply(&window).is_err() {
            reload = true;
        }
        window.clear();
        if reload {
            reload_board(&board, &source, &mut stop).await;
        }
        tracing::trace!(%event, "batch applied");
    }
}

/// Reads the store again, retrying while it is unreachable.
async fn reload_board(board: &Board, source: &Source, stop: &mut watch::Receiver<bool>) {
    let mut wait = Duration::from_millis(100);
    loop {
        match load(&source.sold, &source.holds, &board.seats).await {
            Ok(snapshot) => return board.replace(snapshot),
            Err(err) => {
                tracing::warn!(event = %board.seats.event.id, error = %err, "seat map reload failed; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Takes an idle board out of the registry, unless someone is getting or holding it.
fn retire(boards: &Registry, board: &Arc<Board>) -> bool {
    let mut boards = boards.lock().unwrap_or_else(|p| p.into_inner());
    let event = board.seats.event.id;
    // Only the registry holds the cell and only the registry and this task hold the board: under
    // the registry's lock, nobody can be between the two.
    let unused = boards
        .get(&event)
        .is_some_and(|cell| Arc::strong_count(cell) == 1)
        && Arc::strong_count(board) == 2;
    if unused {
        boards.remove(&event);
    }
    unused
}
