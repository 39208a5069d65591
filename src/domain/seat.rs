//! Seats are named by row and number: row "A", seat 12 is "A12". Rows are letters only, so a
//! label splits at its first digit without ambiguity.

use super::InvalidField;
use std::fmt;

/// Most seats a row may have.
pub const MAX_SEATS_PER_ROW: u32 = 500;
const MAX_ROW_LEN: usize = 3;

/// A row name: 1 to 3 ASCII letters, kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowName(String);

impl RowName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if raw.len() > MAX_ROW_LEN || !raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(InvalidField::new(
                field,
                format!("must be 1 to {MAX_ROW_LEN} ASCII letters"),
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

/// A seat's name within its event, e.g. `A12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatLabel(String);

impl SeatLabel {
    pub fn new(row: &RowName, number: u32) -> Self {
        Self(format!("{}{number}", row.as_str()))
    }

    /// Parses `A12`, `a12` or `BB7`; the number is 1 to [`MAX_SEATS_PER_ROW`] without leading zeros.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let invalid = || {
            InvalidField::new(
                field,
                "must be a row (1 to 3 letters) followed by a seat number, like \"A12\"",
            )
        };
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if raw.len() > MAX_ROW_LEN + 3 {
            return Err(invalid());
        }
        let split = raw.find(|c: char| c.is_ascii_digit()).ok_or_else(invalid)?;
        let (row, number) = raw.split_at(split);
        let row = RowName::parse(field, row).map_err(|_| invalid())?;
        if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let number: u32 = number.parse().map_err(|_| invalid())?;
        if number == 0 || number > MAX_SEATS_PER_ROW {
            return Err(invalid());
        }
        Ok(Self::new(&row, number))
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
    }

    #[test]
    fn malformed_labels_are_rejected() {
        for raw in [
            "", "12", "A", "A0", "A012", "A501", "ABCD1", "A1B", "Ä1", "A-1",
        ] {
            assert!(SeatLabel::parse("s", raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn rows_are_letters_only() {
        assert!(RowName::parse("row", "A1").is_err());
        assert_eq!(RowName::parse("row", "aa").unwrap().as_str(), "AA");
    }
}
