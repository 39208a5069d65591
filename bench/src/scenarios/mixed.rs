//! mixed: a realistic on-sale with seat-map reads, Zipf-popular Reserves, purchases, releases
//! and abandoned holds.

use crate::Args;
use crate::report::{Figure, Sample};
use crate::target::{Target, authed};
use seatrush::proto::v1::{
    self as pb, booking_service_client::BookingServiceClient, watch_seats_response::Payload,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::Code;

/// xorshift64*: a fast per-task generator; reproducible from its seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
pub(crate) struct MixedTally {
    pub(crate) map: Sample,
    pub(crate) reserve: Sample,
    pub(crate) purchase: Sample,
    pub(crate) taken: usize,
    pub(crate) bought: usize,
    pub(crate) released: usize,
    pub(crate) abandoned: usize,
    pub(crate) errors: usize,
}

pub(crate) async fn mixed(
    target: &Target,
    args: &Args,
    seconds: u64,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(64).await?);
    let (event, labels) = target.event(40, 250).await?;
    // Seat popularity: Zipf with s = 1.1 over the seat map order (front rows first).
    let weights: Vec<f64> = (1..=labels.len())
        .map(|k| 1.0 / (k as f64).powf(1.1))
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let cdf: Arc<Vec<f64>> = Arc::new(
        weights
            .iter()
            .map(|w| {
                acc += w / sum;
                acc
            })
            .collect(),
    );
    let labels = Arc::new(labels);
    let expired = Arc::new(AtomicU64::new(0));
    let watcher = {
        let mut stream = BookingServiceClient::new(target.channel(0))
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.clone(),
                labels: false,
            })
            .await?
            .into_inner();
        let expired = expired.clone();
        tokio::spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                if let Some(Payload::Changes(batch)) = message.payload {
                    let lapsed = batch
                        .updates
                        .iter()
                        .filter(|u| u.reason() == pb::ChangeReason::Expired)
                        .count();
                    expired.fetch_add(lapsed as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut fans = Vec::new();
    for f in 0..args.concurrency {
        let mut booking = BookingServiceClient::new(target.channel(f));
        let (tokens, labels, cdf, event) =
            (tokens.clone(), labels.clone(), cdf.clone(), event.clone());
        fans.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (f as u64 + 1));
            let mut tally = MixedTally::default();
            let token = &tokens[f % tokens.len()];
            while Instant::now() < until {
                if rng.unit() < 0.3 {
                    let t = Instant::now();
                    match booking
                        .get_seat_map(pb::GetSeatMapRequest {
                            event_id: event.clone(),
                            page_size: 5_000,
                            ..Default::default()
                        })
                        .await
                    {
                        Ok(_) => tally.map.latencies.push(t.elapsed()),
                        Err(_) => tally.errors += 1,
                    }
                    continue;
                }
                let pick = |rng: &mut Rng| {
                    let u = rng.unit();
                    labels[cdf.partition_point(|c| *c < u).min(labels.len() - 1)].clone()
                };
                let mut seats = vec![pick(&mut rng)];
                if rng.unit() < 0.5 {
                    let second = pick(&mut rng);
                    if second != seats[0] {
                        seats.push(second);
                    }
                }
                let t = Instant::now();
                let request = authed(
                    pb::ReserveRequest {
                        event_id: event.clone(),
                        seats,
                        hold_seconds: 5,
                        best_available: None,
                        general_admission: None,
                    },
                    token,
                );
                let held = match booking.reserve(request).await {
                    Ok(r) => r.into_inner().reservation,
                    Err(status) if status.code() == Code::AlreadyExists => {
                        tally.taken += 1;
                        None
                    }
                    Err(_) => {
                        tally.errors += 1;
                        None
                    }
                };
                tally.reserve.latencies.push(t.elapsed());
                let Some(held) = held else { continue };
                let choice = rng.unit();
                if choice < 0.6 {
                    let t = Instant::now();
                    match booking
                        .purchase(authed(
                            pb::PurchaseRequest {
                                reservation_id: held.reservation_id,
                                ..Default::default()
                            },
                            token,
                        ))
                        .await
                    {
                        Ok(_) => tally.bought += 1,
                        Err(_) => tally.errors += 1,
                    }
                    tally.purchase.latencies.push(t.elapsed());
                } else if choice < 0.8 {
                    let _ = booking
                        .release(authed(
                            pb::ReleaseRequest {
                                reservation_id: held.reservation_id,
                            },
                            token,
                        ))
                        .await;
                    tally.released += 1;
                } else {
                    tally.abandoned += 1;
                }
            }
            tally
        }));
    }
    let mut all = MixedTally::default();
    for fan in fans {
        let tally = fan.await?;
        all.map.latencies.extend(tally.map.latencies);
        all.reserve.latencies.extend(tally.reserve.latencies);
        all.purchase.latencies.extend(tally.purchase.latencies);
        all.taken += tally.taken;
        all.bought += tally.bought;
        all.released += tally.released;
        all.abandoned += tally.abandoned;
        all.errors += tally.errors;
    }
    // Let the last abandoned holds lapse, so their EXPIRED changes are counted.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    watcher.abort();
    let elapsed = seconds as f64;
    let reserves = all.reserve.latencies.len();
    eprintln!(
        "  mixed: {} seat maps, {reserves} reserves ({} taken), {} bought, {} released, {} abandoned, {} errors",
        all.map.latencies.len(),
        all.taken,
        all.bought,
        all.released,
        all.abandoned,
        all.errors
    );
    let push = |figures: &mut Vec<Figure>, name: String, value: f64, unit| {
        figures.push(Figure {
            scenario: "mixed",
            name,
            value,
            unit,
            baseline: None,
        })
    };
    push(
        figures,
        "seat-map reads/s".into(),
        all.map.latencies.len() as f64 / elapsed,
        "1/s",
    );
    push(
        figures,
        format!("seat-map p50 (p99 {:.1} ms)", all.map.percentile(0.99)),
        all.map.percentile(0.5),
        "ms",
    );
    push(
        figures,
        "reserves/s".into(),
        reserves as f64 / elapsed,
        "1/s",
    );
    push(
        figures,
        "reserves refused: seat taken".into(),
        100.0 * all.taken as f64 / reserves.max(1) as f64,
        "%",
    );
    push(
        figures,
        format!("reserve p50 (p99 {:.1} ms)", all.reserve.percentile(0.99)),
        all.reserve.percentile(0.5),
        "ms",
    );
    push(
        figures,
        "tickets/s".into(),
        all.bought as f64 / elapsed,
        "1/s",
    );
    push(
        figures,
        format!("purchase p50 (p99 {:.1} ms)", all.purchase.percentile(0.99)),
        all.purchase.percentile(0.5),
        "ms",
    );
    push(figures, "holds abandoned".into(), all.abandoned as f64, "");
    push(
        figures,
        "seats reported EXPIRED".into(),
        expired.load(Ordering::Relaxed) as f64,
        "",
    );
    push(figures, "errors".into(), all.errors as f64, "");
    Ok(())
}
