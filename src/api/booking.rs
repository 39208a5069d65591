//! `seatrush.v1.BookingService`. The caller's own reservations and tickets are in `records.rs`.

mod records;

pub(super) use records::{page_size, ticket_cursor};
#[cfg(feature = "internals")]
pub(super) use records::{reservation_page, ticket_id};

use super::convert::{event_id, timestamp};
use super::limits::Peer;
use super::status::invalid_argument;
use super::{auth, maps, observe, watch};
use crate::domain::{
    BestAvailable, EventId, GeneralAdmission, HoldPolicy, HoldTtl, InvalidField, PaymentReference,
    ReservationId, SeatLabel,
};
use crate::proto::v1::{self as pb, booking_service_server::BookingService as Booking};
use crate::service::{
    AccountsService, BookingService, FeedService, Pick, PurchaseTerms, RecordsService, Reservation,
    SeatMaps, Ticket,
};
use std::collections::HashSet;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct BookingApi {
    booking: Arc<BookingService>,
    records: Arc<RecordsService>,
    accounts: Arc<AccountsService>,
    maps: Arc<SeatMaps>,
    feed: Arc<FeedService>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl BookingApi {
    pub fn new(
        booking: Arc<BookingService>,
        records: Arc<RecordsService>,
        accounts: Arc<AccountsService>,
        maps: Arc<SeatMaps>,
        feed: Arc<FeedService>,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            booking,
            records,
            accounts,
            maps,
            feed,
            stopping,
        }
    }
}

