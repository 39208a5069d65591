//! Hostile traffic on the account calls: look-alike emails, common passwords, password guessing
//! on one account and wrong-password floods over many. The claims checked are the README's
//! "Accounts under attack": no second account for one address, no hash for a throttled login,
//! and a real user's login still answered quickly while a flood is shed with retry-after.

use crate::both_backends;
use crate::helpers::{
    Backend, HEAVY, PASSWORD, Storage, TestApp, assert_code, connect, spawn_app, spawn_with,
    unique_email,
};
use crate::validation::expect_invalid;
use seatrush::proto::v1 as pb;
use seatrush::proto::v1::account_service_client::AccountServiceClient;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

both_backends!(
    look_alike_emails_cannot_make_a_second_account,
    common_and_blank_passwords_are_refused_at_registration_only,
    repeated_failed_logins_are_refused_with_retry_after_until_the_window_passes,
);

fn register(email: &str, password: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        email: email.into(),
        password: password.into(),
    }
}

fn login(email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        email: email.into(),
        password: password.into(),
    }
}

/// RESOURCE_EXHAUSTED with `retry-after` metadata, a RetryInfo detail and the ErrorInfo
/// `reason`; returns the advised wait.
fn expect_retry_later(status: &Status, reason: &str) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let header: u64 = status
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no retry-after seconds: {status:?}"));
    assert!(header >= 1);
    let details = status.get_error_details();
    let delay = details
        .retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or_else(|| panic!("no RetryInfo: {status:?}"));
    assert_eq!(
        details.error_info().map(|info| info.reason.as_str()),
        Some(reason)
    );
    assert!(
        delay <= Duration::from_secs(header),
        "{delay:?} vs {header}s"
    );
    delay
}

async fn look_alike_emails_cannot_make_a_second_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut accounts = app.accounts.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let composed = format!("jos\u{e9}-{id}@example.com");
    let decomposed = format!("JOSE\u{301}-{id}@Example.com");
    let user = accounts
        .register(register(&composed, PASSWORD))
        .await
        .expect("register")
        .into_inner()
        .user_id;
    assert_code(
        accounts.register(register(&decomposed, PASSWORD)).await,
        Code::AlreadyExists,
    );
    let again = accounts
        .login(login(&decomposed, PASSWORD))
        .await
        .expect("the decomposed form logs into the same account")
        .into_inner();
    assert_eq!(again.user_id, user);

    let ascii = format!("k-{id}@example.com");
    accounts
        .register(register(&ascii, PASSWORD))
        .await
        .expect("register");
    for (case, raw) in [
        ("fullwidth k", format!("\u{ff4b}-{id}@example.com")),
        ("zero-width space", format!("k-{id}\u{200b}@example.com")),
        (
            "right-to-left override",
            format!("k-{id}@example\u{202e}.com"),
        ),
        (
            "Cyrillic a in a Latin domain",
            format!("k-{id}@ex\u{430}mple.com"),
        ),
    ] {
        expect_invalid(
            case,
            accounts.register(register(&raw, PASSWORD)).await,
            "email",
        );
        expect_invalid(case, accounts.login(login(&raw, PASSWORD)).await, "email");
    }
    app.teardown().await;
}

async fn common_and_blank_passwords_are_refused_at_registration_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut accounts = app.accounts.clone();
    for password in ["password1", "Iloveyou", "QWERTYUIOP", "          "] {
        expect_invalid(
            password,
            accounts.register(register(&unique_email(), password)).await,
            "password",
        );
    }
    let common = accounts
        .register(register(&unique_email(), "sunshine"))
        .await
        .expect_err("common");
    assert!(common.message().contains("most common"), "{common:?}");
    // Login takes any password of the right length: tightening the rule locks nobody out.
    assert_code(
        accounts.login(login(&unique_email(), "password1")).await,
        Code::Unauthenticated,
    );
    app.teardown().await;
}

async fn repeated_failed_logins_are_refused_with_retry_after_until_the_window_passes(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let mut accounts = app.accounts.clone();
    let (email, _) = app.user_with_email().await;
    for _ in 0..5 {
        assert_code(
            accounts.login(login(&email, "wrong password")).await,
            Code::Unauthenticated,
        );
    }
    let refused = assert_code(
        accounts.login(login(&email, PASSWORD)).await,
        Code::ResourceExhausted,
    );
    let wait = expect_retry_later(&refused, "LOGIN_THROTTLED");
    assert!(wait <= Duration::from_secs(1), "{wait:?}");
    let other = unique_email();
    assert_code(
        accounts.login(login(&other, "wrong password")).await,
        Code::Unauthenticated,
    );
    tokio::time::sleep(wait).await;
    accounts
        .login(login(&email, PASSWORD))
        .await
        .expect("the first window is over");
    app.teardown().await;
}

