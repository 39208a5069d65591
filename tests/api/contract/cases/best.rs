//! Best available (#15): every adapter chooses the seats `domain::best` chooses, over the seats
//! its own changes left taken, and holds them in the same step.

use super::super::{Changes, Store, seats};
use seatrush::internals::domain::{
    AreaSpec, BestOutcome, ChangeReason, Choice, Cooldown, EventId, HoldOutcome, HoldTerms, Layout,
    LayoutLimits, Pool, ReservationId, SectionSpec, UserId, area_plan, best_choose, best_plan,
};
use seatrush::internals::ports::BestRequest;
use std::collections::HashSet;
use std::time::Duration;

fn layout() -> Layout {
    Layout::parse_rows(
        "rows",
        [("A", 8), ("B", 8), ("C", 5)].into_iter(),
        &LayoutLimits::default(),
    )
    .expect("layout")
}

fn terms(ttl: Duration) -> HoldTerms {
    HoldTerms {
        ttl,
        max_seats_per_user: 10_000,
        retention: Duration::from_secs(3_600),
        client: None,
        cooldown: None,
    }
}

fn best(event: EventId, user: UserId, count: usize, layout: &Layout, ttl: Duration) -> BestRequest {
    BestRequest {
        reservation: ReservationId::new(event),
        user,
        count,
        plan: best_plan(layout, &Pool::Event).into(),
        choice: Choice::Best,
        terms: terms(ttl),
    }
}

/// What the domain rule chooses with `taken` taken, as labels.
fn expected(layout: &Layout, count: usize, taken: &HashSet<String>) -> Option<Vec<String>> {
    let plan = best_plan(layout, &Pool::Event);
    best_choose(&plan, count, |i| {
        layout.label(i).is_some_and(|l| !taken.contains(l.as_str()))
    })
    .map(|seats| {
        seats
            .into_iter()
            .filter_map(|i| layout.label(i).map(|l| l.to_string()))
            .collect()
    })
}

async fn held(store: &Store, request: &BestRequest) -> Vec<String> {
    match store.holds.hold_best(request).await.expect("store") {
        BestOutcome::Chosen {
            seats,
            outcome: HoldOutcome::Held { .. },
        } => seats.into_iter().map(|s| s.to_string()).collect(),
        other => panic!("not held: {other:?}"),
    }
}

/// A new event whose sold seats are loaded and whose best-available index is built.
async fn prepared(store: &Store, layout: &Layout) -> (EventId, Changes) {
    let (event, changes) = store.event().await;
    store
        .holds
        .prepare_best(event, layout)
        .await
        .expect("prepare");
    (event, changes)
}

/// Holds `count` best seats for `user` and checks they are the ones the domain rule chooses with
/// `taken` taken; then they are taken too. `None` when the rule finds too few free.
async fn as_ruled(
    store: &Store,
    changes: &mut Changes,
    (event, user): (EventId, UserId),
    layout: &Layout,
    count: usize,
    taken: &mut HashSet<String>,
) -> Option<Vec<String>> {
    let want = expected(layout, count, taken)?;
    let got = held(
        store,
        &best(event, user, count, layout, Duration::from_secs(60)),
    )
    .await;
    assert_eq!(got, want, "{count} seats with {} taken", taken.len());
    changes.next(count).await;
    taken.extend(got.iter().cloned());
    Some(got)
}

