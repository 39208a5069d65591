//! An email address as an account key. Two strings that a person reads as the same address must
//! become the same key, or one person's address can be registered twice (once composed, once
//! decomposed; once in ASCII, once in fullwidth letters); and a string that only looks like an
//! address (a zero-width space inside, a Cyrillic `а` among Latin letters) must be refused rather
//! than becoming a second account that impersonates the first.
//!
//! The rule, in order:
//! 1. surrounding whitespace is trimmed;
//! 2. control and format characters (general categories Cc and Cf: zero-width spaces and joiners,
//!    the byte-order mark, bidi controls) and any other whitespace are refused;
//! 3. the address is put in Unicode NFC and lower-cased as a whole (local part included: SeatRush
//!    treats addresses case-insensitively, as every mail provider its users meet does);
//! 4. a character that NFKC would change (fullwidth letters, ligatures, superscripts, the Kelvin
//!    sign…) is refused rather than folded, so the stored key is what the user sees;
//! 5. the local part and each domain label may use letters of at most one of Latin, Greek and
//!    Cyrillic;
//! 6. at most 254 characters in all and 64 in the local part, counted in characters, not bytes.

use super::InvalidField;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

const MAX_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;

/// A normalised email address (see the module docs); uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if let Some(c) = raw.chars().find(|&c| is_invisible(c)) {
            return Err(InvalidField::new(
                field,
                format!(
                    "must not contain invisible, control or space characters (found U+{:04X})",
                    c as u32
                ),
            ));
        }
        let address: String = raw.nfc().collect::<String>().to_lowercase().nfc().collect();
        if let Some(c) = address.chars().find(|&c| !nfkc_stable(c)) {
            return Err(InvalidField::new(
                field,
                format!(
                    "must not contain look-alike characters such as fullwidth letters or ligatures (found {c:?})"
                ),
            ));
        }
        if address.chars().count() > MAX_CHARS {
            return Err(InvalidField::new(field, "must be at most 254 characters"));
        }
        let mut parts = address.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(InvalidField::new(field, "must contain exactly one '@'"));
        };
        if local.is_empty() || domain.is_empty() {
            return Err(InvalidField::new(field, "is not an email address"));
        }
        if local.chars().count() > MAX_LOCAL_CHARS {
            return Err(InvalidField::new(
                field,
                "must have at most 64 characters before the '@'",
            ));
        }
        if std::iter::once(local)
            .chain(domain.split('.'))
            .any(mixes_scripts)
        {
            return Err(InvalidField::new(
                field,
                "must not mix Latin, Greek and Cyrillic letters in one part",
            ));
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c.general_category(),
            GeneralCategory::Control | GeneralCategory::Format
        )
}

/// Whether NFKC leaves `c` as it is: false for compatibility forms that look like another
/// character (`ｋ`, `ﬁ`, `²`, `ⓐ`).
fn nfkc_stable(c: char) -> bool {
    let mut folded = std::iter::once(c).nfkc();
    folded.next() == Some(c) && folded.next().is_none()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
}

/// The script of a letter, for the three whose letters are confused with each other.
fn script(c: char) -> Option<Script> {
    match c as u32 {
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xC0..=0x24F
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F => Some(Script::Latin),
        0x370..=0x3FF | 0x1F00..=0x1FFF => Some(Script::Greek),
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => {
            Some(Script::Cyrillic)
        }
        _ => None,
    }
    .filter(|_| c.is_alphabetic())
}

fn mixes_scripts(part: &str) -> bool {
    let mut seen = None;
    part.chars().filter_map(script).any(|s| {
        let first = *seen.get_or_insert(s);
        first != s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        Email::parse("email", raw)
            .map(|e| e.0)
            .unwrap_or_else(|e| panic!("{raw:?} refused: {e}"))
    }

    fn refusal(raw: &str) -> InvalidField {
        match Email::parse("email", raw) {
            Ok(email) => panic!("{raw:?} accepted as {:?}", email.as_str()),
            Err(err) => err,
        }
    }

    #[test]
    fn emails_are_case_insensitive() {
        assert_eq!(key(" Ann@Example.COM "), "ann@example.com");
    }

    #[test]
    fn composed_and_decomposed_forms_are_one_address() {
        let composed = "jos\u{e9}@example.com";
        let decomposed = "jose\u{301}@example.com";
        assert_ne!(composed, decomposed);
        assert_eq!(key(decomposed), key(composed));
        assert_eq!(key("JOSE\u{301}@EXAMPLE.COM"), composed);
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for raw in [
            "",
            "a",
            "a@",
            "@b",
            "a@b@c",
            "a b@c",
            &format!("{}@b", "a".repeat(260)),
        ] {
            assert_eq!(refusal(raw).field, "email", "{raw:?}");
        }
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{202E}', '\u{2066}',
            '\u{200E}', '\u{00AD}', '\u{0007}', '\u{00A0}',
        ] {
            let err = refusal(&format!("a{c}b@example.com"));
            assert!(err.reason.contains("invisible"), "{c:?}: {}", err.reason);
            refusal(&format!("ab@exam{c}ple.com"));
        }
    }

    #[test]
    fn look_alike_compatibility_characters_are_refused() {
        for raw in [
            "\u{FF4B}@example.com",
            "ann@\u{FF45}xample.com",
            "\u{FB01}sh@example.com",
            "ann\u{B2}@example.com",
            "\u{24D0}nn@example.com",
        ] {
            let err = refusal(raw);
            assert!(err.reason.contains("look-alike"), "{raw:?}: {}", err.reason);
        }
    }

    #[test]
    fn a_part_may_not_mix_latin_with_greek_or_cyrillic() {
        for raw in [
            "p\u{430}ypal@example.com",
            "ann@p\u{430}ypal.com",
            "\u{3bf}mega@example.com",
        ] {
            let err = refusal(raw);
            assert!(err.reason.contains("mix"), "{raw:?}: {}", err.reason);
        }
        // One script per part is fine, and parts may differ from each other.
        key("\u{43f}\u{430}\u{432}\u{435}\u{43b}@example.com");
        key("ann@\u{43f}\u{440}\u{438}\u{43c}\u{435}\u{440}.\u{440}\u{444}");
        key("\u{3b1}\u{3bd}\u{3bd}\u{3b1}@example.gr");
        key("ann.1990+tickets@example.com");
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        // 64 two-byte letters: 128 bytes, but 64 characters.
        let local = "\u{e9}".repeat(64);
        key(&format!("{local}@example.com"));
        refusal(&format!("{local}\u{e9}@example.com"));
        // 254 characters in all, over 500 bytes.
        let domain = format!("{}.com", "\u{e9}".repeat(248));
        key(&format!("a@{domain}"));
        refusal(&format!("ab@{domain}"));
    }
}
