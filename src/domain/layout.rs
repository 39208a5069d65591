//! An event's seating, fixed at creation: sections of rows of seats, or rows alone (an event
//! without sections has one unnamed section). Every seat has an index in layout order (sections
//! in order, rows in order, numbers ascending), which is how statuses travel: seat `i` is the
//! `i`-th status.
//!
//! The layout is small however many seats it has (a row is a name and a count), so one copy per
//! event serves every lookup: [`Layout::find`] turns a label into its index and
//! [`Layout::label`] back, without a table per seat.

use super::InvalidField;
use super::price::{PriceCategory, Quote, display_name};
use super::seat::{MAX_SEAT_NUMBER, RowName, SeatLabel, SectionCode};
pub use areas::{AreaSpec, PLACES_PER_ROW};
pub use ranks::SeatRanks;
use std::collections::{HashMap, HashSet};

/// The limits a layout is parsed against, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutLimits {
    pub max_seats: u32,
    pub max_sections: usize,
    pub max_rows_per_section: usize,
    pub max_seats_per_row: u32,
}

impl Default for LayoutLimits {
    fn default() -> Self {
        Self {
            max_seats: 100_000,
            max_sections: 500,
            max_rows_per_section: 200,
            max_seats_per_row: 1_000,
        }
    }
}

/// A row of seats `first .. first + seats` in layout order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: RowName,
    pub seats: u32,
    pub first: u32,
    /// Index of the row's price category in [`Layout::categories`] (0 when the event is free).
    pub category: usize,
    /// Each seat's rank for best available, when set at creation (see `best.rs` for the
    /// default).
    pub ranks: Option<SeatRanks>,
}

/// A section; `code` is `None` only for the one section of an event without sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub code: Option<SectionCode>,
    /// For people, e.g. "Block 112"; the code when none was given.
    pub name: String,
    pub rows: Vec<Row>,
    /// A general-admission area (see [`Layout::areas`]): its rows are places, not seats.
    pub standing: bool,
}

impl Section {
    /// The code, or "" for the one section of an event without sections.
    pub fn code_str(&self) -> &str {
        self.code.as_ref().map_or("", SectionCode::as_str)
    }
}

/// A requested section, as the api layer read it.
pub struct SectionSpec<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub rows: Vec<(&'a str, u32)>,
}

const MAX_SECTION_NAME: usize = 100;

/// An event's seating. Equal layouts have equal [`Layout::digest`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The seated sections, then the general-admission areas.
    sections: Vec<Section>,
    /// How many of `sections` are seated.
    seated: usize,
    /// Seats and places.
    seat_count: u32,
    /// Empty for a free event; else every row names one (see `price.rs`).
    categories: Vec<PriceCategory>,
    /// Section index by code, and row index by (section index, row name).
    sections_by_code: HashMap<String, usize>,
    rows_by_name: HashMap<(usize, String), usize>,
}

impl Layout {
    /// An event without sections: `(row, seat count)` pairs from the request field `field`.
    pub fn parse_rows<'a>(
        field: &str,
        rows: impl ExactSizeIterator<Item = (&'a str, u32)>,
        limits: &LayoutLimits,
    ) -> Result<Self, InvalidField> {
        let rows = parse_rows(field, rows, limits, RowName::parse)?;
        Self::build(
            field,
            vec![Section {
                code: None,
                name: String::new(),
                rows,
                standing: false,
            }],
            limits,
        )
    }

