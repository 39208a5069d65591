//! Events and their seats, in the database. A layout never changes after creation.

use super::StoreResult;
use crate::domain::{
    EventId, EventName, Layout, NewEvent, PageCursor, SeatId, SeatLabel, UnixMillis,
};
use async_trait::async_trait;

#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: EventId,
    pub name: EventName,
    pub starts_at: UnixMillis,
    pub layout: Layout,
}

#[derive(Debug, Clone)]
pub struct SeatRecord {
    pub id: SeatId,
    pub label: SeatLabel,
    /// The section's code; `None` in an event without sections.
    pub section: Option<String>,
    pub row: String,
    pub number: u32,
    /// The seat's price category; `None` for a free event.
    pub price: Option<crate::domain::PriceCategory>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Writes the event and all its seats in one transaction.
    async fn create_event(&self, event: &NewEvent) -> StoreResult<()>;
    async fn get_event(&self, id: EventId) -> StoreResult<Option<EventRecord>>;
    /// Events ordered by `(starts_at, id)`, strictly after `after`.
    async fn list_events(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<EventRecord>>;
    /// The ids of the event's seats in layout order (rows as created, then numbers).
    async fn seat_ids(&self, event: EventId) -> StoreResult<Vec<SeatId>>;
    async fn ping(&self) -> StoreResult<()>;
}
