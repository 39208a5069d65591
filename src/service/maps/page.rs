//! The seat map for people and JSON gateways: seats with labels, ids and statuses in layout
//! order, filtered by section, row and status, a page at a time, from the board.

use super::{SeatMaps, Snapshot};
use crate::domain::EventId;
use crate::domain::{InvalidField, SeatStatus, SeatStatuses};
use crate::ports::SeatRecord;
use crate::service::{EventSeats, ServiceResult};
use std::ops::Range;

/// Which seats a page shows.
#[derive(Debug, Clone, Default)]
pub struct SeatQuery {
    /// A section code, as given (matched case-insensitively).
    pub section: Option<String>,
    /// A row name, as given (matched case-insensitively).
    pub row: Option<String>,
    pub status: Option<SeatStatus>,
    /// The first seat index to look at (from a page token).
    pub from: u32,
    pub limit: usize,
}

pub struct SeatPage {
    pub seats: Vec<(u32, SeatRecord, SeatStatus)>,
    pub version: u64,
    /// Where the next page starts, if there is one.
    pub next: Option<u32>,
}

impl SeatMaps {
    pub async fn page(&self, event: EventId, query: &SeatQuery) -> ServiceResult<SeatPage> {
        let (board, snapshot) = self.current(event).await?;
        let range = range(&board.seats, query)?;
        Ok(collect(&board.seats, &snapshot, range, query))
    }
}

/// The seat indices the section and row filters select.
fn range(seats: &EventSeats, query: &SeatQuery) -> Result<Range<u32>, InvalidField> {
    let layout = seats.layout();
    let sections = layout.sections();
    let section = match query.section.as_deref() {
        None => None,
        Some(code) => Some(
            sections
                .iter()
                .find(|s| {
                    s.code
                        .as_ref()
                        .is_some_and(|c| c.as_str().eq_ignore_ascii_case(code))
                })
                .ok_or_else(|| {
                    InvalidField::new("section", format!("the event has no section {code}"))
                })?,
        ),
    };
    let Some(row) = query.row.as_deref() else {
        return Ok(match section {
            Some(section) => span(&section.rows),
            None => 0..layout.seated_count(),
        });
    };
    let section = match section {
        Some(section) => section,
        None if !layout.has_sections() && !sections.is_empty() => &sections[0],
        None => {
            return Err(InvalidField::new(
                "row",
                "needs a section in an event with sections",
            ));
        }
    };
    let found = section
        .rows
        .iter()
        .find(|r| r.name.as_str().eq_ignore_ascii_case(row))
        .ok_or_else(|| InvalidField::new("row", format!("no row {row} there")))?;
    Ok(found.first..found.first + found.seats)
}

fn span(rows: &[crate::domain::Row]) -> Range<u32> {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => first.first..last.first + last.seats,
        _ => 0..0,
    }
}

fn collect(
    seats: &EventSeats,
    snapshot: &Snapshot,
    range: Range<u32>,
    query: &SeatQuery,
) -> SeatPage {
    let mut found = Vec::new();
    let mut next = None;
    for index in range.start.max(query.from)..range.end {
        let status = SeatStatuses::packed_get(&snapshot.statuses, index as usize);
        if query.status.is_some_and(|wanted| wanted != status) {
            continue;
        }
        if found.len() == query.limit {
            next = Some(index);
            break;
        }
        if let Some(seat) = seats.seat(index) {
            found.push((index, seat, status));
        }
    }
    SeatPage {
        seats: found,
        version: snapshot.version,
        next,
    }
}
