//! The caller's own reservations and tickets (ListMyReservations, GetReservation, ListMyTickets,
//! GetTicket): parsed here, answered by [`crate::service::RecordsService`]. Every call needs a
//! session; another user's ids are NOT_FOUND (the service decides it, in one place).

use super::super::status::invalid_argument;
use super::{BookingApi, auth, reservation_id, reservation_message, ticket_message};
use crate::domain::{PageSize, ReservationCursor, TicketCursor, TicketId, TicketList};
use crate::proto::v1 as pb;
use crate::service::TicketView;
use tonic::{Request, Response, Status};

fn view_message(view: &TicketView) -> pb::Ticket {
    ticket_message(&view.ticket)
}

/// `page_size` as a [`PageSize`].
pub(in crate::api) fn page_size(raw: u32) -> Result<PageSize, Status> {
    PageSize::parse("page_size", raw).map_err(invalid_argument)
}

/// A ticket list's `page_token`: `None` for the first page.
pub(in crate::api) fn ticket_cursor(
    raw: &str,
    list: TicketList,
) -> Result<Option<TicketCursor>, Status> {
    match raw {
        "" => Ok(None),
        token => Ok(Some(
            TicketCursor::parse("page_token", token, list).map_err(invalid_argument)?,
        )),
    }
}

/// ListMyReservations' page: its size and where it starts.
pub(in crate::api) fn reservation_page(
    body: &pb::ListMyReservationsRequest,
) -> Result<(PageSize, Option<ReservationCursor>), Status> {
    let size = page_size(body.page_size)?;
    let after = match body.page_token.as_str() {
        "" => None,
        token => Some(ReservationCursor::parse("page_token", token).map_err(invalid_argument)?),
    };
    Ok((size, after))
}

/// A `ticket_id` field.
pub(in crate::api) fn ticket_id(raw: &str) -> Result<TicketId, Status> {
    TicketId::parse("ticket_id", raw).map_err(invalid_argument)
}

impl BookingApi {
    pub(super) async fn my_reservations(
        &self,
        request: Request<pb::ListMyReservationsRequest>,
    ) -> Result<Response<pb::ListMyReservationsResponse>, Status> {
        let caller = auth::reader(&self.accounts, &request).await?;
        let (size, after) = reservation_page(request.get_ref())?;
        let page = self.records.my_reservations(caller, size, after).await?;
        Ok(Response::new(pb::ListMyReservationsResponse {
            reservations: page.items.into_iter().map(reservation_message).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }))
    }

    pub(super) async fn one_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::GetReservationResponse>, Status> {
        let caller = auth::reader(&self.accounts, &request).await?;
        let reservation = reservation_id(&request.get_ref().reservation_id)?;
        let hold = self.records.reservation(caller, reservation).await?;
        Ok(Response::new(pb::GetReservationResponse {
            reservation: Some(reservation_message(hold)),
        }))
    }

    pub(super) async fn my_tickets(
        &self,
        request: Request<pb::ListMyTicketsRequest>,
    ) -> Result<Response<pb::ListMyTicketsResponse>, Status> {
        let caller = auth::reader(&self.accounts, &request).await?;
        let body = request.get_ref();
        let size = page_size(body.page_size)?;
        let after = ticket_cursor(&body.page_token, TicketList::Mine)?;
        let page = self.records.my_tickets(caller, size, after).await?;
        Ok(Response::new(pb::ListMyTicketsResponse {
            tickets: page.items.iter().map(view_message).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }))
    }

    pub(super) async fn one_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::GetTicketResponse>, Status> {
        let caller = auth::reader(&self.accounts, &request).await?;
        let id = ticket_id(&request.get_ref().ticket_id)?;
        let ticket = self.records.ticket(caller, id).await?;
        Ok(Response::new(pb::GetTicketResponse {
            ticket: Some(view_message(&ticket)),
        }))
    }
}
