//! The key layout of the adapter (see the module documentation of `redis`).

use crate::domain::{EventId, ReservationId, SeatLabel, UserId};
use std::net::IpAddr;

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

    /// Seats a client took of the event lately; `None`: a key no hold ever writes.
    pub fn client(&self, event: EventId, client: Option<IpAddr>) -> String {
        match client {
            Some(ip) => format!("{}:c:{}", self.tag(event), ip),
            None => format!("{}:c:", self.tag(event)),
        }
    }

    /// Where the cool-down zsets of the event live: `u:<user>` and `c:<client>` follow (the
    /// scripts build these names too, from the user and client a hold records).
    pub fn cooldown_prefix(&self, event: EventId) -> String {
        format!("{}:g:", self.tag(event))
    }

    pub fn user_cooldown(&self, event: EventId, user: UserId) -> String {
        format!("{}u:{}", self.cooldown_prefix(event), user)
    }

    /// `None`: a key no hold ever writes.
    pub fn client_cooldown(&self, event: EventId, client: Option<IpAddr>) -> String {
        let client = client.map(|ip| ip.to_string()).unwrap_or_default();
        format!("{}c:{}", self.cooldown_prefix(event), client)
    }

    pub fn loaded(&self, event: EventId) -> String {
        format!("{}:loaded", self.tag(event))
    }

    pub fn version(&self, event: EventId) -> String {
        format!("{}:v", self.tag(event))
    }

    /// Best available's row index: label prefix -> layout index of the row's seat 1. The prelude
    /// finds it beside the version key (`<tag>:x`).
    pub fn best_rows(&self, event: EventId) -> String {
        format!("{}:x", self.tag(event))
    }

    /// Best available's taken-seats bitmap, by layout index (`<tag>:b`, as the prelude finds it).
    pub fn best_taken(&self, event: EventId) -> String {
        format!("{}:b", self.tag(event))
    }

    /// Best available's free seats per row, by label prefix (`<tag>:f`, as the prelude finds it).
    pub fn best_free(&self, event: EventId) -> String {
        format!("{}:f", self.tag(event))
    }

    /// Best available's ranks set at creation, 4 bytes per seat by layout index (`<tag>:k`).
    pub fn best_ranks(&self, event: EventId) -> String {
        format!("{}:k", self.tag(event))
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