pub async fn best_available_chooses_what_the_domain_rule_chooses(store: &Store) {
    let layout = layout();
    let (event, mut changes) = store.event().await;
    let user = UserId::generate();
    let request = best(event, user, 2, &layout, Duration::from_secs(60));
    assert_eq!(
        store.holds.hold_best(&request).await.expect("store"),
        BestOutcome::NotPrepared
    );
    store
        .holds
        .prepare_best(event, &layout)
        .await
        .expect("prepare");
    let mut taken: HashSet<String> = HashSet::new();
    // Seats taken by name, then sold, before and after the index was built.
    let named = super::request(event, user, &["A4", "A6"], Duration::from_secs(60));
    assert!(matches!(
        store.holds.hold(&named).await.expect("store"),
        HoldOutcome::Held { .. }
    ));
    store
        .holds
        .mark_sold(event, &seats(&["B4", "B5"]), false)
        .await
        .expect("sold");
    changes.next(4).await;
    taken.extend(["A4", "A6", "B4", "B5"].map(String::from));
    for count in [2, 3, 1, 4, 2, 1] {
        as_ruled(
            store,
            &mut changes,
            (event, user),
            &layout,
            count,
            &mut taken,
        )
        .await
        .expect("seats left");
    }
    // Released seats are chosen again.
    let spare = layout
        .labels()
        .find(|l| !taken.contains(l.as_str()))
        .expect("a free seat")
        .to_string();
    let passer = UserId::generate();
    let named = super::request(event, passer, &[spare.as_str()], Duration::from_secs(60));
    assert!(matches!(
        store.holds.hold(&named).await.expect("store"),
        HoldOutcome::Held { .. }
    ));
    changes.next(1).await;
    store
        .holds
        .release(named.reservation, passer)
        .await
        .expect("store")
        .expect("released");
    assert_eq!(changes.reasons(1).await[0].1, ChangeReason::Released);
    let free = 21 - taken.len();
    let want = expected(&layout, free, &taken).expect("the rest");
    assert!(want.contains(&spare), "{want:?}");
    let got = held(
        store,
        &best(event, user, free, &layout, Duration::from_secs(60)),
    )
    .await;
    assert_eq!(got, want);
    assert_eq!(
        store
            .holds
            .hold_best(&best(event, user, 1, &layout, Duration::from_secs(60)))
            .await
            .expect("store"),
        BestOutcome::NotEnough
    );
}

pub async fn best_available_takes_back_lapsed_seats_and_skips_cooling_ones(store: &Store) {
    let layout = layout();
    let (event, mut changes) = prepared(store, &layout).await;
    let (user, other) = (UserId::generate(), UserId::generate());
    let mut taken: HashSet<String> = HashSet::new();
    let first = held(store, &best(event, user, 2, &layout, super::SHORT)).await;
    assert_eq!(Some(first.clone()), expected(&layout, 2, &taken));
    changes.next(2).await;
    let lapsed = changes.reasons(2).await;
    assert!(
        lapsed.iter().all(|(_, r)| *r == ChangeReason::Expired),
        "{lapsed:?}"
    );
    // Lapsed and reported: the same best seats again, for someone else.
    let again = held(
        store,
        &best(event, other, 2, &layout, Duration::from_secs(60)),
    )
    .await;
    assert_eq!(again, first);
    changes.next(2).await;
    taken.extend(again);
    // A hold that lapses with a cool-down: its user is offered other seats, anyone else not.
    let cooldown = Some(Cooldown {
        length: Duration::from_secs(60),
        client: None,
    });
    let mut cooling = best(event, user, 2, &layout, super::SHORT);
    cooling.terms.cooldown = cooldown;
    let cooled = held(store, &cooling).await;
    assert_eq!(Some(cooled.clone()), expected(&layout, 2, &taken));
    changes.next(2).await;
    changes.next(2).await;
    let mut mine = best(event, user, 2, &layout, Duration::from_secs(60));
    mine.terms.cooldown = cooldown;
    let got = held(store, &mine).await;
    let mut skipped = taken.clone();
    skipped.extend(cooled.iter().cloned());
    assert_eq!(Some(got.clone()), expected(&layout, 2, &skipped));
    assert!(
        got.iter().all(|s| !cooled.contains(s)),
        "{got:?} cool down for this user"
    );
    changes.next(2).await;
    taken.extend(got);
    let theirs = held(
        store,
        &best(event, other, 2, &layout, Duration::from_secs(60)),
    )
    .await;
    assert_eq!(Some(theirs.clone()), expected(&layout, 2, &taken));
    assert_eq!(
        theirs, cooled,
        "the cooled seats are still the best for anyone else"
    );
}

