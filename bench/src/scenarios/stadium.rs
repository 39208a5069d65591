//! stadium: the on-sale of a 100,000-seat event in 500 sections. A thousand fans: each reads the
//! layout once, then 70 % of their calls read the packed statuses and 30 % Reserve one to four
//! adjacent seats of a Zipf-popular section and row, then Purchase (60 %), Release (20 %) or
//! abandon (20 %, the hold lapses). Five hundred watchers follow the feed. Against the empty
//! call at the same concurrency, measured in the same run.
//!
//! `stadiums`: ten such events active at once (each read, watched and booked), for the server's
//! memory.

use crate::baselines::empty_calls;
use crate::report::{Figure, Sample};
use crate::scenarios::mixed::Rng;
use crate::scenarios::watch::{ms, now_ms};
use crate::target::{Target, authed};
use seatrush::proto::v1::{
    self as pb, booking_service_client::BookingServiceClient, watch_seats_response::Payload,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tonic::Code;
use tonic::transport::Channel;

const SECTIONS: u32 = 500;
const ROWS: u32 = 20;
const PER_ROW: u32 = 10;

#[derive(Default)]
struct Tally {
    layout: Sample,
    statuses: Sample,
    reserve: Sample,
    purchase: Sample,
    release: Sample,
    taken: usize,
    errors: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in [
            (&mut self.layout, other.layout),
            (&mut self.statuses, other.statuses),
            (&mut self.reserve, other.reserve),
            (&mut self.purchase, other.purchase),
            (&mut self.release, other.release),
        ] {
            mine.latencies.extend(theirs.latencies);
        }
        self.taken += other.taken;
        self.errors.extend(other.errors);
    }
}

/// A cumulative distribution of Zipf(s = 1.1) over `n` ranks.
fn zipf(n: u32) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|k| 1.0 / f64::from(k).powf(1.1)).collect();
    let sum: f64 = weights.iter().sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w / sum;
            acc
        })
        .collect()
}

fn pick(cdf: &[f64], rng: &mut Rng) -> u32 {
    let u = rng.unit();
    cdf.partition_point(|c| *c < u).min(cdf.len() - 1) as u32 + 1
}

/// One to four adjacent seats of a popular section and row.
fn adjacent(rng: &mut Rng, sections: &[f64], rows: &[f64]) -> Vec<String> {
    let (section, row) = (pick(sections, rng), pick(rows, rng));
    let count = 1 + (rng.next() % 4) as u32;
    let first = 1 + (rng.next() % u64::from(PER_ROW - count + 1)) as u32;
    (first..first + count)
        .map(|n| format!("{section}-{row}-{n}"))
        .collect()
}

/// Watchers of `event` that record, per change, how long its batch's first change waited.
async fn watchers(
    target: &Target,
    event: &str,
    count: usize,
) -> Result<(Arc<Mutex<Vec<f64>>>, JoinSet<()>), Box<dyn std::error::Error>> {
    let lags = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    let mut channel: Option<Channel> = None;
    for i in 0..count {
        if i % 200 == 0 {
            channel = Some(
                Channel::from_shared(target.address.clone())?
                    .connect()
                    .await?,
            );
        }
        let Some(channel) = channel.clone() else {
            continue;
        };
        let mut stream = BookingServiceClient::new(channel)
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.to_owned(),
                labels: false,
            })
            .await?
            .into_inner();
        let lags = lags.clone();
        tasks.spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                if let Some(Payload::Changes(batch)) = message.payload {
                    let lag = now_ms() - ms(&batch.first_at);
                    if let Ok(mut all) = lags.lock() {
                        all.extend(std::iter::repeat_n(lag, batch.updates.len()));
                    }
                }
            }
        });
    }
    Ok((lags, tasks))
}

async fn fan(
    mut booking: BookingServiceClient<Channel>,
    event: String,
    token: String,
    seed: u64,
    reads: f64,
    until: Instant,
) -> Tally {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
    let (sections, rows) = (zipf(SECTIONS), zipf(ROWS));
    let mut tally = Tally::default();
    let failed = |tally: &mut Tally, what: &str, status: tonic::Status| {
        tally
            .errors
            .push(format!("{what}: {:?} {}", status.code(), status.message()));
    };
    let t = Instant::now();
    match booking
        .get_seat_layout(pb::GetSeatLayoutRequest {
            event_id: event.clone(),
        })
        .await
    {
        Ok(_) => tally.layout.latencies.push(t.elapsed()),
        Err(status) => failed(&mut tally, "layout", status),
    }
    while Instant::now() < until {
        if rng.unit() < reads {
            let t = Instant::now();
            match booking
                .get_seat_statuses(pb::GetSeatStatusesRequest {
                    event_id: event.clone(),
                })
                .await
            {
                Ok(_) => tally.statuses.latencies.push(t.elapsed()),
                Err(status) => failed(&mut tally, "statuses", status),
            }
            continue;
        }
        let t = Instant::now();
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: adjacent(&mut rng, &sections, &rows),
                hold_seconds: 5,
                best_available: None,
                general_admission: None,
            },
            &token,
        );
        let held = match booking.reserve(request).await {
            Ok(held) => held.into_inner().reservation,
            Err(status) if status.code() == Code::AlreadyExists => {
                tally.taken += 1;
                None
            }
            Err(status) => {
                failed(&mut tally, "reserve", status);
                None
            }
        };
        tally.reserve.latencies.push(t.elapsed());
        let Some(held) = held else { continue };
        let choice = rng.unit();
        let t = Instant::now();
        if choice < 0.6 {
            let request = authed(
                pb::PurchaseRequest {
                    reservation_id: held.reservation_id,
                    ..Default::default()
                },
                &token,
            );
            match booking.purchase(request).await {
                Ok(_) => tally.purchase.latencies.push(t.elapsed()),
                Err(status) => failed(&mut tally, "purchase", status),
            }
        } else if choice < 0.8 {
            let request = authed(
                pb::ReleaseRequest {
                    reservation_id: held.reservation_id,
                },
                &token,
            );
            match booking.release(request).await {
                Ok(_) => tally.release.latencies.push(t.elapsed()),
                Err(status) => failed(&mut tally, "release", status),
            }
        }
    }
    tally
}

