//! login-flood: one real user signs in, one call after another, while `flood` wrong-password
//! logins stay in flight, first from one attacking address and then spread over many addresses
//! (each a client through a trusted proxy). The baseline is the same user's logins with no flood,
//! in the same run: the ratio is what the flood costs a real user.

use crate::PASSWORD;
use crate::report::{Figure, Sample};
use crate::target::Target;
use seatrush::proto::v1::{self as pb, account_service_client::AccountServiceClient};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tonic::{Code, Request};

/// The address the real user's calls come from (through the trusted proxy).
const REAL_USER: &str = "192.0.2.1";

fn from<T>(peer: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = peer.parse() {
        request.metadata_mut().insert("x-forwarded-for", value);
    }
    request
}

/// Signs the real user in `logins` times, one after another.
async fn real_logins(target: &Target, email: &str, logins: usize) -> Sample {
    let mut accounts = AccountServiceClient::new(target.channel(0));
    let mut sample = Sample::default();
    let started = Instant::now();
    for _ in 0..logins {
        let t = Instant::now();
        let outcome = accounts
            .login(from(
                REAL_USER,
                pb::LoginRequest {
                    email: email.into(),
                    password: PASSWORD.into(),
                },
            ))
            .await;
        sample.latencies.push(t.elapsed());
        if let Err(status) = outcome {
            *sample
                .codes
                .entry(format!("{:?}", status.code()))
                .or_default() += 1;
        }
    }
    sample.elapsed = started.elapsed();
    sample
}

/// Keeps `flood` wrong-password logins in flight (each for a fresh email, so no per-email
/// backoff applies) from `addresses` addresses until stopped; returns (answered, shed).
fn start_flood(
    target: &Target,
    flood: usize,
    addresses: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(usize, usize)>> {
    (0..flood)
        .map(|i| {
            let mut accounts = AccountServiceClient::new(target.channel(i + 1));
            let peer = format!("203.0.113.{}", 1 + i % addresses.clamp(1, 250));
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut answered, mut shed) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let email = format!("guess-{}@example.com", uuid::Uuid::new_v4().simple());
                    let outcome = accounts
                        .login(from(
                            &peer,
                            pb::LoginRequest {
                                email,
                                password: "wrong password".into(),
                            },
                        ))
                        .await;
                    answered += 1;
                    if matches!(&outcome, Err(s) if s.code() == Code::ResourceExhausted) {
                        shed += 1;
                    }
                }
                (answered, shed)
            })
        })
        .collect()
}

pub(crate) async fn login_flood(
    target: &Target,
    flood: usize,
    logins: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let email = format!("real-{}@example.com", uuid::Uuid::new_v4().simple());
    AccountServiceClient::new(target.channel(0))
        .register(from(
            REAL_USER,
            pb::RegisterRequest {
                email: email.clone(),
                password: PASSWORD.into(),
            },
        ))
        .await?;
    let mut quiet = real_logins(target, &email, logins).await;
    let quiet_p50 = quiet.percentile(0.50);
    let mut push = |name: String, value: f64, unit, baseline: Option<f64>| {
        figures.push(Figure {
            scenario: "login-flood",
            name,
            value,
            unit,
            baseline: baseline.map(|b| ("login p50, no flood".to_owned(), b)),
        })
    };
    push("real login p50, no flood".into(), quiet_p50, "ms", None);
    push(
        "real login p99, no flood".into(),
        quiet.percentile(0.99),
        "ms",
        None,
    );
    for addresses in [1, flood.min(250)] {
        let stop = Arc::new(AtomicBool::new(false));
        let flooding = start_flood(target, flood, addresses, stop.clone());
        // Let the flood fill the hashing queue before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut during = real_logins(target, &email, logins).await;
        stop.store(true, Ordering::Relaxed);
        let (answered, shed) = (AtomicUsize::new(0), AtomicUsize::new(0));
        for task in flooding {
            let (a, s) = task.await?;
            answered.fetch_add(a, Ordering::Relaxed);
            shed.fetch_add(s, Ordering::Relaxed);
        }
        let label = format!("{flood} in flight from {addresses} address(es)");
        eprintln!(
            "  login flood, {label}: {} flood calls answered, {} shed; real logins {:?}",
            answered.load(Ordering::Relaxed),
            shed.load(Ordering::Relaxed),
            during.codes
        );
        let p50 = during.percentile(0.50);
        push(
            format!("real login p50, {label}"),
            p50,
            "ms",
            Some(quiet_p50),
        );
        let p99 = during.percentile(0.99);
        push(
            format!("real login p99, {label}"),
            p99,
            "ms",
            Some(quiet_p50),
        );
        let failed = during.codes.values().sum::<usize>();
        push(
            format!("real logins refused, {label}"),
            failed as f64,
            "",
            None,
        );
    }
    Ok(())
}
