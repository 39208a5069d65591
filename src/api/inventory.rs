//! `seatrush.v1.InventoryService`.

use super::auth::AdminGate;
use super::convert::{parse_timestamp, timestamp};
use super::status::invalid_argument;
use crate::domain::{EventId, EventName, InvalidField, Layout, NewEvent, PageCursor};
use crate::ports::EventRecord;
use crate::proto::v1::{self as pb, inventory_service_server::InventoryService};
use crate::service::InventoryService as Inventory;
use std::sync::Arc;
use tonic::{Request, Response, Status};

const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;

pub struct InventoryApi {
    inventory: Arc<Inventory>,
    admin: AdminGate,
}

impl InventoryApi {
    pub fn new(inventory: Arc<Inventory>, admin: AdminGate) -> Self {
        Self { inventory, admin }
    }
}

pub fn event_message(event: EventRecord) -> pb::Event {
    pb::Event {
        event_id: event.id.to_string(),
        name: event.name.as_str().to_owned(),
        starts_at: Some(timestamp(event.starts_at)),
        seat_count: event.layout.seat_count(),
        rows: event
            .layout
            .rows()
            .iter()
            .map(|r| pb::RowSpec {
                row: r.row.as_str().to_owned(),
                seat_count: r.seat_count,
            })
            .collect(),
    }
}

fn new_event(request: &pb::CreateEventRequest) -> Result<NewEvent, InvalidField> {
    Ok(NewEvent {
        id: EventId::generate(),
        name: EventName::parse("name", &request.name)?,
        starts_at: parse_timestamp("starts_at", request.starts_at.as_ref())?,
        layout: Layout::parse(
            "rows",
            request.rows.iter().map(|r| (r.row.as_str(), r.seat_count)),
        )?,
    })
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn create_event(
        &self,
        request: Request<pb::CreateEventRequest>,
    ) -> Result<Response<pb::CreateEventResponse>, Status> {
        self.admin.check(&request)?;
        let event = new_event(request.get_ref()).map_err(invalid_argument)?;
        let created = self.inventory.create_event(event).await?;
        Ok(Response::new(pb::CreateEventResponse {
            event: Some(event_message(created)),
        }))
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> Result<Response<pb::GetEventResponse>, Status> {
        let id =
            EventId::parse("event_id", &request.get_ref().event_id).map_err(invalid_argument)?;
        super::observe::record_event(id);
        let event = self.inventory.get_event(id).await?;
        Ok(Response::new(pb::GetEventResponse {
            event: Some(event_message(event)),
        }))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let body = request.get_ref();
        let page_size = match body.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = match body.page_token.as_str() {
            "" => None,
            token => Some(PageCursor::parse("page_token", token).map_err(invalid_argument)?),
        };
        let (events, next) = self.inventory.list_events(after, page_size).await?;
        Ok(Response::new(pb::ListEventsResponse {
            events: events.into_iter().map(event_message).collect(),
            next_page_token: next.map(|c| c.encode()).unwrap_or_default(),
        }))
    }
}
