//! What a user holds and owns, and what an event sold: read-only lists over the hold store and
//! the record of sales, a page at a time.
//!
//! A user's live holds come from the hold store (it alone knows what is live; a lapsed hold never
//! shows, even before the expiry pass reached it). A user holds few (at most the per-user cap per
//! event), so they are read whole and paged here. Tickets are paged by the database, newest first.
//!
//! Another user's reservation or ticket is NOT_FOUND, exactly like an unknown id: nobody learns
//! that it exists.

use super::{Caller, Catalog, HoldEnd, Reservation, ServiceError, ServiceResult, Ticket};
use crate::domain::{
    EventId, HoldRefusal, LiveHold, PageSize, ReservationCursor, ReservationId, TicketCursor,
    TicketId, TicketList, UnixMillis, UserId,
};
use crate::ports::{HoldStore, SoldTicket, TicketLedger};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A page of a list, and where the next one starts (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// A sold ticket with its seat, its buyer and when it was sold.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: Ticket,
    pub user: UserId,
    pub sold_at: UnixMillis,
}

/// A page of an event's sales, with the totals of the whole event.
#[derive(Debug, Clone)]
pub struct Sales {
    pub page: Page<TicketView>,
    pub tickets_sold: u64,
    pub seat_count: u32,
}

pub struct RecordsService {
    holds: Arc<dyn HoldStore>,
    ledger: Arc<dyn TicketLedger>,
    catalog: Arc<Catalog>,
}

fn cursor_of(hold: &LiveHold) -> ReservationCursor {
    ReservationCursor {
        created: hold.created,
        reference: hold.reservation.public_ref(),
    }
}

fn not_found(what: &str) -> ServiceError {
    ServiceError::NotFound(format!("{what} not found"))
}

impl RecordsService {
    pub fn new(
        holds: Arc<dyn HoldStore>,
        ledger: Arc<dyn TicketLedger>,
        catalog: Arc<Catalog>,
    ) -> Self {
        Self {
            holds,
            ledger,
            catalog,
        }
    }

