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

pub mod api;
pub mod clock;
pub mod codec;
pub mod config;
pub mod domain;
pub mod hub;
pub mod memory;
pub mod ports;
pub mod proto;
pub mod redis;
pub mod service;
pub mod sql;
pub mod startup;
pub mod telemetry;
