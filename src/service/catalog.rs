//! The seat layout of each event, cached in process. Layouts never change after creation, so
//! after the first call for an event, turning seat labels into seats costs no query: Reserve
//! stays off the database.
//!
//! An event's seats are its [`Layout`] (a name and a count per row) and one id per seat in
//! layout order: 16 bytes a seat, 1.6 MB for 100,000 seats. Labels and records are made when
//! asked for, not kept.

use super::{ServiceError, ServiceResult};
use crate::domain::{EventId, Layout, PlanRow, Pool, SeatId, SeatLabel, best_plan};
use crate::ports::{EventRecord, EventStore, SeatRecord, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// One event's seats, in layout order.
pub struct EventSeats {
    pub event: EventRecord,
    seat_ids: Vec<SeatId>,
    digest: String,
    /// Serialises copying the sold seats into the hold store; the generation tells a waiter
    /// whether someone else already did it.
    pub(super) sold_load: tokio::sync::Mutex<()>,
    pub(super) sold_generation: AtomicU64,
    /// The layout as the API sends it, made by the first reader: every fan of a stadium
    /// fetches the same 10,000 rows.
    pub wire: std::sync::OnceLock<bytes::Bytes>,
    /// Best available's plans, made by the first request for each pool and shared by the rest:
    /// a stadium's event-wide plan has 10,000 rows.
    plans: Mutex<HashMap<Pool, Arc<[PlanRow]>>>,
}

impl EventSeats {
    pub fn layout(&self) -> &Layout {
        &self.event.layout
    }

    /// The plan of `pool` (see `domain::best`), made once.
    pub fn plan(&self, pool: Pool) -> Arc<[PlanRow]> {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans
            .entry(pool)
            .or_insert_with(|| best_plan(self.layout(), &pool).into())
            .clone()
    }

    /// The layout's fingerprint.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn len(&self) -> u32 {
        self.event.layout.seat_count()
    }

    /// The index of the seat `label` names.
    pub fn find(&self, label: &SeatLabel) -> Option<u32> {
        self.event.layout.find(label)
    }

    /// Seat `index`, with its id and label.
    pub fn seat(&self, index: u32) -> Option<SeatRecord> {
        let (section, row, number) = self.event.layout.position(index)?;
        Some(SeatRecord {
            id: *self.seat_ids.get(index as usize)?,
            label: crate::domain::SeatLabel::new(section.code.as_ref(), &row.name, number),
            section: section.code.as_ref().map(|c| c.as_str().to_owned()),
            row: row.name.as_str().to_owned(),
            number,
            price: self.event.layout.categories().get(row.category).cloned(),
        })
    }

    /// The seat a label names.
    pub fn seat_by_label(&self, label: &SeatLabel) -> Option<SeatRecord> {
        self.find(label).and_then(|index| self.seat(index))
    }

    /// The labels of the seats whose ids are in `ids`, in layout order.
    pub fn labels_of(&self, ids: &std::collections::HashSet<SeatId>) -> Vec<SeatLabel> {
        self.seat_ids
            .iter()
            .enumerate()
            .filter(|(_, id)| ids.contains(id))
            .filter_map(|(i, _)| self.event.layout.label(u32::try_from(i).ok()?))
            .collect()
    }

    /// The seats whose ids are in `ids`, by id: one scan of the event's seats, for a page of
    /// tickets.
    pub fn seats_by_ids(
        &self,
        ids: &std::collections::HashSet<SeatId>,
    ) -> HashMap<SeatId, SeatRecord> {
        self.seat_ids
            .iter()
            .enumerate()
            .filter(|(_, id)| ids.contains(id))
            .filter_map(|(i, id)| Some((*id, self.seat(u32::try_from(i).ok()?)?)))
            .collect()
    }

    /// The seat with this id (a scan: for tickets, not for the hot path).
    pub fn seat_by_id(&self, id: SeatId) -> Option<SeatRecord> {
        let index = self.seat_ids.iter().position(|s| *s == id)?;
        self.seat(u32::try_from(index).ok()?)
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
                let seat_ids = self.store.seat_ids(id).await?;
                if seat_ids.len() != event.layout.seat_count() as usize {
                    return Err(ServiceError::Internal(StoreError::internal(format!(
                        "event {id} has {} seats for a layout of {}",
                        seat_ids.len(),
                        event.layout.seat_count()
                    ))));
                }
                Ok::<_, ServiceError>(Arc::new(EventSeats {
                    digest: event.layout.digest(),
                    event,
                    seat_ids,
                    sold_load: tokio::sync::Mutex::new(()),
                    sold_generation: AtomicU64::new(0),
                    wire: std::sync::OnceLock::new(),
                    plans: Mutex::default(),
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