    /// An event with sections, from the request field `field`.
    pub fn parse_sections<'a>(
        field: &str,
        sections: impl ExactSizeIterator<Item = SectionSpec<'a>>,
        limits: &LayoutLimits,
    ) -> Result<Self, InvalidField> {
        if sections.len() > limits.max_sections {
            return Err(InvalidField::new(
                field,
                format!("must have at most {} sections", limits.max_sections),
            ));
        }
        let mut seen = HashSet::new();
        let mut parsed = Vec::with_capacity(sections.len());
        for (i, spec) in sections.enumerate() {
            let at = format!("{field}[{i}]");
            let code = SectionCode::parse(&format!("{at}.code"), spec.code)?;
            if !seen.insert(code.clone()) {
                return Err(InvalidField::new(
                    format!("{at}.code"),
                    format!("section {} appears twice", code.as_str()),
                ));
            }
            let name = section_name(&format!("{at}.name"), spec.name, &code)?;
            let rows = parse_rows(
                &format!("{at}.rows"),
                spec.rows.into_iter(),
                limits,
                RowName::parse_in_section,
            )?;
            parsed.push(Section {
                code: Some(code),
                name,
                rows,
                standing: false,
            });
        }
        Self::build(field, parsed, limits)
    }

    /// Numbers the seats and indexes the sections and rows; checks the seat total.
    fn build(
        field: &str,
        mut sections: Vec<Section>,
        limits: &LayoutLimits,
    ) -> Result<Self, InvalidField> {
        if sections.is_empty() {
            return Err(InvalidField::new(field, "needs at least one section"));
        }
        let mut next: u64 = 0;
        let mut sections_by_code = HashMap::new();
        let mut rows_by_name = HashMap::new();
        for (s, section) in sections.iter_mut().enumerate() {
            if let Some(code) = &section.code {
                sections_by_code.insert(code.as_str().to_owned(), s);
            }
            for (r, row) in section.rows.iter_mut().enumerate() {
                row.first = u32::try_from(next).unwrap_or(u32::MAX);
                next += u64::from(row.seats);
                rows_by_name.insert((s, row.name.as_str().to_owned()), r);
            }
        }
        if next > u64::from(limits.max_seats) {
            return Err(InvalidField::new(
                field,
                format!("has {next} seats; at most {} are allowed", limits.max_seats),
            ));
        }
        Ok(Self {
            seated: sections.iter().take_while(|s| !s.standing).count(),
            sections,
            categories: Vec::new(),
            seat_count: u32::try_from(next).unwrap_or(u32::MAX),
            sections_by_code,
            rows_by_name,
        })
    }

    /// Gives the layout its price categories: `rows` names each row's category code in layout
    /// order, with the request field it came from; an empty code means the first category.
    /// Without categories every code must be empty and the event stays free.
    pub fn priced<'a>(
        mut self,
        categories: Vec<PriceCategory>,
        rows: impl IntoIterator<Item = (String, &'a str)>,
    ) -> Result<Self, InvalidField> {
        let mut rows = rows.into_iter();
        for row in self.sections.iter_mut().flat_map(|s| s.rows.iter_mut()) {
            let Some((field, code)) = rows.next() else {
                break;
            };
            let code = code.trim();
            if code.is_empty() {
                continue;
            }
            row.category = categories
                .iter()
                .position(|c| c.code.eq_ignore_ascii_case(code))
                .ok_or_else(|| {
                    InvalidField::new(
                        field,
                        format!("names no price category of the event: {code}"),
                    )
                })?;
        }
        self.categories = categories;
        Ok(self)
    }

    /// The event's price categories; empty for a free event.
    pub fn categories(&self) -> &[PriceCategory] {
        &self.categories
    }

    /// The price category of seat `index`; `None` for a free event or no such seat.
    pub fn category_of(&self, index: u32) -> Option<&PriceCategory> {
        let (_, row, _) = self.position(index)?;
        self.categories.get(row.category)
    }

    /// What `seats` cost, in the order given; an unknown seat costs nothing (the caller checked
    /// them against the layout already).
    pub fn quote(&self, seats: &[SeatLabel]) -> Quote {
        let prices: Vec<u64> = seats
            .iter()
            .map(|s| {
                self.find(s)
                    .and_then(|i| self.category_of(i))
                    .map_or(0, |c| c.price_minor)
            })
            .collect();
        Quote {
            total: prices.iter().fold(0u64, |sum, p| sum.saturating_add(*p)),
            prices,
            currency: self.categories.first().map(|c| c.currency.clone()),
        }
    }

    /// The seated sections (an event without sections has one, without a code).
    pub fn sections(&self) -> &[Section] {
        &self.sections[..self.seated]
    }

    /// The general-admission areas, after every seated section: each is numbered like a section
    /// of rows of [`PLACES_PER_ROW`] places, so its places are held, sold and fed like seats.
    pub fn areas(&self) -> &[Section] {
        &self.sections[self.seated..]
    }

    /// Whether the event has named seated sections.
    pub fn has_sections(&self) -> bool {
        self.sections().iter().any(|s| s.code.is_some())
    }

    /// Seats and places: indices run `0 .. seat_count`.
    pub fn seat_count(&self) -> u32 {
        self.seat_count
    }

    /// Seats alone: indices `0 .. seated_count` are seats, the rest places of areas.
    pub fn seated_count(&self) -> u32 {
        self.areas()
            .first()
            .and_then(|a| a.rows.first())
            .map_or(self.seat_count, |r| r.first)
    }

    /// The index of the seat `label` names, if the layout has it and it is not a place.
    pub fn find_seat(&self, label: &SeatLabel) -> Option<u32> {
        self.find(label).filter(|i| *i < self.seated_count())
    }

    /// The index of the seat or place `label` names, if the layout has it.
    pub fn find(&self, label: &SeatLabel) -> Option<u32> {
        let parts = label.parts();
        let section = match parts.section {
            Some(code) => *self.sections_by_code.get(code)?,
            None if !self.has_sections() && self.seated > 0 => 0,
            None => return None,
        };
        let row = self.rows_by_name.get(&(section, parts.row.to_owned()))?;
        let row = &self.sections[section].rows[*row];
        (parts.number >= 1 && parts.number <= row.seats).then(|| row.first + parts.number - 1)
    }

    /// The section, row and number of seat `index`.
    pub fn position(&self, index: u32) -> Option<(&Section, &Row, u32)> {
        if index >= self.seat_count {
            return None;
        }
        let s = self
            .sections
            .partition_point(|s| s.rows.first().is_some_and(|r| r.first <= index))
            .checked_sub(1)?;
        let section = &self.sections[s];
        let r = section
            .rows
            .partition_point(|r| r.first <= index)
            .checked_sub(1)?;
        let row = &section.rows[r];
        Some((section, row, index - row.first + 1))
    }

    /// The label of seat `index`.
    pub fn label(&self, index: u32) -> Option<SeatLabel> {
        self.position(index)
            .map(|(section, row, number)| SeatLabel::new(section.code.as_ref(), &row.name, number))
    }

    /// Every seat's label, in layout order.
    pub fn labels(&self) -> impl Iterator<Item = SeatLabel> + '_ {
        self.sections.iter().flat_map(|section| {
            section.rows.iter().flat_map(move |row| {
                (1..=row.seats).map(move |n| SeatLabel::new(section.code.as_ref(), &row.name, n))
            })
        })
    }
}

