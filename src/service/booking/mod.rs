//! Reserve, Purchase, Release, ExtendHold and the seat map: the booking rules, once, above every
//! backend. The hold lifecycle itself is `domain::lifecycle`'s; what this layer adds is the
//! catalog (seat ids from labels, no query), the sold-seat load, the purchase protocol
//! (`purchase.rs`) and what each refusal means to a caller.

mod purchase;

use super::{Catalog, EventSeats, HoldEnd, ServiceError, ServiceResult};
use crate::domain::{
    EventId, HoldOutcome, HoldPolicy, HoldRefusal, HoldTtl, ReservationId, SeatId, SeatLabel,
    SeatStatuses, TicketId, UnixMillis,
};
use crate::ports::{HoldRequest, HoldStore, SeatRecord, StoreError, StoreResult, TicketStore};
use crate::telemetry::Metrics;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fault injection for tests: a pause where a real process could stall.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Sleep between taking the purchase lease and writing the tickets.
    pub stall_before_ticket_write: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Reservation {
    pub id: ReservationId,
    pub seats: Vec<SeatLabel>,
    pub expires_at: UnixMillis,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: TicketId,
    pub seat: SeatRecord,
    pub event: EventId,
}

/// An event's seats and the status of each at one version (the version of the last change the
/// statuses reflect).
#[derive(Clone)]
pub struct SeatMap {
    pub layout: Arc<EventSeats>,
    pub statuses: SeatStatuses,
    pub version: u64,
}

pub struct BookingService {
    holds: Arc<dyn HoldStore>,
    tickets: Arc<dyn TicketStore>,
    catalog: Arc<Catalog>,
    policy: HoldPolicy,
    hooks: Hooks,
    metrics: Arc<Metrics>,
    /// One purchase per reservation at a time in this instance: a client that retries
    /// impatiently costs one ticket write, not one per retry. (Across instances the fence and
    /// the unique index keep it correct.)
    purchases: Mutex<HashMap<ReservationId, Arc<tokio::sync::Mutex<()>>>>,
}

