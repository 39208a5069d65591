//! The seat-map reads of `seatrush.v1.BookingService`: the layout (fetched once, cached under its
//! digest), the packed statuses, and the paged view for people and gateways.

use super::convert::{category_message, seat_status};
use super::status::invalid_argument;
use crate::domain::{InvalidField, SeatStatus};
use crate::ports::SeatRecord;
use crate::proto::shared::GetSeatLayoutResponseFields;
use crate::proto::v1 as pb;
use crate::service::{AreaCount, EventSeats, SeatPage, SeatQuery, Snapshot};
use tonic::Status;

const DEFAULT_PAGE: u32 = 1_000;
const MAX_PAGE: u32 = 5_000;

/// The layout's message, encoded by the first reader and copied by the others.
pub fn layout_message(seats: &EventSeats) -> pb::GetSeatLayoutResponse {
    let encoded = seats
        .wire
        .get_or_init(|| pb::GetSeatLayoutResponse::encode(&layout_fields(seats)));
    pb::GetSeatLayoutResponse::from_encoded(encoded.clone())
}

fn layout_fields(seats: &EventSeats) -> GetSeatLayoutResponseFields {
    let categories = seats.layout().categories();
    GetSeatLayoutResponseFields {
        price_categories: categories.iter().map(category_message).collect(),
        event_id: seats.event.id.to_string(),
        digest: seats.digest().to_owned(),
        seat_count: seats.layout().seated_count(),
        areas: super::inventory::area_specs(seats.layout()),
        sections: seats
            .layout()
            .sections()
            .iter()
            .map(|section| pb::LayoutSection {
                code: section.code_str().to_owned(),
                name: section.name.clone(),
                rows: section
                    .rows
                    .iter()
                    .map(|row| pb::LayoutRow {
                        row: row.name.as_str().to_owned(),
                        seat_count: row.seats,
                        first_seat_index: row.first,
                        price_category: categories
                            .get(row.category)
                            .map(|c| c.code.clone())
                            .unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn statuses_message(seats: &EventSeats, snapshot: Snapshot) -> pb::GetSeatStatusesResponse {
    pb::GetSeatStatusesResponse {
        event_id: seats.event.id.to_string(),
        version: snapshot.version,
        layout_digest: seats.digest().to_owned(),
        seat_count: snapshot.seat_count,
        areas: area_messages(seats, &snapshot.areas),
        statuses: snapshot.statuses,
    }
}

/// Free places of the areas counted, by code.
pub fn area_messages(seats: &EventSeats, counts: &[AreaCount]) -> Vec<pb::AreaAvailability> {
    let areas = seats.layout().areas();
    counts
        .iter()
        .filter_map(|count| {
            let area = areas.get(count.area)?;
            Some(pb::AreaAvailability {
                code: area.code_str().to_owned(),
                available: count.available,
                capacity: crate::domain::Layout::capacity(area),
            })
        })
        .collect()
}

pub fn seat_message(index: u32, seat: &SeatRecord, status: SeatStatus) -> pb::Seat {
    pb::Seat {
        seat_id: seat.id.to_string(),
        label: seat.label.as_str().to_owned(),
        row: seat.row.clone(),
        number: seat.number,
        status: seat_status(status).into(),
        section: seat.section.clone().unwrap_or_default(),
        index,
        price_category: seat
            .price
            .as_ref()
            .map(|c| c.code.clone())
            .unwrap_or_default(),
        price_minor: seat.price.as_ref().map_or(0, |c| c.price_minor),
    }
}

/// The filters and the page of a GetSeatMap request.
pub fn seat_query(request: &pb::GetSeatMapRequest) -> Result<SeatQuery, Status> {
    let text = |raw: &str| (!raw.trim().is_empty()).then(|| raw.trim().to_owned());
    let status = match request.status() {
        pb::SeatStatus::Unspecified => None,
        pb::SeatStatus::Available => Some(SeatStatus::Available),
        pb::SeatStatus::Held => Some(SeatStatus::Held),
        pb::SeatStatus::Sold => Some(SeatStatus::Sold),
    };
    let limit = match request.page_size {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let from = match request.page_token.as_str() {
        "" => 0,
        token => token
            .strip_prefix('s')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                invalid_argument(InvalidField::new(
                    "page_token",
                    "is not a page token from this server",
                ))
            })?,
    };
    for (field, value) in [("section", &request.section), ("row", &request.row)] {
        if value.len() > 16 {
            return Err(invalid_argument(InvalidField::new(field, "is too long")));
        }
    }
    Ok(SeatQuery {
        section: text(&request.section),
        row: text(&request.row),
        status,
        from,
        limit: limit as usize,
    })
}

pub fn page_message(event_id: String, page: SeatPage) -> pb::GetSeatMapResponse {
    pb::GetSeatMapResponse {
        event_id,
        seats: page
            .seats
            .iter()
            .map(|(index, seat, status)| seat_message(*index, seat, *status))
            .collect(),
        version: page.version,
        next_page_token: page.next.map(|n| format!("s{n}")).unwrap_or_default(),
    }
}
