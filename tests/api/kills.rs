//! SIGKILL at each step of a purchase, on the real binary: the fault points (`src/faults.rs`,
//! compiled into the test build only) make the process kill itself after the hold store moved the
//! hold to purchasing, after the tickets committed, or just before the hold store hears of the
//! sale. Then a new process starts on the same database and Redis prefix, and:
//! - no seat has two tickets, and every ticket belongs to the buyer;
//! - a purchase that committed has all its tickets, and Purchase retried with the same
//!   reservation answers with those tickets;
//! - within a second of the restart (or of the kill, read through an instance that kept running)
//!   GetSeatMap and GetSeatStatuses show those seats sold (the sales reconciler), and
//!   the seats of a purchase that did not commit are all held (Redis kept the hold) or all
//!   available (the in-process holds died with the process);
//! - nobody else can take a sold seat, even after the crashed purchase's lease has run out.

use crate::booking::user_id;
use crate::both_backends;
use crate::calls::{assert_sales_consistent, column};
use crate::feed::packed as packed_status;
use crate::helpers::{Backend, Storage, TestApp, assert_code, attach};
use crate::process::Process;
use seatrush::proto::v1 as pb;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;

both_backends!(
    a_kill_after_the_hold_turns_purchasing_sells_nothing_and_the_retry_decides,
    a_kill_after_the_commit_keeps_the_sale_and_the_map_shows_it_within_a_second,
    a_kill_before_marking_sold_keeps_the_sale_and_the_map_shows_it_within_a_second,
    a_seat_sold_before_a_kill_stays_sold_after_the_crashed_lease_runs_out,
);

const SEATS: [&str; 2] = ["A1", "A2"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    AfterBegin,
    AfterCommit,
    BeforeMarkSold,
}

impl Step {
    fn fault(self) -> &'static str {
        match self {
            Self::AfterBegin => "purchase:after_begin",
            Self::AfterCommit => "purchase:after_commit",
            Self::BeforeMarkSold => "purchase:before_mark_sold",
        }
    }
}

/// A purchase killed at one step, and the process that answers after it.
struct Crash {
    storage: Storage,
    server: Process,
    app: TestApp,
    /// When the killed process was found dead: every hold and lease it made ends within
    /// [`HOLD_SECONDS_SHORT`] of it.
    killed: Instant,
    /// What the one-second promise counts from: when the restarted process was listening, or
    /// the kill itself when the process that answers was running all along.
    since: Instant,
    event: String,
    buyer: String,
    reservation: String,
    /// Reservation id -> user id, for `assert_sales_consistent`.
    holders: HashMap<String, String>,
}

/// The hold of the short-lease runs (the lease is shorter still).
const HOLD_SECONDS_SHORT: u32 = 2;

/// The environment of a process with the faults `faults` armed; with `short`, a one-second
/// purchase lease.
fn env(faults: &str, short: bool) -> Vec<(&'static str, String)> {
    let mut env = vec![("SEATRUSH_FAULT", faults.to_owned())];
    if short {
        env.push(("SEATRUSH_PURCHASE_LEASE_MS", "1000".into()));
        env.push(("SEATRUSH_FENCE_MARGIN_MS", "200".into()));
    }
    env
}

/// Starts the binary with the faults `first` armed, lets Purchase kill it (see [`kill`]), and
/// starts another process with the faults `then` on the same storage. With `short`, both run
/// with a one-second purchase lease and the hold is [`HOLD_SECONDS_SHORT`] long.
async fn crash(backend: Backend, first: &str, then: &str, short: bool) -> Crash {
    let storage = Storage::new(backend).await;
    let doomed = Process::start(&storage, &env(first, short)).await;
    let hold_seconds = if short { HOLD_SECONDS_SHORT } else { 0 };
    let victim = kill(&storage, doomed, hold_seconds).await;
    let server = Process::start(&storage, &env(then, short)).await;
    Crash::new(storage, server, victim, Instant::now()).await
}

/// What a killed purchase was about.
struct Victim {
    killed: Instant,
    event: String,
    buyer: String,
    reservation: String,
    holders: HashMap<String, String>,
}

