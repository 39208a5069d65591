//! watch: watchers of one event while holds change; delivery lag and server memory.

use crate::report::Figure;
use crate::target::{Target, authed};
use seatrush::proto::v1::{
    self as pb, booking_service_client::BookingServiceClient, watch_seats_response::Payload,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tonic::transport::Channel;

pub(crate) async fn watch(
    target: &Target,
    watchers: usize,
    rate: u64,
    seconds: u64,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = target.users(8).await?;
    let (event, labels) = target.event(10, 100).await?;
    let idle_rss = target.rss_mib();
    let lags = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let resyncs = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // The server takes up to 256 streams per connection, as a gateway would see it: open one
    // connection per 200 watchers.
    let mut watch_channels = Vec::new();
    for _ in 0..watchers.div_ceil(200) {
        watch_channels.push(
            Channel::from_shared(target.address.clone())?
                .connect()
                .await?,
        );
    }
    for i in 0..watchers {
        let mut booking = BookingServiceClient::new(watch_channels[i / 200].clone());
        let mut stream = booking
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.clone(),
                labels: false,
            })
            .await?
            .into_inner();
        let (lags, resyncs) = (lags.clone(), resyncs.clone());
        tasks.push(tokio::spawn(async move {
            let mut first = true;
            while let Ok(Some(message)) = stream.message().await {
                match message.payload {
                    // Each change of a batch counts the batch's first change's lag: the longest
                    // any of them waited.
                    Some(Payload::Changes(batch)) => {
                        let lag = now_ms() - ms(&batch.first_at);
                        if let Ok(mut all) = lags.lock() {
                            all.extend(std::iter::repeat_n(lag, batch.updates.len()));
                        }
                    }
                    Some(Payload::Snapshot(_)) if !first => {
                        resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                first = false;
            }
        }));
        if i % 500 == 499 {
            eprint!("\r  watch: {} watchers connected   ", i + 1);
        }
    }
    let watching_rss = target.rss_mib();
    eprintln!("\r  watch: {watchers} watchers connected; driving {rate} changes/s for {seconds} s");
    // Each reserve or release is one change; alternate over distinct seats, spread over users.
    let mut booking = BookingServiceClient::new(target.channel(0));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    let total = rate * seconds;
    let mut held: std::collections::VecDeque<(String, String)> = Default::default();
    let mut peak_rss = watching_rss;
    for n in 0..total {
        tick.tick().await;
        let token = &tokens[n as usize % tokens.len()];
        if n % 2 == 0 || held.is_empty() {
            let seat = labels[(n as usize / 2) % labels.len()].clone();
            let request = authed(
                pb::ReserveRequest {
                    event_id: event.clone(),
                    seats: vec![seat],
                    hold_seconds: 0,
                    best_available: None,
                    general_admission: None,
                },
                token,
            );
            if let Ok(r) = booking.reserve(request).await
                && let Some(r) = r.into_inner().reservation
            {
                held.push_back((r.reservation_id, token.clone()));
            }
        } else if let Some((id, token)) = held.pop_front() {
            let _ = booking
                .release(authed(pb::ReleaseRequest { reservation_id: id }, &token))
                .await;
        }
        if n % rate == 0 {
            peak_rss = peak_rss.max(target.rss_mib());
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    peak_rss = peak_rss.max(target.rss_mib());
    drop(booking);
    let mut lags = std::mem::take(&mut *lags.lock().map_err(|_| "poisoned")?);
    for task in &tasks {
        task.abort();
    }
    lags.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lags.is_empty() {
            0.0
        } else {
            lags[((lags.len() as f64 - 1.0) * p).round() as usize]
        }
    };
    let push = |figures: &mut Vec<Figure>, name: String, value: f64, unit| {
        figures.push(Figure {
            scenario: "watch",
            name,
            value,
            unit,
            baseline: None,
        })
    };
    push(
        figures,
        format!("deliveries ({watchers} watchers)"),
        lags.len() as f64,
        "",
    );
    push(figures, "delivery lag p50".into(), pct(0.5), "ms");
    push(figures, "delivery lag p99".into(), pct(0.99), "ms");
    push(
        figures,
        "resyncs".into(),
        resyncs.load(Ordering::Relaxed) as f64,
        "",
    );
    push(figures, "server RSS idle".into(), idle_rss, "MiB");
    push(
        figures,
        format!("server RSS, {watchers} watching"),
        watching_rss,
        "MiB",
    );
    push(
        figures,
        "server RSS peak under load".into(),
        peak_rss,
        "MiB",
    );
    Ok(())
}

/// Milliseconds since the epoch of a protobuf timestamp, and of now.
pub(crate) fn ms(ts: &Option<prost_types::Timestamp>) -> f64 {
    ts.as_ref()
        .map_or(0.0, |t| t.seconds as f64 * 1e3 + f64::from(t.nanos) / 1e6)
}

pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}
