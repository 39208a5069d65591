//! Paging of the lists a user or an admin reads (their reservations, their tickets, an event's
//! sales): a page size within bounds, and page tokens that say where the next page starts.
//!
//! A token is the hex of a tagged text (`<list>|<position>`). Clients have nothing to parse, and
//! a token is only accepted by the list that made it: a ticket token given to another event's
//! sales, an edited token or any other string is INVALID_ARGUMENT naming `page_token`, never a
//! silently wrong page.

use super::{EventId, InvalidField, TicketId, UnixMillis};
use uuid::Uuid;

/// Items per page: `0` asks for the default; more than the maximum is refused, not clamped, so
/// a client that asked for more never takes a short page for the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const DEFAULT: u32 = 20;
    pub const MAX: u32 = 100;

    pub fn parse(field: &str, raw: u32) -> Result<Self, InvalidField> {
        match raw {
            0 => Ok(Self(Self::DEFAULT)),
            n if n > Self::MAX => Err(InvalidField::new(
                field,
                format!(
                    "must be 0 (the default, {}) or at most {}",
                    Self::DEFAULT,
                    Self::MAX
                ),
            )),
            n => Ok(Self(n)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The page size as a count of items.
    pub fn items(self) -> usize {
        self.0 as usize
    }
}

/// Longer than any token a list makes (the longest, a sales token, is the hex of 79 characters),
/// checked before decoding.
const MAX_TOKEN: usize = 200;

fn encode(list: &str, position: &str) -> String {
    hex::encode(format!("{list}|{position}"))
}

/// The position a token of `list` carries.
fn decode(field: &str, raw: &str, list: &str) -> Result<String, InvalidField> {
    let invalid = || InvalidField::new(field, "is not a page token of this list");
    if raw.len() > MAX_TOKEN {
        return Err(invalid());
    }
    let text =
        String::from_utf8(hex::decode(raw).map_err(|_| invalid())?).map_err(|_| invalid())?;
    let (tag, position) = text.split_once('|').ok_or_else(invalid)?;
    if tag != list {
        return Err(invalid());
    }
    Ok(position.to_owned())
}

/// Where a page of a user's reservations ends. They are listed newest first: by creation time,
/// then by the reservation's public reference (the id itself is a secret and stays out of tokens),
/// both descending.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReservationCursor {
    pub created: UnixMillis,
    pub reference: String,
}

impl ReservationCursor {
    const LIST: &'static str = "reservations";

    pub fn encode(&self) -> String {
        encode(Self::LIST, &format!("{}.{}", self.created, self.reference))
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let position = decode(field, raw, Self::LIST)?;
        let invalid = || InvalidField::new(field, "is not a page token of this list");
        let (created, reference) = position.split_once('.').ok_or_else(invalid)?;
        if reference.len() != 16 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        Ok(Self {
            created: created.parse().map_err(|_| invalid())?,
            reference: reference.to_owned(),
        })
    }
}

/// A list of tickets: a token of one is refused by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketList {
    /// The caller's tickets.
    Mine,
    /// One event's sales.
    Sales(EventId),
}

impl TicketList {
    fn tag(self) -> String {
        match self {
            Self::Mine => "tickets".to_owned(),
            Self::Sales(event) => format!("sales/{event}"),
        }
    }
}

/// Where a page of tickets ends: tickets are listed newest first, by id descending (ids are
/// time-ordered UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketCursor {
    pub before: TicketId,
}

impl TicketCursor {
    pub fn encode(&self, list: TicketList) -> String {
        encode(&list.tag(), &self.before.to_string())
    }

    pub fn parse(field: &str, raw: &str, list: TicketList) -> Result<Self, InvalidField> {
        let position = decode(field, raw, &list.tag())?;
        let before = Uuid::parse_str(&position)
            .map_err(|_| InvalidField::new(field, "is not a page token of this list"))?;
        Ok(Self {
            before: TicketId::from_uuid(before),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_at_zero_and_refuse_past_the_maximum() {
        assert_eq!(PageSize::parse("page_size", 0).map(PageSize::get), Ok(20));
        assert_eq!(
            PageSize::parse("page_size", 100).map(PageSize::get),
            Ok(100)
        );
        let err = PageSize::parse("page_size", 101).expect_err("too many");
        assert_eq!(err.field, "page_size");
    }

    #[test]
    fn tokens_round_trip_and_only_in_their_own_list() {
        let cursor = ReservationCursor {
            created: 1_700_000_000_000,
            reference: "0123456789abcdef".into(),
        };
        assert_eq!(
            ReservationCursor::parse("page_token", &cursor.encode()),
            Ok(cursor)
        );
        let tickets = TicketCursor {
            before: TicketId::generate(),
        };
        let token = tickets.encode(TicketList::Mine);
        assert_eq!(
            TicketCursor::parse("page_token", &token, TicketList::Mine),
            Ok(tickets)
        );
        let (one, other) = (EventId::generate(), EventId::generate());
        let sales = tickets.encode(TicketList::Sales(one));
        assert!(TicketCursor::parse("page_token", &token, TicketList::Sales(one)).is_err());
        assert!(TicketCursor::parse("page_token", &sales, TicketList::Sales(other)).is_err());
        assert!(TicketCursor::parse("page_token", &sales, TicketList::Sales(one)).is_ok());
        assert!(ReservationCursor::parse("page_token", &token).is_err());
    }

    #[test]
    fn anything_else_is_refused_naming_the_field() {
        let long = "a".repeat(400);
        for raw in ["x", "zz", "abc", &hex::encode("tickets|nope"), &long] {
            let err = TicketCursor::parse("page_token", raw, TicketList::Mine).expect_err(raw);
            assert_eq!(err.field, "page_token");
            let err = ReservationCursor::parse("page_token", raw).expect_err(raw);
            assert_eq!(err.field, "page_token");
        }
    }
}
