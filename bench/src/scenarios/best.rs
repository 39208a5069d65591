//! best-available: Reserves of the best 2 seats of a 10,000-seat event, against Reserves of 2
//! named seats of an identical event in the same run (the baseline: the same hold, without the
//! choice), under load and one call after another.

use crate::Args;
use crate::report::{Figure, Sample, closed_loop, percentiles_against};
use crate::target::{Target, authed};
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::sync::Arc;

const ROWS: usize = 100;
const PER_ROW: u32 = 100;

pub(crate) async fn best_available(
    target: &Target,
    args: &Args,
    pairs: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let pairs = pairs.min(ROWS * PER_ROW as usize / 2);
    // Few users: the server allows any number of seats per user here.
    let tokens = Arc::new(target.users(8).await?);
    for (mode, concurrency) in [("under load", args.concurrency), ("sequential", 1)] {
        let calls = if concurrency == 1 {
            pairs.min(1_000)
        } else {
            pairs
        };
        let (named_event, labels) = target.event(ROWS, PER_ROW).await?;
        let (best_event, _) = target.event(ROWS, PER_ROW).await?;
        let mut named = run(
            target,
            &tokens,
            Pick::Named(named_event, Arc::new(labels)),
            calls,
            concurrency,
        )
        .await;
        let mut best = run(target, &tokens, Pick::Best(best_event), calls, concurrency).await;
        if best.codes.len() != 1 || !best.codes.contains_key("OK") {
            return Err(format!("best-available calls failed: {:?}", best.codes).into());
        }
        if concurrency > 1 {
            figures.push(Figure {
                scenario: "best-available",
                name: format!("pairs held/s {mode}"),
                value: best.per_second(),
                unit: "1/s",
                baseline: Some(("named pairs/s".into(), named.per_second())),
            });
        }
        percentiles_against(
            figures,
            "best-available",
            "latency",
            mode,
            &mut best,
            "named",
            &mut named,
        );
    }
    Ok(())
}

pub(crate) enum Pick {
    /// An event and its labels in layout order: call `i` names seats `2i` and `2i + 1`.
    Named(String, Arc<Vec<String>>),
    /// The best 2 seats of the event.
    Best(String),
    /// `count` places in an area of the event.
    Area(String, &'static str, u32),
    /// One named seat, every call.
    Seat(String, String),
}

pub(crate) async fn run(
    target: &Target,
    tokens: &Arc<Vec<String>>,
    pick: Pick,
    calls: usize,
    concurrency: usize,
) -> Sample {
    let channels = target.channels.clone();
    let tokens = tokens.clone();
    let label = match pick {
        Pick::Named(..) => "named pairs",
        Pick::Best(_) => "best pairs",
        Pick::Area(..) => "places",
        Pick::Seat(..) => "one seat",
    };
    let pick = Arc::new(pick);
    closed_loop(label, calls, concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let body = match pick.as_ref() {
            Pick::Named(event, labels) => pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![labels[2 * i].clone(), labels[2 * i + 1].clone()],
                ..Default::default()
            },
            Pick::Best(event) => pb::ReserveRequest {
                event_id: event.clone(),
                best_available: Some(pb::BestAvailable {
                    count: 2,
                    ..Default::default()
                }),
                ..Default::default()
            },
            Pick::Area(event, area, count) => pb::ReserveRequest {
                event_id: event.clone(),
                general_admission: Some(pb::GeneralAdmission {
                    area: (*area).into(),
                    count: *count,
                }),
                ..Default::default()
            },
            Pick::Seat(event, label) => pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![label.clone()],
                ..Default::default()
            },
        };
        let request = authed(body, &tokens[i % tokens.len()]);
        async move {
            booking
                .reserve(request)
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    })
    .await
}
