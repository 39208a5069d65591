//! reserve: Reserves of distinct seats, against the empty call and the raw hold store.

use crate::Args;
use crate::baselines::{empty_calls, raw_holds};
use crate::report::{Figure, Sample, closed_loop};
use crate::target::{Target, authed};
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::sync::Arc;

pub(crate) async fn reserve(
    target: &Target,
    args: &Args,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(64).await?);
    let calls = args.calls.min(20_000);
    let (event, labels) = target.event(40, 500).await?;
    let labels = Arc::new(labels);
    let mut empty = empty_calls(target, calls, args.concurrency).await;
    let raw = raw_holds(target, calls, args.concurrency).await?;
    let mut sample = reserve_seats(
        "reserve",
        target,
        tokens,
        event,
        labels,
        calls,
        args.concurrency,
    )
    .await;
    let rate = sample.per_second();
    figures.push(Figure {
        scenario: "reserve",
        name: "reserves/s".into(),
        value: rate,
        unit: "1/s",
        baseline: Some(("empty gRPC call/s".into(), empty.per_second())),
    });
    figures.push(Figure {
        scenario: "reserve",
        name: "reserves/s vs raw holds".into(),
        value: rate,
        unit: "1/s",
        baseline: Some(("raw hold store/s".into(), raw.per_second())),
    });
    figures.push(Figure {
        scenario: "reserve",
        name: "latency p50".into(),
        value: sample.percentile(0.5),
        unit: "ms",
        baseline: Some(("empty call p50".into(), empty.percentile(0.5))),
    });
    figures.push(Figure {
        scenario: "reserve",
        name: "latency p99".into(),
        value: sample.percentile(0.99),
        unit: "ms",
        baseline: Some(("empty call p99".into(), empty.percentile(0.99))),
    });
    Ok(())
}

/// `calls` Reserves of one distinct seat each (`labels[i]`), `concurrency` in flight.
pub(crate) async fn reserve_seats(
    label: &str,
    target: &Target,
    tokens: Arc<Vec<String>>,
    event: String,
    labels: Arc<Vec<String>>,
    calls: usize,
    concurrency: usize,
) -> Sample {
    let channels = target.channels.clone();
    closed_loop(label, calls, concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![labels[i].clone()],
                hold_seconds: 0,
                best_available: None,
                general_admission: None,
            },
            &tokens[i % tokens.len()],
        );
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
