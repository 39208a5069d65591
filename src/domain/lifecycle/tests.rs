use super::*;
use crate::domain::{ChangeReason::*, HoldToken, SeatStatus, UserId};

const T0: UnixMillis = 1_800_000_000_000;
const SECOND: i64 = 1_000;

fn terms() -> HoldTerms {
    HoldTerms {
        ttl: Duration::from_secs(60),
        max_seats_per_user: 4,
        retention: Duration::from_secs(3_600),
        client: None,
        cooldown: None,
    }
}

fn seats(labels: &[&str]) -> Vec<SeatLabel> {
    labels
        .iter()
        .map(|l| SeatLabel::parse("seat", l).expect("label"))
        .collect()
}

fn loaded() -> EventHolds {
    let mut event = EventHolds::default();
    event.mark_sold(&[], true);
    event
}

fn reasons(changes: &[Change]) -> Vec<(String, ChangeReason)> {
    changes
        .iter()
        .map(|c| (c.label.to_string(), c.reason))
        .collect()
}

/// Holds `labels` for `user` at `now`; panics unless held.
fn hold(event: &mut EventHolds, user: UserId, labels: &[&str], now: UnixMillis) -> HoldToken {
    let token = HoldToken::generate();
    let (outcome, _) = event.hold(token, user, &seats(labels), &terms(), now);
    assert!(
        matches!(outcome, HoldOutcome::Held { expires_at, version, .. }
            if expires_at == now + 60 * SECOND && version == event.version()),
        "{outcome:?}"
    );
    token
}

#[test]
fn nothing_is_held_before_the_sold_seats_are_loaded() {
    let mut event = EventHolds::default();
    let (outcome, changes) = event.hold(
        HoldToken::generate(),
        UserId::generate(),
        &seats(&["A1"]),
        &terms(),
        T0,
    );
    assert_eq!(outcome, HoldOutcome::NotLoaded);
    assert!(changes.is_empty());
    assert_eq!(event.statuses(seats(&["A1"]), T0), None);
}

#[test]
fn a_hold_takes_all_its_seats_or_none() {
    let mut event = loaded();
    let (ann, bob) = (UserId::generate(), UserId::generate());
    hold(&mut event, ann, &["A1", "A2"], T0);
    let (outcome, changes) = event.hold(
        HoldToken::generate(),
        bob,
        &seats(&["A2", "A3"]),
        &terms(),
        T0,
    );
    assert_eq!(outcome, HoldOutcome::Unavailable(seats(&["A2"])));
    assert!(changes.is_empty());
    let statuses = event
        .statuses(seats(&["A1", "A2", "A3"]), T0)
        .expect("loaded");
    assert_eq!(
        statuses.iter().collect::<Vec<_>>(),
        [SeatStatus::Held, SeatStatus::Held, SeatStatus::Available]
    );
}

