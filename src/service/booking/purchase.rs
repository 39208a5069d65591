//! Purchase: a live hold into tickets, in three steps, each safe to repeat:
//! 1. the hold store moves the live hold to "purchasing" and guarantees it stands until a lease
//!    deadline (one round trip);
//! 2. one fenced database statement writes all tickets, and only if the database clock is still
//!    before `deadline - fence_margin` (see `sql/tickets.rs`); the unique index on the seat
//!    refuses a second sale whatever the hold store says;
//! 3. the hold store marks the seats sold (one round trip).
//!
//! A crash between 2 and 3 leaves tickets whose seats still look held; the next Purchase of the
//! same reservation finds the tickets and finishes step 3, any other buyer's Purchase of those
//! seats is refused by the unique index, which then repairs the hold store, and the sales
//! reconciler (`service/reconcile.rs`) marks them sold within a second without waiting for either.
//! The `faults::hit` calls are where the kill tests crash the process (nothing in a normal build).
//!
//! A payment reference (money taken outside SeatRush) pays for one reservation. Step 2 writes it
//! on the tickets, and its unique index refuses a second reservation's tickets under the same
//! reference, across instances, exactly as the seat's index refuses a second sale; a read by
//! reference before step 2 answers the common case without a failed write. A refused purchase
//! gives the hold back (it stays live), like a purchase whose confirmed amount is wrong.

use super::{BookingService, PurchaseTerms, Ticket};
use crate::domain::{
    HoldRefusal, PriceCategory, PurchaseLease, ReservationId, SeatLabel, TicketId, millis,
};
use crate::faults::{self, FaultPoint};
use crate::ports::{NewTicket, StoreError, TicketInsert, TicketRecord};
use crate::service::{Caller, EventSeats, HoldEnd, ServiceError, ServiceResult};
use crate::telemetry::metrics::PurchaseFailure;
use std::sync::Arc;

