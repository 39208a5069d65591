//! SeatRush: a gRPC booking engine for high-demand events. Seats are held for a short time, sold
//! in one database statement that cannot outlive its hold, and never sold twice.
//!
//! The public API is small: [`startup::Application`] (build, bind, serve until stopped),
//! [`config::Settings`], [`telemetry::init`] for the process, the generated contract in
//! [`proto`], and the [`clock`] seam. The storage adapters are reachable as a library only
//! through `internals`, behind the `internals` feature (the load generator, the contract suite and
//! the fuzz targets).
//!
//! # Layout
//! - `api/`: the only code that knows tonic and protobuf: one file per gRPC service, `watch.rs`
//!   (the WatchSeats stream), `protocol.rs` (client mistakes at the HTTP/2 level), `observe.rs`
//!   (span, metrics and failure log of every call), `status.rs` (the one `ServiceError` to
//!   `Status` mapping), `auth.rs`, `shed.rs` (load shedding).
//! - `service/`: the rules, backend-agnostic: accounts and sessions (with the bounded hashing
//!   queue and the per-email login throttle), inventory and the catalog,
//!   booking (`booking/`: reserve, release, extend, seat map; `purchase.rs`), the feed, records
//!   (a user's own reservations and tickets, an event's sales), and the sales reconciler
//!   (`reconcile.rs`: the hold store told of every sale in the database).
//! - `ports/`: the traits the services need: accounts, inventory, tickets, holds.
//! - `domain/`: parsed types known to every layer, the packed seat statuses, and
//!   `lifecycle/`, the hold lifecycle as pure code with an explicit `now`.
//! - `sql/`: SeaORM adapter (PostgreSQL and SQLite): accounts, events, seats, the fenced tickets.
//! - `redis/`: Redis adapter for holds: key layout, Lua scripts behind one prelude, the listener
//!   and the sweeper of the live feed, one Redis or a Cluster.
//! - `memory/`: in-process holds: the lifecycle under one lock and one expiry task.
//! - `hub.rs`: in-process fan-out of seat changes to watchers.
//! - `startup.rs` and `startup/`: wiring, and the gRPC listener: our accept loop
//!   (`listener.rs`), connection caps (`limits.rs`), TLS with a reloadable certificate (`tls.rs`);
//!   the side listeners on one small HTTP/1.1 server (`http1.rs`): metrics and the seat-map page
//!   (`page.rs`, which embeds `web/dist/`).
//! - `config.rs`, `telemetry/`, `clock.rs`, `codec.rs`: settings, logs/traces/metrics, time, and
//!   the protobuf codec with small per-stream buffers.
//! - `faults.rs`: the fault points where tests make the process crash (compiled in only with the
//!   `fault-points` feature).
//!
//! The arrows point inwards: `api → service → ports ← sql / redis / memory`, and `domain` is
//! known by all and knows none of them.

mod api;
pub mod clock;
mod codec;
pub mod config;
mod domain;
mod faults;
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
    /// The edge's parsers as functions of bytes, for the cargo-fuzz targets in `fuzz/`.
    pub mod fuzzing {
        pub use crate::api::fuzzing::*;
    }
    pub use crate::hub::{FeedMessage, Hub, Subscription};
    pub use crate::memory::MemoryHolds;
    pub use crate::redis::RedisHolds;
    pub use crate::sql::SqlStore;
    pub use crate::telemetry::Metrics;
}
