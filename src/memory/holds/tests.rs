//! The in-process store's own machinery, with tokio's clock paused: the expiry task and the
//! retention of ended holds. The rules themselves are tested in `domain::lifecycle` and, against
//! every adapter, by the contract suite.

use super::*;
use crate::clock::TokioClock;
use crate::domain::{HoldTerms, SeatLabel};
use crate::hub::FeedMessage;

fn store() -> (MemoryHolds, Arc<Hub>) {
    let hub = Arc::new(Hub::new());
    let holds = MemoryHolds::new(
        hub.clone(),
        Arc::new(Metrics::disabled()),
        Arc::new(TokioClock::new()),
    );
    (holds, hub)
}

fn request(event: EventId, user: UserId, seat: &str, ttl: Duration) -> HoldRequest {
    HoldRequest {
        reservation: ReservationId::new(event),
        user,
        seats: vec![SeatLabel::parse("seat", seat).expect("label")],
        terms: HoldTerms {
            ttl,
            max_seats_per_user: 10,
            retention: Duration::from_secs(3_600),
            client: None,
            cooldown: None,
        },
    }
}

#[tokio::test(start_paused = true)]
async fn a_hold_expires_at_its_deadline_without_anyone_asking() {
    let (holds, hub) = store();
    let (event, user) = (EventId::generate(), UserId::generate());
    holds.mark_sold(event, &[], true).await.expect("loaded");
    let mut feed = hub.subscribe(event);
    let started = tokio::time::Instant::now();
    let held = holds
        .hold(&request(event, user, "A1", Duration::from_secs(90)))
        .await
        .expect("hold");
    assert!(matches!(held, HoldOutcome::Held { .. }));
    let reserved = feed.recv().await.expect("reserved");
    assert!(
        matches!(reserved, FeedMessage::Change(c) if c.reason == crate::domain::ChangeReason::Reserved)
    );
    let expired = feed.recv().await.expect("expired");
    let FeedMessage::Change(change) = expired else {
        panic!("expected a change")
    };
    assert_eq!(change.reason, crate::domain::ChangeReason::Expired);
    assert_eq!(change.version, 2);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(90) && waited < Duration::from_secs(91),
        "expired after {waited:?}"
    );
    assert_eq!(holds.held_seats().await.expect("count"), 0);
}

#[tokio::test(start_paused = true)]
async fn an_earlier_deadline_wakes_the_expiry_task() {
    let (holds, hub) = store();
    let (event, user) = (EventId::generate(), UserId::generate());
    holds.mark_sold(event, &[], true).await.expect("loaded");
    let mut feed = hub.subscribe(event);
    holds
        .hold(&request(event, user, "A1", Duration::from_secs(600)))
        .await
        .expect("long hold");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = tokio::time::Instant::now();
    holds
        .hold(&request(event, user, "A2", Duration::from_secs(5)))
        .await
        .expect("short hold");
    loop {
        if let FeedMessage::Change(change) = feed.recv().await.expect("change")
            && change.reason == crate::domain::ChangeReason::Expired
        {
            assert_eq!(change.label.as_str(), "A2");
            break;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn ended_holds_are_forgotten_after_their_retention() {
    let (holds, _hub) = store();
    let (event, user) = (EventId::generate(), UserId::generate());
    holds.mark_sold(event, &[], true).await.expect("loaded");
    let request = request(event, user, "A1", Duration::from_secs(60));
    holds.hold(&request).await.expect("hold");
    assert_eq!(
        holds
            .release(request.reservation, user)
            .await
            .expect("store"),
        Ok(2)
    );
    tokio::time::sleep(Duration::from_secs(3_599)).await;
    assert_eq!(
        holds
            .release(request.reservation, user)
            .await
            .expect("store"),
        Err(HoldRefusal::Released),
        "remembered within the retention"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        holds
            .release(request.reservation, user)
            .await
            .expect("store"),
        Err(HoldRefusal::Unknown)
    );
    assert_eq!(holds.inner.lock()[&event].remembered(), 0);
}
