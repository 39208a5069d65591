//! The transport as real clients meet it: latency of sequential calls, descriptors served by
//! reflection, and client mistakes answered as client mistakes.

use crate::helpers::{Backend, spawn_app};
use seatrush::proto::v1 as pb;
use std::time::{Duration, Instant};

/// Nagle's algorithm on the server's sockets held every response of more than one TCP segment
/// until the client's delayed ACK (~40 ms). Sequential reads of a 200-seat map must not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_reads_of_a_200_seat_map_do_not_wait_for_delayed_acks() {
    let app = spawn_app(Backend::Embedded).await;
    let event = app.event(10, 20).await;
    let mut booking = app.booking.clone();
    let mut times = Vec::new();
    for i in 0..45 {
        let started = Instant::now();
        let map = booking
            .get_seat_map(pb::GetSeatMapRequest {
                event_id: event.event_id.clone(),
            })
            .await
            .expect("seat map")
            .into_inner();
        assert_eq!(map.seats.len(), 200);
        if i >= 5 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let p50 = times[times.len() / 2];
    assert!(
        p50 < Duration::from_millis(10),
        "sequential GetSeatMap p50 is {p50:?}; a Nagle stall shows as ~40 ms"
    );
    app.teardown().await;
}