impl BookingService {
    pub fn new(
        holds: Arc<dyn HoldStore>,
        tickets: Arc<dyn TicketStore>,
        catalog: Arc<Catalog>,
        policy: HoldPolicy,
        hooks: Hooks,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            holds,
            tickets,
            catalog,
            policy,
            hooks,
            metrics,
            purchases: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &HoldPolicy {
        &self.policy
    }

    /// Holds all `seats` for the caller, or none. `seats` is non-empty, without repeats and
    /// within the per-hold limit (the api layer parsed it so).
    #[tracing::instrument(level = "debug", skip_all, fields(event = %event, seats = seats.len()))]
    pub async fn reserve(
        &self,
        caller: super::Caller,
        event: EventId,
        seats: Vec<SeatLabel>,
        ttl: HoldTtl,
    ) -> ServiceResult<Reservation> {
        let layout = self.catalog.event_seats(event).await?;
        let unknown: Vec<&str> = seats
            .iter()
            .filter(|s| layout.find(s).is_none())
            .map(SeatLabel::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "event {event} has no seat {}",
                unknown.join(", ")
            )));
        }
        let request = HoldRequest {
            reservation: ReservationId::new(event),
            user: caller.user,
            seats,
            terms: self.policy.hold_terms(ttl),
        };
        let outcome = self
            .with_sold_seats(&layout, || async {
                Ok(match self.holds.hold(&request).await? {
                    HoldOutcome::NotLoaded => None,
                    outcome => Some(outcome),
                })
            })
            .await?;
        match outcome {
            HoldOutcome::Held { expires_at } => {
                self.metrics.hold_created();
                Ok(Reservation {
                    id: request.reservation,
                    seats: request.seats,
                    expires_at,
                })
            }
            HoldOutcome::Unavailable(taken) => {
                self.metrics.seat_conflict();
                Err(ServiceError::SeatsUnavailable(taken))
            }
            HoldOutcome::UserLimit { held } => Err(ServiceError::ResourceExhausted(format!(
                "you already hold {held} seats of this event; at most {} at once",
                self.policy.max_seats_per_user
            ))),
            HoldOutcome::NotLoaded => Err(not_loaded()),
        }
    }

    /// Frees the hold's seats now. Releasing a released or lapsed hold succeeds: this is the one
    /// place that decides it.
    #[tracing::instrument(level = "debug", skip_all, fields(event = %reservation.event()))]
    pub async fn release(
        &self,
        caller: super::Caller,
        reservation: ReservationId,
    ) -> ServiceResult<()> {
        match self.holds.release(reservation, caller.user).await? {
            Ok(()) => {
                self.metrics.hold_released();
                Ok(())
            }
            Err(HoldRefusal::Released) | Err(HoldRefusal::Expired) => Ok(()),
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// Moves a live hold's deadline to now + `ttl`, capped at the hold's maximum lifetime.
    #[tracing::instrument(level = "debug", skip_all, fields(event = %reservation.event()))]
    pub async fn extend(
        &self,
        caller: super::Caller,
        reservation: ReservationId,
        ttl: HoldTtl,
    ) -> ServiceResult<Reservation> {
        let terms = self.policy.extend_terms(ttl);
        match self.holds.extend(reservation, caller.user, &terms).await? {
            Ok(extended) => Ok(Reservation {
                id: reservation,
                seats: extended.seats,
                expires_at: extended.deadline,
            }),
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// The event's layout; NOT_FOUND for an unknown event.
    pub async fn layout(&self, event: EventId) -> ServiceResult<Arc<EventSeats>> {
        self.catalog.event_seats(event).await
    }

    /// Every seat of the event with its status and the version of the last change reflected,
    /// read atomically.
    pub async fn seat_map(&self, event: EventId) -> ServiceResult<SeatMap> {
        let layout = self.catalog.event_seats(event).await?;
        let snapshot = self
            .with_sold_seats(&layout, || self.holds.snapshot(event, &layout.labels))
            .await?;
        Ok(SeatMap {
            layout,
            statuses: snapshot.statuses,
            version: snapshot.version,
        })
    }

    /// Runs `op` against the hold store; when the store does not know the event's sold seats
    /// yet (`op` answers `None`), copies them from the database and runs it once more.
    async fn with_sold_seats<T, F, Fut>(&self, layout: &EventSeats, op: F) -> ServiceResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = StoreResult<Option<T>>>,
    {
        for _ in 0..2 {
            let generation = layout.generation();
            if let Some(done) = op().await? {
                return Ok(done);
            }
            self.load_sold_seats(layout, generation).await?;
        }
        Err(not_loaded())
    }

    /// Copies the event's sold seats from the database into the hold store, once, even when many
    /// calls find them missing at the same moment.
    async fn load_sold_seats(
        &self,
        layout: &EventSeats,
        seen_generation: u64,
    ) -> ServiceResult<()> {
        let _guard = layout.sold_load.lock().await;
        if layout.generation() != seen_generation {
            return Ok(());
        }
        let sold = self.sold_seats(layout.event.id).await?;
        let labels: Vec<SeatLabel> = layout
            .seats
            .iter()
            .filter(|s| sold.contains(&s.id))
            .map(|s| s.label.clone())
            .collect();
        self.holds.mark_sold(layout.event.id, &labels, true).await?;
        layout.sold_generation.fetch_add(1, Ordering::AcqRel);
        tracing::debug!(event = %layout.event.id, sold = labels.len(), "sold seats loaded into the hold store");
        Ok(())
    }
}

impl BookingService {
    /// The event's sold seats, as the database records them.
    async fn sold_seats(&self, event: EventId) -> ServiceResult<HashSet<SeatId>> {
        Ok(self.tickets.sold_seats(event).await?.into_iter().collect())
    }
}

fn not_loaded() -> ServiceError {
    ServiceError::Unavailable(StoreError::internal(
        "sold seats could not be loaded into the hold store",
    ))
}

/// What a caller hears when the hold store refuses to act on a reservation.
impl From<HoldRefusal> for ServiceError {
    fn from(refusal: HoldRefusal) -> Self {
        match refusal {
            HoldRefusal::NotOwner => {
                Self::PermissionDenied("this reservation belongs to another user".into())
            }
            HoldRefusal::Released => Self::HoldNotLive(HoldEnd::Released),
            HoldRefusal::Expired => Self::HoldNotLive(HoldEnd::Expired),
            HoldRefusal::Sold => Self::HoldNotLive(HoldEnd::Purchased),
            HoldRefusal::Purchasing => Self::HoldNotLive(HoldEnd::Purchasing),
            HoldRefusal::Unknown => {
                Self::NotFound("reservation not found (or forgotten after it ended)".into())
            }
        }
    }
}
