//! `seatrush.v1.BookingService`.

use super::convert::{seat_status, timestamp};
use super::status::invalid_argument;
use super::{auth, observe};
use crate::domain::SeatStatus;
use crate::domain::{EventId, HoldPolicy, HoldTtl, InvalidField, ReservationId, SeatLabel};
use crate::proto::v1::{self as pb, booking_service_server::BookingService as Booking};
use crate::service::{
    AccountsService, BookingService, FeedItem, FeedService, Reservation, SeatView,
};
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub struct BookingApi {
    booking: Arc<BookingService>,
    accounts: Arc<AccountsService>,
    feed: Arc<FeedService>,
    stopping: watch::Receiver<bool>,
}

/// Messages buffered per watcher between its feed task and the transport.
const WATCH_BUFFER: usize = 16;

impl BookingApi {
    pub fn new(
        booking: Arc<BookingService>,
        accounts: Arc<AccountsService>,
        feed: Arc<FeedService>,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Self {
            booking,
            accounts,
            feed,
            stopping,
        }
    }
}

/// Sends a stream's closing status, giving a client that does not read one second to make room,
/// so that shutdown never waits on a stalled watcher.
async fn farewell(tx: &mpsc::Sender<Result<pb::WatchSeatsResponse, Status>>, status: Status) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), tx.send(Err(status))).await;
}

/// Resolves once the server starts shutting down (at once if it already has).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

fn seat_message(view: SeatView) -> pb::Seat {
    pb::Seat {
        seat_id: view.seat.id.to_string(),
        label: view.seat.label.as_str().to_owned(),
        row: view.seat.row,
        number: view.seat.number,
        status: seat_status(view.status).into(),
    }
}

/// Seats per snapshot part (~4.5 KiB encoded). Small parts keep each stream's encode buffer small:
/// tonic keeps a stream's buffer at the size of the largest batch it sent (see `codec.rs`).
const SNAPSHOT_PART: usize = 64;

fn change_reason(reason: crate::domain::ChangeReason) -> pb::ChangeReason {
    use crate::domain::ChangeReason;
    match reason {
        ChangeReason::Reserved => pb::ChangeReason::Reserved,
        ChangeReason::Released => pb::ChangeReason::Released,
        ChangeReason::Expired => pb::ChangeReason::Expired,
        ChangeReason::Sold => pb::ChangeReason::Sold,
    }
}

