//! The in-process adapter: holds kept in one map behind a mutex, expired by timers. This is the
//! embedded default, so `cargo run` needs no Redis; it follows the same rules as the Redis
//! scripts (`src/redis/`), which the same integration tests check on both.

mod holds;

pub use holds::MemoryHolds;
