//! The durable ports in memory, for unit tests of the services below gRPC: one [`Fakes`] store
//! of users, sessions, events and tickets. The ticket write keeps the fence's promise (nothing is
//! written once the store's clock passes the deadline), the one-ticket-per-seat index and the
//! one-reservation-per-payment-reference index.

use crate::clock::Clock;
use crate::domain::{
    Email, EventId, EventName, Layout, NewEvent, PageCursor, PaymentReference, ReservationId,
    SeatId, SessionId, TokenHash, UnixMillis, UserId,
};
use crate::ports::{
    AccountStore, EventRecord, EventStore, NewSession, NewTicket, SalesCursor, SessionRecord,
    SoldSeat, StoreResult, TicketInsert, TicketRecord, TicketStore, UserRecord, UserStatus,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    users: HashMap<UserId, (Email, UserRecord)>,
    sessions: HashMap<TokenHash, SessionRecord>,
    events: HashMap<EventId, (EventRecord, Vec<SeatId>)>,
    tickets: Vec<(NewTicket, UnixMillis)>,
}

pub struct Fakes {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl Fakes {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::default(),
            clock,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tickets written so far.
    pub fn tickets(&self) -> usize {
        self.state().tickets.len()
    }

    /// Creates an event of these rows, named "Test"; returns its id.
    pub async fn event_of_rows(&self, rows: &[(&str, u32)]) -> EventId {
        let id = EventId::generate();
        let layout = Layout::parse_rows("rows", rows.iter().copied(), &Default::default());
        let event = NewEvent {
            id,
            name: EventName::from_trusted("Test".into()),
            starts_at: 0,
            layout: layout.expect("layout"),
        };
        self.create_event(&event).await.expect("event");
        id
    }
}

#[async_trait]
impl AccountStore for Fakes {
    async fn create_user(
        &self,
        id: UserId,
        email: &Email,
        password_hash: &str,
        _now: UnixMillis,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        if state.users.values().any(|(e, _)| e == email) {
            return Ok(false);
        }
        let record = UserRecord {
            id,
            password_hash: password_hash.to_owned(),
            status: UserStatus::Active,
        };
        state.users.insert(id, (email.clone(), record));
        Ok(true)
    }

    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        let state = self.state();
        Ok(state
            .users
            .values()
            .find(|(e, _)| e == email)
            .map(|(_, u)| u.clone()))
    }

    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        self.state().sessions.insert(
            session.token_hash.clone(),
            SessionRecord {
                id: session.id,
                user_id: session.user_id,
                user_status: UserStatus::Active,
                expires_at: session.expires_at,
                revoked: false,
            },
        );
        Ok(())
    }

    async fn find_session(&self, token_hash: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        let state = self.state();
        Ok(state.sessions.get(token_hash).map(|s| SessionRecord {
            user_status: state
                .users
                .get(&s.user_id)
                .map_or(UserStatus::Deleted, |(_, u)| u.status),
            ..s.clone()
        }))
    }

    async fn revoke_session(&self, id: SessionId, _now: UnixMillis) -> StoreResult<()> {
        for session in self.state().sessions.values_mut() {
            session.revoked |= session.id == id;
        }
        Ok(())
    }

    async fn delete_user(&self, id: UserId, _now: UnixMillis) -> StoreResult<()> {
        let mut state = self.state();
        if let Some((_, user)) = state.users.get_mut(&id) {
            user.status = UserStatus::Deleted;
        }
        for session in state.sessions.values_mut() {
            session.revoked |= session.user_id == id;
        }
        Ok(())
    }
}

#[async_trait]
impl EventStore for Fakes {
    async fn create_event(&self, event: &NewEvent) -> StoreResult<()> {
        let seats = (0..event.layout.seat_count())
            .map(|_| SeatId::generate())
            .collect();
        let record = EventRecord {
            id: event.id,
            name: event.name.clone(),
            starts_at: event.starts_at,
            layout: event.layout.clone(),
        };
        self.state().events.insert(event.id, (record, seats));
        Ok(())
    }