pub(crate) async fn stadium(
    target: &Target,
    fans: usize,
    watching: usize,
    seconds: u64,
    reads: f64,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let event = target.stadium(SECTIONS, ROWS, PER_ROW).await?;
    let created = started.elapsed();
    eprintln!("  stadium: 100,000 seats created in {created:.1?}");
    let tokens = Arc::new(target.users(64).await?);
    let mut empty = empty_calls(target, 40_000, fans).await;
    let (lags, mut watching_tasks) = watchers(target, &event, watching).await?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut fans_running = JoinSet::new();
    for f in 0..fans {
        fans_running.spawn(fan(
            BookingServiceClient::new(target.channel(f)),
            event.clone(),
            tokens[f % tokens.len()].clone(),
            f as u64 + 1,
            reads,
            until,
        ));
    }
    let mut all = Tally::default();
    while let Some(tally) = fans_running.join_next().await {
        all.merge(tally?);
    }
    let rss = target.rss_mib();
    tokio::time::sleep(Duration::from_millis(500)).await;
    watching_tasks.abort_all();
    let mut lags = std::mem::take(&mut *lags.lock().map_err(|_| "lags")?);
    lags.sort_by(f64::total_cmp);
    let lag = |p: f64| {
        lags.get(((lags.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    eprintln!(
        "  stadium: {} layouts, {} status reads, {} reserves ({} taken), {} purchases, {} releases, {} errors{}",
        all.layout.latencies.len(),
        all.statuses.latencies.len(),
        all.reserve.latencies.len(),
        all.taken,
        all.purchase.latencies.len(),
        all.release.latencies.len(),
        all.errors.len(),
        all.errors
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    let elapsed = seconds as f64;
    let mut push = |name: String, value: f64, unit, baseline: Option<(String, f64)>| {
        figures.push(Figure {
            scenario: "stadium",
            name,
            value,
            unit,
            baseline,
        })
    };
    push(
        "status reads/s".into(),
        all.statuses.latencies.len() as f64 / elapsed,
        "1/s",
        Some(("empty gRPC call/s".into(), empty.per_second())),
    );
    push(
        "CreateEvent, 100,000 seats".into(),
        created.as_secs_f64() * 1e3,
        "ms",
        None,
    );
    let empty_p99 = empty.percentile(0.99);
    for (name, sample) in [
        ("layout", &mut all.layout),
        ("statuses", &mut all.statuses),
        ("reserve", &mut all.reserve),
        ("purchase", &mut all.purchase),
        ("release", &mut all.release),
    ] {
        let p50 = sample.percentile(0.5);
        push(
            format!("{name} p99 (p50 {p50:.1} ms)"),
            sample.percentile(0.99),
            "ms",
            Some(("empty call p99".into(), empty_p99)),
        );
    }
    push(
        format!("watchers: lag p99 (p50 {:.1} ms)", lag(0.5)),
        lag(0.99),
        "ms",
        None,
    );
    push("errors".into(), all.errors.len() as f64, "", None);
    push("server RSS under load".into(), rss, "MiB", None);
    Ok(())
}

/// Ten stadiums active at once: each read, watched by ten, and booked; the server's memory.
pub(crate) async fn stadiums(
    target: &Target,
    count: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let idle = target.rss_mib();
    let tokens = target.users(8).await?;
    let mut events = Vec::new();
    for _ in 0..count {
        events.push(target.stadium(SECTIONS, ROWS, PER_ROW).await?);
    }
    let created = target.rss_mib();
    let mut watching = Vec::new();
    for event in &events {
        watching.push(watchers(target, event, 10).await?);
        let mut booking = BookingServiceClient::new(target.channel(0));
        booking
            .get_seat_statuses(pb::GetSeatStatusesRequest {
                event_id: event.clone(),
            })
            .await?;
        let mut rng = Rng(7);
        let (sections, rows) = (zipf(SECTIONS), zipf(ROWS));
        for i in 0..100 {
            let request = authed(
                pb::ReserveRequest {
                    event_id: event.clone(),
                    seats: adjacent(&mut rng, &sections, &rows),
                    hold_seconds: 600,
                    best_available: None,
                    general_admission: None,
                },
                &tokens[i % tokens.len()],
            );
            let _ = booking.reserve(request).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let active = target.rss_mib();
    for (_, mut tasks) in watching {
        tasks.abort_all();
    }
    let mut push = |name: String, value: f64| {
        figures.push(Figure {
            scenario: "stadiums",
            name,
            value,
            unit: "MiB",
            baseline: None,
        })
    };
    push("server RSS idle".into(), idle);
    push(format!("RSS, {count} x 100,000 seats created"), created);
    push(format!("RSS, {count} active (read, watched, held)"), active);
    Ok(())
}
