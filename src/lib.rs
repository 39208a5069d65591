//! SeatRush: a gRPC booking engine for high-demand events. Seats are held for a short time, sold
//! in one database statement that cannot outlive its hold, and never sold twice.
//!
//! # Layout
//! - [`api`]: tonic handlers, one per gRPC service; the only code that knows protobuf and
//!   `tonic::Status` (the error mapping is in `api/status.rs`).
//! - [`service`]: the booking rules, written once, backend-agnostic.
//! - [`ports`]: the storage traits the services need.
//! - [`domain`]: parsed types (ids, seat labels, hold lengths) known to every layer.
//! - [`sql`]: SeaORM adapter (PostgreSQL and SQLite) for accounts, events, seats, tickets.
//! - [`redis`]: Redis adapter for holds (Lua scripts, Cluster-ready key layout).
//! - [`memory`]: in-process adapter for holds, the embedded default.
//! - [`config`], [`telemetry`], [`startup`]: settings, logging, and wiring it all together;
//!   [`codec`]: the protobuf codec with small per-stream buffers.
//!
//! The arrows point inwards: `api → service → ports ← sql / redis / memory`, and `domain` is
//! known by all and knows none of them.

mod api;
pub mod clock;
mod codec;
pub mod config;
mod domain;
mod hub;
mod memory;
mod ports;
pub mod proto;
mod redis;
mod service;
mod sql;
pub mod startup;
pub mod telemetry;

pub use service::Hooks;

/// The storage adapters and the types they speak, for the load generator's raw baselines and the
/// `HoldStore` contract suite, which drive the adapters without gRPC. Not a stable API: compiled
/// only with the `internals` feature (`seatrush-bench` and the tests turn it on).
#[cfg(feature = "internals")]
pub mod internals {
    pub mod domain {
        pub use crate::domain::*;
    }
    pub mod ports {
        pub use crate::ports::*;
    }
    pub use crate::hub::{FeedMessage, Hub, Subscription};
    pub use crate::memory::MemoryHolds;
    pub use crate::redis::RedisHolds;
    pub use crate::sql::SqlStore;
    pub use crate::telemetry::Metrics;
}
