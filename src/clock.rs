//! What time it is, as a seam: production reads the system clock; tests use [`TokioClock`],
//! which follows tokio's clock, so `tokio::time::pause()` and `advance()` move expiry, leases and
//! session lifetimes without sleeping.

use crate::domain::UnixMillis;
use std::fmt::Debug;

pub trait Clock: Debug + Send + Sync + 'static {
    fn now(&self) -> UnixMillis;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        crate::domain::now_millis()
    }
}

/// The wall clock when it was made, plus the time tokio has seen pass since: paused and advanced
/// with tokio's clock.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: UnixMillis,
    started: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        Self {
            origin: crate::domain::now_millis(),
            started: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> UnixMillis {
        let elapsed = self.started.elapsed().as_millis();
        self.origin + i64::try_from(elapsed).unwrap_or(i64::MAX / 4)
    }
}
