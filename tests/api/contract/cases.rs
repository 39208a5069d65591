//! The contract's cases. Each takes a store with a fresh event and checks one rule of
//! `domain::lifecycle` through the `HoldStore` port alone.

mod best;
mod lookups;

pub use best::*;
pub use lookups::*;

use super::{Store, seats};
use seatrush::internals::domain::{
    ChangeReason::*, ClientCap, Cooldown, EventId, ExtendTerms, HoldOutcome, HoldRefusal,
    HoldTerms, Layout, LayoutLimits, ReservationId, SeatStatus, UserId,
};
use seatrush::internals::ports::HoldRequest;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
/// Short enough to wait for, long enough for a script to run before it lapses.
const SHORT: Duration = Duration::from_millis(400);

fn request(event: EventId, user: UserId, labels: &[&str], ttl: Duration) -> HoldRequest {
    HoldRequest {
        reservation: ReservationId::new(event),
        user,
        seats: seats(labels),
        terms: HoldTerms {
            ttl,
            max_seats_per_user: 4,
            retention: Duration::from_secs(3_600),
            client: None,
            cooldown: None,
        },
    }
}

/// Releases through the port; panics only when the store itself fails.
async fn release(
    store: &Store,
    reservation: ReservationId,
    user: UserId,
) -> Result<u64, HoldRefusal> {
    store.holds.release(reservation, user).await.expect("store")
}

/// Holds `labels` for `user`; panics unless held.
async fn hold(
    store: &Store,
    event: EventId,
    user: UserId,
    labels: &[&str],
    ttl: Duration,
) -> HoldRequest {
    hold_until(store, event, user, labels, ttl).await.0
}

/// Holds `labels` for `user`; returns the request and the deadline.
async fn hold_until(
    store: &Store,
    event: EventId,
    user: UserId,
    labels: &[&str],
    ttl: Duration,
) -> (HoldRequest, i64) {
    let (request, deadline, _) = hold_counted(store, event, user, labels, ttl).await;
    (request, deadline)
}

/// Holds `labels` for `user`; returns the request, the deadline and the seats the user holds in
/// the event afterwards.
async fn hold_counted(
    store: &Store,
    event: EventId,
    user: UserId,
    labels: &[&str],
    ttl: Duration,
) -> (HoldRequest, i64, usize) {
    let request = request(event, user, labels, ttl);
    match store.holds.hold(&request).await.expect("store") {
        HoldOutcome::Held {
            expires_at,
            held_by_user,
            ..
        } => (request, expires_at, held_by_user),
        other => panic!("not held: {other:?}"),
    }
}

/// Every event of the contract has this layout: rows A, B and C of 9 seats.
fn layout() -> Layout {
    Layout::parse_rows(
        "rows",
        [("A", 9), ("B", 9), ("C", 9)].into_iter(),
        &LayoutLimits::default(),
    )
    .expect("layout")
}

async fn statuses(store: &Store, event: EventId, labels: &[&str]) -> Vec<SeatStatus> {
    let layout = layout();
    let snapshot = store
        .holds
        .snapshot(event, &layout)
        .await
        .expect("store")
        .expect("loaded");
    let all: Vec<SeatStatus> = snapshot.statuses.iter().collect();
    seats(labels)
        .iter()
        .map(|label| all[layout.find(label).expect("in the layout") as usize])
        .collect()
}

