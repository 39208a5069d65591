//! How seats are named. Without sections, a seat is its row and number, `A12`: rows are letters
//! only, so the label splits at its first digit. In a section, it is section, row and number
//! joined by dashes, `112-F-14`: there rows may be digits too, the dashes keep it unambiguous.

use super::InvalidField;
use std::fmt;

/// The longest seat number a label can spell (rows are limited further by the settings).
pub const MAX_SEAT_NUMBER: u32 = 9_999;
const MAX_PLAIN_ROW: usize = 3;
const MAX_SECTION_ROW: usize = 4;
const MAX_SECTION_CODE: usize = 8;

/// A row name, kept upper-case: 1 to 3 letters in an event without sections, 1 to 4 letters or
/// digits in a section.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowName(String);

impl RowName {
    /// A row of an event without sections: letters only.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        Self::parse_with(field, raw, MAX_PLAIN_ROW, false)
    }

    /// A row of a section: letters or digits.
    pub fn parse_in_section(field: &str, raw: &str) -> Result<Self, InvalidField> {
        Self::parse_with(field, raw, MAX_SECTION_ROW, true)
    }

    fn parse_with(field: &str, raw: &str, max: usize, digits: bool) -> Result<Self, InvalidField> {
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        let allowed = |b: u8| b.is_ascii_alphabetic() || (digits && b.is_ascii_digit());
        if raw.len() > max || !raw.bytes().all(allowed) {
            let kind = if digits {
                "ASCII letters or digits"
            } else {
                "ASCII letters"
            };
            return Err(InvalidField::new(
                field,
                format!("must be 1 to {max} {kind}"),
            ));
        }
        Ok(Self(raw.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For rows read back from storage, which were parsed on the way in.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }
}

/// The short code of a section, used in its seats' labels: 1 to 8 letters or digits, kept
/// upper-case (`112`, `FLOOR`, `N1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SectionCode(String);

impl SectionCode {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if raw.len() > MAX_SECTION_CODE || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidField::new(
                field,
                format!("must be 1 to {MAX_SECTION_CODE} ASCII letters or digits"),
            ));
        }
        Ok(Self(raw.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }
}

/// A seat's name within its event: `A12`, or `112-F-14` in a section.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatLabel(String);

/// The parts of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelParts<'a> {
    pub section: Option<&'a str>,
    pub row: &'a str,
    pub number: u32,
}

impl SeatLabel {
    pub fn new(section: Option<&SectionCode>, row: &RowName, number: u32) -> Self {
        match section {
            Some(section) => Self(format!("{}-{}-{number}", section.as_str(), row.as_str())),
            None => Self(format!("{}{number}", row.as_str())),
        }
    }

    /// Parses `A12`, `a12`, `BB7` or `112-f-14`; the number has no leading zero.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let invalid = || {
            InvalidField::new(
                field,
                "must be a row (1 to 3 letters) and a seat number, like \"A12\", or a section, \
                 row and number joined by dashes, like \"112-F-14\"",
            )
        };
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        let upper = raw.to_ascii_uppercase();
        let parts = Self::split(&upper).ok_or_else(invalid)?;
        let valid_row = match parts.section {
            Some(section) => {
                SectionCode::parse(field, section).is_ok()
                    && RowName::parse_in_section(field, parts.row).is_ok()
            }
            None => RowName::parse(field, parts.row).is_ok(),
        };
        if !valid_row {
            return Err(invalid());
        }
        Ok(Self(upper))
    }

    /// Splits a label without checking its characters; `None` when it has no valid shape.
    fn split(raw: &str) -> Option<LabelParts<'_>> {
        let mut pieces = raw.split('-');
        let (section, row, number) = match (pieces.next(), pieces.next(), pieces.next()) {
            (Some(section), Some(row), Some(number)) if pieces.next().is_none() => {
                (Some(section), row, number)
            }
            (Some(plain), None, None) => {
                let split = plain.find(|c: char| c.is_ascii_digit())?;
                let (row, number) = plain.split_at(split);
                (None, row, number)
            }
            _ => return None,
        };
        if number.is_empty()
            || number.starts_with('0')
            || number.len() > 4
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let number: u32 = number.parse().ok()?;
        (1..=MAX_SEAT_NUMBER)
            .contains(&number)
            .then_some(LabelParts {
                section,
                row,
                number,
            })
    }

    /// The section (if any), row and number of this label.
    pub fn parts(&self) -> LabelParts<'_> {
        // Every label was built by `new` or checked by `parse`.
        Self::split(&self.0).unwrap_or(LabelParts {
            section: None,
            row: "",
            number: 0,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SeatLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a seat stands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_normalised_to_upper_case() {
        assert_eq!(SeatLabel::parse("s", "bb7").unwrap().as_str(), "BB7");
        assert_eq!(
            SeatLabel::parse("s", "112-f-14").unwrap().as_str(),
            "112-F-14"
        );
    }

    #[test]
    fn malformed_labels_are_rejected() {
        for raw in [
            "",
            "12",
            "A",
            "A0",
            "A012",
            "A10000",
            "ABCD1",
            "A1B",
            "Ä1",
            "A-1",
            "1-A",
            "112-F-0",
            "112-F-014",
            "-F-1",
            "112--1",
            "123456789-A-1",
            "1-ABCDE-1",
            "1-A-1-1",
            "1-Ä-1",
        ] {
            assert!(SeatLabel::parse("s", raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn a_label_knows_its_parts() {
        let plain = SeatLabel::parse("s", "AB12").unwrap();
        assert_eq!(
            plain.parts(),
            LabelParts {
                section: None,
                row: "AB",
                number: 12
            }
        );
        let sectioned = SeatLabel::new(
            Some(&SectionCode::parse("s", "n1").unwrap()),
            &RowName::parse_in_section("r", "12").unwrap(),
            7,
        );
        assert_eq!(sectioned.as_str(), "N1-12-7");
        assert_eq!(
            sectioned.parts(),
            LabelParts {
                section: Some("N1"),
                row: "12",
                number: 7
            }
        );
    }

    #[test]
    fn rows_outside_sections_are_letters_only() {
        assert!(RowName::parse("row", "A1").is_err());
        assert_eq!(RowName::parse("row", "aa").unwrap().as_str(), "AA");
        assert_eq!(
            RowName::parse_in_section("row", "12b").unwrap().as_str(),
            "12B"
        );
    }
}
