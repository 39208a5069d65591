//! Registration, login and the session lifecycle, and turning a bearer token into a [`Caller`].

use super::sessions::SessionCache;
use super::{ServiceError, ServiceResult};
use crate::clock::Clock;
use crate::domain::{Email, Password, SessionId, SessionToken, UnixMillis, UserId};
use crate::ports::{AccountStore, HoldStore, NewSession, UserStatus};
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// An authenticated user, as the booking rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub session: SessionId,
}

/// What Login hands out: the token is shown to the client once and kept only as a hash.
#[derive(Debug)]
pub struct LoginGrant {
    pub token: SessionToken,
    pub user: UserId,
    pub expires_at: UnixMillis,
}

/// The result of looking a token up, cached for under a second: `None` means "not a valid
/// session", cached too so that a bad token costs no more than a good one.
type Lookup = Option<(Caller, UnixMillis)>;

const BAD_CREDENTIALS: &str = "email or password is wrong";
const BAD_SESSION: &str = "session is unknown, expired or revoked; log in again";

/// Verified against when the email is unknown, so that a wrong email costs as long as a wrong
/// password and the two cannot be told apart by timing.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not-a-real-password").unwrap_or_default());

fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&bytes)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Argon2 hashes running at once: one per core. A login storm queues here instead of spawning a
/// blocking thread (and a 19 MiB work area) per request.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Argon2 takes tens of milliseconds of CPU: never on the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    let _permit = HASHING.acquire().await.map_err(|e| {
        ServiceError::Internal(crate::ports::StoreError::internal(format!(
            "hashing closed: {e}"
        )))
    })?;
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ServiceError::Internal(crate::ports::StoreError::internal(format!(
            "password task failed: {e}"
        )))
    })
}

pub struct AccountsService {
    store: Arc<dyn AccountStore>,
    /// A deleted account's holds are given back at once.
    holds: Arc<dyn HoldStore>,
    clock: Arc<dyn Clock>,
    session_ttl: Duration,
    cache: SessionCache<Lookup>,
}

impl AccountsService {
    pub fn new(
        store: Arc<dyn AccountStore>,
        holds: Arc<dyn HoldStore>,
        clock: Arc<dyn Clock>,
        session_ttl: Duration,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            store,
            holds,
            clock,
            session_ttl,
            cache: SessionCache::new(cache_ttl),
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn register(&self, email: Email, password: Password) -> ServiceResult<UserId> {
        let hash = blocking(move || hash_password(password.expose()))
            .await?
            .map_err(|e| {
                ServiceError::Internal(crate::ports::StoreError::internal(format!(
                    "hashing failed: {e}"
                )))
            })?;
        let id = UserId::generate();
        if self
            .store
            .create_user(id, &email, &hash, self.clock.now())
            .await?
        {
            Ok(id)
        } else {
            Err(ServiceError::AlreadyExists(
                "an account with this email already exists".into(),
            ))
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login(
        &self,
        email: Email,
        password: Password,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> ServiceResult<LoginGrant> {
        let user = self.store.find_user_by_email(&email).await?;
        let (hash, user) = match user {
            Some(u) if u.status == UserStatus::Active => (u.password_hash.clone(), Some(u)),
            _ => (DUMMY_HASH.clone(), None),
        };
        let verified = blocking(move || verify_password(password.expose(), &hash)).await?;
        let Some(user) = user.filter(|_| verified) else {
            return Err(ServiceError::Unauthenticated(BAD_CREDENTIALS));
        };
        let token = SessionToken::generate();
        let now = self.clock.now();
        let expires_at = now + i64::try_from(self.session_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.store
            .create_session(&NewSession {
                id: SessionId::generate(),
                user_id: user.id,
                token_hash: token.hash(),
                ip,
                user_agent,
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(LoginGrant {
            token,
            user: user.id,
            expires_at,
        })
    }

    /// The caller behind a bearer token. Costs no database round trip while cached.
    pub async fn authenticate(&self, token: &SessionToken) -> ServiceResult<Caller> {
        let hash = token.hash();
        let lookup = self
            .cache
            .get_or_load(&hash, || async {
                let session = self.store.find_session(&hash).await?;
                Ok::<_, ServiceError>(
                    session
                        .filter(|s| !s.revoked && s.user_status == UserStatus::Active)
                        .map(|s| {
                            (
                                Caller {
                                    user: s.user_id,
                                    session: s.id,
                                },
                                s.expires_at,
                            )
                        }),
                )
            })
            .await?;
        match lookup {
            Some((caller, expires_at)) if expires_at > self.clock.now() => Ok(caller),
            _ => Err(ServiceError::Unauthenticated(BAD_SESSION)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user = %caller.user))]
    pub async fn logout(&self, caller: Caller, token: &SessionToken) -> ServiceResult<()> {
        self.store
            .revoke_session(caller.session, self.clock.now())
            .await?;
        self.cache.forget(&token.hash());
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user = %caller.user))]
    /// Marks the user deleted, revokes its sessions and gives its holds back (holds being
    /// purchased finish). The holds go first, so a hold store outage answers UNAVAILABLE with the
    /// account intact and the call can be retried; a second pass catches a hold made meanwhile.
    pub async fn delete_account(&self, caller: Caller) -> ServiceResult<()> {
        self.holds.release_all_of(caller.user).await?;
        self.store
            .delete_user(caller.user, self.clock.now())
            .await?;
        self.cache
            .forget_where(|lookup| lookup.is_some_and(|(c, _)| c.user == caller.user));
        if let Err(err) = self.holds.release_all_of(caller.user).await {
            tracing::warn!(error = %err, "a deleted account's late holds will lapse on their own");
        }
        Ok(())
    }
}
