//! `seatrush.v1.AccountService`.

use super::auth;
use super::convert::timestamp;
use super::limits::{Limiter, Peer};
use super::status::invalid_argument;
use crate::domain::{Email, NewPassword, Password};
use crate::proto::v1::{self as pb, account_service_server::AccountService};
use crate::service::AccountsService;
use std::net::IpAddr;
use std::sync::Arc;
use tonic::{Request, Response, Status};

const MAX_USER_AGENT: usize = 512;

pub struct AccountsApi {
    accounts: Arc<AccountsService>,
}

impl AccountsApi {
    pub fn new(accounts: Arc<AccountsService>) -> Self {
        Self { accounts }
    }
}

/// Login's email and password (any password that could have been set; the rules of new ones
/// are Register's).
pub(super) fn credentials(email: &str, password: &str) -> Result<(Email, Password), Status> {
    let email = Email::parse("email", email).map_err(invalid_argument)?;
    let password = Password::parse("password", password).map_err(invalid_argument)?;
    Ok((email, password))
}

/// Register's email and new password.
pub(super) fn registration(body: &pb::RegisterRequest) -> Result<(Email, NewPassword), Status> {
    let email = Email::parse("email", &body.email).map_err(invalid_argument)?;
    let password = NewPassword::parse("password", &body.password).map_err(invalid_argument)?;
    Ok((email, password))
}

/// The client's address: the one the rate limiter found (behind a trusted proxy, the forwarded
/// client), else the connection's.
fn client<T>(request: &Request<T>) -> Option<IpAddr> {
    request
        .extensions()
        .get::<Peer>()
        .map(|peer| peer.0)
        .or_else(|| request.remote_addr().map(|a| a.ip()))
}

#[tonic::async_trait]
impl AccountService for AccountsApi {
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let source = client(&request);
        if let Some(limiter) = request.extensions().get::<Arc<Limiter>>() {
            limiter.registration(request.extensions().get::<Peer>().copied())?;
        }
        let (email, password) = registration(request.get_ref())?;
        let user = self.accounts.register(email, password, source).await?;
        Ok(Response::new(pb::RegisterResponse {
            user_id: user.to_string(),
        }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let ip = client(&request);
        let user_agent = request
            .metadata()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        let body = request.into_inner();
        let (email, password) = credentials(&body.email, &body.password)?;
        let grant = self.accounts.login(email, password, ip, user_agent).await?;
        Ok(Response::new(pb::LoginResponse {
            session_token: grant.token.expose().to_owned(),
            expires_at: Some(timestamp(grant.expires_at)),
            user_id: grant.user.to_string(),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let (caller, token) = auth::caller(&self.accounts, &request).await?;
        self.accounts.logout(caller, &token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let (caller, _) = auth::caller(&self.accounts, &request).await?;
        self.accounts.delete_account(caller).await?;
        Ok(Response::new(pb::DeleteAccountResponse {}))
    }
}
