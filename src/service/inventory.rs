//! Creating and reading events.

use super::{Catalog, ServiceError, ServiceResult};
use crate::domain::{EventId, NewEvent, PageCursor};
use crate::ports::EventRecord;
use std::sync::Arc;

pub struct InventoryService {
    catalog: Arc<Catalog>,
}

impl InventoryService {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event = %event.id))]
    pub async fn create_event(&self, event: NewEvent) -> ServiceResult<EventRecord> {
        self.catalog.store().create_event(&event).await?;
        tracing::info!(seats = event.layout.seat_count(), "event created");
        Ok(EventRecord {
            id: event.id,
            name: event.name,
            starts_at: event.starts_at,
            layout: event.layout,
        })
    }

    pub async fn get_event(&self, id: EventId) -> ServiceResult<EventRecord> {
        self.catalog
            .store()
            .get_event(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("event {id} does not exist")))
    }

    /// A page of events and the cursor of the next page, if there is one.
    pub async fn list_events(
        &self,
        after: Option<PageCursor>,
        page_size: u32,
    ) -> ServiceResult<(Vec<EventRecord>, Option<PageCursor>)> {
        let mut events = self
            .catalog
            .store()
            .list_events(after, page_size + 1)
            .await?;
        let next = if events.len() > page_size as usize {
            events.truncate(page_size as usize);
            events.last().map(|e| PageCursor {
                starts_at: e.starts_at,
                id: e.id,
            })
        } else {
            None
        };
        Ok((events, next))
    }
}
