//! The services below gRPC, on the in-process hold store and in-memory durable ports, with
//! tokio's clock paused: session lifetimes, the session cache and the purchase lease are tested
//! by moving time, not by sleeping.

use super::booking::Ticket;
use super::fakes::Fakes;
use super::*;
use crate::clock::TokioClock;
use crate::domain::{
    Email, EventId, HoldPolicy, HoldTtl, NewPassword, Password, PaymentReference, SessionToken,
    TicketId,
};
use crate::hub::Hub;
use crate::memory::MemoryHolds;
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::time::Duration;

struct World {
    fakes: Arc<Fakes>,
    accounts: AccountsService,
    booking: Arc<BookingService>,
    maps: Arc<SeatMaps>,
    hub: Arc<Hub>,
    event: EventId,
    /// Boards run until this goes.
    _stop: tokio::sync::watch::Sender<bool>,
}

fn policy() -> HoldPolicy {
    HoldPolicy {
        default_ttl: Duration::from_secs(60),
        min_ttl: Duration::from_secs(1),
        max_ttl: Duration::from_secs(600),
        max_lifetime: Duration::from_secs(1_800),
        max_seats_per_hold: 10,
        max_seats_per_user: 10,
        max_seats_per_client: 0,
        client_window: Duration::from_secs(1_800),
        max_seats_per_account: 0,
        release_cooldown: Duration::ZERO,
        purchase_lease: Duration::from_secs(10),
        fence_margin: Duration::from_secs(1),
        retention: Duration::from_secs(3_600),
    }
}

async fn world(hooks: Hooks) -> World {
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(TokioClock::new());
    let fakes = Arc::new(Fakes::new(clock.clone()));
    let metrics = Arc::new(Metrics::disabled());
    let hub = Arc::new(Hub::new());
    let holds = Arc::new(MemoryHolds::new(
        hub.clone(),
        metrics.clone(),
        clock.clone(),
    ));
    let accounts = AccountsService::new(
        fakes.clone(),
        holds.clone(),
        clock,
        Duration::from_secs(86_400),
        Duration::from_millis(900),
    );
    let catalog = Arc::new(Catalog::new(fakes.clone()));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let maps = Arc::new(
        SeatMaps::new(
            catalog.clone(),
            holds.clone(),
            Arc::new(SoldSeats::new(holds.clone(), fakes.clone())),
            hub.clone(),
            stopping,
        )
        .buffering(2),
    );
    let booking = Arc::new(BookingService::new(
        holds,
        fakes.clone(),
        catalog,
        maps.clone(),
        policy(),
        hooks,
        metrics,
    ));
    let event = fakes.event_of_rows(&[("A", 4)]).await;
    World {
        fakes,
        accounts,
        booking,
        maps,
        hub,
        event,
        _stop: stop,
    }
}

/// Registers and logs in a user; returns the token.
async fn sign_up(accounts: &AccountsService, email: &str) -> SessionToken {
    let email = Email::parse("email", email).expect("email");
    let password = NewPassword::parse("password", "correct horse").expect("password");
    accounts
        .register(email.clone(), password.clone(), None)
        .await
        .expect("register");
    accounts
        .login(email, password.into_password(), None, None)
        .await
        .expect("login")
        .token
}

/// Ann signed in, and a watcher of the event that has read its first snapshot.
async fn ann_watching(world: &World) -> (Caller, Watch) {
    let ann = sign_up(&world.accounts, "ann@example.com").await;
    let ann = world.accounts.authenticate(&ann).await.expect("ann");
    let feed = FeedService::new(world.maps.clone(), Arc::new(Metrics::disabled()));
    let mut watch = feed.watch(world.event).await.expect("watch");
    assert!(matches!(
        watch.next().await,
        Ok(Some(FeedItem::Snapshot(_)))
    ));
    (ann, watch)
}

fn seats(labels: &[&str]) -> Vec<SeatLabel> {
    labels
        .iter()
        .map(|l| SeatLabel::parse("seat", l).expect("label"))
        .collect()
}

fn ttl(seconds: u32) -> HoldTtl {
    HoldTtl::parse("ttl", seconds, &policy()).expect("ttl")
}

