//! Events and their seat layout. A layout is fixed at creation: rows in order, each with its
//! seat count, within limits that keep one event's seat map a bounded amount of work.

use super::seat::MAX_SEATS_PER_ROW;
use super::{EventId, InvalidField, RowName, UnixMillis};
use std::collections::HashSet;

pub const MAX_ROWS: usize = 200;
pub const MAX_SEATS_PER_EVENT: u32 = 20_000;
const MAX_NAME_CHARS: usize = 200;

/// An event's display name: 1 to 200 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventName(String);

impl EventName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidField::new(
                field,
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidField::new(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One row of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSpec {
    pub row: RowName,
    pub seat_count: u32,
}

/// The rows of an event, in order: 1 to 200 distinct rows, 1 to 500 seats each, at most 20,000
/// seats in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout(Vec<RowSpec>);

impl Layout {
    /// Parses `(row, seat_count)` pairs from a request whose repeated field is `field`.
    pub fn parse<'a>(
        field: &str,
        rows: impl ExactSizeIterator<Item = (&'a str, u32)>,
    ) -> Result<Self, InvalidField> {
        if rows.len() == 0 {
            return Err(InvalidField::new(field, "needs at least one row"));
        }
        if rows.len() > MAX_ROWS {
            return Err(InvalidField::new(
                field,
                format!("must have at most {MAX_ROWS} rows"),
            ));
        }
        let mut seen = HashSet::new();
        let mut total = 0u32;
        let mut specs = Vec::with_capacity(rows.len());
        for (i, (row, seat_count)) in rows.enumerate() {
            let at = format!("{field}[{i}]");
            let row = RowName::parse(&format!("{at}.row"), row)?;
            if !seen.insert(row.clone()) {
                return Err(InvalidField::new(
                    format!("{at}.row"),
                    format!("row {} appears twice", row.as_str()),
                ));
            }
            if seat_count == 0 || seat_count > MAX_SEATS_PER_ROW {
                return Err(InvalidField::new(
                    format!("{at}.seat_count"),
                    format!("must be 1 to {MAX_SEATS_PER_ROW}"),
                ));
            }
            total += seat_count;
            specs.push(RowSpec { row, seat_count });
        }
        if total > MAX_SEATS_PER_EVENT {
            return Err(InvalidField::new(
                field,
                format!("has {total} seats; at most {MAX_SEATS_PER_EVENT} are allowed"),
            ));
        }
        Ok(Self(specs))
    }

    pub fn rows(&self) -> &[RowSpec] {
        &self.0
    }

    pub fn seat_count(&self) -> u32 {
        self.0.iter().map(|r| r.seat_count).sum()
    }

    /// The stored form, `A:30,B:30`.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|r| format!("{}:{}", r.row.as_str(), r.seat_count))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form back; `None` when it was not written by [`Layout::encode`].
    pub fn decode(stored: &str) -> Option<Self> {
        stored
            .split(',')
            .map(|part| {
                let (row, count) = part.split_once(':')?;
                Some(RowSpec {
                    row: RowName::from_trusted(row.to_owned()),
                    seat_count: count.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }
}

/// An event about to be created.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub name: EventName,
    pub starts_at: UnixMillis,
    pub layout: Layout,
}

/// Where a page of events ends: events are ordered by `(starts_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub starts_at: UnixMillis,
    pub id: EventId,
}

impl PageCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.starts_at, self.id)
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let invalid = || InvalidField::new(field, "is not a page token from this server");
        if raw.len() > 64 {
            return Err(invalid());
        }
        let (starts_at, id) = raw.split_once('.').ok_or_else(invalid)?;
        Ok(Self {
            starts_at: starts_at.parse().map_err(|_| invalid())?,
            id: EventId::parse(field, id).map_err(|_| invalid())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_round_trips_through_its_stored_form() {
        let layout = Layout::parse("rows", [("a", 3), ("BB", 500)].into_iter()).unwrap();
        assert_eq!(Layout::decode(&layout.encode()), Some(layout.clone()));
        assert_eq!(layout.seat_count(), 503);
    }

    #[test]
    fn duplicate_rows_and_bad_counts_name_the_field() {
        let dup = Layout::parse("rows", [("A", 1), ("a", 1)].into_iter()).unwrap_err();
        assert_eq!(dup.field, "rows[1].row");
        let zero = Layout::parse("rows", [("A", 0)].into_iter()).unwrap_err();
        assert_eq!(zero.field, "rows[0].seat_count");
        let too_many = Layout::parse(
            "rows",
            (0..41).map(|_| ("A", 500)).collect::<Vec<_>>().into_iter(),
        );
        assert!(too_many.is_err());
    }
}
