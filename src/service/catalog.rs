//! The seat layout of each event, cached in process. Layouts never change after creation, so
//! after the first call for an event, turning seat labels into seat ids costs no query: Reserve
//! stays off the database.

use super::{ServiceError, ServiceResult};
use crate::domain::{EventId, SeatLabel};
use crate::ports::{EventRecord, EventStore, SeatRecord};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// One event's seats, in seat-map order, with an index by label.
pub struct EventSeats {
    pub event: EventRecord,
    pub seats: Vec<SeatRecord>,
    pub labels: Vec<SeatLabel>,
    index: HashMap<SeatLabel, usize>,
    /// Serialises copying the sold seats into the hold store; the generation tells a waiter
    /// whether someone else already did it.
    pub(super) sold_load: tokio::sync::Mutex<()>,
    pub(super) sold_generation: AtomicU64,
}

impl EventSeats {
    pub fn find(&self, label: &SeatLabel) -> Option<&SeatRecord> {
        self.index.get(label).map(|&i| &self.seats[i])
    }

    pub(super) fn generation(&self) -> u64 {
        self.sold_generation.load(Ordering::Acquire)
    }
}

pub struct Catalog {
    store: Arc<dyn EventStore>,
    cache: Mutex<HashMap<EventId, Arc<OnceCell<Arc<EventSeats>>>>>,
}

impl Catalog {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The event's seats; NOT_FOUND for an unknown event. Concurrent first calls share one load.
    pub async fn event_seats(&self, id: EventId) -> ServiceResult<Arc<EventSeats>> {
        let cell = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_default()
            .clone();
        let result = cell
            .get_or_try_init(|| async {
                let event =
                    self.store.get_event(id).await?.ok_or_else(|| {
                        ServiceError::NotFound(format!("event {id} does not exist"))
                    })?;
                let seats = self.store.seats(id).await?;
                let labels: Vec<SeatLabel> = seats.iter().map(|s| s.label.clone()).collect();
                let index = labels
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, l)| (l, i))
                    .collect();
                Ok::<_, ServiceError>(Arc::new(EventSeats {
                    event,
                    seats,
                    labels,
                    index,
                    sold_load: tokio::sync::Mutex::new(()),
                    sold_generation: AtomicU64::new(0),
                }))
            })
            .await;
        match result {
            Ok(seats) => Ok(seats.clone()),
            Err(err) => {
                // Unknown ids must not accumulate entries.
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if cache.get(&id).is_some_and(|c| c.get().is_none()) {
                    cache.remove(&id);
                }
                Err(err)
            }
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }
}
