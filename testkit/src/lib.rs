//! What SeatRush's integration tests and its load generator (`seatrush-bench`) both need, so that
//! neither writes it twice:
//!
//! - [`postgres`]: a database of its own per run, dropped afterwards, and an outage on demand;
//! - [`redis`]: a key prefix of its own per run, deleted afterwards; Redis servers and a
//!   three-node Redis Cluster of the caller's own, killed with it;
//! - [`otlp`]: an OTLP/gRPC receiver that keeps (or only counts) what exporters send.
//!
//! The local services are found at `SEATRUSH_TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `SEATRUSH_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). When one cannot be reached, the caller fails and says which: no test
//! skips for lack of a service.

pub mod otlp;
pub mod postgres;
pub mod redis;

/// A short random name, unique enough for databases, prefixes and directories of one run.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
