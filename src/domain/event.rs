//! Events: a name, a start and a [`Layout`] (see `layout.rs`), and the cursor that pages them.

use super::{EventId, InvalidField, Layout, UnixMillis};

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