fn lease(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

pub async fn a_hold_takes_all_its_seats_or_none(store: &Store) {
    let (event, mut changes) = store.event().await;
    let (ann, bob) = (UserId::generate(), UserId::generate());
    hold(store, event, ann, &["A1", "A2"], MINUTE).await;
    let refused = store
        .holds
        .hold(&request(event, bob, &["A2", "A3"], MINUTE))
        .await
        .expect("store");
    assert_eq!(refused, HoldOutcome::Unavailable(seats(&["A2"])));
    assert_eq!(
        statuses(store, event, &["A1", "A2", "A3"]).await,
        [SeatStatus::Held, SeatStatus::Held, SeatStatus::Available]
    );
    assert_eq!(
        changes.reasons(2).await,
        [("A1".into(), Reserved), ("A2".into(), Reserved)]
    );
    changes.none_within(Duration::from_millis(100)).await;
}

pub async fn nothing_is_held_before_the_sold_seats_are_loaded(store: &Store) {
    let event = EventId::generate();
    let outcome = store
        .holds
        .hold(&request(event, UserId::generate(), &["A1"], MINUTE))
        .await
        .expect("store");
    assert_eq!(outcome, HoldOutcome::NotLoaded);
    assert_eq!(
        store.holds.snapshot(event, &layout()).await.expect("store"),
        None
    );
    store
        .holds
        .mark_sold(event, &seats(&["A1"]), false)
        .await
        .expect("store");
    let still = store
        .holds
        .hold(&request(event, UserId::generate(), &["A2"], MINUTE))
        .await
        .expect("store");
    assert_eq!(
        still,
        HoldOutcome::NotLoaded,
        "a partial sold list loads nothing"
    );
}

pub async fn sold_seats_are_refused_and_reported_sold_once(store: &Store) {
    let (event, mut changes) = store.event().await;
    store
        .holds
        .mark_sold(event, &seats(&["A1", "A2"]), false)
        .await
        .expect("store");
    store
        .holds
        .mark_sold(event, &seats(&["A2", "A3"]), false)
        .await
        .expect("store");
    assert_eq!(
        changes.reasons(3).await,
        [
            ("A1".into(), Sold),
            ("A2".into(), Sold),
            ("A3".into(), Sold)
        ]
    );
    let refused = store
        .holds
        .hold(&request(event, UserId::generate(), &["A3", "A4"], MINUTE))
        .await
        .expect("store");
    assert_eq!(refused, HoldOutcome::Unavailable(seats(&["A3"])));
    changes.none_within(Duration::from_millis(100)).await;
}

pub async fn the_per_user_cap_counts_live_seats_only(store: &Store) {
    let (event, _) = store.event().await;
    let ann = UserId::generate();
    let (first, _, held) = hold_counted(store, event, ann, &["A1", "A2"], MINUTE).await;
    assert_eq!(held, 2);
    assert_eq!(hold_counted(store, event, ann, &["A3"], SHORT).await.2, 3);
    assert_eq!(
        hold_counted(store, event, UserId::generate(), &["B1"], MINUTE)
            .await
            .2,
        1
    );
    let capped = store
        .holds
        .hold(&request(event, ann, &["A4", "A5"], MINUTE))
        .await
        .expect("store");
    assert_eq!(capped, HoldOutcome::UserLimit { held: 3 });
    release(store, first.reservation, ann)
        .await
        .expect("released");
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
    let (_, _, held) = hold_counted(store, event, ann, &["A4", "A5", "A6", "A7"], MINUTE).await;
    assert_eq!(held, 4);
}

pub async fn a_client_takes_at_most_its_cap_within_the_window_whatever_the_accounts(store: &Store) {
    let (event, _) = store.event().await;
    let window = Duration::from_millis(800);
    let from = |client: &str, user: UserId, labels: &[&str]| {
        let mut request = request(event, user, labels, MINUTE);
        request.terms.client = Some(ClientCap {
            client: client.parse().expect("ip"),
            max_seats: 3,
            window,
        });
        request
    };
    let hold_from =
        |request: HoldRequest| async move { store.holds.hold(&request).await.expect("store") };
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let first = from("203.0.113.9", ann, &["A1", "A2"]);
    assert!(matches!(
        hold_from(first.clone()).await,
        HoldOutcome::Held { .. }
    ));
    release(store, first.reservation, ann)
        .await
        .expect("released");
    // Released seats still count, and another account from the same client changes nothing.
    assert_eq!(
        hold_from(from("203.0.113.9", bob, &["A3", "A4"])).await,
        HoldOutcome::ClientLimit { held: 2 }
    );
    assert!(matches!(
        hold_from(from("203.0.113.9", bob, &["A3"])).await,
        HoldOutcome::Held { .. }
    ));
    assert!(matches!(
        hold_from(from("203.0.113.10", ann, &["A4", "A5"])).await,
        HoldOutcome::Held { .. }
    ));
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    assert!(matches!(
        hold_from(from("203.0.113.9", bob, &["A6", "A7"])).await,
        HoldOutcome::Held { .. }
    ));
}

pub async fn let_go_seats_cool_down_for_their_user_and_client(store: &Store) {
    let (event, mut changes) = store.event().await;
    let cool = Duration::from_millis(700);
    let from = |user: UserId, client: Option<&str>, labels: &[&str], ttl: Duration| {
        let mut request = request(event, user, labels, ttl);
        request.terms.cooldown = Some(Cooldown {
            length: cool,
            client: client.map(|ip| ip.parse().expect("ip")),
        });
        request
    };
    let outcome =
        |request: HoldRequest| async move { store.holds.hold(&request).await.expect("store") };
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let first = from(ann, Some("203.0.113.9"), &["A1", "A2"], MINUTE);
    assert!(matches!(
        outcome(first.clone()).await,
        HoldOutcome::Held { .. }
    ));
    release(store, first.reservation, ann)
        .await
        .expect("released");
    let lapsing = from(bob, None, &["B1"], SHORT);
    assert!(matches!(outcome(lapsing).await, HoldOutcome::Held { .. }));
    changes.reasons(6).await;
    // Refused after "taken" is checked, before the caps: the user, and the client whatever the
    // account; another client and account holds the seat, and a lapsed hold cools down too.
    assert_eq!(
        outcome(from(ann, None, &["A1", "A3"], MINUTE)).await,
        HoldOutcome::CoolingDown(seats(&["A1"]))
    );
    assert_eq!(
        outcome(from(bob, Some("203.0.113.9"), &["A3", "A2"], MINUTE)).await,
        HoldOutcome::CoolingDown(seats(&["A2"]))
    );
    assert_eq!(
        outcome(from(bob, None, &["B1"], MINUTE)).await,
        HoldOutcome::CoolingDown(seats(&["B1"]))
    );
    assert!(matches!(
        outcome(from(
            UserId::generate(),
            Some("198.51.100.7"),
            &["A2"],
            MINUTE
        ))
        .await,
        HoldOutcome::Held { .. }
    ));
    tokio::time::sleep(cool + Duration::from_millis(100)).await;
    assert!(matches!(
        outcome(from(ann, Some("203.0.113.9"), &["A1"], MINUTE)).await,
        HoldOutcome::Held { .. }
    ));
    assert!(matches!(
        outcome(from(bob, None, &["B1"], MINUTE)).await,
        HoldOutcome::Held { .. }
    ));
}

pub async fn refusals_come_in_the_lifecycle_order(store: &Store) {
    let (event, _) = store.event().await;
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let unknown = ReservationId::new(event);
    assert_eq!(
        store
            .holds
            .begin_purchase(unknown, ann, lease(10))
            .await
            .expect("store"),
        Err(HoldRefusal::Unknown)
    );
    let held = hold(store, event, ann, &["A1"], MINUTE).await;
    assert_eq!(
        store
            .holds
            .begin_purchase(held.reservation, bob, lease(10))
            .await
            .expect("store"),
        Err(HoldRefusal::NotOwner)
    );
    assert_eq!(
        release(store, held.reservation, bob).await,
        Err(HoldRefusal::NotOwner)
    );
    release(store, held.reservation, ann)
        .await
        .expect("released");
    assert_eq!(
        release(store, held.reservation, bob).await,
        Err(HoldRefusal::NotOwner),
        "ownership is checked before the phase"
    );
    assert_eq!(
        release(store, held.reservation, ann).await,
        Err(HoldRefusal::Released)
    );
    let lapsing = hold(store, event, ann, &["A2"], SHORT).await;
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
    assert_eq!(
        store
            .holds
            .begin_purchase(lapsing.reservation, ann, lease(10))
            .await
            .expect("store"),
        Err(HoldRefusal::Expired)
    );
}

pub async fn a_purchase_lease_lifts_the_deadline_and_is_reentrant(store: &Store) {
    let (event, _) = store.event().await;
    let ann = UserId::generate();
    let held = hold(store, event, ann, &["A1"], SHORT).await;
    let first = store
        .holds
        .begin_purchase(held.reservation, ann, lease(10))
        .await
        .expect("store")
        .expect("lease");
    assert_eq!(first.seats, seats(&["A1"]));
    let again = store
        .holds
        .begin_purchase(held.reservation, ann, lease(1))
        .await
        .expect("store")
        .expect("re-entrant");
    assert_eq!(again.deadline, first.deadline, "a lease never lowers it");
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
    assert_eq!(
        statuses(store, event, &["A1"]).await,
        [SeatStatus::Held],
        "the lease outlives the hold's own deadline"
    );
    assert_eq!(
        release(store, held.reservation, ann).await,
        Err(HoldRefusal::Purchasing)
    );
    let terms = ExtendTerms {
        ttl: MINUTE,
        max_lifetime: Duration::from_secs(600),
    };
    assert_eq!(
        store
            .holds
            .extend(held.reservation, ann, &terms)
            .await
            .expect("store"),
        Err(HoldRefusal::Purchasing)
    );
    store
        .holds
        .abort_purchase(held.reservation)
        .await
        .expect("store");
    let extended = store
        .holds
        .extend(held.reservation, ann, &terms)
        .await
        .expect("store")
        .expect("extended after the abort");
    assert!(extended.deadline > first.deadline);
}

pub async fn extend_is_capped_by_the_lifetime_and_never_shortens(store: &Store) {
    let (event, _) = store.event().await;
    let ann = UserId::generate();
    let (held, expires_at) = hold_until(store, event, ann, &["A1"], Duration::from_secs(30)).await;
    let created = expires_at - 30_000;
    let capped = ExtendTerms {
        ttl: Duration::from_secs(300),
        max_lifetime: Duration::from_secs(90),
    };
    let extended = store
        .holds
        .extend(held.reservation, ann, &capped)
        .await
        .expect("store")
        .expect("extended");
    assert_eq!(
        extended.deadline,
        created + 90_000,
        "capped at creation + 90 s"
    );
    let shorter = ExtendTerms {
        ttl: Duration::from_secs(1),
        max_lifetime: Duration::from_secs(600),
    };
    let kept = store
        .holds
        .extend(held.reservation, ann, &shorter)
        .await
        .expect("store")
        .expect("extended");
    assert_eq!(kept.deadline, extended.deadline, "never earlier");
    assert_eq!(kept.seats, seats(&["A1"]));
}

pub async fn finishing_a_purchase_sells_the_seats_and_ends_the_hold(store: &Store) {
    let (event, mut changes) = store.event().await;
    let ann = UserId::generate();
    let held = hold(store, event, ann, &["A1", "A2"], MINUTE).await;
    let lease = store
        .holds
        .begin_purchase(held.reservation, ann, lease(10))
        .await
        .expect("store")
        .expect("lease");
    store
        .holds
        .finish_purchase(held.reservation, ann, &lease.seats)
        .await
        .expect("store");
    assert_eq!(
        changes.reasons(4).await,
        [
            ("A1".into(), Reserved),
            ("A2".into(), Reserved),
            ("A1".into(), Sold),
            ("A2".into(), Sold)
        ]
    );
    assert_eq!(
        release(store, held.reservation, ann).await,
        Err(HoldRefusal::Sold)
    );
    assert_eq!(
        statuses(store, event, &["A1", "A2"]).await,
        [SeatStatus::Sold, SeatStatus::Sold]
    );
    let refused = store
        .holds
        .hold(&request(event, ann, &["A1"], MINUTE))
        .await
        .expect("store");
    assert_eq!(refused, HoldOutcome::Unavailable(seats(&["A1"])));
    hold(store, event, ann, &["A3", "A4", "A5", "A6"], MINUTE).await;
}

pub async fn release_frees_only_the_seats_that_still_carry_the_hold(store: &Store) {
    let (event, mut changes) = store.event().await;
    let ann = UserId::generate();
    let held = hold(store, event, ann, &["A1", "A2"], MINUTE).await;
    store
        .holds
        .mark_sold(event, &seats(&["A2"]), false)
        .await
        .expect("store");
    release(store, held.reservation, ann)
        .await
        .expect("released");
    assert_eq!(
        changes.reasons(4).await,
        [
            ("A1".into(), Reserved),
            ("A2".into(), Reserved),
            ("A2".into(), Sold),
            ("A1".into(), Released)
        ]
    );
    assert_eq!(
        statuses(store, event, &["A1", "A2"]).await,
        [SeatStatus::Available, SeatStatus::Sold]
    );
    changes.none_within(Duration::from_millis(100)).await;
}

pub async fn a_hold_expires_on_time_reported_once(store: &Store) {
    let (event, mut changes) = store.event().await;
    let ann = UserId::generate();
    let held = hold(store, event, ann, &["A1", "A2"], SHORT).await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        changes.reasons(4).await,
        [
            ("A1".into(), Reserved),
            ("A2".into(), Reserved),
            ("A1".into(), Expired),
            ("A2".into(), Expired)
        ]
    );
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        statuses(store, event, &["A1", "A2"]).await,
        [SeatStatus::Available, SeatStatus::Available]
    );
    assert_eq!(
        release(store, held.reservation, ann).await,
        Err(HoldRefusal::Expired)
    );
    changes.none_within(Duration::from_millis(300)).await;
}

