//! A stadium: 100,000 seats in 500 sections, booked and mapped like a small event, on both
//! backends; and a seat-map copy that misses a change repairs itself.

use crate::feed::{Watcher, packed};
use crate::helpers::{ADMIN_TOKEN, Backend, authed, spawn_app};
use seatrush::proto::v1::{self as pb, SeatStatus};
use std::time::{Duration, Instant};

crate::both_backends!(a_stadium_of_100000_seats_in_sections_books_and_maps_like_a_small_event);

/// Sections "1" to "500", rows "1" to "20" of ten seats: labels "250-10-5".
fn stadium() -> pb::CreateEventRequest {
    let rows: Vec<pb::RowSpec> = (1..=20)
        .map(|r| pb::RowSpec {
            row: r.to_string(),
            seat_count: 10,
            ..Default::default()
        })
        .collect();
    pb::CreateEventRequest {
        name: "Cup final at the stadium".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        }),
        sections: (1..=500)
            .map(|s| pb::SectionSpec {
                code: s.to_string(),
                name: format!("Block {s}"),
                rows: rows.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

async fn a_stadium_of_100000_seats_in_sections_books_and_maps_like_a_small_event(backend: Backend) {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let app = spawn_app(backend).await;
    let started = Instant::now();
    let event = app
        .inventory
        .clone()
        .create_event(authed(stadium(), ADMIN_TOKEN))
        .await
        .expect("create a 100,000-seat event")
        .into_inner()
        .event
        .expect("event");
    eprintln!(
        "{backend:?}: CreateEvent of 100,000 seats took {:?}",
        started.elapsed()
    );
    assert_eq!(event.seat_count, 100_000);
    assert_eq!(event.sections.len(), 500);
    let id = event.event_id.clone();

    let mut booking = app.booking.clone();
    let layout = booking
        .get_seat_layout(pb::GetSeatLayoutRequest {
            event_id: id.clone(),
        })
        .await
        .expect("layout")
        .into_inner();
    assert_eq!(layout.digest, event.layout_digest);
    assert_eq!(layout.sections[249].name, "Block 250");
    assert_eq!(
        layout.sections[249].rows[9].first_seat_index,
        249 * 200 + 9 * 10
    );

    let mut watcher = Watcher::start(&mut booking, &id).await;
    assert_eq!(watcher.seats.len(), 100_000);
    let fan = app.user().await;
    let bought = app
        .reserve(&fan, &id, &["250-10-5", "250-10-6"], 0)
        .await
        .expect("hold two seats");
    assert_eq!(bought.seats, ["250-10-5", "250-10-6"]);
    let tickets = app
        .purchase(&fan, &bought.reservation_id)
        .await
        .expect("purchase");
    assert_eq!(tickets[0].label, "250-10-5");
    let released = app.reserve(&fan, &id, &["1-1-1"], 0).await.expect("hold");
    app.release(&fan, &released.reservation_id)
        .await
        .expect("release");
    app.reserve(&fan, &id, &["500-20-10"], 0)
        .await
        .expect("the last seat");
    let refused = app.reserve(&fan, &id, &["250-10-6"], 0).await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::AlreadyExists);
    let unknown = app.reserve(&fan, &id, &["501-1-1"], 0).await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);

    // The packed statuses, read right after: this instance's changes are in.
    let statuses = booking
        .get_seat_statuses(pb::GetSeatStatusesRequest {
            event_id: id.clone(),
        })
        .await
        .expect("statuses")
        .into_inner();
    assert_eq!(statuses.statuses.len(), 25_000, "two bits a seat");
    assert_eq!(
        statuses.version, 7,
        "two held, two sold, one held, released, one held"
    );
    let index =
        |section: usize, row: usize, seat: usize| (section - 1) * 200 + (row - 1) * 10 + seat - 1;
    assert_eq!(
        packed(&statuses.statuses, index(250, 10, 5)),
        SeatStatus::Sold
    );
    assert_eq!(
        packed(&statuses.statuses, index(1, 1, 1)),
        SeatStatus::Available
    );
    assert_eq!(
        packed(&statuses.statuses, index(500, 20, 10)),
        SeatStatus::Held
    );

    // The view for people: filtered and paged.
    let sold = booking
        .get_seat_map(pb::GetSeatMapRequest {
            event_id: id.clone(),
            section: "250".into(),
            status: SeatStatus::Sold.into(),
            ..Default::default()
        })
        .await
        .expect("sold seats of block 250")
        .into_inner();
    let labels: Vec<&str> = sold.seats.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["250-10-5", "250-10-6"]);
    assert_eq!(sold.seats[0].section, "250");
    assert_eq!(sold.seats[0].index as usize, index(250, 10, 5));
    let row = booking
        .get_seat_map(pb::GetSeatMapRequest {
            event_id: id.clone(),
            section: "250".into(),
            row: "10".into(),
            page_size: 4,
            ..Default::default()
        })
        .await
        .expect("a row, a page at a time")
        .into_inner();
    assert_eq!(row.seats.len(), 4);
    assert!(!row.next_page_token.is_empty());

    // The watcher's copy, built from the snapshot and the batches, is the server's map.
    watcher.catch_up(&app, &id).await;
    assert_eq!(watcher.version, 7);
    app.teardown().await;
}

/// A change the feed never delivered (a gap in the versions) makes this instance's copy of the
/// seat map read Redis again; its watchers take a fresh snapshot and end up right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_map_copy_that_misses_a_change_repairs_itself() {
    let app = spawn_app(Backend::Distributed).await;
    let event = app.event(1, 10).await;
    let mut watcher = Watcher::start(&mut app.booking.clone(), &event.event_id).await;
    let fan = app.user().await;
    app.reserve(&fan, &event.event_id, &["A1"], 0)
        .await
        .expect("hold");
    while watcher.version < 1 {
        watcher
            .next(Duration::from_secs(5))
            .await
            .expect("the hold");
    }
    // Another change happens in Redis, but its message is lost; the next one arrives with a
    // version that skips it.
    let mut redis = seatrush_testkit::redis::connect(&crate::helpers::redis_url()).await;
    let prefix = &app.storage.redis_prefix;
    let tag = format!("{prefix}:{{{}}}", event.event_id);
    let _: () = redis::cmd("SET")
        .arg(format!("{tag}:s:A2"))
        .arg("sold")
        .query_async(&mut redis)
        .await
        .expect("a change the feed does not see");
    let _: i64 = redis::cmd("INCR")
        .arg(format!("{tag}:v"))
        .query_async(&mut redis)
        .await
        .expect("its version");
    let skipped: i64 = redis::cmd("INCR")
        .arg(format!("{tag}:v"))
        .query_async(&mut redis)
        .await
        .expect("the next version");
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}:feed"))
        .arg(format!("{}|A3|S|{skipped}|0", event.event_id))
        .query_async(&mut redis)
        .await
        .expect("publish a change after the gap");
    let snapshots = watcher.snapshots;
    while watcher.snapshots == snapshots {
        assert!(
            watcher.next(Duration::from_secs(5)).await.is_some(),
            "the watcher is resynced after the gap"
        );
    }
    assert_eq!(
        watcher.seats["A2"],
        SeatStatus::Sold,
        "the change the feed lost"
    );
    assert_eq!(watcher.seats["A1"], SeatStatus::Held);
    assert_eq!(watcher.seats, app.seat_map(&event.event_id).await);
    app.teardown().await;
}