/// `seats`: 1 to `max_seats_per_hold` valid labels, no repeats.
fn seat_labels(raw: &[String], policy: &HoldPolicy) -> Result<Vec<SeatLabel>, InvalidField> {
    if raw.is_empty() {
        return Err(InvalidField::new("seats", "needs at least one seat"));
    }
    if raw.len() > policy.max_seats_per_hold {
        return Err(InvalidField::new(
            "seats",
            format!(
                "at most {} seats per reservation",
                policy.max_seats_per_hold
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(raw.len());
    raw.iter()
        .enumerate()
        .map(|(i, label)| {
            let field = format!("seats[{i}]");
            let label = SeatLabel::parse(&field, label)?;
            if !seen.insert(label.clone()) {
                return Err(InvalidField::new(field, format!("repeats seat {label}")));
            }
            Ok(label)
        })
        .collect()
}

/// Reserve's event, seats (named, or the best available) and hold length.
pub(super) fn reserve_terms(
    body: &pb::ReserveRequest,
    policy: &HoldPolicy,
) -> Result<(EventId, Pick, HoldTtl), Status> {
    let event = event_id(&body.event_id)?;
    let named = !body.seats.is_empty();
    let seats = match (&body.best_available, &body.general_admission) {
        (None, None) => Pick::Seats(seat_labels(&body.seats, policy).map_err(invalid_argument)?),
        (Some(_), Some(_)) => {
            return Err(invalid_argument(InvalidField::new(
                "general_admission",
                "give one of seats, best_available and general_admission",
            )));
        }
        (Some(_), None) | (None, Some(_)) if named => {
            let field = if body.best_available.is_some() {
                "best_available"
            } else {
                "general_admission"
            };
            return Err(invalid_argument(InvalidField::new(
                field,
                "give one of seats, best_available and general_admission",
            )));
        }
        (None, Some(area)) => Pick::Area(
            GeneralAdmission::parse(
                "general_admission",
                &area.area,
                area.count,
                policy.max_seats_per_hold,
            )
            .map_err(invalid_argument)?,
        ),
        (Some(best), None) => Pick::Best(
            BestAvailable::parse(
                "best_available",
                best.count,
                &best.section,
                &best.price_category,
                policy.max_seats_per_hold,
            )
            .map_err(invalid_argument)?,
        ),
    };
    let ttl =
        HoldTtl::parse("hold_seconds", body.hold_seconds, policy).map_err(invalid_argument)?;
    Ok((event, seats, ttl))
}

/// ExtendHold's reservation and new hold length (required here: 0 is no default).
pub(super) fn extend_terms(
    body: &pb::ExtendHoldRequest,
    policy: &HoldPolicy,
) -> Result<(ReservationId, HoldTtl), Status> {
    let reservation = reservation_id(&body.reservation_id)?;
    if body.hold_seconds == 0 {
        return Err(invalid_argument(InvalidField::new(
            "hold_seconds",
            "is required",
        )));
    }
    let ttl =
        HoldTtl::parse("hold_seconds", body.hold_seconds, policy).map_err(invalid_argument)?;
    Ok((reservation, ttl))
}

fn reservation_message(reservation: Reservation) -> pb::Reservation {
    pb::Reservation {
        reservation_id: reservation.id.to_string(),
        event_id: reservation.id.event().to_string(),
        seats: reservation
            .seats
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        expires_at: Some(timestamp(reservation.expires_at)),
        prices_minor: reservation.quote.prices,
        total_minor: reservation.quote.total,
        currency: reservation
            .quote
            .currency
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// A ticket as every RPC shows it (ListEventSales' `Sale` too).
pub(super) fn ticket_message(ticket: &Ticket) -> pb::Ticket {
    pb::Ticket {
        ticket_id: ticket.id.to_string(),
        seat_id: ticket.seat.id.to_string(),
        label: ticket.seat.label.as_str().to_owned(),
        event_id: ticket.event.to_string(),
        price_minor: ticket.price.as_ref().map_or(0, |p| p.minor),
        currency: ticket
            .price
            .as_ref()
            .map(|p| p.currency.as_str().to_owned())
            .unwrap_or_default(),
        payment_reference: ticket
            .payment
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// Purchase's reservation and terms: the confirmed amount and the payment reference.
pub(super) fn purchase_terms(
    body: &pb::PurchaseRequest,
) -> Result<(ReservationId, PurchaseTerms), Status> {
    let reservation = reservation_id(&body.reservation_id)?;
    let payment = PaymentReference::parse_optional("payment_reference", &body.payment_reference)
        .map_err(invalid_argument)?;
    let terms = PurchaseTerms {
        confirmed: body.confirmed.map(|c| c.amount_minor),
        payment,
    };
    Ok((reservation, terms))
}

/// Parses the request's reservation id and puts it on the call's span.
pub(super) fn reservation_id(raw: &str) -> Result<ReservationId, Status> {
    let reservation = ReservationId::parse("reservation_id", raw).map_err(invalid_argument)?;
    observe::record_reservation(reservation);
    Ok(reservation)
}

#[tonic::async_trait]
impl Booking for BookingApi {
    async fn get_seat_layout(
        &self,
        request: Request<pb::GetSeatLayoutRequest>,
    ) -> Result<Response<pb::GetSeatLayoutResponse>, Status> {
        let event = event_id(&request.get_ref().event_id)?;
        let seats = self.maps.seats(event).await?;
        Ok(Response::new(maps::layout_message(&seats)))
    }

    async fn get_seat_statuses(
        &self,
        request: Request<pb::GetSeatStatusesRequest>,
    ) -> Result<Response<pb::GetSeatStatusesResponse>, Status> {
        let event = event_id(&request.get_ref().event_id)?;
        let (board, snapshot) = self.maps.current(event).await?;
        Ok(Response::new(maps::statuses_message(
            &board.seats,
            snapshot,
        )))
    }

    async fn get_seat_map(
        &self,
        request: Request<pb::GetSeatMapRequest>,
    ) -> Result<Response<pb::GetSeatMapResponse>, Status> {
        let event = event_id(&request.get_ref().event_id)?;
        let query = maps::seat_query(request.get_ref())?;
        let page = self.maps.page(event, &query).await?;
        Ok(Response::new(maps::page_message(event.to_string(), page)))
    }

    async fn reserve(
        &self,
        request: Request<pb::ReserveRequest>,
    ) -> Result<Response<pb::ReserveResponse>, Status> {
        let (caller, _) = auth::caller(&self.accounts, &request).await?;
        let (event, seats, ttl) = reserve_terms(request.get_ref(), self.booking.policy())?;
        let client = request.extensions().get::<Peer>().map(|peer| peer.0);
        let reservation = self
            .booking
            .reserve(caller, client, event, seats, ttl)
            .await?;
        observe::record_reservation(reservation.id);
        Ok(Response::new(pb::ReserveResponse {
            reservation: Some(reservation_message(reservation)),
        }))
    }

    async fn purchase(
        &self,
        request: Request<pb::PurchaseRequest>,
    ) -> Result<Response<pb::PurchaseResponse>, Status> {
        let (caller, _) = auth::caller(&self.accounts, &request).await?;
        let (reservation, terms) = purchase_terms(request.get_ref())?;
        let tickets = self.booking.purchase(caller, reservation, terms).await?;
        Ok(Response::new(pb::PurchaseResponse {
            tickets: tickets.into_iter().map(|t| ticket_message(&t)).collect(),
        }))
    }

    async fn release(
        &self,
        request: Request<pb::ReleaseRequest>,
    ) -> Result<Response<pb::ReleaseResponse>, Status> {
        let (caller, _) = auth::caller(&self.accounts, &request).await?;
        let reservation = reservation_id(&request.get_ref().reservation_id)?;
        self.booking.release(caller, reservation).await?;
        Ok(Response::new(pb::ReleaseResponse {}))
    }

    async fn extend_hold(
        &self,
        request: Request<pb::ExtendHoldRequest>,
    ) -> Result<Response<pb::ExtendHoldResponse>, Status> {
        let (caller, _) = auth::caller(&self.accounts, &request).await?;
        let (reservation, ttl) = extend_terms(request.get_ref(), self.booking.policy())?;
        let reservation = self.booking.extend(caller, reservation, ttl).await?;
        Ok(Response::new(pb::ExtendHoldResponse {
            reservation: Some(reservation_message(reservation)),
        }))
    }

    async fn list_my_reservations(
        &self,
        request: Request<pb::ListMyReservationsRequest>,
    ) -> Result<Response<pb::ListMyReservationsResponse>, Status> {
        self.my_reservations(request).await
    }

    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::GetReservationResponse>, Status> {
        self.one_reservation(request).await
    }

    async fn list_my_tickets(
        &self,
        request: Request<pb::ListMyTicketsRequest>,
    ) -> Result<Response<pb::ListMyTicketsResponse>, Status> {
        self.my_tickets(request).await
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::GetTicketResponse>, Status> {
        self.one_ticket(request).await
    }

    type WatchSeatsStream = watch::WatchStream;

    async fn watch_seats(
        &self,
        request: Request<pb::WatchSeatsRequest>,
    ) -> Result<Response<Self::WatchSeatsStream>, Status> {
        let body = request.get_ref();
        let event = event_id(&body.event_id)?;
        let feed = self.feed.watch(event).await?;
        Ok(Response::new(watch::stream(
            feed,
            body.labels,
            self.stopping.clone(),
        )))
    }
}