pub async fn places_are_the_first_free_ones_of_their_area(store: &Store) {
    let layout = layout()
        .with_areas(
            "areas",
            [AreaSpec {
                code: "FLOOR",
                name: "",
                capacity: 1_500,
            }]
            .into_iter(),
            &LayoutLimits::default(),
        )
        .expect("areas");
    let (event, mut changes) = prepared(store, &layout).await;
    let user = UserId::generate();
    let named = super::request(event, user, &["FLOOR-1-2"], Duration::from_secs(60));
    store.holds.hold(&named).await.expect("store");
    changes.next(1).await;
    let places = |count: usize| BestRequest {
        reservation: ReservationId::new(event),
        user,
        count,
        plan: area_plan(&layout, 0).into(),
        choice: Choice::Any,
        terms: terms(Duration::from_secs(60)),
    };
    assert_eq!(
        held(store, &places(3)).await,
        ["FLOOR-1-1", "FLOOR-1-3", "FLOOR-1-4"]
    );
    changes.next(3).await;
    // Seats are never places: best available over the seats leaves the area alone.
    let seats = held(
        store,
        &best(event, user, 2, &layout, Duration::from_secs(60)),
    )
    .await;
    assert!(seats.iter().all(|s| !s.starts_with("FLOOR")), "{seats:?}");
    changes.next(2).await;
    let mut taken = 4;
    while taken + 10 <= 1_500 {
        held(store, &places(10)).await;
        changes.next(10).await;
        taken += 10;
    }
    assert_eq!(
        held(store, &places(1_500 - taken))
            .await
            .last()
            .map(String::as_str),
        Some("FLOOR-2-500")
    );
    assert_eq!(
        store.holds.hold_best(&places(1)).await.expect("store"),
        BestOutcome::NotEnough
    );
}

pub async fn ranks_set_at_creation_choose_on_every_adapter(store: &Store) {
    // Row B is the best row, best at its right end; row A keeps the default.
    let layout = layout()
        .ranked([
            ("rows[0].seat_ranks".to_owned(), &[][..]),
            (
                "rows[1].seat_ranks".to_owned(),
                &[90, 80, 70, 60, 50, 40, 30, 20][..],
            ),
        ])
        .expect("ranks");
    let layout = Layout::decode(&layout.encode()).expect("stored and read back");
    let (event, mut changes) = prepared(store, &layout).await;
    let user = UserId::generate();
    let mut taken: HashSet<String> = HashSet::new();
    for count in [2, 3, 1, 2, 4, 3, 1] {
        as_ruled(
            store,
            &mut changes,
            (event, user),
            &layout,
            count,
            &mut taken,
        )
        .await
        .expect("seats left");
    }
    assert!(taken.contains("B8") && taken.contains("B7"), "{taken:?}");
}

pub async fn a_plan_longer_than_one_call_sends_chooses_the_same(store: &Store) {
    // 30 sections of 10 rows of 4: 300 rows, more than the Redis adapter sends at first.
    let codes: Vec<String> = (1..=30).map(|s| format!("S{s}")).collect();
    let layout = Layout::parse_sections(
        "sections",
        codes.iter().map(|code| SectionSpec {
            code,
            name: "",
            rows: (1..=10).map(|r| (ROWS[r - 1], 4)).collect(),
        }),
        &LayoutLimits::default(),
    )
    .expect("layout");
    let (event, mut changes) = prepared(store, &layout).await;
    let user = UserId::generate();
    let mut taken: HashSet<String> = HashSet::new();
    for count in [4, 3, 1, 2].into_iter().cycle() {
        if as_ruled(
            store,
            &mut changes,
            (event, user),
            &layout,
            count,
            &mut taken,
        )
        .await
        .is_none()
        {
            break;
        }
    }
    assert_eq!(taken.len(), 1_200, "every seat, down to the last");
}

const ROWS: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"];