/// Wrong-password logins sent back to back on `client` until `stop`; each call is counted by how
/// it ended, and every RESOURCE_EXHAUSTED must carry its retry advice.
#[derive(Debug, Default)]
struct Flood {
    unauthenticated: usize,
    shed: usize,
    slowest_shed: Duration,
}

async fn flood(
    mut client: AccountServiceClient<Channel>,
    email: impl Fn() -> String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Flood {
    let mut flood = Flood::default();
    while !*stop.borrow() {
        let started = Instant::now();
        match client.login(login(&email(), "wrong password")).await {
            Err(status) if status.code() == Code::Unauthenticated => flood.unauthenticated += 1,
            Err(status) if status.code() == Code::ResourceExhausted => {
                let reason = match status.get_error_details().error_info() {
                    Some(info) if info.reason == "LOGIN_THROTTLED" => "LOGIN_THROTTLED",
                    _ => "HASHING_BUSY",
                };
                expect_retry_later(&status, reason);
                flood.shed += 1;
                flood.slowest_shed = flood.slowest_shed.max(started.elapsed());
            }
            other => panic!("a wrong password got {other:?}"),
        }
    }
    flood
}

/// A connection from another loopback address than the flood's 127.0.0.1: the real user is
/// another client.
async fn connect_from(address: &str, local: [u8; 4]) -> Channel {
    Channel::from_shared(address.to_owned())
        .expect("uri")
        .local_address(Some(local.into()))
        .connect()
        .await
        .expect("connect from another loopback address")
}

/// Runs `attackers` flooding tasks (over two connections from 127.0.0.1) against `app`, logs a
/// real user in three times meanwhile from 127.0.0.2, and returns the slowest of those logins
/// and the flood's tally.
async fn login_during_flood(
    app: &TestApp,
    attackers: usize,
    email: impl Fn() -> String + Clone + Send + 'static,
) -> (Duration, Flood) {
    let (real, _) = app.user_with_email().await;
    let connections = [connect(&app.address).await, connect(&app.address).await];
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..attackers)
        .map(|n| {
            let client = AccountServiceClient::new(connections[n % 2].clone());
            tokio::spawn(flood(client, email.clone(), stopping.clone()))
        })
        .collect();
    // Let the flood fill the queue: every attacker has had answers by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut user = AccountServiceClient::new(connect_from(&app.address, [127, 0, 0, 2]).await);
    let mut slowest = Duration::ZERO;
    for _ in 0..3 {
        let started = Instant::now();
        user.login(login(&real, PASSWORD))
            .await
            .expect("the real user logs in during the flood");
        slowest = slowest.max(started.elapsed());
    }
    let _ = stop.send(true);
    let mut total = Flood::default();
    for task in tasks {
        let one = task.await.expect("flood task");
        total.unauthenticated += one.unauthenticated;
        total.shed += one.shed;
        total.slowest_shed = total.slowest_shed.max(one.slowest_shed);
    }
    (slowest, total)
}

/// An embedded instance with the hashing queue of a production default (32 waiting per core).
async fn spawn_default_queue() -> TestApp {
    spawn_with(Storage::new(Backend::Embedded).await, |settings| {
        settings.max_hashes_waiting = None;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_way_flood_over_many_emails_is_shed_and_a_real_login_stays_quick() {
    let _heavy = HEAVY.lock().await;
    let app = spawn_default_queue().await;
    let (slowest, flood) = login_during_flood(&app, 200, unique_email).await;
    eprintln!("flood over many emails: real login took at most {slowest:?}; {flood:?}");
    assert!(flood.shed > 0, "the flood was queued, not shed: {flood:?}");
    // Generous guards for a debug build on a shared two-core machine, where the flood's own
    // client runs in the server's process (a shed call waits for CPU, never for a hash);
    // unbounded, the real login took over 10 s.
    assert!(
        flood.slowest_shed < Duration::from_secs(3),
        "a shed call must not wait: {flood:?}"
    );
    assert!(
        slowest < Duration::from_secs(3),
        "real login took {slowest:?}"
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_way_flood_on_one_account_hashes_a_handful_of_times() {
    let _heavy = HEAVY.lock().await;
    let app = spawn_default_queue().await;
    let (victim, _) = app.user_with_email().await;
    let (slowest, flood) = login_during_flood(&app, 200, move || victim.clone()).await;
    eprintln!("flood on one account: real login took at most {slowest:?}; {flood:?}");
    // Five free failures, then one attempt per window (1 s, 2 s, …) for the whole flood.
    assert!(
        flood.unauthenticated <= 8,
        "too many guesses were hashed: {flood:?}"
    );
    assert!(flood.shed > 0, "{flood:?}");
    assert!(
        slowest < Duration::from_secs(3),
        "real login took {slowest:?}"
    );
    app.teardown().await;
}
