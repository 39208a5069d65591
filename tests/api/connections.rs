//! Connection limits as a client meets them: the per-peer connection cap, HTTP/2 streams per
//! connection, and load shedding, each with real connections.

use crate::helpers::{Backend, Storage, authed, start};
use seatrush::proto::v1 as pb;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A health check on a new connection to `address`.
async fn check_on_new_connection(address: std::net::SocketAddr) -> Result<Channel, String> {
    let attempt = async {
        let channel = Channel::from_shared(format!("http://{address}"))
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        HealthClient::new(channel.clone())
            .check(HealthCheckRequest::default())
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(channel)
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_over_its_connection_cap_is_refused_until_one_of_its_connections_closes() {
    let storage = Storage::new(Backend::Embedded).await;
    let mut settings = storage.settings();
    settings.max_connections_per_ip = 2;
    let server = start(settings).await;

    let first = check_on_new_connection(server.address)
        .await
        .expect("first connection");
    let _second = check_on_new_connection(server.address)
        .await
        .expect("second connection");
    assert!(
        check_on_new_connection(server.address).await.is_err(),
        "a third connection from the same address must be closed"
    );

    drop(first);
    // The server frees the place when it sees the connection end.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(err) = check_on_new_connection(server.address).await {
        assert!(Instant::now() < deadline, "the place was not freed: {err}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    server.stop().await;
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_runs_at_most_its_stream_cap_of_calls_at_once() {
    let app = crate::helpers::spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.max_streams_per_connection = 2;
    })
    .await;
    let event = app.event(1, 10).await;
    let mut booking = app.booking.clone();
    let watch = || pb::WatchSeatsRequest {
        event_id: event.event_id.clone(),
        labels: false,
    };
    let first = booking.watch_seats(watch()).await.expect("first stream");
    let second = booking.watch_seats(watch()).await.expect("second stream");

    // Both streams are open on this connection: a third call waits for one to end.
    let map = pb::GetSeatMapRequest {
        event_id: event.event_id.clone(),
        ..Default::default()
    };
    let mut third = booking.clone();
    let waiting = tokio::spawn(async move { third.get_seat_map(map).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a third concurrent stream was let in"
    );

    drop(first);
    let answered = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting call runs once a stream ends")
        .expect("task");
    assert_eq!(answered.expect("seat map").into_inner().seats.len(), 10);
    drop(second);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_server_answers_unavailable_at_once_instead_of_queueing() {
    let app = crate::helpers::spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.max_in_flight_calls = 1;
        s.hooks.stall_before_ticket_write = Some(Duration::from_millis(1_500));
    })
    .await;
    let event = app.event(1, 10).await;
    let user = app.user().await;
    let held = app
        .reserve(&user, &event.event_id, &["A1"], 0)
        .await
        .expect("reserve");

    let mut booking = app.booking.clone();
    let request = authed(
        pb::PurchaseRequest {
            reservation_id: held.reservation_id.clone(),
            ..Default::default()
        },
        &user,
    );
    let purchase = tokio::spawn(async move { booking.purchase(request).await });
    // The stalled purchase holds the only slot; the next call is shed, not queued.
    let deadline = Instant::now() + Duration::from_secs(1);
    let shed = loop {
        let started = Instant::now();
        let result = app
            .health
            .clone()
            .check(HealthCheckRequest::default())
            .await;
        if let Err(status) = result {
            break (status, started.elapsed());
        }
        assert!(Instant::now() < deadline, "no call was shed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shed.0.code(), Code::Unavailable, "{:?}", shed.0);
    assert!(
        shed.1 < Duration::from_millis(500),
        "shed late: {:?}",
        shed.1
    );

    purchase
        .await
        .expect("task")
        .expect("the stalled purchase completes");
    app.health
        .clone()
        .check(HealthCheckRequest::default())
        .await
        .expect("served again once the slot is free");
    app.teardown().await;
}