/// The stream messages of one feed item: a change is one message, a snapshot several parts.
fn feed_messages(item: FeedItem) -> Vec<pb::WatchSeatsResponse> {
    use pb::watch_seats_response::Payload;
    match item {
        FeedItem::Snapshot { seats, version } => {
            let total = u32::try_from(seats.len()).unwrap_or(u32::MAX);
            let mut parts = Vec::with_capacity(seats.len().div_ceil(SNAPSHOT_PART).max(1));
            let mut seats = seats.into_iter().map(seat_message).peekable();
            let mut offset = 0u32;
            loop {
                let part: Vec<pb::Seat> = seats.by_ref().take(SNAPSHOT_PART).collect();
                let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
                parts.push(pb::WatchSeatsResponse {
                    payload: Some(Payload::Snapshot(pb::SeatSnapshot {
                        seats: part,
                        version,
                        offset,
                        total,
                    })),
                });
                offset += len;
                if seats.peek().is_none() {
                    return parts;
                }
            }
        }
        FeedItem::Change { seat, change } => {
            let status: SeatStatus = change.reason.status();
            vec![pb::WatchSeatsResponse {
                payload: Some(Payload::Change(pb::SeatChange {
                    seat_id: seat.id.to_string(),
                    label: seat.label.as_str().to_owned(),
                    status: seat_status(status).into(),
                    reason: change_reason(change.reason).into(),
                    at: Some(timestamp(change.at)),
                    version: change.version,
                })),
            }]
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
    }
}

/// Parses the request's reservation id and puts it on the call's span.
fn reservation_id(raw: &str) -> Result<ReservationId, Status> {
    let reservation = ReservationId::parse("reservation_id", raw).map_err(invalid_argument)?;
    observe::record_reservation(reservation);
    Ok(reservation)
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchSeatsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Booking for BookingApi {
    async fn get_seat_map(
        &self,
        request: Request<pb::GetSeatMapRequest>,
    ) -> Result<Response<pb::GetSeatMapResponse>, Status> {
        let event =
            EventId::parse("event_id", &request.get_ref().event_id).map_err(invalid_argument)?;
        observe::record_event(event);
        let seats = self.booking.seat_map(event).await?;
        Ok(Response::new(pb::GetSeatMapResponse {
            event_id: event.to_string(),
            seats: seats.into_iter().map(seat_message).collect(),
        }))
    }

    async fn reserve(
        &self,
        request: Request<pb::ReserveRequest>,
    ) -> Result<Response<pb::ReserveResponse>, Status> {
        let (caller, _) = auth::caller(&self.accounts, &request).await?;
        let body = request.get_ref();
        let policy = self.booking.policy();
        let event = EventId::parse("event_id", &body.event_id).map_err(invalid_argument)?;
        observe::record_event(event);
        let seats = seat_labels(&body.seats, policy).map_err(invalid_argument)?;
        let ttl =
            HoldTtl::parse("hold_seconds", body.hold_seconds, policy).map_err(invalid_argument)?;
        let reservation = self.booking.reserve(caller, event, seats, ttl).await?;
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
        let reservation = reservation_id(&request.get_ref().reservation_id)?;
        let tickets = self.booking.purchase(caller, reservation).await?;
        Ok(Response::new(pb::PurchaseResponse {
            tickets: tickets
                .into_iter()
                .map(|t| pb::Ticket {
                    ticket_id: t.id.to_string(),
                    seat_id: t.seat.id.to_string(),
                    label: t.seat.label.as_str().to_owned(),
                    event_id: t.event.to_string(),
                })
                .collect(),
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
        let body = request.get_ref();
        let reservation = reservation_id(&body.reservation_id)?;
        if body.hold_seconds == 0 {
            return Err(invalid_argument(InvalidField::new(
                "hold_seconds",
                "is required",
            )));
        }
        let ttl = HoldTtl::parse("hold_seconds", body.hold_seconds, self.booking.policy())
            .map_err(invalid_argument)?;
        let reservation = self.booking.extend(caller, reservation, ttl).await?;
        Ok(Response::new(pb::ExtendHoldResponse {
            reservation: Some(reservation_message(reservation)),
        }))
    }

    type WatchSeatsStream = WatchStream;

    /// One task per watcher forwards its feed into a small bounded channel. The task ends when
    /// the client goes away (the channel closes), when the feed fails, or at shutdown, when the
    /// stream ends with UNAVAILABLE so the client reconnects elsewhere.
    async fn watch_seats(
        &self,
        request: Request<pb::WatchSeatsRequest>,
    ) -> Result<Response<Self::WatchSeatsStream>, Status> {
        let event =
            EventId::parse("event_id", &request.get_ref().event_id).map_err(invalid_argument)?;
        observe::record_event(event);
        let mut watch = self.feed.watch(event).await?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let mut stopping = self.stopping.clone();
        tokio::spawn(async move {
            let going_away =
                || Status::unavailable("server shutting down; reconnect to another instance");
            loop {
                let item = tokio::select! {
                    item = watch.next() => item,
                    _ = tx.closed() => return,
                    _ = stopped(&mut stopping) => return farewell(&tx, going_away()).await,
                };
                let (messages, last) = match item {
                    Ok(Some(item)) => (feed_messages(item).into_iter().map(Ok).collect(), false),
                    Ok(None) => (vec![Err(going_away())], true),
                    Err(err) => (vec![Err(Status::from(err))], true),
                };
                for message in messages {
                    tokio::select! {
                        sent = tx.send(message) => if sent.is_err() { return },
                        _ = stopped(&mut stopping) => return farewell(&tx, going_away()).await,
                    }
                }
                if last {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
