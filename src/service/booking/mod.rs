//! Reserve, Purchase, Release, ExtendHold and the seat map: the booking rules, once, above every
//! backend. The hold lifecycle itself is `domain::lifecycle`'s; what this layer adds is the
//! catalog (seat ids from labels, no query), the sold-seat load, the purchase protocol
//! (`purchase.rs`) and what each refusal means to a caller.

mod account_cap;
mod best;
mod purchase;

pub use best::Pick;

use super::maps::SeatMaps;
use super::sold::SoldSeats;
use super::{Catalog, HoldEnd, ServiceError, ServiceResult};
use crate::domain::{
    EventId, HoldOutcome, HoldPolicy, HoldRefusal, HoldTtl, PaymentReference, Price, PriceCategory,
    Quote, ReservationId, SeatLabel, TicketId, UnixMillis,
};
use crate::ports::{HoldRequest, HoldStore, SeatRecord, StoreError, TicketStore};
use crate::telemetry::Metrics;
use std::collections::HashMap;
use std::net::IpAddr;
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
    /// What the seats cost, from the event's layout (prices never change after creation).
    pub quote: Quote,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: TicketId,
    pub seat: SeatRecord,
    pub event: EventId,
    /// What the seat was sold for; `None` for a free event.
    pub price: Option<Price>,
    /// The external payment reference given at Purchase.
    pub payment: Option<PaymentReference>,
}

impl Ticket {
    /// A ticket of the record of sales with its seat. A ticket sold before prices were stored on
    /// tickets shows its seat's price in the layout, which never changes after creation.
    pub(crate) fn sold(
        id: TicketId,
        seat: SeatRecord,
        event: EventId,
        stored: Option<Price>,
        payment: Option<PaymentReference>,
    ) -> Self {
        let price = stored.or_else(|| seat.price.as_ref().map(PriceCategory::price));
        Self {
            id,
            seat,
            event,
            price,
            payment,
        }
    }
}

/// What the caller of Purchase agreed to, besides the reservation.
#[derive(Debug, Clone, Default)]
pub struct PurchaseTerms {
    /// The total the caller confirmed: another total refuses the purchase.
    pub confirmed: Option<u64>,
    /// The payment made outside SeatRush: it may pay for one reservation only.
    pub payment: Option<PaymentReference>,
}

pub struct BookingService {
    holds: Arc<dyn HoldStore>,
    tickets: Arc<dyn TicketStore>,
    catalog: Arc<Catalog>,
    sold: Arc<SoldSeats>,
    maps: Arc<SeatMaps>,
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
        maps: Arc<SeatMaps>,
        policy: HoldPolicy,
        hooks: Hooks,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            sold: Arc::new(SoldSeats::new(holds.clone(), tickets.clone())),
            holds,
            tickets,
            catalog,
            maps,
            policy,
            hooks,
            metrics,
            purchases: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &HoldPolicy {
        &self.policy
    }

    /// Holds the seats the caller picked (named, or the best available), all or none. Named
    /// seats are non-empty, without repeats and within the per-hold limit (the api layer parsed
    /// them so).
    #[tracing::instrument(level = "debug", skip_all, fields(event = %event))]
    pub async fn reserve(
        &self,
        caller: super::Caller,
        client: Option<IpAddr>,
        event: EventId,
        pick: impl Into<Pick>,
        ttl: HoldTtl,
    ) -> ServiceResult<Reservation> {
        let pick = pick.into();
        let layout = self.catalog.event_seats(event).await?;
        if let Pick::Seats(seats) = &pick {
            let unknown: Vec<&str> = seats
                .iter()
                .filter(|s| layout.layout().find_seat(s).is_none())
                .map(SeatLabel::as_str)
                .collect();
            if !unknown.is_empty() {
                return Err(ServiceError::NotFound(format!(
                    "event {event} has no seat {}",
                    unknown.join(", ")
                )));
            }
        }
        let count = pick.count();
        let room = self.account_room(caller.user, event, count).await?;
        let mut terms = self.policy.hold_terms(ttl, client);
        if let Some(room) = room {
            terms.max_seats_per_user = room.hold_limit(terms.max_seats_per_user);
        }
        let reservation = ReservationId::new(event);
        let (seats, outcome) = match pick {
            Pick::Seats(seats) => {
                let request = HoldRequest {
                    reservation,
                    user: caller.user,
                    seats,
                    terms,
                };
                let outcome = self
                    .sold
                    .with_loaded(&layout, || async {
                        Ok(match self.holds.hold(&request).await? {
                            HoldOutcome::NotLoaded => None,
                            outcome => Some(outcome),
                        })
                    })
                    .await?;
                (request.seats, outcome)
            }
            Pick::Best(best) => {
                let ask = best::Ask::best(&layout, &best)?;
                self.hold_chosen(&layout, reservation, caller.user, ask, terms)
                    .await?
            }
            Pick::Area(area) => {
                let ask = best::Ask::area(&layout, &area)?;
                self.hold_chosen(&layout, reservation, caller.user, ask, terms)
                    .await?
            }
        };
        match outcome {
            HoldOutcome::Held {
                expires_at,
                version,
                held_by_user,
            } => {
                self.maps.produced(event, version);
                self.confirm_account_room(caller.user, reservation, held_by_user)
                    .await?;
                self.metrics.hold_created();
                Ok(Reservation {
                    id: reservation,
                    quote: layout.layout().quote(&seats),
                    seats,
                    expires_at,
                })
            }
            HoldOutcome::Unavailable(taken) => {
                self.metrics.seat_conflict();
                Err(ServiceError::SeatsUnavailable(taken))
            }
            HoldOutcome::UserLimit { held } => match room {
                Some(room) if room.binds(self.policy.max_seats_per_user) => Err(room.refusal(held)),
                _ => Err(ServiceError::ResourceExhausted(format!(
                    "you hold {held} seats of this event and ask for {} more; at most {} at once",
                    count, self.policy.max_seats_per_user
                ))),
            },
            HoldOutcome::ClientLimit { held } => Err(ServiceError::ResourceExhausted(format!(
                "this client took {held} seats of this event in the last {} s, whichever accounts \
                 it used; at most {}",
                self.policy.client_window.as_secs(),
                self.policy.max_seats_per_client
            ))),
            HoldOutcome::CoolingDown(seats) => Err(ServiceError::ResourceExhausted(format!(
                "this account or this client let {} go less than {} s ago: other seats can be \
                 held now, these once the cool-down is over",
                seats
                    .iter()
                    .map(SeatLabel::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.policy.release_cooldown.as_secs()
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
            Ok(version) => {
                self.maps.produced(reservation.event(), version);
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
            Ok(extended) => {
                let layout = self.catalog.event_seats(reservation.event()).await?;
                Ok(Reservation {
                    id: reservation,
                    quote: layout.layout().quote(&extended.seats),
                    seats: extended.seats,
                    expires_at: extended.deadline,
                })
            }
            Err(refusal) => Err(refusal.into()),
        }
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
