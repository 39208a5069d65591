//! The sales reconciler on the in-process hold store and the in-memory durable ports, with
//! tokio's clock paused: sales written to the database behind the hold store's back, as a
//! process killed after its commit leaves them.

use super::*;
use crate::clock::{Clock, TokioClock};
use crate::domain::{ReservationId, SeatLabel, SeatStatus, UserId};
use crate::hub::Hub;
use crate::memory::MemoryHolds;
use crate::ports::{HoldStore, NewTicket, TicketInsert, TicketStore};
use crate::service::fakes::Fakes;
use crate::telemetry::Metrics;

struct Shop {
    clock: Arc<dyn Clock>,
    fakes: Arc<Fakes>,
    holds: Arc<MemoryHolds>,
    catalog: Arc<Catalog>,
    sold: Arc<SoldSeats>,
    maps: Arc<SeatMaps>,
    event: EventId,
    /// Boards run until this goes.
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Shop {
    /// One event of these rows, its (empty) sold list loaded into the hold store.
    async fn open(rows: &[(&str, u32)]) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
        let fakes = Arc::new(Fakes::new(clock.clone()));
        let hub = Arc::new(Hub::new());
        let holds = Arc::new(MemoryHolds::new(
            hub.clone(),
            Arc::new(Metrics::disabled()),
            clock.clone(),
        ));
        let catalog = Arc::new(Catalog::new(fakes.clone()));
        let sold = Arc::new(SoldSeats::new(holds.clone(), fakes.clone()));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let maps = Arc::new(SeatMaps::new(
            catalog.clone(),
            holds.clone(),
            sold.clone(),
            hub,
            stopping,
        ));
        let event = fakes.event_of_rows(rows).await;
        holds.mark_sold(event, &[], true).await.expect("loaded");
        Self {
            clock,
            fakes,
            holds,
            catalog,
            sold,
            maps,
            event,
            _stop: stop,
        }
    }

    /// A reconciler that starts now.
    fn reconciler(&self) -> SalesReconciler {
        SalesReconciler::new(
            self.sold.clone(),
            self.catalog.clone(),
            self.maps.clone(),
            Duration::from_secs(10),
            self.clock.now(),
        )
    }

    /// Writes tickets for `labels` and nothing else: the hold store is not told.
    async fn sell_behind_the_store(&self, labels: &[impl AsRef<str>]) {
        let seats = self.catalog.event_seats(self.event).await.expect("seats");
        let reservation = ReservationId::new(self.event);
        let user = UserId::generate();
        let tickets: Vec<NewTicket> = labels
            .iter()
            .map(|label| NewTicket {
                id: TicketId::generate(),
                seat_id: seats
                    .seat_by_label(&SeatLabel::parse("seat", label.as_ref()).expect("label"))
                    .expect("seat")
                    .id,
                event_id: self.event,
                user_id: user,
                reservation,
                price: None,
                payment: None,
            })
            .collect();
        let written = self.fakes.insert_tickets(&tickets, i64::MAX).await;
        assert_eq!(written.expect("insert"), TicketInsert::Committed);
    }

    /// The status of each seat in the hold store, in layout order.
    async fn statuses(&self) -> Vec<SeatStatus> {
        let seats = self.catalog.event_seats(self.event).await.expect("seats");
        let snapshot = self.holds.snapshot(self.event, seats.layout()).await;
        let snapshot = snapshot.expect("snapshot").expect("loaded");
        snapshot.statuses.iter().collect()
    }
}

use SeatStatus::{Available, Sold};

#[tokio::test(start_paused = true)]
async fn a_sale_the_hold_store_missed_is_marked_sold_once() {
    let shop = Shop::open(&[("A", 4)]).await;
    let reconciler = shop.reconciler();
    shop.sell_behind_the_store(&["A1", "A3"]).await;
    assert_eq!(shop.statuses().await, [Available; 4]);
    assert_eq!(reconciler.pass().await.expect("pass"), 2);
    assert_eq!(shop.statuses().await, [Sold, Available, Sold, Available]);
    assert_eq!(
        reconciler.pass().await.expect("pass"),
        0,
        "each ticket reaches the hold store once"
    );
}

#[tokio::test(start_paused = true)]
async fn later_passes_read_only_what_is_new_and_startup_reaches_back_an_hour() {
    let shop = Shop::open(&[("A", 4)]).await;
    shop.sell_behind_the_store(&["A1"]).await;
    tokio::time::advance(Duration::from_secs(30 * 60)).await;
    let reconciler = shop.reconciler();
    assert_eq!(reconciler.pass().await.expect("startup pass"), 1);
    tokio::time::advance(Duration::from_secs(60)).await;
    shop.sell_behind_the_store(&["A2"]).await;
    assert_eq!(reconciler.pass().await.expect("pass"), 1);
    assert_eq!(shop.statuses().await, [Sold, Sold, Available, Available]);

    tokio::time::advance(STARTUP_LOOKBACK + Duration::from_secs(1)).await;
    shop.sell_behind_the_store(&["A4"]).await;
    let late = shop.reconciler();
    assert_eq!(
        late.pass().await.expect("startup pass"),
        1,
        "only the sale within the lookback"
    );
}

#[tokio::test(start_paused = true)]
async fn more_sales_than_a_page_in_one_millisecond_are_all_read() {
    let shop = Shop::open(&[("A", 1_000), ("B", 1_000), ("C", 500)]).await;
    let reconciler = shop.reconciler();
    let labels: Vec<String> = [("A", 1_000), ("B", 1_000), ("C", 500)]
        .into_iter()
        .flat_map(|(row, seats)| (1..=seats).map(move |n| format!("{row}{n}")))
        .collect();
    shop.sell_behind_the_store(&labels).await;
    assert!(labels.len() as u64 > PAGE);
    assert_eq!(reconciler.pass().await.expect("pass"), labels.len());
    assert!(shop.statuses().await.iter().all(|s| *s == Sold));
}
