//! General-admission areas: a capacity instead of seats. An area is kept as a section after every
//! seated one, of rows of [`PLACES_PER_ROW`] places, so its places have indices, labels, seat ids,
//! statuses and holds exactly as seats do; only the views the API gives (`Layout::sections`,
//! `Layout::seated_count`) leave them out.

use super::{InvalidField, Layout, LayoutLimits, Row, Section, section_name};
use crate::domain::seat::{RowName, SectionCode};
use std::collections::HashMap;

/// A requested general-admission area, as the api layer read it.
pub struct AreaSpec<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub capacity: u32,
}

/// Places per internal row of an area (an area is numbered like a section: `FLOOR-1-1` to
/// `FLOOR-1-1000`, then `FLOOR-2-1`…).
pub const PLACES_PER_ROW: u32 = 1_000;

impl Layout {
    /// An event of general-admission areas alone (from the request field `field`).
    pub fn standing_only<'a>(
        field: &str,
        areas: impl ExactSizeIterator<Item = AreaSpec<'a>>,
        limits: &LayoutLimits,
    ) -> Result<Self, InvalidField> {
        if areas.len() == 0 {
            return Err(InvalidField::new(field, "needs rows, sections or areas"));
        }
        let empty = Self {
            sections: Vec::new(),
            seated: 0,
            seat_count: 0,
            categories: Vec::new(),
            sections_by_code: HashMap::new(),
            rows_by_name: HashMap::new(),
        };
        empty.with_areas(field, areas, limits)
    }

    /// Adds general-admission areas from the request field `field`, after the seated sections.
    /// Area codes are section codes, unique among sections and areas.
    pub fn with_areas<'a>(
        self,
        field: &str,
        areas: impl ExactSizeIterator<Item = AreaSpec<'a>>,
        limits: &LayoutLimits,
    ) -> Result<Self, InvalidField> {
        if areas.len() == 0 {
            return Ok(self);
        }
        if areas.len() > limits.max_sections {
            return Err(InvalidField::new(
                field,
                format!("must have at most {} areas", limits.max_sections),
            ));
        }
        let mut sections = self.sections;
        for (i, spec) in areas.enumerate() {
            let at = format!("{field}[{i}]");
            let code = SectionCode::parse(&format!("{at}.code"), spec.code)?;
            if sections.iter().any(|s| s.code.as_ref() == Some(&code)) {
                return Err(InvalidField::new(
                    format!("{at}.code"),
                    format!("{} is already a section or an area", code.as_str()),
                ));
            }
            if spec.capacity == 0 || spec.capacity > limits.max_seats {
                return Err(InvalidField::new(
                    format!("{at}.capacity"),
                    format!("must be 1 to {}", limits.max_seats),
                ));
            }
            let name = section_name(&format!("{at}.name"), spec.name, &code)?;
            let rows = (0..spec.capacity.div_ceil(PLACES_PER_ROW))
                .map(|r| Row {
                    name: RowName::from_trusted((r + 1).to_string()),
                    seats: (spec.capacity - r * PLACES_PER_ROW).min(PLACES_PER_ROW),
                    first: 0,
                    category: 0,
                    ranks: None,
                })
                .collect();
            sections.push(Section {
                code: Some(code),
                name,
                rows,
                standing: true,
            });
        }
        Self::build(field, sections, limits)
    }

    /// The places of an area.
    pub fn capacity(area: &Section) -> u32 {
        let places: u64 = area.rows.iter().map(|r| u64::from(r.seats)).sum();
        u32::try_from(places).unwrap_or(u32::MAX)
    }
}