    async fn get_event(&self, id: EventId) -> StoreResult<Option<EventRecord>> {
        Ok(self.state().events.get(&id).map(|(e, _)| e.clone()))
    }

    async fn list_events(
        &self,
        _after: Option<PageCursor>,
        _limit: u32,
    ) -> StoreResult<Vec<EventRecord>> {
        Ok(self
            .state()
            .events
            .values()
            .map(|(e, _)| e.clone())
            .collect())
    }

    async fn seat_ids(&self, event: EventId) -> StoreResult<Vec<SeatId>> {
        Ok(self
            .state()
            .events
            .get(&event)
            .map(|(_, s)| s.clone())
            .unwrap_or_default())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[async_trait]
impl TicketStore for Fakes {
    async fn insert_tickets(
        &self,
        tickets: &[NewTicket],
        fence_deadline: UnixMillis,
    ) -> StoreResult<TicketInsert> {
        let now = self.clock.now();
        let mut state = self.state();
        if now >= fence_deadline {
            return Ok(TicketInsert::FenceExpired);
        }
        // When both indexes refuse, a database may name either; this one names the reference's,
        // the rarer path for the service.
        let spent = |reference: &PaymentReference| {
            state
                .tickets
                .iter()
                .any(|(t, _)| t.payment.as_ref() == Some(reference))
        };
        if tickets
            .first()
            .and_then(|t| t.payment.as_ref())
            .is_some_and(spent)
        {
            return Ok(TicketInsert::ReferenceUsed);
        }
        let sold = |seat: SeatId| state.tickets.iter().any(|(t, _)| t.seat_id == seat);
        if tickets.iter().any(|t| sold(t.seat_id)) {
            return Ok(TicketInsert::SeatTaken);
        }
        state
            .tickets
            .extend(tickets.iter().map(|t| (t.clone(), now)));
        Ok(TicketInsert::Committed)
    }

    async fn tickets_of_reservation(
        &self,
        reservation: ReservationId,
    ) -> StoreResult<Vec<TicketRecord>> {
        Ok(self
            .state()
            .tickets
            .iter()
            .filter(|(t, _)| t.reservation == reservation)
            .map(|(t, _)| TicketRecord {
                id: t.id,
                seat_id: t.seat_id,
                user_id: t.user_id,
                price: t.price.clone(),
                payment: t.payment.clone(),
            })
            .collect())
    }

    async fn paid_by(&self, reference: &PaymentReference) -> StoreResult<Option<ReservationId>> {
        Ok(self
            .state()
            .tickets
            .iter()
            .find(|(t, _)| t.payment.as_ref() == Some(reference))
            .map(|(t, _)| t.reservation))
    }

    async fn tickets_of_user(&self, event: EventId, user: UserId) -> StoreResult<usize> {
        Ok(self
            .state()
            .tickets
            .iter()
            .filter(|(t, _)| t.event_id == event && t.user_id == user)
            .count())
    }

    async fn sold_seats(&self, event: EventId) -> StoreResult<Vec<SeatId>> {
        Ok(self
            .state()
            .tickets
            .iter()
            .filter(|(t, _)| t.event_id == event)
            .map(|(t, _)| t.seat_id)
            .collect())
    }

    async fn sold_since(&self, from: SalesCursor, limit: u64) -> StoreResult<Vec<SoldSeat>> {
        let start = (from.since, from.after.map(|t| t.as_uuid()));
        let mut sold: Vec<SoldSeat> = self
            .state()
            .tickets
            .iter()
            .filter(|(t, at)| match start {
                (since, None) => *at >= since,
                (since, Some(after)) => (*at, t.id.as_uuid()) > (since, after),
            })
            .map(|(t, at)| SoldSeat {
                ticket: t.id,
                event_id: t.event_id,
                seat_id: t.seat_id,
                created_at: *at,
            })
            .collect();
        sold.sort_by_key(|s| (s.created_at, s.ticket.as_uuid()));
        sold.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(sold)
    }
}
