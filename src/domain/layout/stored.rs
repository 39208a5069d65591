//! The stored form of a layout (the `events.layout` column) and its digest.
//!
//! Without sections it is the form every earlier version wrote: `A:30,B:30`. With sections:
//! `v2;` then the sections joined by `;`, each `CODE|name|A:30,B:30`, the name percent-encoded.
//! Ranks set at creation add a last line (see `RANKS`). General-admission areas force the sectioned form and follow the sections with their code
//! marked `*` (`*FLOOR|Standing|1:1000,2:500`); the one section of an event without sections is
//! then written with an empty code. A priced layout adds two lines: its categories joined by `;`, each `CODE|name|price|CUR`,
//! then each row's category index in layout order, joined by `,`. A free layout has neither, so
//! layouts stored before prices existed read back (and digest) exactly as before.

use super::{Layout, LayoutLimits, Row, SeatRanks, Section};
use crate::domain::price::PriceCategory;
use crate::domain::seat::{RowName, SectionCode};

const SECTIONED: &str = "v2;";
/// The last line of a layout with ranks set at creation: `ranks=` then, for each such row,
/// `<row index in layout order>:<rank>,<rank>…`, joined by `;`.
const RANKS: &str = "ranks=";

impl Layout {
    pub fn encode(&self) -> String {
        let priced = self.encode_priced();
        let ranked: Vec<String> = self
            .sections
            .iter()
            .flat_map(|s| s.rows.iter())
            .enumerate()
            .filter_map(|(i, row)| {
                let ranks = row.ranks.as_ref()?;
                let ranks: Vec<String> = ranks.ranks().map(|r| r.to_string()).collect();
                Some(format!("{i}:{}", ranks.join(",")))
            })
            .collect();
        if ranked.is_empty() {
            return priced;
        }
        format!("{priced}\n{RANKS}{}", ranked.join(";"))
    }

    fn encode_priced(&self) -> String {
        let seats = self.encode_seats();
        if self.categories.is_empty() {
            return seats;
        }
        let categories: Vec<String> = self
            .categories
            .iter()
            .map(|c| {
                format!(
                    "{}|{}|{}|{}",
                    escape(&c.code),
                    escape(&c.name),
                    c.price_minor,
                    c.currency.as_str()
                )
            })
            .collect();
        let rows: Vec<String> = self
            .sections
            .iter()
            .flat_map(|s| s.rows.iter())
            .map(|r| r.category.to_string())
            .collect();
        format!("{seats}\n{}\n{}", categories.join(";"), rows.join(","))
    }

    fn encode_seats(&self) -> String {
        if !self.has_sections() && self.areas().is_empty() {
            return encode_rows(&self.sections[0].rows);
        }
        let sections: Vec<String> = self
            .sections
            .iter()
            .map(|s| {
                let code = s.code_str();
                let mark = if s.standing { "*" } else { "" };
                format!("{mark}{code}|{}|{}", escape(&s.name), encode_rows(&s.rows))
            })
            .collect();
        format!("{SECTIONED}{}", sections.join(";"))
    }

    /// Reads the stored form back; `None` when it was not written by [`Layout::encode`].
    pub fn decode(stored: &str) -> Option<Self> {
        let (stored, ranks) = match stored.rsplit_once('\n') {
            Some((rest, last)) if last.starts_with(RANKS) => (rest, Some(&last[RANKS.len()..])),
            _ => (stored, None),
        };
        let mut layout = Self::decode_priced(stored)?;
        if let Some(ranks) = ranks {
            let mut rows: Vec<&mut Row> = layout
                .sections
                .iter_mut()
                .flat_map(|s| s.rows.iter_mut())
                .collect();
            for part in ranks.split(';') {
                let (index, ranks) = part.split_once(':')?;
                let row = rows.get_mut(index.parse::<usize>().ok()?)?;
                let ranks = ranks
                    .split(',')
                    .map(|r| r.parse().ok())
                    .collect::<Option<Vec<u32>>>()?;
                if ranks.len() != row.seats as usize {
                    return None;
                }
                row.ranks = Some(SeatRanks::new(&ranks));
            }
        }
        Some(layout)
    }

    fn decode_priced(stored: &str) -> Option<Self> {
        let mut lines = stored.split('\n');
        let layout = Self::decode_seats(lines.next()?)?;
        let Some(categories) = lines.next() else {
            return Some(layout);
        };
        let categories = categories
            .split(';')
            .map(|part| {
                let mut fields = part.splitn(4, '|');
                let code = unescape(fields.next()?)?;
                let name = unescape(fields.next()?)?;
                let price = fields.next()?.parse().ok()?;
                let currency = fields.next()?.to_owned();
                Some(PriceCategory::from_trusted(code, name, price, currency))
            })
            .collect::<Option<Vec<_>>>()?;
        let mut layout = layout;
        let mut indexes = lines.next()?.split(',');
        for row in layout.sections.iter_mut().flat_map(|s| s.rows.iter_mut()) {
            row.category = indexes.next()?.parse().ok()?;
            categories.get(row.category)?;
        }
        layout.categories = categories;
        Some(layout)
    }

    fn decode_seats(stored: &str) -> Option<Self> {
        let sections = match stored.strip_prefix(SECTIONED) {
            None => vec![Section {
                code: None,
                name: String::new(),
                rows: decode_rows(stored)?,
                standing: false,
            }],
            Some(rest) => rest
                .split(';')
                .map(|part| {
                    let mut fields = part.splitn(3, '|');
                    let code = fields.next()?;
                    let (code, standing) = match code.strip_prefix('*') {
                        Some(code) => (code, true),
                        None => (code, false),
                    };
                    let name = unescape(fields.next()?)?;
                    let rows = decode_rows(fields.next()?)?;
                    Some(Section {
                        code: (!code.is_empty())
                            .then(|| SectionCode::from_trusted(code.to_owned())),
                        name,
                        rows,
                        standing,
                    })
                })
                .collect::<Option<Vec<_>>>()?,
        };
        let unlimited = LayoutLimits {
            max_seats: u32::MAX,
            max_sections: usize::MAX,
            max_rows_per_section: usize::MAX,
            max_seats_per_row: u32::MAX,
        };
        Self::build("layout", sections, &unlimited).ok()
    }

    /// A short stable fingerprint: equal layouts, equal digests (a client or gateway can cache
    /// a layout under it).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(&Sha256::digest(self.encode().as_bytes())[..8])
    }
}

fn encode_rows(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| format!("{}:{}", r.name.as_str(), r.seats))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_rows(stored: &str) -> Option<Vec<Row>> {
    stored
        .split(',')
        .map(|part| {
            let (row, seats) = part.split_once(':')?;
            Some(Row {
                name: RowName::from_trusted(row.to_owned()),
                seats: seats.parse().ok()?,
                first: 0,
                category: 0,
                ranks: None,
            })
        })
        .collect()
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || " .-_()'&/".contains(c) {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn unescape(stored: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(stored.len());
    let mut input = stored.bytes();
    while let Some(b) = input.next() {
        if b == b'%' {
            let hex = [input.next()?, input.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}