#[test]
fn every_change_gets_the_next_version() {
    let mut event = loaded();
    let token = HoldToken::generate();
    let (_, changes) = event.hold(
        token,
        UserId::generate(),
        &seats(&["A1", "A2"]),
        &terms(),
        T0,
    );
    assert_eq!(
        changes.iter().map(|c| c.version).collect::<Vec<_>>(),
        [1, 2]
    );
    let sold = event.finish_purchase(token, &seats(&["A1", "A2"]), T0);
    assert_eq!(sold.iter().map(|c| c.version).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(event.version(), 4);
    assert!(
        event.mark_sold(&seats(&["A1"]), false).is_empty(),
        "already sold"
    );
}

#[test]
fn the_per_user_cap_counts_live_holds_only() {
    let mut event = loaded();
    let ann = UserId::generate();
    let first = hold(&mut event, ann, &["A1", "A2"], T0);
    hold(&mut event, ann, &["A3", "A4"], T0);
    let (outcome, _) = event.hold(HoldToken::generate(), ann, &seats(&["A5"]), &terms(), T0);
    assert_eq!(outcome, HoldOutcome::UserLimit { held: 4 });
    assert_eq!(event.release(first, ann, T0).0, Ok(()));
    hold(&mut event, ann, &["A5", "A6"], T0);
    let later = T0 + 61 * SECOND;
    hold(&mut event, ann, &["B1", "B2", "B3", "B4"], later);
}

#[test]
fn acting_on_a_hold_checks_owner_then_phase_then_seats() {
    let mut event = loaded();
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let lease = Duration::from_secs(10);
    assert_eq!(
        event.begin_purchase(HoldToken::generate(), ann, lease, T0),
        Err(HoldRefusal::Unknown)
    );
    let token = hold(&mut event, ann, &["A1"], T0);
    assert_eq!(
        event.begin_purchase(token, bob, lease, T0),
        Err(HoldRefusal::NotOwner)
    );
    let lapsed = T0 + 60 * SECOND;
    assert_eq!(
        event.begin_purchase(token, ann, lease, lapsed),
        Err(HoldRefusal::Expired)
    );
    assert_eq!(event.release(token, ann, T0).0, Ok(()));
    assert_eq!(
        event.begin_purchase(token, bob, lease, T0),
        Err(HoldRefusal::NotOwner),
        "ownership is checked before the phase"
    );
    assert_eq!(
        event.begin_purchase(token, ann, lease, T0),
        Err(HoldRefusal::Released)
    );
}

#[test]
fn a_purchase_lease_lifts_the_deadline_and_is_reentrant() {
    let mut event = loaded();
    let ann = UserId::generate();
    let token = hold(&mut event, ann, &["A1"], T0);
    let near_end = T0 + 55 * SECOND;
    let lease = event
        .begin_purchase(token, ann, Duration::from_secs(10), near_end)
        .expect("lease");
    assert_eq!(lease.deadline, near_end + 10 * SECOND);
    let again = event
        .begin_purchase(token, ann, Duration::from_secs(1), near_end)
        .expect("re-entrant");
    assert_eq!(again.deadline, lease.deadline, "a lease never lowers it");
    assert_eq!(
        event.release(token, ann, near_end).0,
        Err(HoldRefusal::Purchasing)
    );
    let extend = ExtendTerms {
        ttl: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(600),
    };
    assert_eq!(
        event.extend(token, ann, &extend, near_end),
        Err(HoldRefusal::Purchasing)
    );
    event.abort_purchase(token);
    assert!(event.extend(token, ann, &extend, near_end).is_ok());
}

#[test]
fn extend_is_capped_by_the_lifetime_and_never_shortens() {
    let mut event = loaded();
    let ann = UserId::generate();
    let token = hold(&mut event, ann, &["A1"], T0);
    let terms = |ttl: u64| ExtendTerms {
        ttl: Duration::from_secs(ttl),
        max_lifetime: Duration::from_secs(90),
    };
    let later = T0 + 50 * SECOND;
    assert_eq!(
        event
            .extend(token, ann, &terms(60), later)
            .map(|e| e.deadline),
        Ok(T0 + 90 * SECOND)
    );
    assert_eq!(
        event
            .extend(token, ann, &terms(1), later)
            .map(|e| e.deadline),
        Ok(T0 + 90 * SECOND),
        "never earlier"
    );
    let (lapsed, _) = event.expire(T0 + 89 * SECOND);
    assert!(lapsed.is_empty(), "the extended deadline counts");
}

#[test]
fn a_lapsed_hold_is_reported_expired_once_whoever_gets_there_first() {
    let mut event = loaded();
    let ann = UserId::generate();
    let swept = hold(&mut event, ann, &["A1"], T0);
    let released = hold(&mut event, ann, &["A2"], T0);
    let late = T0 + 61 * SECOND;
    let (result, changes) = event.release(released, ann, late);
    assert_eq!(result, Err(HoldRefusal::Expired));
    assert_eq!(reasons(&changes), [("A2".to_owned(), Expired)]);
    let (lapsed, changes) = event.expire(late);
    assert_eq!(lapsed, [Lapsed { late_ms: 1_000 }]);
    assert_eq!(reasons(&changes), [("A1".to_owned(), Expired)]);
    let (result, changes) = event.release(swept, ann, late);
    assert_eq!(result, Err(HoldRefusal::Expired));
    assert!(changes.is_empty(), "already reported");
    assert_eq!(event.next_due(), Some(late + 3_600 * SECOND));
}

#[test]
fn a_lapsed_seat_can_be_held_again_before_the_expiry_pass() {
    let mut event = loaded();
    let (ann, bob) = (UserId::generate(), UserId::generate());
    hold(&mut event, ann, &["A1"], T0);
    let late = T0 + 60 * SECOND;
    hold(&mut event, bob, &["A1"], late);
    let (lapsed, changes) = event.expire(late);
    assert_eq!(lapsed.len(), 1);
    assert!(
        changes.is_empty(),
        "the seat is bob's now: nothing to report"
    );
    assert_eq!(event.held_seats(late), 1);
}

#[test]
fn release_frees_only_the_seats_that_still_carry_the_hold() {
    let mut event = loaded();
    let ann = UserId::generate();
    let token = hold(&mut event, ann, &["A1", "A2"], T0);
    event.mark_sold(&seats(&["A2"]), false);
    let (result, changes) = event.release(token, ann, T0);
    assert_eq!(result, Ok(()));
    assert_eq!(reasons(&changes), [("A1".to_owned(), Released)]);
    assert_eq!(event.release(token, ann, T0).0, Err(HoldRefusal::Released));
}

#[test]
fn finishing_a_purchase_sells_the_seats_and_ends_the_hold() {
    let mut event = loaded();
    let ann = UserId::generate();
    let token = hold(&mut event, ann, &["A1"], T0);
    let lease = event
        .begin_purchase(token, ann, Duration::from_secs(10), T0)
        .expect("lease");
    let changes = event.finish_purchase(token, &lease.seats, T0);
    assert_eq!(reasons(&changes), [("A1".to_owned(), Sold)]);
    assert_eq!(event.release(token, ann, T0).0, Err(HoldRefusal::Sold));
    assert_eq!(event.held_seats(T0), 0);
    let (outcome, _) = event.hold(HoldToken::generate(), ann, &seats(&["A1"]), &terms(), T0);
    assert_eq!(outcome, HoldOutcome::Unavailable(seats(&["A1"])));
}

#[test]
fn ended_holds_are_remembered_for_their_retention() {
    let mut event = loaded();
    let ann = UserId::generate();
    let token = hold(&mut event, ann, &["A1"], T0);
    assert_eq!(event.release(token, ann, T0 + SECOND).0, Ok(()));
    event.forget(T0 + 3_600 * SECOND);
    assert_eq!(event.release(token, ann, T0).0, Err(HoldRefusal::Released));
    event.forget(T0 + 3_601 * SECOND);
    assert_eq!(event.release(token, ann, T0).0, Err(HoldRefusal::Unknown));
    assert_eq!(event.remembered(), 0);
    assert_eq!(event.next_due(), None);
}

#[test]
fn releasing_a_user_frees_their_live_holds_but_not_a_purchase() {
    let mut event = loaded();
    let (ann, bob) = (UserId::generate(), UserId::generate());
    hold(&mut event, ann, &["A1"], T0);
    let buying = hold(&mut event, ann, &["A2"], T0);
    hold(&mut event, bob, &["A3"], T0);
    event
        .begin_purchase(buying, ann, Duration::from_secs(10), T0)
        .expect("lease");
    let (released, changes) = event.release_user(ann, T0);
    assert_eq!(released, 1);
    assert_eq!(reasons(&changes), [("A1".to_owned(), Released)]);
    assert_eq!(event.held_seats(T0), 2);
}

#[test]
fn churn_by_one_user_keeps_the_count_cheap() {
    let mut event = loaded();
    let ann = UserId::generate();
    for i in 0..5_000 {
        let token = hold(&mut event, ann, &["A1"], T0 + i);
        assert_eq!(event.release(token, ann, T0 + i).0, Ok(()));
    }
    hold(&mut event, ann, &["A2"], T0 + 5_000);
    assert_eq!(event.remembered(), 5_001, "ended holds are remembered");
    assert_eq!(event.counted_holds(ann), 1, "only the live one is counted");
}

#[test]
fn a_clients_seats_count_for_its_window_and_are_then_forgotten() {
    let mut event = loaded();
    let cap = ClientCap {
        client: "203.0.113.9".parse().expect("ip"),
        max_seats: 2,
        window: Duration::from_secs(600),
    };
    let terms = HoldTerms {
        client: Some(cap),
        ..terms()
    };
    let ann = UserId::generate();
    let (held, _) = event.hold(
        HoldToken::generate(),
        ann,
        &seats(&["A1", "A2"]),
        &terms,
        T0,
    );
    assert!(matches!(held, HoldOutcome::Held { .. }));
    let bob = UserId::generate();
    let (refused, changes) = event.hold(HoldToken::generate(), bob, &seats(&["A3"]), &terms, T0);
    assert_eq!(refused, HoldOutcome::ClientLimit { held: 2 });
    assert!(changes.is_empty());
    // The holds lapse after 60 s; the client's seats count for the whole window.
    event.expire(T0 + 61 * SECOND);
    let (refused, _) = event.hold(
        HoldToken::generate(),
        bob,
        &seats(&["A3"]),
        &terms,
        T0 + 61 * SECOND,
    );
    assert_eq!(refused, HoldOutcome::ClientLimit { held: 2 });
    let closes = T0 + 600 * SECOND;
    assert!(event.next_due().is_some_and(|due| due <= closes));
    event.forget(closes);
    assert_eq!(
        event.clients_remembered(),
        0,
        "nothing kept once the window closed"
    );
    let (held, _) = event.hold(
        HoldToken::generate(),
        bob,
        &seats(&["A3", "A4"]),
        &terms,
        closes,
    );
    assert!(matches!(held, HoldOutcome::Held { .. }));
}

#[test]
fn let_go_seats_cool_down_for_their_user_and_client_then_are_forgotten() {
    let mut event = loaded();
    let client = "203.0.113.9".parse().expect("ip");
    let terms_from = |client| HoldTerms {
        cooldown: Some(Cooldown {
            length: Duration::from_secs(60),
            client,
        }),
        ..terms()
    };
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let released = hold(&mut event, ann, &["A1"], T0);
    let (_, freed) = {
        let token = HoldToken::generate();
        let (outcome, _) = event.hold(token, ann, &seats(&["A2"]), &terms_from(Some(client)), T0);
        assert!(matches!(outcome, HoldOutcome::Held { .. }));
        event.release(token, ann, T0 + SECOND)
    };
    assert_eq!(reasons(&freed), vec![("A2".into(), Released)]);
    // Without a cool-down in its terms, the first hold's seat is free again at once.
    event
        .release(released, ann, T0 + SECOND)
        .0
        .expect("released");
    let at = T0 + 2 * SECOND;
    let again = |event: &mut EventHolds, user, client, labels: &[&str], now| {
        event
            .hold(
                HoldToken::generate(),
                user,
                &seats(labels),
                &terms_from(client),
                now,
            )
            .0
    };
    assert_eq!(
        again(&mut event, ann, None, &["A1", "A2"], at),
        HoldOutcome::CoolingDown(seats(&["A2"]))
    );
    // The client is refused whichever account it uses; another client and account is not.
    assert_eq!(
        again(&mut event, bob, Some(client), &["A2"], at),
        HoldOutcome::CoolingDown(seats(&["A2"]))
    );
    let other = "198.51.100.7".parse().ok();
    assert!(matches!(
        again(&mut event, bob, other, &["A2"], at),
        HoldOutcome::Held { .. }
    ));
    // A lapsed hold cools down from its expiry too.
    let lapsing = HoldToken::generate();
    let (outcome, _) = event.hold(lapsing, ann, &seats(&["A3"]), &terms_from(None), at);
    assert!(matches!(outcome, HoldOutcome::Held { .. }));
    let expired_at = at + 61 * SECOND;
    event.expire(expired_at);
    assert_eq!(
        again(&mut event, ann, None, &["A3"], expired_at),
        HoldOutcome::CoolingDown(seats(&["A3"]))
    );
    let over = expired_at + 60 * SECOND;
    assert!(event.next_due().is_some_and(|due| due <= over));
    event.forget(over);
    assert_eq!(event.cooldowns_remembered(), 0, "nothing kept once cooled");
    assert!(matches!(
        again(&mut event, ann, None, &["A3"], over),
        HoldOutcome::Held { .. }
    ));
}
