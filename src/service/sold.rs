//! Which seats are sold, as the hold store must know: the database is the record of sales, and
//! the hold store learns an event's sold seats from it the first time the event is used (after
//! a Redis restart too: the store answers "not loaded" until then). Concurrent callers share one
//! load.

use super::{EventSeats, ServiceError, ServiceResult};
use crate::domain::{EventId, SeatId, SeatLabel};
use crate::ports::{HoldStore, StoreError, StoreResult, TicketStore};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub struct SoldSeats {
    pub(super) holds: Arc<dyn HoldStore>,
    pub(super) tickets: Arc<dyn TicketStore>,
}

impl SoldSeats {
    pub fn new(holds: Arc<dyn HoldStore>, tickets: Arc<dyn TicketStore>) -> Self {
        Self { holds, tickets }
    }

    /// Runs `op` against the hold store; when the store does not know the event's sold seats
    /// yet (`op` answers `None`), copies them from the database and runs it once more.
    pub async fn with_loaded<T, F, Fut>(&self, seats: &EventSeats, op: F) -> ServiceResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = StoreResult<Option<T>>>,
    {
        for _ in 0..2 {
            let generation = seats.generation();
            if let Some(done) = op().await? {
                return Ok(done);
            }
            self.load(seats, generation).await?;
        }
        Err(ServiceError::Unavailable(StoreError::internal(
            "sold seats could not be loaded into the hold store",
        )))
    }

    /// The event's sold seats, as the database records them.
    pub async fn ids(&self, event: EventId) -> ServiceResult<HashSet<SeatId>> {
        Ok(self.tickets.sold_seats(event).await?.into_iter().collect())
    }

    /// Copies the event's sold seats into the hold store, once, however many calls find them
    /// missing at the same moment.
    async fn load(&self, seats: &EventSeats, seen_generation: u64) -> ServiceResult<()> {
        let _guard = seats.sold_load.lock().await;
        if seats.generation() != seen_generation {
            return Ok(());
        }
        let event = seats.event.id;
        let sold = self.ids(event).await?;
        let labels: Vec<SeatLabel> = seats.labels_of(&sold);
        self.holds.mark_sold(event, &labels, true).await?;
        seats.sold_generation.fetch_add(1, Ordering::AcqRel);
        tracing::debug!(%event, sold = labels.len(), "sold seats loaded into the hold store");
        Ok(())
    }
}
