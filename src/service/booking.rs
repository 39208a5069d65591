//! Reserve, Purchase, Release, ExtendHold and the seat map: the booking rules, once, above every
//! backend.
//!
//! A purchase goes through three steps, each safe to repeat:
//! 1. the hold store moves the live hold to "purchasing" and guarantees it stands until a lease
//!    deadline (one round trip);
//! 2. one fenced database statement writes all tickets, and only if the database clock is still
//!    before `deadline - fence_margin` (see `sql/tickets.rs`); the unique index on the seat
//!    refuses a second sale whatever the hold store says;
//! 3. the hold store marks the seats sold (one round trip).
//!
//! A crash between 2 and 3 leaves tickets whose seats still look held; the next Purchase of the
//! same reservation finds the tickets and finishes step 3, and any other buyer's Purchase of those
//! seats is refused by the unique index, which then repairs the hold store.

use super::{Caller, Catalog, EventSeats, ServiceError, ServiceResult};
use crate::domain::{
    EventId, HoldPolicy, HoldTtl, ReservationId, SeatLabel, SeatStatuses, TicketId, UnixMillis,
};
use crate::ports::{
    HoldOutcome, HoldRefusal, HoldRequest, HoldStore, NewTicket, PurchaseLease, SeatRecord,
    StoreError, TicketInsert, TicketRecord, TicketStore,
};
use crate::telemetry::Metrics;
use crate::telemetry::metrics::PurchaseFailure;
use std::collections::{HashMap, HashSet};
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

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
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
        caller: Caller,
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
            ttl_ms: ttl.as_millis(),
            max_seats_per_user: self.policy.max_seats_per_user,
            retention_ms: millis(self.policy.retention),
        };
        for _ in 0..2 {
            let generation = layout.generation();
            match self.holds.hold(&request).await? {
                HoldOutcome::Held { expires_at } => {
                    self.metrics.hold_created();
                    return Ok(Reservation {
                        id: request.reservation,
                        seats: request.seats,
                        expires_at,
                    });
                }
                HoldOutcome::Unavailable(taken) => {
                    self.metrics.seat_conflict();
                    return Err(ServiceError::SeatsUnavailable(taken));
                }
                HoldOutcome::UserLimit { held } => {
                    return Err(ServiceError::ResourceExhausted(format!(
                        "you already hold {held} seats of this event; at most {} at once",
                        self.policy.max_seats_per_user
                    )));
                }
                HoldOutcome::NotLoaded => self.load_sold_seats(&layout, generation).await?,
            }
        }
        Err(ServiceError::Unavailable(StoreError::internal(
            "sold seats could not be loaded into the hold store",
        )))
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
        let sold: HashSet<_> = self
            .tickets
            .sold_seats(layout.event.id)
            .await?
            .into_iter()
            .collect();
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

    /// Turns the caller's live hold into tickets. Repeating a successful purchase returns the
    /// same tickets.
    #[tracing::instrument(level = "debug", skip_all, fields(event = %reservation.event()))]
    pub async fn purchase(
        &self,
        caller: Caller,
        reservation: ReservationId,
    ) -> ServiceResult<Vec<Ticket>> {
        let gate = self
            .purchases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reservation)
            .or_default()
            .clone();
        let turn = gate.lock().await;
        let result = self.purchase_once(caller, reservation).await;
        if let Err(err) = &result {
            self.metrics.purchase_failed(failure_cause(err));
        }
        drop(turn);
        let mut purchases = self.purchases.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map and this call hold the gate: nobody is waiting, so forget it.
        if Arc::strong_count(&gate) == 2 {
            purchases.remove(&reservation);
        }
        result
    }

    async fn purchase_once(
        &self,
        caller: Caller,
        reservation: ReservationId,
    ) -> ServiceResult<Vec<Ticket>> {
        let layout = self.catalog.event_seats(reservation.event()).await?;
        let lease = match self
            .holds
            .begin_purchase(reservation, caller.user, millis(self.policy.purchase_lease))
            .await?
        {
            Ok(lease) => lease,
            Err(refusal) => {
                return self
                    .purchase_refused(caller, reservation, &layout, refusal)
                    .await;
            }
        };
        if let Some(stall) = self.hooks.stall_before_ticket_write {
            tokio::time::sleep(stall).await;
        }
        let tickets = self.new_tickets(caller, reservation, &layout, &lease)?;
        let fence = lease.deadline - millis(self.policy.fence_margin);
        let written = match self.tickets.insert_tickets(&tickets, fence).await {
            Ok(written) => written,
            Err(err) => {
                if let Err(abort) = self.holds.abort_purchase(reservation).await {
                    tracing::warn!(error = %abort, "could not return the hold after a failed ticket write");
                }
                return Err(err.into());
            }
        };
        match written {
            TicketInsert::Committed => {
                self.metrics.hold_purchased(tickets.len());
                self.holds
                    .finish_purchase(reservation, caller.user, &lease.seats)
                    .await?;
                let written = tickets
                    .into_iter()
                    .map(|t| TicketRecord {
                        id: t.id,
                        seat_id: t.seat_id,
                        user_id: t.user_id,
                    })
                    .collect();
                Ok(Self::tickets_of(&layout, written))
            }
            TicketInsert::FenceExpired => Err(ServiceError::FailedPrecondition(LATE_COMMIT.into())),
            TicketInsert::SeatTaken => self.seat_taken(caller, reservation, &layout, &lease).await,
        }
    }

    fn tickets_of(layout: &EventSeats, existing: Vec<TicketRecord>) -> Vec<Ticket> {
        existing
            .into_iter()
            .filter_map(|t| {
                layout
                    .seats
                    .iter()
                    .find(|s| s.id == t.seat_id)
                    .map(|seat| Ticket {
                        id: t.id,
                        seat: seat.clone(),
                        event: layout.event.id,
                    })
            })
            .collect()
    }

    fn new_tickets(
        &self,
        caller: Caller,
        reservation: ReservationId,
        layout: &EventSeats,
        lease: &PurchaseLease,
    ) -> ServiceResult<Vec<NewTicket>> {
        lease
            .seats
            .iter()
            .map(|label| {
                let seat = layout.find(label).ok_or_else(|| {
                    ServiceError::Internal(StoreError::internal(format!(
                        "held seat {label} is not in the layout"
                    )))
                })?;
                Ok(NewTicket {
                    id: TicketId::generate(),
                    seat_id: seat.id,
                    event_id: layout.event.id,
                    user_id: caller.user,
                    reservation,
                })
            })
            .collect()
    }

    /// The unique index refused: either a concurrent Purchase of this same reservation won (return
    /// its tickets), or a seat was sold to someone else while the hold store still showed it held
    /// (repair the hold store, give the rest of the hold back).
    async fn seat_taken(
        &self,
        caller: Caller,
        reservation: ReservationId,
        layout: &EventSeats,
        lease: &PurchaseLease,
    ) -> ServiceResult<Vec<Ticket>> {
        let existing = self.tickets.tickets_of_reservation(reservation).await?;
        if existing.len() == lease.seats.len() {
            return self
                .finish_existing(caller, reservation, layout, existing)
                .await;
        }
        let sold: HashSet<_> = self
            .tickets
            .sold_seats(layout.event.id)
            .await?
            .into_iter()
            .collect();
        let taken: Vec<SeatLabel> = lease
            .seats
            .iter()
            .filter(|l| layout.find(l).is_some_and(|s| sold.contains(&s.id)))
            .cloned()
            .collect();
        tracing::warn!(event = %layout.event.id, seats = ?taken, "hold store showed sold seats as held; repairing");
        self.holds.abort_purchase(reservation).await?;
        self.holds.release(reservation, caller.user).await?.ok();
        self.holds.mark_sold(layout.event.id, &taken, false).await?;
        Err(ServiceError::SeatsUnavailable(taken))
    }

    async fn purchase_refused(
        &self,
        caller: Caller,
        reservation: ReservationId,
        layout: &EventSeats,
        refusal: HoldRefusal,
    ) -> ServiceResult<Vec<Ticket>> {
        match refusal {
            HoldRefusal::NotOwner | HoldRefusal::Released => Err(refusal.into()),
            HoldRefusal::Sold
            | HoldRefusal::Unknown
            | HoldRefusal::Expired
            | HoldRefusal::Purchasing => {
                // The database is the record of sales: a purchase that committed but whose hold
                // store update was lost (crash, Redis restart) is still a purchase.
                let existing = self.tickets.tickets_of_reservation(reservation).await?;
                if existing.is_empty() {
                    return Err(match refusal {
                        HoldRefusal::Unknown => refusal.into(),
                        HoldRefusal::Sold => ServiceError::Internal(StoreError::internal(
                            "reservation marked sold without tickets",
                        )),
                        _ => HoldRefusal::Expired.into(),
                    });
                }
                if existing.iter().any(|t| t.user_id != caller.user) {
                    return Err(HoldRefusal::NotOwner.into());
                }
                if refusal == HoldRefusal::Sold {
                    return Ok(Self::tickets_of(layout, existing));
                }
                self.finish_existing(caller, reservation, layout, existing)
                    .await
            }
        }
    }

    /// Marks the seats of tickets already in the database as sold in the hold store (the store
    /// missed it: a crash or a Redis restart after the commit). The caller checked ownership.
    async fn finish_existing(
        &self,
        caller: Caller,
        reservation: ReservationId,
        layout: &EventSeats,
        existing: Vec<TicketRecord>,
    ) -> ServiceResult<Vec<Ticket>> {
        let tickets = Self::tickets_of(layout, existing);
        let labels: Vec<SeatLabel> = tickets.iter().map(|t| t.seat.label.clone()).collect();
        self.holds
            .finish_purchase(reservation, caller.user, &labels)
            .await?;
        Ok(tickets)
    }

    /// Frees the hold's seats now. Releasing a released or lapsed hold succeeds.
    #[tracing::instrument(level = "debug", skip_all, fields(event = %reservation.event()))]
    pub async fn release(&self, caller: Caller, reservation: ReservationId) -> ServiceResult<()> {
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
        caller: Caller,
        reservation: ReservationId,
        ttl: HoldTtl,
    ) -> ServiceResult<Reservation> {
        let outcome = self
            .holds
            .extend(
                reservation,
                caller.user,
                ttl.as_millis(),
                millis(self.policy.max_lifetime),
            )
            .await?;
        match outcome {
            Ok((seats, expires_at)) => Ok(Reservation {
                id: reservation,
                seats,
                expires_at,
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
        for _ in 0..2 {
            let generation = layout.generation();
            if let Some(snapshot) = self.holds.snapshot(event, &layout.labels).await? {
                return Ok(SeatMap {
                    layout,
                    statuses: snapshot.statuses,
                    version: snapshot.version,
                });
            }
            self.load_sold_seats(&layout, generation).await?;
        }
        Err(ServiceError::Unavailable(StoreError::internal(
            "sold seats could not be loaded into the hold store",
        )))
    }
}

const LATE_COMMIT: &str = "hold expired before the purchase could be committed; reserve again";

fn failure_cause(err: &ServiceError) -> PurchaseFailure {
    match err {
        ServiceError::FailedPrecondition(message) if message == LATE_COMMIT => {
            PurchaseFailure::LateCommit
        }
        ServiceError::FailedPrecondition(_) => PurchaseFailure::HoldNotLive,
        ServiceError::SeatsUnavailable(_) => PurchaseFailure::SeatSold,
        ServiceError::PermissionDenied(_) => PurchaseFailure::NotOwner,
        ServiceError::NotFound(_) => PurchaseFailure::NotFound,
        ServiceError::Unavailable(_) => PurchaseFailure::BackendUnavailable,
        ServiceError::Internal(_) => PurchaseFailure::Internal,
        ServiceError::InvalidArgument(_)
        | ServiceError::Unauthenticated(_)
        | ServiceError::AlreadyExists(_)
        | ServiceError::ResourceExhausted(_) => PurchaseFailure::Other,
    }
}

/// What a caller hears when the hold store refuses to act on a reservation.
impl From<HoldRefusal> for ServiceError {
    fn from(refusal: HoldRefusal) -> Self {
        match refusal {
            HoldRefusal::NotOwner => {
                Self::PermissionDenied("this reservation belongs to another user".into())
            }
            HoldRefusal::Released => {
                Self::FailedPrecondition("hold was released; reserve again".into())
            }
            HoldRefusal::Expired => Self::FailedPrecondition("hold expired; reserve again".into()),
            HoldRefusal::Sold => {
                Self::FailedPrecondition("reservation was already purchased".into())
            }
            HoldRefusal::Purchasing => {
                Self::FailedPrecondition("a purchase of this reservation is in progress".into())
            }
            HoldRefusal::Unknown => {
                Self::NotFound("reservation not found (or forgotten after it ended)".into())
            }
        }
    }
}
