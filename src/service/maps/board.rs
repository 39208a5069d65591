//! [`Board`]: one event's seat statuses at a version, in this instance's memory, and the batches
//! of changes that keep it current. Watchers read it and follow its batches; seat-map reads copy
//! nothing but a reference to its packed bytes.

use crate::domain::{ChangeReason, SeatChange, SeatLabel, SeatStatus, SeatStatuses, UnixMillis};
use crate::ports::SeatSnapshot;
use crate::service::EventSeats;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// One changed seat.
#[derive(Debug, Clone)]
pub struct Update {
    pub index: u32,
    pub label: SeatLabel,
    pub reason: ChangeReason,
}

/// A general-admission area's free places (`area` indexes `Layout::areas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaCount {
    pub area: usize,
    pub available: u32,
}

/// The changes of one window, with consecutive versions `from_version ..= to_version`.
#[derive(Debug)]
pub struct Batch {
    pub from_version: u64,
    pub to_version: u64,
    /// Changed seats (places are reported as counts in `areas`).
    pub updates: Vec<Update>,
    /// The areas whose free places changed, with their count after the batch.
    pub areas: Vec<AreaCount>,
    /// When the first change of the batch was made.
    pub first_at: UnixMillis,
    /// The batch as the API sends it (without and with labels), made by the first watcher
    /// that sends it: every other watcher copies the bytes.
    pub wire: [std::sync::OnceLock<Bytes>; 2],
}

/// What a watcher of the board hears.
#[derive(Debug, Clone)]
pub enum BoardMessage {
    Batch(Arc<Batch>),
    /// The board was rebuilt from the store: take a fresh snapshot.
    Resync,
}

/// Every seat's status at a version, packed (see `SeatStatuses`), shared, not copied.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: u64,
    /// Seats (places of general-admission areas are not in the statuses).
    pub seat_count: u32,
    pub statuses: Bytes,
    /// Every area's free places at `version`.
    pub areas: Vec<AreaCount>,
}

struct State {
    /// Seats and places.
    statuses: SeatStatuses,
    version: u64,
    /// The packed statuses of the seats at `version`, made on the first read after a change.
    packed: Option<Bytes>,
    /// Free places per area, kept with the statuses.
    areas: Vec<u32>,
}

impl State {
    fn new(seats: &EventSeats, snapshot: SeatSnapshot) -> Self {
        let areas = seats
            .layout()
            .areas()
            .iter()
            .map(|area| {
                let first = area.rows.first().map_or(0, |r| r.first) as usize;
                let capacity = crate::domain::Layout::capacity(area) as usize;
                let free = (first..first + capacity)
                    .filter(|i| snapshot.statuses.get(*i) == SeatStatus::Available)
                    .count();
                u32::try_from(free).unwrap_or(u32::MAX)
            })
            .collect();
        Self {
            statuses: snapshot.statuses,
            version: snapshot.version,
            packed: None,
            areas,
        }
    }
}

/// The packed statuses of the first `seated` seats: places follow the seats, so they are cut off
/// the end.
fn seated_bytes(statuses: &SeatStatuses, seated: u32) -> Bytes {
    let bytes = statuses.as_bytes();
    let seated = seated as usize;
    let mut kept = bytes[..seated.div_ceil(4).min(bytes.len())].to_vec();
    if !seated.is_multiple_of(4)
        && let Some(last) = kept.last_mut()
    {
        *last &= (1u8 << (2 * (seated % 4))) - 1;
    }
    Bytes::from(kept)
}

/// A change arrived whose version is not the next one: some were lost (the board reloads).
#[derive(Debug)]
pub struct Gap;

pub struct Board {
    pub seats: Arc<EventSeats>,
    state: Mutex<State>,
    version: watch::Sender<u64>,
    updates: broadcast::Sender<BoardMessage>,
    /// When a reader last used the board, in milliseconds since `born`.
    used: AtomicU64,
    born: tokio::time::Instant,
}

