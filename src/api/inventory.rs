//! `seatrush.v1.InventoryService`.

use super::auth::AdminGate;
use super::convert::{category_message, event_id, parse_timestamp, timestamp};
use super::status::invalid_argument;
use crate::domain::{
    AreaSpec, CategorySpec, EventId, EventName, InvalidField, Layout, LayoutLimits, NewEvent,
    PLACES_PER_ROW, PageCursor, PriceCategory, SectionSpec,
};
use crate::domain::{PageSize, TicketCursor, TicketList};
use crate::ports::EventRecord;
use crate::proto::v1::{self as pb, inventory_service_server::InventoryService};
use crate::service::{InventoryService as Inventory, RecordsService};
use std::sync::Arc;
use tonic::{Request, Response, Status};

const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;

pub struct InventoryApi {
    inventory: Arc<Inventory>,
    records: Arc<RecordsService>,
    admin: AdminGate,
    limits: LayoutLimits,
}

impl InventoryApi {
    pub fn new(
        inventory: Arc<Inventory>,
        records: Arc<RecordsService>,
        admin: AdminGate,
        limits: LayoutLimits,
    ) -> Self {
        Self {
            inventory,
            records,
            admin,
            limits,
        }
    }
}

fn row_specs(rows: &[crate::domain::Row], layout: &Layout) -> Vec<pb::RowSpec> {
    rows.iter()
        .map(|r| pb::RowSpec {
            row: r.name.as_str().to_owned(),
            seat_count: r.seats,
            price_category: layout
                .categories()
                .get(r.category)
                .map(|c| c.code.clone())
                .unwrap_or_default(),
            seat_ranks: r
                .ranks
                .as_ref()
                .map(|ranks| ranks.ranks().collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// The layout's general-admission areas as created.
pub fn area_specs(layout: &Layout) -> Vec<pb::AreaSpec> {
    layout
        .areas()
        .iter()
        .map(|area| pb::AreaSpec {
            code: area.code_str().to_owned(),
            name: area.name.clone(),
            capacity: Layout::capacity(area),
            price_category: area
                .rows
                .first()
                .and_then(|r| layout.categories().get(r.category))
                .map(|c| c.code.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// An event with its layout (`full`), or its summary (ListEvents).
pub fn event_message(event: EventRecord, full: bool) -> pb::Event {
    let layout = &event.layout;
    let (rows, sections) = match (full, layout.has_sections()) {
        (false, _) => (Vec::new(), Vec::new()),
        (true, false) => (
            layout
                .sections()
                .first()
                .map(|s| row_specs(&s.rows, layout))
                .unwrap_or_default(),
            Vec::new(),
        ),
        (true, true) => (
            Vec::new(),
            layout
                .sections()
                .iter()
                .map(|s| pb::SectionSpec {
                    code: s.code_str().to_owned(),
                    name: s.name.clone(),
                    rows: row_specs(&s.rows, layout),
                    price_category: String::new(),
                })
                .collect(),
        ),
    };
    pb::Event {
        event_id: event.id.to_string(),
        name: event.name.as_str().to_owned(),
        starts_at: Some(timestamp(event.starts_at)),
        seat_count: layout.seated_count(),
        rows,
        sections,
        areas: if full { area_specs(layout) } else { Vec::new() },
        layout_digest: layout.digest(),
        price_categories: if full {
            layout.categories().iter().map(category_message).collect()
        } else {
            Vec::new()
        },
    }
}

/// ListEvents' page: where it starts and how many events it has.
pub(super) fn list_page(body: &pb::ListEventsRequest) -> Result<(Option<PageCursor>, u32), Status> {
    let page_size = match body.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    };
    let after = match body.page_token.as_str() {
        "" => None,
        token => Some(PageCursor::parse("page_token", token).map_err(invalid_argument)?),
    };
    Ok((after, page_size))
}

/// CreateEvent's event: name, start and layout (rows, or sections of rows).
pub(super) fn new_event(
    request: &pb::CreateEventRequest,
    limits: &LayoutLimits,
) -> Result<NewEvent, InvalidField> {
    let rows = request.rows.iter().map(|r| (r.row.as_str(), r.seat_count));
    let layout = match (request.rows.is_empty(), request.sections.is_empty()) {
        (false, true) => Layout::parse_rows("rows", rows, limits)?,
        (true, false) => Layout::parse_sections(
            "sections",
            request.sections.iter().map(|s| SectionSpec {
                code: &s.code,
                name: &s.name,
                rows: s
                    .rows
                    .iter()
                    .map(|r| (r.row.as_str(), r.seat_count))
                    .collect(),
            }),
            limits,
        )?,
        (true, true) if !request.areas.is_empty() => {
            Layout::standing_only("areas", areas(request), limits)?
        }
        (true, true) => {
            return Err(InvalidField::new(
                "rows",
                "needs rows, or sections of rows, or general-admission areas",
            ));
        }
        (false, false) => {
            return Err(InvalidField::new(
                "sections",
                "give either rows or sections, not both",
            ));
        }
    };
    let layout = if request.rows.is_empty() && request.sections.is_empty() {
        layout
    } else {
        layout.with_areas("areas", areas(request), limits)?
    };
    let layout = layout
        .ranked(row_ranks(request))?
        .priced(price_categories(request)?, row_categories(request))?;
    Ok(NewEvent {
        id: EventId::generate(),
        name: EventName::parse("name", &request.name)?,
        starts_at: parse_timestamp("starts_at", request.starts_at.as_ref())?,
        layout,
    })
}

/// Each seated row's ranks in layout order, with the field they came from.
fn row_ranks(request: &pb::CreateEventRequest) -> Vec<(String, &[u32])> {
    let rows = request
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| (format!("rows[{r}].seat_ranks"), row.seat_ranks.as_slice()));
    let sections = request
        .sections
        .iter()
        .enumerate()
        .flat_map(|(s, section)| {
            section.rows.iter().enumerate().map(move |(r, row)| {
                (
                    format!("sections[{s}].rows[{r}].seat_ranks"),
                    row.seat_ranks.as_slice(),
                )
            })
        });
    rows.chain(sections).collect()
}

fn areas(request: &pb::CreateEventRequest) -> impl ExactSizeIterator<Item = AreaSpec<'_>> {
    request.areas.iter().map(|a| AreaSpec {
        code: &a.code,
        name: &a.name,
        capacity: a.capacity,
    })
}

fn price_categories(request: &pb::CreateEventRequest) -> Result<Vec<PriceCategory>, InvalidField> {
    PriceCategory::parse_all(
        "price_categories",
        request.price_categories.iter().map(|c| CategorySpec {
            code: &c.code,
            name: &c.name,
            price_minor: c.price_minor,
            currency: &c.currency,
        }),
    )
}

/// Each row's category code in layout order, with the field it came from: the row's own, else
/// its section's (an empty code means the event's first category).
fn row_categories(request: &pb::CreateEventRequest) -> Vec<(String, &str)> {
    let rows = request.rows.iter().enumerate().map(|(r, row)| {
        (
            format!("rows[{r}].price_category"),
            row.price_category.as_str(),
        )
    });
    let sections = request
        .sections
        .iter()
        .enumerate()
        .flat_map(|(s, section)| {
            section.rows.iter().enumerate().map(move |(r, row)| {
                if row.price_category.trim().is_empty() {
                    (
                        format!("sections[{s}].price_category"),
                        section.price_category.as_str(),
                    )
                } else {
                    (
                        format!("sections[{s}].rows[{r}].price_category"),
                        row.price_category.as_str(),
                    )
                }
            })
        });
    let areas = request.areas.iter().enumerate().flat_map(|(a, area)| {
        (0..area.capacity.div_ceil(PLACES_PER_ROW)).map(move |_| {
            (
                format!("areas[{a}].price_category"),
                area.price_category.as_str(),
            )
        })
    });
    rows.chain(sections).chain(areas).collect()
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn create_event(
        &self,
        request: Request<pb::CreateEventRequest>,
    ) -> Result<Response<pb::CreateEventResponse>, Status> {
        self.admin.check(&request)?;
        let event = new_event(request.get_ref(), &self.limits).map_err(invalid_argument)?;
        let created = self.inventory.create_event(event).await?;
        Ok(Response::new(pb::CreateEventResponse {
            event: Some(event_message(created, true)),
        }))
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> Result<Response<pb::GetEventResponse>, Status> {
        let id = event_id(&request.get_ref().event_id)?;
        let event = self.inventory.get_event(id).await?;
        Ok(Response::new(pb::GetEventResponse {
            event: Some(event_message(event, true)),
        }))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let (after, page_size) = list_page(request.get_ref())?;
        let (events, next) = self.inventory.list_events(after, page_size).await?;
        Ok(Response::new(pb::ListEventsResponse {
            events: events
                .into_iter()
                .map(|e| event_message(e, false))
                .collect(),
            next_page_token: next.map(|c| c.encode()).unwrap_or_default(),
        }))
    }

    async fn list_event_sales(
        &self,
        request: Request<pb::ListEventSalesRequest>,
    ) -> Result<Response<pb::ListEventSalesResponse>, Status> {
        self.admin.check(&request)?;
        let (event, size, after) = sales_page(request.get_ref())?;
        super::observe::record_event(event);
        let sales = self.records.event_sales(event, size, after).await?;
        Ok(Response::new(pb::ListEventSalesResponse {
            event_id: event.to_string(),
            sales: sales
                .page
                .items
                .iter()
                .map(|t| {
                    let ticket = super::booking::ticket_message(&t.ticket);
                    pb::Sale {
                        ticket_id: ticket.ticket_id,
                        seat_id: ticket.seat_id,
                        label: ticket.label,
                        user_id: t.user.to_string(),
                        sold_at: Some(timestamp(t.sold_at)),
                        price_minor: ticket.price_minor,
                        currency: ticket.currency,
                        payment_reference: ticket.payment_reference,
                    }
                })
                .collect(),
            next_page_token: sales.page.next_token.unwrap_or_default(),
            tickets_sold: u32::try_from(sales.tickets_sold).unwrap_or(u32::MAX),
            seat_count: sales.seat_count,
        }))
    }
}

/// ListEventSales' event and page: its size and where it starts.
pub(super) fn sales_page(
    body: &pb::ListEventSalesRequest,
) -> Result<(EventId, PageSize, Option<TicketCursor>), Status> {
    let event = EventId::parse("event_id", &body.event_id).map_err(invalid_argument)?;
    let size = super::booking::page_size(body.page_size)?;
    let after = super::booking::ticket_cursor(&body.page_token, TicketList::Sales(event))?;
    Ok((event, size, after))
}