fn parse_rows<'a>(
    field: &str,
    rows: impl ExactSizeIterator<Item = (&'a str, u32)>,
    limits: &LayoutLimits,
    parse_name: fn(&str, &str) -> Result<RowName, InvalidField>,
) -> Result<Vec<Row>, InvalidField> {
    if rows.len() == 0 {
        return Err(InvalidField::new(field, "needs at least one row"));
    }
    if rows.len() > limits.max_rows_per_section {
        return Err(InvalidField::new(
            field,
            format!("must have at most {} rows", limits.max_rows_per_section),
        ));
    }
    let max_seats = limits.max_seats_per_row.min(MAX_SEAT_NUMBER);
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(rows.len());
    for (i, (row, seats)) in rows.enumerate() {
        let at = format!("{field}[{i}]");
        let name = parse_name(&format!("{at}.row"), row)?;
        if !seen.insert(name.clone()) {
            return Err(InvalidField::new(
                format!("{at}.row"),
                format!("row {} appears twice", name.as_str()),
            ));
        }
        if seats == 0 || seats > max_seats {
            return Err(InvalidField::new(
                format!("{at}.seat_count"),
                format!("must be 1 to {max_seats}"),
            ));
        }
        parsed.push(Row {
            name,
            seats,
            first: 0,
            category: 0,
            ranks: None,
        });
    }
    Ok(parsed)
}

fn section_name(field: &str, raw: &str, code: &SectionCode) -> Result<String, InvalidField> {
    display_name(field, raw, code.as_str(), MAX_SECTION_NAME)
}

mod areas;
mod ranks;
mod stored;
#[cfg(test)]
mod tests;