pub async fn releasing_a_lapsed_hold_reports_it_expired_once(store: &Store) {
    let (event, mut changes) = store.event().await;
    let ann = UserId::generate();
    let held = hold(store, event, ann, &["A1"], Duration::from_millis(150)).await;
    assert_eq!(changes.reasons(1).await, [("A1".into(), Reserved)]);
    tokio::time::sleep(Duration::from_millis(160)).await;
    // Whether the release or the expiry pass gets there first, the seat is reported EXPIRED,
    // once, and never RELEASED.
    assert_eq!(
        release(store, held.reservation, ann).await,
        Err(HoldRefusal::Expired)
    );
    assert_eq!(changes.reasons(1).await, [("A1".into(), Expired)]);
    changes.none_within(Duration::from_millis(300)).await;
    assert_eq!(
        release(store, held.reservation, ann).await,
        Err(HoldRefusal::Released)
    );
}

pub async fn versions_follow_each_other_and_snapshots_carry_them(store: &Store) {
    let (event, mut changes) = store.event().await;
    let ann = UserId::generate();
    let first = hold(store, event, ann, &["A1", "A2"], MINUTE).await;
    release(store, first.reservation, ann)
        .await
        .expect("released");
    store
        .holds
        .mark_sold(event, &seats(&["A3"]), false)
        .await
        .expect("store");
    let seen = changes.next(5).await;
    let versions: Vec<u64> = seen.iter().map(|(_, _, v)| *v).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5], "{seen:?}");
    let snapshot = store
        .holds
        .snapshot(event, &layout())
        .await
        .expect("store")
        .expect("loaded");
    assert_eq!(snapshot.version, 5);
}

