//! Seat changes as the live feed carries them. Every change of an event has a version, one higher
//! than the previous change of that event, assigned atomically with the change itself; a snapshot
//! carries the version it reflects. A watcher applies a change only if its version is above the
//! snapshot's, which is how the feed has no gap and no duplicate between snapshot and changes.

use super::{EventId, SeatLabel, SeatStatus, UnixMillis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeReason {
    Reserved,
    Released,
    Expired,
    Sold,
}

impl ChangeReason {
    /// The status a seat has after a change for this reason.
    pub fn status(self) -> SeatStatus {
        match self {
            Self::Reserved => SeatStatus::Held,
            Self::Released | Self::Expired => SeatStatus::Available,
            Self::Sold => SeatStatus::Sold,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatChange {
    pub event: EventId,
    pub label: SeatLabel,
    pub reason: ChangeReason,
    pub version: u64,
    pub at: UnixMillis,
}
