//! A payment reference: the id of a payment made outside SeatRush (a payment provider's charge or
//! order id), recorded on the tickets it paid for. SeatRush never talks to the provider; the
//! reference lets the caller find, and the database enforce, that one payment pays for one
//! reservation.
//!
//! The reference is an id of someone else's system, so it is kept exactly as given: it is refused,
//! not trimmed or re-cased, when it does not fit, since a silently altered reference would no
//! longer match the provider's.

use super::InvalidField;

/// The longest reference accepted, in characters (ASCII, so also bytes).
pub const MAX_PAYMENT_REFERENCE: usize = 128;

/// 1 to [`MAX_PAYMENT_REFERENCE`] printable ASCII characters (space to `~`), without a space at
/// either end.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PaymentReference(String);

impl PaymentReference {
    /// The reference in request field `field`; the empty string (protobuf's unset) is `None`.
    pub fn parse_optional(field: &str, raw: &str) -> Result<Option<Self>, InvalidField> {
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > MAX_PAYMENT_REFERENCE {
            return Err(InvalidField::new(
                field,
                format!("must be at most {MAX_PAYMENT_REFERENCE} characters"),
            ));
        }
        if !raw.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(InvalidField::new(
                field,
                "must be printable ASCII characters (no control characters)",
            ));
        }
        if raw.starts_with(' ') || raw.ends_with(' ') {
            return Err(InvalidField::new(
                field,
                "must not start or end with a space",
            ));
        }
        Ok(Some(Self(raw.to_owned())))
    }

    /// A reference read back from storage, trusted as written.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PaymentReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Option<PaymentReference>, InvalidField> {
        PaymentReference::parse_optional("payment_reference", raw)
    }

    #[test]
    fn an_empty_reference_is_no_reference() {
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn a_reference_is_kept_exactly_as_given() {
        let kept = parse("pi_3Qx7 Zk/ORDER-42#a~")
            .expect("valid")
            .expect("some");
        assert_eq!(kept.as_str(), "pi_3Qx7 Zk/ORDER-42#a~");
        let longest = "x".repeat(MAX_PAYMENT_REFERENCE);
        assert_eq!(
            parse(&longest).expect("valid").expect("some").as_str(),
            longest
        );
    }

    #[test]
    fn bad_references_are_refused_naming_the_field() {
        let too_long = "x".repeat(MAX_PAYMENT_REFERENCE + 1);
        for raw in [
            " ",
            "   ",
            " lead",
            "trail ",
            "tab\there",
            "line\nbreak",
            "nul\0",
            "del\u{7f}",
            "caf\u{e9}",
            too_long.as_str(),
        ] {
            let err = parse(raw).expect_err(raw);
            assert_eq!(err.field, "payment_reference", "{raw:?}");
        }
    }
}