#[tokio::test(start_paused = true)]
async fn a_session_lapses_at_its_expiry_and_a_revocation_reaches_every_instance_within_the_cache_time()
 {
    let world = world(Hooks::default()).await;
    let token = sign_up(&world.accounts, "ann@example.com").await;
    let caller = world.accounts.authenticate(&token).await.expect("valid");
    // A second instance on the same database, with its own cache.
    let other = AccountsService::new(
        world.fakes.clone(),
        Arc::new(MemoryHolds::new(
            Arc::new(Hub::new()),
            Arc::new(Metrics::disabled()),
            Arc::new(TokioClock::new()),
        )),
        Arc::new(TokioClock::new()),
        Duration::from_secs(86_400),
        Duration::from_millis(900),
    );
    other.authenticate(&token).await.expect("cached there too");
    world.accounts.logout(caller, &token).await.expect("logout");
    assert!(
        world.accounts.authenticate(&token).await.is_err(),
        "at once here"
    );
    assert!(
        other.authenticate(&token).await.is_ok(),
        "still cached there"
    );
    tokio::time::advance(Duration::from_millis(901)).await;
    assert!(
        other.authenticate(&token).await.is_err(),
        "within the cache time"
    );

    let lasting = sign_up(&world.accounts, "bob@example.com").await;
    tokio::time::advance(Duration::from_secs(86_399)).await;
    assert!(world.accounts.authenticate(&lasting).await.is_ok());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(
        matches!(
            world.accounts.authenticate(&lasting).await,
            Err(ServiceError::Unauthenticated(_))
        ),
        "a day after login"
    );
}

#[tokio::test(start_paused = true)]
async fn failed_logins_back_off_per_email_without_hashing_and_a_success_resets() {
    let world = world(Hooks::default()).await;
    sign_up(&world.accounts, "ann@example.com").await;
    sign_up(&world.accounts, "bob@example.com").await;
    let ann = Email::parse("email", "ann@example.com").expect("email");
    let login = |email: &Email, password: &str| {
        world.accounts.login(
            email.clone(),
            Password::parse("password", password).expect("password"),
            None,
            None,
        )
    };
    for _ in 0..5 {
        assert!(matches!(
            login(&ann, "wrong password").await,
            Err(ServiceError::Unauthenticated(_))
        ));
    }
    let hashes = world.accounts.hashes_started();
    for password in ["wrong password", "correct horse"] {
        match login(&ann, password).await {
            Err(ServiceError::Busy {
                reason: BusyReason::LoginThrottled,
                retry_after,
            }) => assert_eq!(retry_after, Duration::from_secs(1)),
            other => panic!("expected a throttled login, got {other:?}"),
        }
    }
    assert_eq!(world.accounts.hashes_started(), hashes, "no hash was run");
    let bob = Email::parse("email", "bob@example.com").expect("email");
    login(&bob, "correct horse")
        .await
        .expect("bob is not throttled");

    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(matches!(
        login(&ann, "wrong password").await,
        Err(ServiceError::Unauthenticated(_))
    ));
    tokio::time::advance(Duration::from_millis(1_999)).await;
    assert!(matches!(
        login(&ann, "correct horse").await,
        Err(ServiceError::Busy { retry_after, .. }) if retry_after == Duration::from_millis(1)
    ));
    tokio::time::advance(Duration::from_millis(1)).await;
    login(&ann, "correct horse")
        .await
        .expect("the window is over");
    for _ in 0..5 {
        assert!(matches!(
            login(&ann, "wrong password").await,
            Err(ServiceError::Unauthenticated(_))
        ));
    }
    assert!(
        matches!(
            login(&ann, "wrong password").await,
            Err(ServiceError::Busy { .. })
        ),
        "the success gave five free failures back, no more"
    );
}

