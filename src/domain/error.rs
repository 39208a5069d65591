//! The one parse error: which request field was wrong, and why.

/// A request field that does not hold a valid value. `field` is the protobuf field path
/// (`seats[2]`, `rows[0].seat_count`) so a client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
