//! One module per scenario; `main.rs` runs them.

pub mod best;
pub mod expiry;
pub mod hot_seat;
pub mod login_flood;
pub mod mixed;
pub mod purchase;
pub mod reserve;
pub mod seat_map;
pub mod stadium;
pub mod standing;
pub mod telemetry;
pub mod watch;
