//! Fault points: places where the process kills itself on purpose, so that tests can check what a
//! crash at that very step leaves behind, and that a restart repairs it.
//!
//! Compiled in only with the `fault-points` feature, which only the tests turn on (through the
//! dev-dependency on this crate, which also builds the `seatrush` binary they spawn). Without it
//! [`hit`] is an empty function and [`armed`] a constant `false`: a release build has no way to
//! reach a `kill`.
//!
//! With the feature, `SEATRUSH_FAULT` names the armed points, separated by commas, e.g.
//! `SEATRUSH_FAULT=purchase:after_commit`. It is read once, at the first point reached.

/// A step where a test may make the process die.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Purchase: the hold store has moved the hold to purchasing; nothing is written yet.
    PurchaseAfterBegin,
    /// Purchase: the tickets are committed; the hold store knows nothing of it yet.
    PurchaseAfterCommit,
    /// Purchase: about to tell the hold store that the seats are sold (also on a retry that
    /// finds the tickets already written).
    PurchaseBeforeMarkSold,
    /// Not a crash: the sales reconciler never runs, as if every instance that would run it were
    /// down (shows what the database alone guarantees).
    ReconcilerOff,
}

#[cfg(feature = "fault-points")]
impl FaultPoint {
    /// The name `SEATRUSH_FAULT` uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::PurchaseAfterBegin => "purchase:after_begin",
            Self::PurchaseAfterCommit => "purchase:after_commit",
            Self::PurchaseBeforeMarkSold => "purchase:before_mark_sold",
            Self::ReconcilerOff => "reconciler:off",
        }
    }
}

#[cfg(feature = "fault-points")]
mod armed {
    use super::FaultPoint;
    use std::sync::OnceLock;

    static ARMED: OnceLock<Vec<String>> = OnceLock::new();

    pub fn armed(point: FaultPoint) -> bool {
        ARMED
            .get_or_init(|| {
                std::env::var("SEATRUSH_FAULT")
                    .unwrap_or_default()
                    .split(',')
                    .map(|name| name.trim().to_owned())
                    .filter(|name| !name.is_empty())
                    .collect()
            })
            .iter()
            .any(|name| name == point.name())
    }

    pub fn hit(point: FaultPoint) {
        if armed(point) {
            tracing::warn!(fault = point.name(), "fault point reached: SIGKILL");
            // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so nothing after this
            // line runs (no destructor, no flush): exactly a crash.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

#[cfg(feature = "fault-points")]
pub use armed::{armed, hit};

/// Whether `point` is armed: always `false` without the `fault-points` feature.
#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub fn armed(_point: FaultPoint) -> bool {
    false
}

/// Kills the process with SIGKILL when `point` is armed: nothing without the `fault-points`
/// feature.
#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub fn hit(_point: FaultPoint) {}
