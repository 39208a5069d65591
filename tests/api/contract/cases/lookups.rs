//! What a user sees of their own holds (`live_hold`, `holds_of`): the Redis scripts decide "live"
//! with the prelude's `live_hold`, the in-process store with the lifecycle's; these cases prove
//! they agree.

use super::{MINUTE, SHORT, hold, hold_until, lease, release};
use crate::contract::Store;
use seatrush::internals::domain::{EventId, HoldRefusal, ReservationId, UserId};
use seatrush::internals::ports::HoldRequest;
use std::collections::HashSet;
use std::time::Duration;

/// Sells the hold's seats through the purchase protocol.
async fn sell(store: &Store, reservation: ReservationId, user: UserId) {
    let leased = store
        .holds
        .begin_purchase(reservation, user, lease(10))
        .await
        .expect("store")
        .expect("lease");
    store
        .holds
        .finish_purchase(reservation, user, &leased.seats)
        .await
        .expect("store");
}

/// A hold of `user` released and another sold, one after the other (four changes).
async fn released_and_sold(
    store: &Store,
    event: EventId,
    user: UserId,
) -> (HoldRequest, HoldRequest) {
    let released = hold(store, event, user, &["B1"], MINUTE).await;
    release(store, released.reservation, user)
        .await
        .expect("released");
    let sold = hold(store, event, user, &["B2"], MINUTE).await;
    sell(store, sold.reservation, user).await;
    (released, sold)
}

pub async fn a_user_sees_their_live_holds_only(store: &Store) {
    let (event, mut changes) = store.event().await;
    let (ann, bob) = (UserId::generate(), UserId::generate());
    // At most four seats at once (the contract's per-user cap): each ended hold makes room.
    let (kept, kept_until) = hold_until(store, event, ann, &["A1", "A2"], MINUTE).await;
    let buying = hold(store, event, ann, &["A3"], MINUTE).await;
    store
        .holds
        .begin_purchase(buying.reservation, ann, lease(10))
        .await
        .expect("store")
        .expect("lease");
    released_and_sold(store, event, ann).await;
    hold(store, event, ann, &["C1"], SHORT).await;
    hold(store, event, bob, &["C2"], MINUTE).await;
    changes.next(9).await;
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;

    let holds = store.holds.holds_of(ann).await.expect("store");
    let listed: HashSet<ReservationId> = holds.iter().map(|h| h.reservation).collect();
    assert_eq!(
        listed,
        HashSet::from([kept.reservation, buying.reservation]),
        "held and being purchased; not released, sold or lapsed"
    );
    let shown = holds
        .iter()
        .find(|h| h.reservation == kept.reservation)
        .expect("listed");
    assert_eq!(shown.seats, kept.seats);
    assert_eq!(shown.deadline, kept_until);
    assert!(shown.created < shown.deadline);
    assert_eq!(store.holds.holds_of(bob).await.expect("store").len(), 1);
    assert!(
        store
            .holds
            .holds_of(UserId::generate())
            .await
            .expect("store")
            .is_empty()
    );
}

pub async fn looking_up_a_hold_answers_in_the_lifecycle_order(store: &Store) {
    let (event, mut changes) = store.event().await;
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let (live, until) = hold_until(store, event, ann, &["A1", "A2"], MINUTE).await;
    let (released, sold) = released_and_sold(store, event, ann).await;
    let lapsed = hold(store, event, ann, &["C1"], SHORT).await;
    changes.next(7).await;
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;

    let lookup = |reservation, user| store.holds.live_hold(reservation, user);
    let found = lookup(live.reservation, ann)
        .await
        .expect("store")
        .expect("live");
    assert_eq!(
        (found.reservation, &found.seats, found.deadline),
        (live.reservation, &live.seats, until)
    );
    for (reservation, user, refusal) in [
        (live.reservation, bob, HoldRefusal::NotOwner),
        (ReservationId::new(event), ann, HoldRefusal::Unknown),
        (released.reservation, ann, HoldRefusal::Released),
        (sold.reservation, ann, HoldRefusal::Sold),
        (lapsed.reservation, ann, HoldRefusal::Expired),
    ] {
        assert_eq!(
            lookup(reservation, user).await.expect("store"),
            Err(refusal)
        );
    }
}