pub async fn releasing_a_user_frees_their_live_holds_only(store: &Store) {
    let (event, mut changes) = store.event().await;
    let (ann, bob) = (UserId::generate(), UserId::generate());
    hold(store, event, ann, &["A1"], MINUTE).await;
    let buying = hold(store, event, ann, &["A2"], MINUTE).await;
    hold(store, event, bob, &["A3"], MINUTE).await;
    store
        .holds
        .begin_purchase(buying.reservation, ann, lease(10))
        .await
        .expect("store")
        .expect("lease");
    changes.next(3).await;
    assert_eq!(store.holds.release_all_of(ann).await.expect("store"), 1);
    assert_eq!(changes.reasons(1).await, [("A1".into(), Released)]);
    assert_eq!(
        statuses(store, event, &["A1", "A2", "A3"]).await,
        [SeatStatus::Available, SeatStatus::Held, SeatStatus::Held]
    );
}

pub async fn held_seats_count_live_holds_only(store: &Store) {
    let (event, mut changes) = store.event().await;
    let ann = UserId::generate();
    let kept = hold(store, event, ann, &["A1", "A2"], MINUTE).await;
    let released = hold(store, event, ann, &["B1"], MINUTE).await;
    hold(store, event, ann, &["C1"], SHORT).await;
    changes.next(4).await;
    // Stores that count from their own record of events see this one now; a Redis feed, once
    // its listener has heard of the event.
    let mut counted = 0;
    for _ in 0..50 {
        counted = store.holds.held_seats().await.expect("count");
        if counted == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counted, 4);
    release(store, released.reservation, ann)
        .await
        .expect("released");
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
    assert_eq!(store.holds.held_seats().await.expect("count"), 2);
    release(store, kept.reservation, ann)
        .await
        .expect("released");
    assert_eq!(store.holds.held_seats().await.expect("count"), 0);
}
