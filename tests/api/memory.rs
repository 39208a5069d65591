//! What strangers' calls cost the server, measured on the real binary's resident memory: calls
//! that name made-up events, and watchers that stop reading. Each must leave the server about
//! where it was.

use crate::helpers::{Backend, Storage, attach, connect};
use crate::process::Process;
use seatrush::proto::v1::{self as pb, booking_service_client::BookingServiceClient};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tonic::Code;

const MIB: u64 = 1024 * 1024;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

async fn start(backend: Backend) -> (Storage, Process) {
    let storage = Storage::new(backend).await;
    let server = Process::start(&storage, &[]).await;
    (storage, server)
}

/// `calls` WatchSeats of random event ids, `in_flight` at a time; every one must be NOT_FOUND.
async fn watch_made_up_events(
    client: &BookingServiceClient<tonic::transport::Channel>,
    calls: usize,
) {
    let in_flight = 64;
    let mut tasks = JoinSet::new();
    for worker in 0..in_flight {
        let mut client = client.clone();
        tasks.spawn(async move {
            for _ in (worker..calls).step_by(in_flight) {
                let answer = client
                    .watch_seats(pb::WatchSeatsRequest {
                        event_id: uuid::Uuid::new_v4().to_string(),
                        ..Default::default()
                    })
                    .await;
                match answer {
                    Err(status) => assert_eq!(status.code(), Code::NotFound, "{status:?}"),
                    Ok(_) => panic!("a made-up event was watched"),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("watch task");
    }
}

async fn watching_made_up_events_leaves_no_memory_behind(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let (storage, server) = start(backend).await;
    let client = BookingServiceClient::new(connect(&server.address).await);
    watch_made_up_events(&client, 1_000).await;
    let before = server.rss();
    watch_made_up_events(&client, 20_000).await;
    let after = server.rss();
    eprintln!(
        "{backend:?}: RSS {:.1} MiB before, {:.1} MiB after 20,000 WatchSeats of made-up events",
        mib(before),
        mib(after)
    );
    assert!(
        after <= before + 5 * MIB,
        "20,000 WatchSeats of unknown events grew the server from {:.1} to {:.1} MiB",
        mib(before),
        mib(after)
    );
    server.terminate().await;
    storage.destroy().await;
}

/// 200 rows of 100 seats: `A`..`Z`, then `AA`, `AB`, ….
async fn stadium_block(app: &crate::helpers::TestApp) -> String {
    let name = |i: usize| {
        let letter = |n: usize| char::from(b'A' + n as u8);
        if i < 26 {
            letter(i).to_string()
        } else {
            format!("{}{}", letter(i / 26 - 1), letter(i % 26))
        }
    };
    let rows = (0..200)
        .map(|i| pb::RowSpec {
            row: name(i),
            seat_count: 100,
            ..Default::default()
        })
        .collect();
    app.event_with_rows(rows).await.event_id
}

async fn stalled_watchers_of_a_big_event_hold_little_memory(backend: Backend) {
    const WATCHERS: usize = 1_000;
    const CONNECTIONS: usize = 8;
    let _heavy = crate::helpers::HEAVY.lock().await;
    let (storage, server) = start(backend).await;
    let app = attach(storage.clone(), server.address.clone()).await;
    let event = stadium_block(&app).await;
    let mut warm = crate::feed::Watcher::start(&mut app.booking.clone(), &event).await;
    assert_eq!(warm.seats.len(), 20_000);
    drop(warm.next(Duration::from_millis(10)).await);
    drop(warm);
    let before = server.rss();

    // Each stream may take 64 KiB before it stalls; the connections never run out of window
    // for the others, as with a client whose streams each stop reading.
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        let channel = tonic::transport::Endpoint::from_shared(server.address.clone())
            .expect("uri")
            .initial_stream_window_size(64 * 1024)
            .initial_connection_window_size(32 * 1024 * 1024)
            .connect()
            .await
            .expect("connect");
        channels.push(channel);
    }
    // A few at a time: every snapshot of 20,000 seats is one big read of the hold store.
    let opening_at_once = Arc::new(tokio::sync::Semaphore::new(16));
    let mut opening = JoinSet::new();
    for i in 0..WATCHERS {
        let mut client = BookingServiceClient::new(channels[i % CONNECTIONS].clone());
        let event = event.clone();
        let opening_at_once = opening_at_once.clone();
        opening.spawn(async move {
            let _turn = opening_at_once.acquire().await.expect("semaphore");
            let mut stream = client
                .watch_seats(pb::WatchSeatsRequest {
                    event_id: event,
                    ..Default::default()
                })
                .await
                .expect("watch")
                .into_inner();
            stream.message().await.expect("first part").expect("open");
            // Reads nothing more: the stream is held, stalled.
            stream
        });
    }
    let mut stalled = Vec::new();
    while let Some(stream) = opening.join_next().await {
        stalled.push(stream.expect("watcher"));
    }
    // Changes keep flowing while they stall.
    let fan = app.user().await;
    for seat in ["A1", "A2", "A3"] {
        app.reserve(&fan, &event, &[seat], 0).await.expect("hold");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = server.rss();
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.rss();
    eprintln!(
        "{backend:?}: RSS {:.1} MiB before, {:.1} MiB with {WATCHERS} stalled watchers, {:.1} MiB after they left",
        mib(before),
        mib(during),
        mib(after)
    );
    assert!(
        during <= before + 50 * MIB,
        "{WATCHERS} stalled watchers of a 20,000-seat event grew the server from {:.1} to {:.1} MiB",
        mib(before),
        mib(during)
    );
    server.terminate().await;
    storage.destroy().await;
}

crate::both_backends!(
    watching_made_up_events_leaves_no_memory_behind,
    stalled_watchers_of_a_big_event_hold_little_memory,
);