#[tokio::test(start_paused = true)]
async fn a_purchase_that_stalls_past_its_lease_writes_nothing_and_the_next_holder_buys() {
    let world = world(Hooks {
        stall_before_ticket_write: Some(Duration::from_secs(12)),
    })
    .await;
    let ann = sign_up(&world.accounts, "ann@example.com").await;
    let ann = world.accounts.authenticate(&ann).await.expect("ann");
    let held = world
        .booking
        .reserve(ann, None, world.event, seats(&["A1"]), ttl(5))
        .await
        .expect("hold");
    let stalled = tokio::spawn({
        let booking = world.booking.clone();
        async move {
            booking
                .purchase(ann, held.id, PurchaseTerms::default())
                .await
        }
    });
    // The lease (10 s) lapses during the 12 s stall; someone else holds the seat and buys it.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let bob = sign_up(&world.accounts, "bob@example.com").await;
    let bob = world.accounts.authenticate(&bob).await.expect("bob");
    let next = world
        .booking
        .reserve(bob, None, world.event, seats(&["A1"]), ttl(60))
        .await
        .expect("the lapsed seat is free");
    let tickets = world
        .booking
        .purchase(bob, next.id, PurchaseTerms::default())
        .await
        .expect("bob buys");
    assert_eq!(tickets.len(), 1);
    let late = stalled.await.expect("task");
    assert!(
        matches!(late, Err(ServiceError::HoldNotLive(HoldEnd::LateCommit))),
        "{late:?}"
    );
    assert_eq!(world.fakes.tickets(), 1, "one ticket, bob's");
}

