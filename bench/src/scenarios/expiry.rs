//! expiry: holds lapsing among unrelated Redis keys with TTLs: how late EXPIRED arrives.

use crate::Args;
use crate::report::{Figure, closed_loop};
use crate::scenarios::watch::{ms, now_ms};
use crate::target::{Target, authed};
use seatrush::proto::v1::{
    self as pb, booking_service_client::BookingServiceClient, watch_seats_response::Payload,
};
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;

pub(crate) async fn expiry(
    target: &Target,
    args: &Args,
    holds: usize,
    other_keys: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let other_prefix = format!("{}-other", target.redis_prefix);
    if let Some(url) = &target.redis_url {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        for start in (0..other_keys).step_by(10_000) {
            let mut pipe = redis::pipe();
            for i in start..(start + 10_000).min(other_keys) {
                pipe.cmd("SET")
                    .arg(format!("{other_prefix}:{i}"))
                    .arg("x")
                    .arg("EX")
                    .arg(3_600 + i % 3_600)
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        eprintln!("  expiry: {other_keys} other keys with TTLs written");
    }
    let tokens = Arc::new(target.users(64).await?);
    let events = holds.div_ceil(20_000);
    let mut deadlines: std::collections::HashMap<(String, String), f64> = Default::default();
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::<(String, String, f64)>::new()));
    let mut streams = Vec::new();
    let mut plan = Vec::new();
    for _ in 0..events {
        let (event, labels) = target.event(40, 500).await?;
        let mut stream = BookingServiceClient::new(target.channel(0))
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.clone(),
                labels: true,
            })
            .await?
            .into_inner();
        let arrivals = arrivals.clone();
        let watched = event.clone();
        streams.push(tokio::spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                if let Some(Payload::Changes(batch)) = message.payload
                    && let Ok(mut all) = arrivals.lock()
                {
                    let now = now_ms();
                    for update in batch.into_inner().updates {
                        if update.reason() == pb::ChangeReason::Expired {
                            all.push((watched.clone(), update.label, now));
                        }
                    }
                }
            }
        }));
        plan.extend(labels.into_iter().map(|l| (event.clone(), l)));
    }
    plan.truncate(holds);
    let plan = Arc::new(plan);
    let made = Arc::new(std::sync::Mutex::new(Vec::<(String, String, f64)>::new()));
    let channels = target.channels.clone();
    let made_in = made.clone();
    let plan_in = plan.clone();
    closed_loop("short holds", holds, args.concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let (event, label) = plan_in[i].clone();
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![label.clone()],
                hold_seconds: 15,
                best_available: None,
                general_admission: None,
            },
            &tokens[i % tokens.len()],
        );
        let made = made_in.clone();
        async move {
            let held = booking
                .reserve(request)
                .await
                .map_err(|s| s.code())?
                .into_inner()
                .reservation
                .ok_or(Code::Internal)?;
            if let Ok(mut made) = made.lock() {
                made.push((event, label, ms(&held.expires_at)));
            }
            Ok(())
        }
    })
    .await;
    for (event, label, deadline) in made.lock().map_err(|_| "poisoned")?.drain(..) {
        deadlines.insert((event, label), deadline);
    }
    let last = deadlines.values().cloned().fold(0.0, f64::max);
    while now_ms() < last + 5_000.0 {
        if arrivals.lock().map_err(|_| "poisoned")?.len() >= deadlines.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for stream in &streams {
        stream.abort();
    }
    let arrivals = std::mem::take(&mut *arrivals.lock().map_err(|_| "poisoned")?);
    let mut lateness: Vec<f64> = arrivals
        .iter()
        .filter_map(|(e, l, at)| deadlines.get(&(e.clone(), l.clone())).map(|d| at - d))
        .collect();
    lateness.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lateness.is_empty() {
            0.0
        } else {
            lateness[((lateness.len() as f64 - 1.0) * p).round() as usize]
        }
    };
    if let Some(url) = &target.redis_url {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        for start in (0..other_keys).step_by(10_000) {
            let keys: Vec<String> = (start..(start + 10_000).min(other_keys))
                .map(|i| format!("{other_prefix}:{i}"))
                .collect();
            let _: i64 = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
        }
    }
    let push = |figures: &mut Vec<Figure>, name: String, value: f64, unit| {
        figures.push(Figure {
            scenario: "expiry",
            name,
            value,
            unit,
            baseline: None,
        })
    };
    push(
        figures,
        format!("holds expired, of {}", deadlines.len()),
        lateness.len() as f64,
        "",
    );
    push(figures, "EXPIRED lateness p50".into(), pct(0.5), "ms");
    push(figures, "EXPIRED lateness p99".into(), pct(0.99), "ms");
    push(figures, "EXPIRED lateness max".into(), pct(1.0), "ms");
    Ok(())
}
