//! purchase: reserve + purchase flows, against the raw ticket statement.

use crate::Args;
use crate::baselines::raw_tickets;
use crate::report::{Figure, closed_loop};
use crate::target::{Target, authed};
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::sync::Arc;
use tonic::Code;

pub(crate) async fn purchase(
    target: &Target,
    args: &Args,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(64).await?);
    // One seat per flow, of an event of 20,000 seats.
    let flows = (args.calls / 2).min(20_000);
    let (event, labels) = target.event(40, 500).await?;
    let labels = Arc::new(labels);
    let mut raw = if target.database_url.is_empty() {
        None
    } else {
        Some(raw_tickets(target, flows, args.concurrency).await?)
    };
    let channels = target.channels.clone();
    let mut sample = closed_loop("reserve + purchase", flows, args.concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let token = tokens[i % tokens.len()].clone();
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![labels[i].clone()],
                hold_seconds: 0,
                best_available: None,
                general_admission: None,
            },
            &token,
        );
        async move {
            let held = booking
                .reserve(request)
                .await
                .map_err(|s| s.code())?
                .into_inner()
                .reservation
                .ok_or(Code::Internal)?;
            booking
                .purchase(authed(
                    pb::PurchaseRequest {
                        reservation_id: held.reservation_id,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    })
    .await;
    figures.push(Figure {
        scenario: "purchase",
        name: "tickets/s (reserve+purchase)".into(),
        value: sample.per_second(),
        unit: "1/s",
        baseline: raw
            .as_mut()
            .map(|r| ("raw ticket statement/s".into(), r.per_second())),
    });
    figures.push(Figure {
        scenario: "purchase",
        name: "flow latency p50".into(),
        value: sample.percentile(0.5),
        unit: "ms",
        baseline: raw
            .as_mut()
            .map(|r| ("raw statement p50".into(), r.percentile(0.5))),
    });
    figures.push(Figure {
        scenario: "purchase",
        name: "flow latency p99".into(),
        value: sample.percentile(0.99),
        unit: "ms",
        baseline: raw
            .as_mut()
            .map(|r| ("raw statement p99".into(), r.percentile(0.99))),
    });
    Ok(())
}