#[tokio::test(start_paused = true)]
async fn releasing_a_released_or_lapsed_hold_succeeds_and_a_purchase_repeats_its_tickets() {
    let world = world(Hooks::default()).await;
    let ann = sign_up(&world.accounts, "ann@example.com").await;
    let ann = world.accounts.authenticate(&ann).await.expect("ann");
    let released = world
        .booking
        .reserve(ann, None, world.event, seats(&["A1"]), ttl(60))
        .await
        .expect("hold");
    world
        .booking
        .release(ann, released.id)
        .await
        .expect("release");
    world
        .booking
        .release(ann, released.id)
        .await
        .expect("again");
    let lapsing = world
        .booking
        .reserve(ann, None, world.event, seats(&["A2"]), ttl(1))
        .await
        .expect("hold");
    tokio::time::sleep(Duration::from_secs(2)).await;
    world
        .booking
        .release(ann, lapsing.id)
        .await
        .expect("a lapsed hold releases fine");
    assert!(matches!(
        world
            .booking
            .purchase(ann, lapsing.id, PurchaseTerms::default())
            .await,
        Err(ServiceError::HoldNotLive(_))
    ));

    let bought = world
        .booking
        .reserve(ann, None, world.event, seats(&["A3", "A4"]), ttl(60))
        .await
        .expect("hold");
    let first = world
        .booking
        .purchase(ann, bought.id, PurchaseTerms::default())
        .await
        .expect("buy");
    let again = world
        .booking
        .purchase(ann, bought.id, PurchaseTerms::default())
        .await
        .expect("again");
    let ids = |tickets: &[Ticket]| tickets.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(world.fakes.tickets(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_paid_purchase_whose_store_update_was_lost_is_finished_by_its_repeat_under_its_reference()
{
    use crate::ports::{EventStore, NewTicket, TicketInsert, TicketStore};
    let world = world(Hooks::default()).await;
    let ann = sign_up(&world.accounts, "ann@example.com").await;
    let ann = world.accounts.authenticate(&ann).await.expect("ann");
    let held = world
        .booking
        .reserve(ann, None, world.event, seats(&["A1", "A2"]), ttl(60))
        .await
        .expect("hold");
    let paid = |raw| {
        PaymentReference::parse_optional("payment_reference", raw)
            .expect("valid")
            .expect("some")
    };
    // Step 2 committed under "pay-1", then the process died: the hold store still shows the hold.
    let written: Vec<NewTicket> = world.fakes.seat_ids(world.event).await.expect("seats")[..2]
        .iter()
        .map(|seat_id| NewTicket {
            id: TicketId::generate(),
            seat_id: *seat_id,
            event_id: world.event,
            user_id: ann.user,
            reservation: held.id,
            price: None,
            payment: Some(paid("pay-1")),
        })
        .collect();
    let insert = world.fakes.insert_tickets(&written, i64::MAX).await;
    assert_eq!(insert.expect("insert"), TicketInsert::Committed);

    let terms = |raw| PurchaseTerms {
        confirmed: None,
        payment: Some(paid(raw)),
    };
    // The reference's index refuses first here; it paid for this very reservation, so the
    // repeat finishes it and answers its tickets.
    let tickets = world
        .booking
        .purchase(ann, held.id, terms("pay-1"))
        .await
        .expect("the repeat finishes the purchase");
    let mut ids: Vec<TicketId> = tickets.iter().map(|t| t.id).collect();
    ids.sort_by_key(|id| id.as_uuid());
    let mut expected: Vec<TicketId> = written.iter().map(|t| t.id).collect();
    expected.sort_by_key(|id| id.as_uuid());
    assert_eq!(ids, expected);
    assert!(tickets.iter().all(|t| t.payment == Some(paid("pay-1"))));
    assert!(matches!(
        world.booking.purchase(ann, held.id, terms("pay-2")).await,
        Err(ServiceError::PaymentReferenceMismatch)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_read_right_after_a_change_sees_it_and_a_watcher_that_falls_behind_is_resynced() {
    let world = world(Hooks::default()).await;
    let (ann, mut watch) = ann_watching(&world).await;

    // The board learns of changes from the hub on its own task; a read on this instance waits
    // for this instance's own change, so it is never older.
    world
        .booking
        .reserve(ann, None, world.event, seats(&["A1"]), ttl(60))
        .await
        .expect("hold");
    let (_, snapshot) = world.maps.current(world.event).await.expect("map");
    assert_eq!(
        crate::domain::SeatStatuses::packed_get(&snapshot.statuses, 0),
        crate::domain::SeatStatus::Held
    );

    // Five windows of changes while the watcher reads nothing: more than the two batches the
    // board keeps for it.
    for _ in 0..5 {
        let held = world
            .booking
            .reserve(ann, None, world.event, seats(&["A2"]), ttl(60))
            .await
            .expect("hold");
        world.booking.release(ann, held.id).await.expect("release");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    match watch.next().await {
        Ok(Some(FeedItem::Snapshot(snapshot))) => {
            assert_eq!(snapshot.version, 11, "the snapshot has every change");
        }
        other => panic!("expected a resync, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_copy_that_sees_a_gap_in_the_versions_reads_the_store_again() {
    let world = world(Hooks::default()).await;
    let (ann, mut watch) = ann_watching(&world).await;
    world
        .booking
        .reserve(ann, None, world.event, seats(&["A1"]), ttl(60))
        .await
        .expect("hold");
    assert!(matches!(watch.next().await, Ok(Some(FeedItem::Changes(_)))));
    // A change whose predecessor never arrived: the copy cannot apply it, so it reads the store.
    world.hub.publish(crate::domain::SeatChange {
        event: world.event,
        label: SeatLabel::parse("seat", "A4").expect("label"),
        reason: crate::domain::ChangeReason::Sold,
        version: 3,
        at: 0,
    });
    match watch.next().await {
        Ok(Some(FeedItem::Snapshot(snapshot))) => {
            assert_eq!(
                snapshot.version, 1,
                "the store's version, not the stray change's"
            );
            assert_eq!(
                crate::domain::SeatStatuses::packed_get(&snapshot.statuses, 3),
                crate::domain::SeatStatus::Available
            );
        }
        other => panic!("expected a resync, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_watcher_that_reads_late_gets_the_waiting_batches_in_one_message_in_order() {
    let world = world(Hooks::default()).await;
    let (ann, mut watch) = ann_watching(&world).await;
    // Two windows of changes (as many as the board keeps for a watcher) while it reads nothing.
    for label in ["A1", "A2"] {
        world
            .booking
            .reserve(ann, None, world.event, seats(&[label]), ttl(60))
            .await
            .expect("hold");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    match watch.next().await {
        Ok(Some(FeedItem::Changes(batches))) => {
            let versions: Vec<_> = batches
                .iter()
                .map(|b| (b.from_version, b.to_version))
                .collect();
            assert_eq!(versions, [(1, 1), (2, 2)], "both batches, in order");
            let indices: Vec<_> = batches
                .iter()
                .flat_map(|b| b.updates.iter().map(|u| u.index))
                .collect();
            assert_eq!(indices, [0, 1]);
        }
        other => panic!("expected the changes, got {other:?}"),
    }
    // Nothing is sent twice: the next change comes next.
    world
        .booking
        .reserve(ann, None, world.event, seats(&["A3"]), ttl(60))
        .await
        .expect("hold");
    match watch.next().await {
        Ok(Some(FeedItem::Changes(batches))) => {
            assert_eq!(batches.len(), 1);
            assert_eq!((batches[0].from_version, batches[0].to_version), (3, 3));
        }
        other => panic!("expected the change, got {other:?}"),
    }
}
