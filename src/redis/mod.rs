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
//!   in `feed.rs` uses to expire holds on time.
//!
//! Seat changes are published by the scripts themselves, atomically with the change and with its
//! version, on the channel `{prefix}:feed`.
//!
//! The adapter runs on one Redis or on a Redis Cluster (`connection.rs`).

mod connection;
mod feed;
mod holds;

pub use connection::{RedisConnection, Topology};
pub use feed::{FeedError, RedisFeed};
pub use holds::RedisHolds;

use crate::domain::{EventId, ReservationId, SeatLabel, UserId};
use crate::ports::StoreError;
use redis::RedisError;

/// Builds the keys of the layout above.
#[derive(Debug, Clone)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    fn tag(&self, event: EventId) -> String {
        format!("{}:{{{}}}", self.prefix, event)
    }

    pub fn seat_prefix(&self, event: EventId) -> String {
        format!("{}:s:", self.tag(event))
    }

    pub fn seat(&self, event: EventId, label: &SeatLabel) -> String {
        format!("{}:s:{}", self.tag(event), label)
    }

    pub fn reservation(&self, reservation: ReservationId) -> String {
        format!(
            "{}:r:{}",
            self.tag(reservation.event()),
            reservation.token().to_hex()
        )
    }

    pub fn user(&self, event: EventId, user: UserId) -> String {
        format!("{}:u:{}", self.tag(event), user)
    }

    pub fn loaded(&self, event: EventId) -> String {
        format!("{}:loaded", self.tag(event))
    }

    pub fn version(&self, event: EventId) -> String {
        format!("{}:v", self.tag(event))
    }

    pub fn deadlines(&self, event: EventId) -> String {
        format!("{}:d", self.tag(event))
    }

    pub fn reservation_prefix(&self, event: EventId) -> String {
        format!("{}:r:", self.tag(event))
    }

    /// A key used once at start-up to check that expiry notifications arrive.
    pub fn probe(&self) -> String {
        format!("{}:probe:{}", self.prefix, uuid::Uuid::new_v4().simple())
    }

    /// The pub/sub channel the scripts publish seat changes on.
    pub fn channel(&self) -> String {
        format!("{}:feed", self.prefix)
    }

    /// Pattern matching every event's deadlines key, for SCAN.
    pub fn deadlines_pattern(&self) -> String {
        format!("{}:{{*}}:d", self.prefix)
    }

    /// The event of a key of this layout (`prefix:{<event>}:…`).
    pub fn event_of(&self, key: &str) -> Option<EventId> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix(":{")?;
        let (event, _) = rest.split_once('}')?;
        EventId::parse("key", event).ok()
    }
}

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
