//! Users and sessions, in the database.

use super::StoreResult;
use crate::domain::{Email, SessionId, TokenHash, UnixMillis, UserId};
use async_trait::async_trait;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Deleted,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub password_hash: String,
    pub status: UserStatus,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: TokenHash,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// A session as authentication sees it: joined with its user's status.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub user_status: UserStatus,
    pub expires_at: UnixMillis,
    pub revoked: bool,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Ok(false)` when the email is taken.
    async fn create_user(
        &self,
        id: UserId,
        email: &Email,
        password_hash: &str,
        now: UnixMillis,
    ) -> StoreResult<bool>;
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>>;
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    async fn find_session(&self, token_hash: &TokenHash) -> StoreResult<Option<SessionRecord>>;
    async fn revoke_session(&self, id: SessionId, now: UnixMillis) -> StoreResult<()>;
    /// Marks the user deleted and revokes all of its sessions, in one transaction.
    async fn delete_user(&self, id: UserId, now: UnixMillis) -> StoreResult<()>;
}