/// Reserves [`SEATS`] through `doomed`, whose armed fault kills it during the Purchase.
async fn kill(storage: &Storage, doomed: Process, hold_seconds: u32) -> Victim {
    let app = attach(storage.clone(), doomed.address.clone()).await;
    let event = app.event(1, 10).await.event_id;
    let buyer = app.user().await;
    let reservation = app
        .reserve(&buyer, &event, &SEATS, hold_seconds)
        .await
        .expect("reserve")
        .reservation_id;
    let holders = HashMap::from([(reservation.clone(), user_id(&app, &buyer).await)]);
    let answer = app.purchase(&buyer, &reservation).await;
    assert!(answer.is_err(), "the purchase answered: {answer:?}");
    assert_eq!(doomed.killed().await, Some(libc::SIGKILL), "killed");
    Victim {
        killed: Instant::now(),
        event,
        buyer,
        reservation,
        holders,
    }
}

impl Crash {
    /// The crash of `victim`, read through `server`, the one-second promise counting from `since`.
    async fn new(storage: Storage, server: Process, victim: Victim, since: Instant) -> Self {
        let app = attach(storage.clone(), server.address.clone()).await;
        Self {
            storage,
            server,
            app,
            killed: victim.killed,
            since,
            event: victim.event,
            buyer: victim.buyer,
            reservation: victim.reservation,
            holders: victim.holders,
        }
    }

    /// The ids of the reservation's tickets in the database, sorted.
    async fn tickets_in_database(&self) -> Vec<String> {
        let ids: Vec<uuid::Uuid> = column(
            &self.storage,
            "SELECT id FROM tickets WHERE reservation_id = $1",
            self.reservation.clone(),
        )
        .await;
        let mut ids: Vec<String> = ids.iter().map(uuid::Uuid::to_string).collect();
        ids.sort();
        ids
    }

    /// The buyer's Purchase of the crashed reservation, again; the ids of its tickets, sorted.
    async fn retry(&self) -> Result<Vec<String>, tonic::Status> {
        let tickets = self.app.purchase(&self.buyer, &self.reservation).await?;
        let mut ids: Vec<String> = tickets.into_iter().map(|t| t.ticket_id).collect();
        ids.sort();
        Ok(ids)
    }

    /// [`SEATS`] as GetSeatMap and then GetSeatStatuses show them (they are the first seats
    /// of the layout).
    async fn statuses(&self) -> Vec<pb::SeatStatus> {
        let map: BTreeMap<String, pb::SeatStatus> = self.app.seat_map(&self.event).await;
        let request = pb::GetSeatStatusesRequest {
            event_id: self.event.clone(),
        };
        let mut booking = self.app.booking.clone();
        let answer = booking.get_seat_statuses(request).await;
        let packed = answer.expect("seat statuses").into_inner().statuses;
        let mapped = SEATS.iter().map(|s| map[*s]);
        let statuses = (0..SEATS.len()).map(|i| packed_status(&packed, i));
        mapped.chain(statuses).collect()
    }

