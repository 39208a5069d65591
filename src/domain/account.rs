//! Account inputs and session secrets. A password and a session token never appear in `Debug`
//! output, so they cannot leak into logs or traces.
//!
//! A password offered at login ([`Password`]) is only checked for shape; a password chosen at
//! registration ([`NewPassword`]) must also not be blank or one of the 10,000 most common
//! passwords. The two are kept apart so that tightening the rule for new accounts never locks an
//! existing account out.

use super::InvalidField;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// The most common passwords, lower case (see the file's header for its source and licence).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

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

/// A password chosen for a new account: a [`Password`] that is not only whitespace and is not,
/// ignoring case, one of the 10,000 most common passwords (which attackers try first).
#[derive(Clone, Debug)]
pub struct NewPassword(Password);

impl NewPassword {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        let password = Password::parse(field, raw)?;
        if raw.chars().all(char::is_whitespace) {
            return Err(InvalidField::new(field, "must not be only spaces"));
        }
        if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
            return Err(InvalidField::new(
                field,
                "is one of the 10,000 most common passwords, which attackers try first; choose a less common one (a few unrelated words work well)",
            ));
        }
        Ok(Self(password))
    }

    pub fn into_password(self) -> Password {
        self.0
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
    fn common_passwords_are_refused_for_new_accounts_whatever_their_case() {
        assert!(
            COMMON_PASSWORDS.len() >= 10_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
        for raw in [
            "password",
            "PassWord",
            "12345678",
            "iloveyou",
            "SUNSHINE",
            "qwertyuiop",
        ] {
            let err = NewPassword::parse("password", raw).expect_err(raw);
            assert_eq!(err.field, "password");
            assert!(err.reason.contains("common"), "{raw}: {}", err.reason);
            assert!(
                Password::parse("password", raw).is_ok(),
                "login still takes {raw}"
            );
        }
        assert!(NewPassword::parse("password", "correct horse battery").is_ok());
    }

    #[test]
    fn blank_and_badly_sized_new_passwords_are_refused() {
        for raw in ["        ", " \t\n \u{3000}\u{a0}   ", ""] {
            let err = NewPassword::parse("password", raw).expect_err(raw);
            assert_eq!(err.field, "password");
        }
        assert!(NewPassword::parse("password", "short").is_err());
        assert!(NewPassword::parse("password", &"x".repeat(257)).is_err());
        // Characters, not bytes: 8 three-byte characters are a long enough password.
        assert!(NewPassword::parse("password", "\u{96ea}".repeat(8).as_str()).is_ok());
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