impl Board {
    /// `buffered`: batches a slow watcher may fall behind by before it is resynced.
    pub(super) fn new(seats: Arc<EventSeats>, snapshot: SeatSnapshot, buffered: usize) -> Self {
        let version = watch::channel(snapshot.version).0;
        let state = Mutex::new(State::new(&seats, snapshot));
        Self {
            seats,
            version,
            state,
            updates: broadcast::channel(buffered).0,
            used: AtomicU64::new(0),
            born: tokio::time::Instant::now(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot_of(&self, state: &mut State) -> Snapshot {
        self.touch();
        let seated = self.seats.layout().seated_count();
        let statuses = state
            .packed
            .get_or_insert_with(|| seated_bytes(&state.statuses, seated))
            .clone();
        Snapshot {
            version: state.version,
            seat_count: seated,
            statuses,
            areas: state
                .areas
                .iter()
                .enumerate()
                .map(|(area, &available)| AreaCount { area, available })
                .collect(),
        }
    }

    /// The statuses now.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_of(&mut self.state())
    }

    /// The statuses now and every batch after them: no gap, no duplicate.
    pub fn watch(&self) -> (Snapshot, broadcast::Receiver<BoardMessage>) {
        let mut state = self.state();
        // Under the lock that every batch is published under.
        let updates = self.updates.subscribe();
        (self.snapshot_of(&mut state), updates)
    }

    /// Waits (up to `wait`) until the board reflects `version`; false if it did not.
    pub async fn caught_up(&self, version: u64, wait: Duration) -> bool {
        let mut current = self.version.subscribe();
        tokio::time::timeout(wait, current.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|seen| seen.is_ok())
    }

    /// Applies changes in version order and publishes them as one batch. Changes the board
    /// already reflects are skipped; a missing version stops it with [`Gap`].
    pub(super) fn apply(&self, changes: &[SeatChange]) -> Result<usize, Gap> {
        let seated = self.seats.layout().seated_count();
        let mut state = self.state();
        let mut updates = Vec::with_capacity(changes.len());
        let mut areas: Vec<usize> = Vec::new();
        let from_version = state.version + 1;
        let mut first_at = None;
        let mut gap = false;
        for change in changes {
            if change.version <= state.version {
                continue;
            }
            if change.version != state.version + 1 {
                gap = true;
                break;
            }
            state.version = change.version;
            first_at.get_or_insert(change.at);
            if let Some(index) = self.seats.find(&change.label) {
                let status = change.reason.status();
                let before = state.statuses.get(index as usize);
                state.statuses.set(index as usize, status);
                if index < seated {
                    updates.push(Update {
                        index,
                        label: change.label.clone(),
                        reason: change.reason,
                    });
                } else if let Some(area) = self.area_of(index) {
                    let free = &mut state.areas[area];
                    match (
                        before == SeatStatus::Available,
                        status == SeatStatus::Available,
                    ) {
                        (true, false) => *free = free.saturating_sub(1),
                        (false, true) => *free += 1,
                        _ => {}
                    }
                    if !areas.contains(&area) {
                        areas.push(area);
                    }
                }
            }
        }
        let to_version = state.version;
        if to_version >= from_version {
            state.packed = None;
            let sent = updates.len();
            let areas = areas
                .into_iter()
                .map(|area| AreaCount {
                    area,
                    available: state.areas[area],
                })
                .collect();
            let _ = self.updates.send(BoardMessage::Batch(Arc::new(Batch {
                from_version,
                to_version,
                updates,
                areas,
                first_at: first_at.unwrap_or_default(),
                wire: Default::default(),
            })));
            self.version.send_replace(to_version);
            if gap {
                return Err(Gap);
            }
            return Ok(sent);
        }
        if gap { Err(Gap) } else { Ok(0) }
    }

    /// Replaces the statuses with a fresh read of the store; watchers resync.
    pub(super) fn replace(&self, snapshot: SeatSnapshot) {
        let version = snapshot.version;
        let mut state = self.state();
        *state = State::new(&self.seats, snapshot);
        let _ = self.updates.send(BoardMessage::Resync);
        self.version.send_replace(version);
    }

    /// The area whose places include `index`.
    fn area_of(&self, index: u32) -> Option<usize> {
        self.seats.layout().areas().iter().position(|area| {
            let first = area.rows.first().map_or(0, |r| r.first);
            index >= first && index < first + crate::domain::Layout::capacity(area)
        })
    }

    fn touch(&self) {
        let now = self.born.elapsed().as_millis();
        self.used
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Whether nobody has used the board for `idle`, and nobody watches it.
    pub(super) fn idle(&self, idle: Duration) -> bool {
        let since = self
            .born
            .elapsed()
            .saturating_sub(Duration::from_millis(self.used.load(Ordering::Relaxed)));
        since >= idle && self.updates.receiver_count() == 0
    }
}
