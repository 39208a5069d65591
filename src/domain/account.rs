//! Account inputs and session secrets. A password and a session token never appear in `Debug`
//! output, so they cannot leak into logs or traces.

use super::InvalidField;
use sha2::{Digest, Sha256};
use std::fmt;

/// A lower-cased email address; uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if raw.len() > 254 {
            return Err(InvalidField::new(field, "must be at most 254 characters"));
        }
        let mut parts = raw.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(InvalidField::new(field, "must contain exactly one '@'"));
        };
        if local.is_empty()
            || domain.is_empty()
            || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidField::new(field, "is not an email address"));
        }
        Ok(Self(raw.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8 to 256 characters.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err(InvalidField::new(field, "is required"));
        }
        if !(8..=256).contains(&chars) {
            return Err(InvalidField::new(field, "must be 8 to 256 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A bearer session token: 256 random bits as 64 hex characters. Shown to the client once.
#[derive(Clone)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        if getrandom::fill(&mut bytes).is_err() {
            bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        Self(hex::encode(bytes))
    }

    /// Accepts what a client presents; a token of the wrong shape can never match, so it is
    /// refused here without a lookup.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_ascii_lowercase()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores and what sessions are looked up by.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// SHA-256 of a session token, hex-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_case_insensitive() {
        assert_eq!(
            Email::parse("email", " Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
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
            assert!(Email::parse("email", raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn a_token_hash_is_stable_and_not_the_token() {
        let token = SessionToken::generate();
        assert_eq!(
            token.hash(),
            SessionToken::parse(token.expose()).unwrap().hash()
        );
        assert_ne!(token.hash().as_str(), token.expose());
        assert!(SessionToken::parse("not-a-token").is_none());
    }
}