impl BookingService {
    /// Turns the caller's live hold into tickets. Repeating a successful purchase returns the
    /// same tickets. With `terms.confirmed` (the total the caller agreed to pay), a hold that
    /// costs another amount is refused and stays live; with `terms.payment`, so is a hold when
    /// that reference already paid for another reservation (`PaymentReferenceUsed`). A repeat
    /// naming another reference than the sale's is `PaymentReferenceMismatch`; one naming none
    /// gets the tickets.
    #[tracing::instrument(level = "debug", skip_all, fields(event = %reservation.event()))]
    pub async fn purchase(
        &self,
        caller: Caller,
        reservation: ReservationId,
        terms: PurchaseTerms,
    ) -> ServiceResult<Vec<Ticket>> {
        let gate = self
            .purchases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reservation)
            .or_default()
            .clone();
        let turn = gate.lock().await;
        let result = self.purchase_once(caller, reservation, &terms).await;
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
        terms: &PurchaseTerms,
    ) -> ServiceResult<Vec<Ticket>> {
        let layout = self.catalog.event_seats(reservation.event()).await?;
        let lease = match self
            .holds
            .begin_purchase(reservation, caller.user, self.policy.purchase_lease)
            .await?
        {
            Ok(lease) => lease,
            Err(refusal) => {
                return self
                    .purchase_refused(caller, reservation, &layout, refusal)
                    .await
                    .and_then(|tickets| paid_as_asked(tickets, terms));
            }
        };
        if let Err(err) = self.check_terms(reservation, &layout, &lease, terms).await {
            return Err(self.give_back(reservation, err).await);
        }
        faults::hit(FaultPoint::PurchaseAfterBegin);
        if let Some(stall) = self.hooks.stall_before_ticket_write {
            tokio::time::sleep(stall).await;
        }
        let tickets = self.new_tickets(caller, reservation, &layout, &lease, terms)?;
        let fence = lease.deadline - millis(self.policy.fence_margin);
        let written = match self.tickets.insert_tickets(&tickets, fence).await {
            Ok(written) => written,
            Err(err) => return Err(self.give_back(reservation, err.into()).await),
        };
        match written {
            TicketInsert::Committed => {
                faults::hit(FaultPoint::PurchaseAfterCommit);
                self.metrics.hold_purchased(tickets.len());
                faults::hit(FaultPoint::PurchaseBeforeMarkSold);
                let version = self
                    .holds
                    .finish_purchase(reservation, caller.user, &lease.seats)
                    .await?;
                self.maps.produced(reservation.event(), version);
                let written = tickets
                    .into_iter()
                    .map(|t| TicketRecord {
                        id: t.id,
                        seat_id: t.seat_id,
                        user_id: t.user_id,
                        price: t.price,
                        payment: t.payment,
                    })
                    .collect();
                Ok(Self::tickets_of(&layout, written))
            }
            TicketInsert::FenceExpired => Err(ServiceError::HoldNotLive(HoldEnd::LateCommit)),
            TicketInsert::SeatTaken | TicketInsert::ReferenceUsed => {
                if written == TicketInsert::ReferenceUsed {
                    self.spent_here(reservation, terms).await?;
                }
                self.seat_taken(caller, reservation, &layout, &lease)
                    .await
                    .and_then(|tickets| paid_as_asked(tickets, terms))
            }
        }
    }

    /// The checks between taking the lease and writing: the confirmed amount, and the payment
    /// reference not already spent on another reservation (the unique index decides races).
    async fn check_terms(
        &self,
        reservation: ReservationId,
        layout: &EventSeats,
        lease: &PurchaseLease,
        terms: &PurchaseTerms,
    ) -> ServiceResult<()> {
        let expected = layout.layout().quote(&lease.seats).total;
        if let Some(confirmed) = terms.confirmed.filter(|c| *c != expected) {
            return Err(ServiceError::AmountMismatch {
                expected,
                confirmed,
            });
        }
        if let Some(reference) = &terms.payment
            && let Some(paid) = self.tickets.paid_by(reference).await?
            && paid != reservation
        {
            return Err(ServiceError::PaymentReferenceUsed);
        }
        Ok(())
    }

    /// Puts a hold back to live after a purchase that wrote nothing, and answers `err`.
    async fn give_back(&self, reservation: ReservationId, err: ServiceError) -> ServiceError {
        if let Err(abort) = self.holds.abort_purchase(reservation).await {
            tracing::warn!(error = %abort, "could not return the hold after a refused purchase");
        }
        err
    }

    /// After the reference's unique index refused: `Ok` when the reference paid for this same
    /// reservation (a concurrent purchase of it, on another instance, won: its tickets are the
    /// answer, as when the seat's index refuses); otherwise the hold goes back and the purchase
    /// is refused.
    async fn spent_here(
        &self,
        reservation: ReservationId,
        terms: &PurchaseTerms,
    ) -> ServiceResult<()> {
        let paid = match &terms.payment {
            Some(reference) => self.tickets.paid_by(reference).await,
            None => Ok(None),
        };
        match paid {
            Ok(Some(paid)) if paid == reservation => Ok(()),
            Ok(_) => Err(self
                .give_back(reservation, ServiceError::PaymentReferenceUsed)
                .await),
            Err(err) => Err(self.give_back(reservation, err.into()).await),
        }
    }

    fn tickets_of(layout: &EventSeats, existing: Vec<TicketRecord>) -> Vec<Ticket> {
        existing
            .into_iter()
            .filter_map(|t| {
                layout
                    .seat_by_id(t.seat_id)
                    .map(|seat| Ticket::sold(t.id, seat, layout.event.id, t.price, t.payment))
            })
            .collect()
    }

    fn new_tickets(
        &self,
        caller: Caller,
        reservation: ReservationId,
        layout: &EventSeats,
        lease: &PurchaseLease,
        terms: &PurchaseTerms,
    ) -> ServiceResult<Vec<NewTicket>> {
        lease
            .seats
            .iter()
            .map(|label| {
                let seat = layout.seat_by_label(label).ok_or_else(|| {
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
                    price: seat.price.as_ref().map(PriceCategory::price),
                    payment: terms.payment.clone(),
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
        let sold = self.sold.ids(layout.event.id).await?;
        let taken: Vec<SeatLabel> = lease
            .seats
            .iter()
            .filter(|l| {
                layout
                    .seat_by_label(l)
                    .is_some_and(|s| sold.contains(&s.id))
            })
            .cloned()
            .collect();
        tracing::warn!(event = %layout.event.id, seats = ?taken, "hold store showed sold seats as held; repairing");
        self.holds.abort_purchase(reservation).await?;
        self.holds.release(reservation, caller.user).await?.ok();
        let version = self.holds.mark_sold(layout.event.id, &taken, false).await?;
        self.maps.produced(layout.event.id, version);
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
        faults::hit(FaultPoint::PurchaseBeforeMarkSold);
        let version = self
            .holds
            .finish_purchase(reservation, caller.user, &labels)
            .await?;
        self.maps.produced(reservation.event(), version);
        Ok(tickets)
    }
}

/// The tickets of a reservation sold earlier, if the caller's payment reference (when given) is
/// the one they were sold under: a caller who paid again under another reference must learn that
/// it paid for nothing here. The message names no reference.
fn paid_as_asked(tickets: Vec<Ticket>, terms: &PurchaseTerms) -> ServiceResult<Vec<Ticket>> {
    match &terms.payment {
        Some(asked) if tickets.iter().any(|t| t.payment.as_ref() != Some(asked)) => {
            Err(ServiceError::PaymentReferenceMismatch)
        }
        _ => Ok(tickets),
    }
}

fn failure_cause(err: &ServiceError) -> PurchaseFailure {
    match err {
        ServiceError::HoldNotLive(HoldEnd::LateCommit) => PurchaseFailure::LateCommit,
        ServiceError::HoldNotLive(_) => PurchaseFailure::HoldNotLive,
        ServiceError::SeatsUnavailable(_) => PurchaseFailure::SeatSold,
        ServiceError::PermissionDenied(_) => PurchaseFailure::NotOwner,
        ServiceError::NotFound(_) => PurchaseFailure::NotFound,
        ServiceError::Unavailable(_) => PurchaseFailure::BackendUnavailable,
        ServiceError::Internal(_) => PurchaseFailure::Internal,
        ServiceError::InvalidArgument(_)
        | ServiceError::Unauthenticated(_)
        | ServiceError::AlreadyExists(_)
        | ServiceError::AmountMismatch { .. }
        | ServiceError::NotEnoughSeats { .. }
        | ServiceError::PaymentReferenceUsed
        | ServiceError::PaymentReferenceMismatch
        | ServiceError::ResourceExhausted(_)
        | ServiceError::Busy { .. } => PurchaseFailure::Other,
    }
}
