//! hot-seat: N clients reserve the same seat at once; exactly one wins.

use crate::report::{Figure, Sample};
use crate::target::{Target, authed};
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::sync::Arc;
use std::time::Instant;

pub(crate) async fn hot_seat(
    target: &Target,
    clients: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(100).await?);
    let (event, _) = target.event(1, 10).await?;
    let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut calls = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut booking = BookingServiceClient::new(target.channel(i));
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec!["A1".into()],
                hold_seconds: 0,
                best_available: None,
                general_admission: None,
            },
            &tokens[i % tokens.len()],
        );
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = Instant::now();
            let outcome = booking.reserve(request).await;
            (t.elapsed(), outcome.map(|_| ()).map_err(|s| s.code()))
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut sample = Sample::default();
    let mut winners = 0;
    for call in calls {
        let (latency, outcome) = call.await?;
        sample.latencies.push(latency);
        match outcome {
            Ok(()) => winners += 1,
            Err(code) => *sample.codes.entry(format!("{code:?}")).or_default() += 1,
        }
    }
    let all_answered = started.elapsed();
    eprintln!(
        "  hot seat: {clients} calls, {winners} winner(s), others {:?}",
        sample.codes
    );
    let push = |figures: &mut Vec<Figure>, name: &str, value: f64, unit| {
        figures.push(Figure {
            scenario: "hot-seat",
            name: name.into(),
            value,
            unit,
            baseline: None,
        })
    };
    push(figures, "winners", f64::from(winners), "");
    push(
        figures,
        "all answered after",
        all_answered.as_secs_f64() * 1e3,
        "ms",
    );
    push(figures, "latency p50", sample.percentile(0.50), "ms");
    push(figures, "latency p99", sample.percentile(0.99), "ms");
    push(figures, "latency max", sample.percentile(1.0), "ms");
    Ok(())
}
