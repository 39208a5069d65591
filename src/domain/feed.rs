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

    /// One-letter wire code used by the Redis scripts.
    pub fn code(self) -> char {
        match self {
            Self::Reserved => 'R',
            Self::Released => 'L',
            Self::Expired => 'E',
            Self::Sold => 'S',
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "R" => Self::Reserved,
            "L" => Self::Released,
            "E" => Self::Expired,
            "S" => Self::Sold,
            _ => return None,
        })
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

impl SeatChange {
    /// `event|label|reason|version|at` (the format the Redis scripts publish).
    pub fn decode(payload: &str) -> Option<Self> {
        let mut parts = payload.split('|');
        let event = EventId::parse("event", parts.next()?).ok()?;
        let label = SeatLabel::parse("label", parts.next()?).ok()?;
        let reason = ChangeReason::from_code(parts.next()?)?;
        let version = parts.next()?.parse().ok()?;
        let at = parts.next()?.parse().ok()?;
        Some(Self {
            event,
            label,
            reason,
            version,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_change_decodes() {
        let event = EventId::generate();
        let change = SeatChange::decode(&format!("{event}|A12|E|42|1700000000000")).expect("valid");
        assert_eq!(change.label.as_str(), "A12");
        assert_eq!(change.reason, ChangeReason::Expired);
        assert_eq!(change.version, 42);
        assert!(SeatChange::decode("garbage").is_none());
    }
}
