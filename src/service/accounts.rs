//! Registration, login and the session lifecycle, and turning a bearer token into a [`Caller`].
//! Login is guarded twice before it costs a hash: by the per-email throttle
//! ([`super::throttle`]) and by the bounded hashing queue ([`super::hashing`]).

use super::hashing::{self, HashingQueue};
use super::sessions::SessionCache;
use super::throttle::{LoginThrottle, ThrottlePolicy};
use super::{BusyReason, ServiceError, ServiceResult};
use crate::clock::Clock;
use crate::domain::{Email, NewPassword, Password, SessionId, SessionToken, UnixMillis, UserId};
use crate::ports::{AccountStore, HoldStore, NewSession, UserStatus};
use std::net::IpAddr;
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
    LazyLock::new(|| hashing::hash_password("not-a-real-password").unwrap_or_default());

/// The limits that keep hostile traffic from costing the server (or a user) too much.
#[derive(Debug, Clone, Copy)]
pub struct AccountLimits {
    /// Password hashes that may wait for a core before more are refused as busy.
    pub max_hashes_waiting: usize,
    pub throttle: ThrottlePolicy,
}

impl Default for AccountLimits {
    fn default() -> Self {
        Self {
            max_hashes_waiting: 32 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            throttle: ThrottlePolicy::default(),
        }
    }
}

pub struct AccountsService {
    store: Arc<dyn AccountStore>,
    /// A deleted account's holds are given back at once.
    holds: Arc<dyn HoldStore>,
    clock: Arc<dyn Clock>,
    session_ttl: Duration,
    cache: SessionCache<Lookup>,
    hashing: HashingQueue,
    throttle: LoginThrottle,
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
            hashing: HashingQueue::new(AccountLimits::default().max_hashes_waiting),
            throttle: LoginThrottle::new(ThrottlePolicy::default()),
        }
    }

    /// The same service with other limits than [`AccountLimits::default`].
    pub fn with_limits(self, limits: AccountLimits) -> Self {
        Self {
            hashing: HashingQueue::new(limits.max_hashes_waiting),
            throttle: LoginThrottle::new(limits.throttle),
            ..self
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn register(
        &self,
        email: Email,
        password: NewPassword,
        source: Option<IpAddr>,
    ) -> ServiceResult<UserId> {
        let password = password.into_password();
        let hash = self
            .hashing
            .run(source, move || hashing::hash_password(password.expose()))
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
        ip: Option<IpAddr>,
        user_agent: Option<String>,
    ) -> ServiceResult<LoginGrant> {
        let attempt = self
            .throttle
            .begin(&email, self.clock.now())
            .map_err(|retry_after| ServiceError::Busy {
                reason: BusyReason::LoginThrottled,
                retry_after,
            })?;
        let place = self.hashing.admit(ip)?;
        let user = self.store.find_user_by_email(&email).await?;
        let (hash, user) = match user {
            Some(u) if u.status == UserStatus::Active => (u.password_hash.clone(), Some(u)),
            _ => (DUMMY_HASH.clone(), None),
        };
        let verified = place
            .run(move || hashing::verify_password(password.expose(), &hash))
            .await?;
        let Some(user) = user.filter(|_| verified) else {
            attempt.failed(self.clock.now());
            return Err(ServiceError::Unauthenticated(BAD_CREDENTIALS));
        };
        attempt.succeeded();
        let token = SessionToken::generate();
        let now = self.clock.now();
        let expires_at = now + i64::try_from(self.session_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.store
            .create_session(&NewSession {
                id: SessionId::generate(),
                user_id: user.id,
                token_hash: token.hash(),
                ip: ip.map(|ip| ip.to_string()),
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

    /// Password hashes let in since start.
    #[cfg(test)]
    pub fn hashes_started(&self) -> usize {
        self.hashing.started()
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
