//! Identifiers. UUIDs for stored rows; a reservation id that carries its event (so every Redis key
//! of a hold shares the event's hash tag) and 128 random bits (so it cannot be guessed).

use super::InvalidField;
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

/// A request field holding a UUID.
fn parse_uuid(field: &str, raw: &str) -> Result<Uuid, InvalidField> {
    if raw.is_empty() {
        return Err(InvalidField::new(field, "is required"));
    }
    if raw.len() > 36 {
        return Err(InvalidField::new(field, "is not a UUID"));
    }
    Uuid::parse_str(raw).map_err(|_| InvalidField::new(field, "is not a UUID"))
}

uuid_id!(
    /// An event (a concert, a match).
    EventId
);
impl EventId {
    /// Parses a request field holding an event's UUID.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        parse_uuid(field, raw).map(Self)
    }
}

uuid_id!(
    /// A seat of one event.
    SeatId
);
uuid_id!(
    /// A registered user.
    UserId
);
uuid_id!(
    /// A login session.
    SessionId
);
uuid_id!(
    /// A sold ticket.
    TicketId
);
impl TicketId {
    /// Parses a request field holding a ticket's UUID.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        parse_uuid(field, raw).map(Self)
    }
}

/// The secret half of a reservation id: 128 random bits, written into every seat key the hold
/// owns, so that each compare-and-set can tell this hold from the next one on the same seat.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldToken([u8; 16]);

impl HoldToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        // The OS random source failing is not a recoverable state for a booking service; fall
        // back to a v4 UUID, which draws from the same source through another path.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = *Uuid::new_v4().as_bytes();
        }
        Self(bytes)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// A token as a store wrote it (32 hex characters); `None` for anything else.
    pub fn from_hex(raw: &str) -> Option<Self> {
        let bytes = hex::decode(raw).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for HoldToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HoldToken(..)")
    }
}

/// `hex(event uuid) + hex(hold token)`: 64 hex characters, opaque to clients.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservationId {
    event: EventId,
    token: HoldToken,
}

impl ReservationId {
    pub fn new(event: EventId) -> Self {
        Self {
            event,
            token: HoldToken::generate(),
        }
    }

    /// The id of an existing hold, from its event and its token (as a store lists them).
    pub fn from_parts(event: EventId, token: HoldToken) -> Self {
        Self { event, token }
    }

    pub fn event(&self) -> EventId {
        self.event
    }

    pub fn token(&self) -> HoldToken {
        self.token
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        let invalid = || InvalidField::new(field, "is not a reservation id (64 hex characters)");
        if raw.len() != 64 {
            return Err(invalid());
        }
        let bytes = hex::decode(raw).map_err(|_| invalid())?;
        let (event, token) = bytes.split_at(16);
        let event = Uuid::from_slice(event).map_err(|_| invalid())?;
        let token: [u8; 16] = token.try_into().map_err(|_| invalid())?;
        Ok(Self {
            event: EventId::from_uuid(event),
            token: HoldToken(token),
        })
    }
}

impl ReservationId {
    /// A name for the reservation that is safe to log and trace: 16 hex characters of the
    /// SHA-256 of the id. The id itself is a secret (its token half authorises Purchase).
    pub fn public_ref(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(&Sha256::digest(self.to_string().as_bytes())[..8])
    }
}

impl fmt::Display for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            hex::encode(self.event.as_uuid().as_bytes()),
            self.token.to_hex()
        )
    }
}

impl fmt::Debug for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReservationId({}, {})", self.event, self.public_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_id_round_trips_through_its_text_form() {
        let id = ReservationId::new(EventId::generate());
        let parsed = ReservationId::parse("reservation_id", &id.to_string()).expect("valid id");
        assert_eq!(parsed, id);
        assert_eq!(parsed.event(), id.event());
    }

    #[test]
    fn malformed_reservation_ids_name_the_field() {
        for raw in ["", "abc", &"z".repeat(64), &"0".repeat(65)] {
            let err = ReservationId::parse("reservation_id", raw).expect_err(raw);
            assert_eq!(err.field, "reservation_id");
        }
    }

    #[test]
    fn what_is_logged_of_a_reservation_holds_no_part_of_its_token() {
        let id = ReservationId::new(EventId::generate());
        let token = id.token().to_hex();
        for shown in [id.public_ref(), format!("{id:?}")] {
            for window in token.as_bytes().windows(6) {
                let piece = std::str::from_utf8(window).expect("hex");
                assert!(!shown.contains(piece), "{shown} shows {piece} of the token");
            }
        }
        assert_eq!(id.public_ref(), id.public_ref());
        assert_eq!(id.public_ref().len(), 16);
    }

    #[test]
    fn two_reservations_of_one_event_have_different_tokens() {
        let event = EventId::generate();
        assert_ne!(ReservationId::new(event), ReservationId::new(event));
    }
}
