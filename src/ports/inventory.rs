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
    pub row: String,
    pub number: u32,
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
    /// The event's seats ordered by row (as created) then number.
    async fn seats(&self, event: EventId) -> StoreResult<Vec<SeatRecord>>;
    async fn ping(&self) -> StoreResult<()>;
}