    /// The caller's live holds, newest first (see [`ReservationCursor`]), after `after`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn my_reservations(
        &self,
        caller: Caller,
        size: PageSize,
        after: Option<ReservationCursor>,
    ) -> ServiceResult<Page<Reservation>> {
        let mut holds: Vec<(ReservationCursor, LiveHold)> = self
            .holds
            .holds_of(caller.user)
            .await?
            .into_iter()
            .map(|hold| (cursor_of(&hold), hold))
            .filter(|(cursor, _)| after.as_ref().is_none_or(|after| cursor < after))
            .collect();
        holds.sort_by(|a, b| b.0.cmp(&a.0));
        let next_token = (holds.len() > size.items()).then(|| holds[size.items() - 1].0.encode());
        holds.truncate(size.items());
        let mut items = Vec::with_capacity(holds.len());
        for (_, hold) in holds {
            items.push(self.priced(hold).await?);
        }
        Ok(Page { items, next_token })
    }

    /// A live hold with what its seats cost.
    async fn priced(&self, hold: LiveHold) -> ServiceResult<Reservation> {
        let seats = self.catalog.event_seats(hold.reservation.event()).await?;
        Ok(Reservation {
            id: hold.reservation,
            quote: seats.layout().quote(&hold.seats),
            seats: hold.seats,
            expires_at: hold.deadline,
        })
    }

    /// One live hold of the caller. NOT_FOUND for an unknown id, another user's, or a hold
    /// that is no longer live (the message then tells its owner why).
    #[tracing::instrument(level = "debug", skip_all, fields(event = %id.event()))]
    pub async fn reservation(
        &self,
        caller: Caller,
        id: ReservationId,
    ) -> ServiceResult<Reservation> {
        let end = match self.holds.live_hold(id, caller.user).await? {
            Ok(hold) => return self.priced(hold).await,
            Err(HoldRefusal::Unknown | HoldRefusal::NotOwner) => {
                return Err(not_found("reservation"));
            }
            Err(HoldRefusal::Expired) => HoldEnd::Expired,
            Err(HoldRefusal::Released) => HoldEnd::Released,
            Err(HoldRefusal::Sold) => HoldEnd::Purchased,
            Err(HoldRefusal::Purchasing) => HoldEnd::Purchasing,
        };
        Err(ServiceError::NotFound(format!(
            "no live reservation with this id: {}",
            end.message()
        )))
    }

    /// The caller's tickets, newest first, after `after` (a cursor of [`TicketList::Mine`]).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn my_tickets(
        &self,
        caller: Caller,
        size: PageSize,
        after: Option<TicketCursor>,
    ) -> ServiceResult<Page<TicketView>> {
        let rows = self
            .ledger
            .tickets_of_user(caller.user, after.map(|c| c.before), size.get() + 1)
            .await?;
        self.page(rows, size, TicketList::Mine).await
    }

    /// One ticket of the caller; NOT_FOUND for an unknown id or another user's.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ticket(&self, caller: Caller, id: TicketId) -> ServiceResult<TicketView> {
        let row = self
            .ledger
            .ticket(id)
            .await?
            .filter(|t| t.user_id == caller.user)
            .ok_or_else(|| not_found("ticket"))?;
        self.views(vec![row])
            .await?
            .pop()
            .ok_or_else(|| not_found("ticket"))
    }

    /// The event's tickets, newest first, after `after` (a cursor of [`TicketList::Sales`]),
    /// with the event's totals (for the admin). NOT_FOUND for an unknown event.
    #[tracing::instrument(level = "debug", skip_all, fields(event = %event))]
    pub async fn event_sales(
        &self,
        event: EventId,
        size: PageSize,
        after: Option<TicketCursor>,
    ) -> ServiceResult<Sales> {
        let seats = self.catalog.event_seats(event).await?;
        let rows = self
            .ledger
            .tickets_of_event(event, after.map(|c| c.before), size.get() + 1)
            .await?;
        let page = self.page(rows, size, TicketList::Sales(event)).await?;
        Ok(Sales {
            page,
            tickets_sold: self.ledger.count_tickets(event).await?,
            seat_count: seats.len(),
        })
    }

    /// `rows` (one more than a page when there is a next one) as a page of `list`.
    async fn page(
        &self,
        mut rows: Vec<SoldTicket>,
        size: PageSize,
        list: TicketList,
    ) -> ServiceResult<Page<TicketView>> {
        let next_token = (rows.len() > size.items()).then(|| {
            TicketCursor {
                before: rows[size.items() - 1].id,
            }
            .encode(list)
        });
        rows.truncate(size.items());
        Ok(Page {
            items: self.views(rows).await?,
            next_token,
        })
    }

    /// The tickets with their seats, in the order given: one scan of each event's seats.
    async fn views(&self, rows: Vec<SoldTicket>) -> ServiceResult<Vec<TicketView>> {
        let mut wanted: HashMap<EventId, HashSet<_>> = HashMap::new();
        for row in &rows {
            wanted.entry(row.event_id).or_default().insert(row.seat_id);
        }
        let mut seats = HashMap::new();
        for (event, ids) in wanted {
            seats.extend(self.catalog.event_seats(event).await?.seats_by_ids(&ids));
        }
        rows.into_iter()
            .map(|row| {
                let seat = seats.get(&row.seat_id).cloned().ok_or_else(|| {
                    ServiceError::Internal(crate::ports::StoreError::internal(format!(
                        "ticket {} is for a seat missing from its event",
                        row.id
                    )))
                })?;
                Ok(TicketView {
                    ticket: Ticket::sold(row.id, seat, row.event_id, row.price, row.payment),
                    user: row.user_id,
                    sold_at: row.sold_at,
                })
            })
            .collect()
    }
}
