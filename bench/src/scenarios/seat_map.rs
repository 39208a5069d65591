//! seat-map: one client reading seat maps one call after another.

use crate::report::{Figure, Sample};
use crate::target::Target;
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::time::Instant;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Sequential calls on one connection: `calls` empty calls, then `calls` seat-map reads of each
/// size. This is where a transport stall shows (Nagle's algorithm held every response over one
/// segment for the client's delayed ACK, ~40 ms, until TCP_NODELAY was set on accepted sockets).
pub(crate) async fn seat_map(
    target: &Target,
    calls: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let channel = target.channel(0);
    let mut health = HealthClient::new(channel.clone());
    let mut empty = Sample::default();
    for _ in 0..calls {
        let t = Instant::now();
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        empty.latencies.push(t.elapsed());
    }
    let (empty_p50, empty_p99) = (empty.percentile(0.5), empty.percentile(0.99));
    let mut booking = BookingServiceClient::new(channel);
    for (rows, per_row) in [(1, 4), (10, 20), (200, 100)] {
        let (event, _) = target.event(rows, per_row).await?;
        let seats = rows * per_row as usize;
        let mut sample = Sample::default();
        let mut bytes = 0;
        for _ in 0..calls {
            let t = Instant::now();
            let map = booking
                .get_seat_map(pb::GetSeatMapRequest {
                    event_id: event.clone(),
                    page_size: 5_000,
                    ..Default::default()
                })
                .await?
                .into_inner();
            sample.latencies.push(t.elapsed());
            bytes = prost::Message::encoded_len(&map);
        }
        eprintln!("  seat map of {seats} seats: {bytes} bytes");
        for (name, p, baseline) in [("p50", 0.5, empty_p50), ("p99", 0.99, empty_p99)] {
            figures.push(Figure {
                scenario: "seat-map",
                name: format!("{seats} seats, sequential {name}"),
                value: sample.percentile(p),
                unit: "ms",
                baseline: Some((format!("empty call {name}"), baseline)),
            });
        }
    }
    Ok(())
}
