//! Bearer tokens: `authorization: Bearer <token>` on the writing RPCs and on the caller's own
//! lists. Session tokens resolve to a [`Caller`] through the accounts service (cached, see
//! `service/sessions.rs`); the admin token guards inventory writes and the sales lists and is
//! compared in constant time.

use super::limits::Limiter;
use crate::domain::SessionToken;
use crate::service::{AccountsService, Caller};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tonic::{Request, Status};

const MISSING: &str = "missing `authorization: Bearer <token>` metadata";

pub(super) fn bearer(metadata: &tonic::metadata::MetadataMap) -> Result<&str, Status> {
    let value = metadata
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated(MISSING))?
        .to_str()
        .map_err(|_| Status::unauthenticated(MISSING))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| Status::unauthenticated(MISSING))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Status::unauthenticated(MISSING));
    }
    Ok(token.trim())
}

/// The calling user and the token it presented; UNAUTHENTICATED for anything else, and
/// RESOURCE_EXHAUSTED past the user's rate of writing calls.
pub async fn caller<T>(
    accounts: &AccountsService,
    request: &Request<T>,
) -> Result<(Caller, SessionToken), Status> {
    let token = session_token(request)?;
    let caller = accounts.authenticate(&token).await?;
    if let Some(limiter) = request.extensions().get::<Arc<Limiter>>() {
        limiter.user_call(caller.user)?;
    }
    Ok((caller, token))
}

/// The calling user, for a reading call: UNAUTHENTICATED as [`caller`], but not counted against
/// the user's rate of writing calls (the per-client rate still applies).
pub async fn reader<T>(accounts: &AccountsService, request: &Request<T>) -> Result<Caller, Status> {
    Ok(accounts.authenticate(&session_token(request)?).await?)
}

fn session_token<T>(request: &Request<T>) -> Result<SessionToken, Status> {
    SessionToken::parse(bearer(request.metadata())?).ok_or_else(|| {
        Status::unauthenticated("session is unknown, expired or revoked; log in again")
    })
}

/// Checks the admin token on inventory writes.
#[derive(Clone)]
pub struct AdminGate {
    digest: Option<[u8; 32]>,
}

impl AdminGate {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            digest: token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    pub fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        self.check_token(bearer(request.metadata())?)
    }

    /// The same check on raw HTTP headers (before the request is decoded).
    pub fn check_headers(&self, headers: &http::HeaderMap) -> Result<(), Status> {
        let metadata = tonic::metadata::MetadataMap::from_headers(headers.clone());
        self.check_token(bearer(&metadata)?)
    }

    fn check_token(&self, presented: &str) -> Result<(), Status> {
        let Some(expected) = &self.digest else {
            return Err(Status::permission_denied(
                "inventory writes are disabled: start the server with SEATRUSH_ADMIN_TOKEN (or --admin-token) set",
            ));
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(Status::permission_denied(
                "the bearer token is not the admin token",
            ))
        }
    }
}
