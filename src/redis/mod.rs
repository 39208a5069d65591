//! The Redis adapter: seat holds as keys with a TTL, every change a Lua script (one round trip,
//! atomic, compare-and-set on the hold's token), all through one multiplexed connection that
//! reconnects by itself.
//!
//! # Key layout
//! Every key of an event carries the event id as a hash tag, `{prefix}:{<event>}:…`, so all keys
//! one script touches live in one Redis Cluster slot:
//! - `…:s:<label>`: a seat; the hold token while held (with a PX TTL), `sold` once sold (no TTL);
//! - `…:r:<token>`: a reservation hash (`u` user, `p` phase, `d` deadline ms, `c` created ms,
//!   `s` labels), kept for the retention period after it ends;
//! - `…:u:<user>`: a sorted set of the seats a user holds, scored by deadline (anti-hoarding);
//! - `…:loaded`: set once the event's sold seats have been copied from the database;
//! - `…:v`: the version of the event's last seat change;
//! - `…:d`: a sorted set of the event's live holds (token scored by deadline), which the sweeper
//!   uses to expire holds on time;
//! - `…:x`, `…:b` and `…:f`: best available's row index (label prefix -> layout index of the
//!   row's seat 1), bitmap of taken seats by layout index and free seats per row, built once by
//!   `prepare_best.lua` and kept by every published change (`note_taken` in the prelude); about
//!   one bit per seat and two hash fields per row; `…:k`: the ranks set at creation, 4 bytes per
//!   seat (only for events that set them).
//!
//! Seat changes are published by the scripts themselves, atomically with the change and with its
//! version, on the channel `{prefix}:feed`.
//!
//! The adapter runs on one Redis or on a Redis Cluster (`connection.rs`).
//!
//! # Files
//! - `holds.rs`: [`RedisHolds`], the `HoldStore`: one script call per operation;
//! - `best.rs`: best available (`hold_best`, `prepare_best`);
//! - `lookups.rs`: a user's own live holds, one by id or all of them, for the owner's lists;
//! - `scripts.rs` and `lua/`: the scripts, each behind `lua/prelude.lua`, the lifecycle's checks;
//! - `feed.rs`: starts the listener and the sweeper of an instance;
//! - `listener.rs`: pub/sub into the in-process hub; `wire.rs`: the change message format;
//! - `sweeper.rs` and `schedule.rs`: holds expired on time; `notifications.rs`: `expired` events;
//! - `keys.rs`: the key layout above; `connection.rs`: one Redis or a Cluster.

mod best;
mod connection;
mod feed;
mod holds;
mod keys;
mod listener;
mod lookups;
mod notifications;
mod schedule;
mod scripts;
mod sweeper;
mod traced;
mod wire;

use connection::Topology;
pub use feed::FeedError;
pub use holds::RedisHolds;
use keys::KeyLayout;

use crate::domain::EventId;
use crate::ports::StoreError;
use redis::RedisError;

/// Every event with live holds: a SCAN of the deadline sets, on every primary.
async fn events_with_holds(
    topology: &Topology,
    keys: &KeyLayout,
) -> redis::RedisResult<std::collections::HashSet<EventId>> {
    use redis::AsyncCommands;
    use tokio_stream::StreamExt;
    let mut events = std::collections::HashSet::new();
    for node in topology.primaries().await? {
        let mut conn = node.get_multiplexed_async_connection().await?;
        let options = redis::ScanOptions::default()
            .with_pattern(keys.deadlines_pattern())
            .with_count(1000);
        let mut found = conn.scan_options::<String>(options).await?;
        while let Some(key) = found.next().await {
            events.extend(keys.event_of(&key?));
        }
    }
    Ok(events)
}

fn store_error(err: RedisError) -> StoreError {
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_timeout()
        || err.is_connection_dropped()
    {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Internal(Box::new(err))
    }
}