    /// Polls the seat map and the packed statuses until every one of [`SEATS`] shows `status`
    /// in both; fails at `deadline`.
    async fn seats_become(&self, status: pb::SeatStatus, deadline: Instant) {
        loop {
            let now = self.statuses().await;
            if now.iter().all(|s| *s == status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{SEATS:?} are {now:?} (map, then statuses), not {status:?}, {:?} after the crash \
                 was seen",
                self.since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn another_user_cannot_hold(&self) {
        let other = self.app.user().await;
        assert_code(
            self.app.reserve(&other, &self.event, &["A1"], 0).await,
            Code::AlreadyExists,
        );
    }

    async fn end(self) {
        assert_sales_consistent(&self.storage, &self.holders).await;
        self.server.terminate().await;
        self.storage.destroy().await;
    }
}

/// A kill after a committed purchase: the sale stands, the map shows it within a second, the
/// retry answers with the same tickets, and nobody else can hold the seats.
async fn committed_purchase_survives(backend: Backend, step: Step) {
    let crash = crash(backend, step.fault(), "", false).await;
    assert_sales_consistent(&crash.storage, &crash.holders).await;
    let written = crash.tickets_in_database().await;
    assert_eq!(
        written.len(),
        SEATS.len(),
        "the commit happened before the kill"
    );
    crash
        .seats_become(pb::SeatStatus::Sold, crash.since + Duration::from_secs(1))
        .await;
    crash.another_user_cannot_hold().await;
    let retried = crash
        .retry()
        .await
        .expect("the retried purchase answers with the committed tickets");
    assert_eq!(retried, written);
    crash.end().await;
}

async fn a_kill_after_the_commit_keeps_the_sale_and_the_map_shows_it_within_a_second(
    backend: Backend,
) {
    committed_purchase_survives(backend, Step::AfterCommit).await;
}

async fn a_kill_before_marking_sold_keeps_the_sale_and_the_map_shows_it_within_a_second(
    backend: Backend,
) {
    committed_purchase_survives(backend, Step::BeforeMarkSold).await;
}

/// Nothing was written: on Redis the hold is still the buyer's (purchasing) and the retry buys
/// it; in process the hold died with the process, the seats are free and the reservation unknown.
async fn a_kill_after_the_hold_turns_purchasing_sells_nothing_and_the_retry_decides(
    backend: Backend,
) {
    let crash = crash(backend, Step::AfterBegin.fault(), "", false).await;
    assert_sales_consistent(&crash.storage, &crash.holders).await;
    assert!(
        crash.tickets_in_database().await.is_empty(),
        "nothing committed"
    );
    let within = crash.since + Duration::from_secs(1);
    match backend {
        Backend::Distributed => {
            crash.seats_become(pb::SeatStatus::Held, within).await;
            crash.another_user_cannot_hold().await;
            let bought = crash
                .retry()
                .await
                .expect("the hold survived in Redis: the retry buys it");
            assert_eq!(bought, crash.tickets_in_database().await);
            crash
                .seats_become(pb::SeatStatus::Sold, Instant::now())
                .await;
        }
        Backend::Embedded => {
            crash.seats_become(pb::SeatStatus::Available, within).await;
            assert_code(crash.retry().await, Code::NotFound);
        }
    }
    crash.end().await;
}

/// Waits until the crashed purchase's hold and lease are certainly over, and the sweeper of the
/// new process has had its chance.
async fn after_the_lease(crash: &Crash) {
    let over = Duration::from_secs(HOLD_SECONDS_SHORT.into()) + Duration::from_millis(500);
    tokio::time::sleep_until(crash.killed + over).await;
}

async fn a_seat_sold_before_a_kill_stays_sold_after_the_crashed_lease_runs_out(backend: Backend) {
    let crash = crash(backend, Step::AfterCommit.fault(), "", true).await;
    after_the_lease(&crash).await;
    crash
        .seats_become(pb::SeatStatus::Sold, Instant::now())
        .await;
    crash.another_user_cannot_hold().await;
    crash.end().await;
}

/// What the database alone guarantees, with the reconciler off (`reconciler:off`) on both
/// processes: once the lease runs out, Redis shows the sold seats as free and another user can
/// hold one, but the unique index refuses that purchase, names the seat, and repairs the map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_reconciler_the_database_still_refuses_a_second_sale() {
    let crash = crash(
        Backend::Distributed,
        "purchase:after_commit,reconciler:off",
        "reconciler:off",
        true,
    )
    .await;
    after_the_lease(&crash).await;
    crash
        .seats_become(
            pb::SeatStatus::Available,
            Instant::now() + Duration::from_secs(5),
        )
        .await;
    let other = crash.app.user().await;
    let stale = crash
        .app
        .reserve(&other, &crash.event, &["A1"], 0)
        .await
        .expect("Redis shows A1 free");
    let status = assert_code(
        crash.app.purchase(&other, &stale.reservation_id).await,
        Code::AlreadyExists,
    );
    assert!(status.message().contains("A1"), "{}", status.message());
    let map = crash.app.seat_map(&crash.event).await;
    assert_eq!(map["A1"], pb::SeatStatus::Sold, "repaired by the refusal");
    let mut holders = crash.holders.clone();
    holders.insert(stale.reservation_id, user_id(&crash.app, &other).await);
    assert_sales_consistent(&crash.storage, &holders).await;
    crash.end().await;
}

/// A crash while another instance runs: that instance's reconciler, not a restart, shows the
/// sale within a second of the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_instance_shows_a_sale_whose_process_was_killed_within_a_second() {
    let storage = Storage::new(Backend::Distributed).await;
    let survivor = Process::start(&storage, &[]).await;
    let mut doomed_env = env(Step::AfterCommit.fault(), false);
    doomed_env.push(("SEATRUSH_NO_MIGRATE", "1".into()));
    let doomed = Process::start(&storage, &doomed_env).await;
    let victim = kill(&storage, doomed, 0).await;
    let since = victim.killed;
    let crash = Crash::new(storage, survivor, victim, since).await;
    assert_eq!(crash.tickets_in_database().await.len(), SEATS.len());
    crash
        .seats_become(pb::SeatStatus::Sold, crash.since + Duration::from_secs(1))
        .await;
    crash.another_user_cannot_hold().await;
    crash.end().await;
}
