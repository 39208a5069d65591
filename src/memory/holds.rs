//! [`HoldStore`] in process. Every operation takes the one lock once, so each is atomic just as a
//! Redis script is, and publishes its seat changes to the [`Hub`] under that lock, so versions
//! reach watchers in order. A seat counts as held only while its deadline is in the future, so a
//! late timer can never keep a seat taken; one timer per reservation frees lapsed seats (and
//! reports them EXPIRED) at the deadline and forgets the reservation after the retention period.

use crate::domain::{
    ChangeReason, EventId, HoldToken, ReservationId, SeatChange, SeatLabel, SeatStatus,
    SeatStatuses, UnixMillis, UserId, now_millis,
};
use crate::hub::Hub;
use crate::ports::{
    HoldOutcome, HoldRefusal, HoldRequest, HoldStore, PurchaseLease, SeatSnapshot, StoreResult,
};
use crate::telemetry::Metrics;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

#[derive(Clone)]
pub struct MemoryHolds {
    state: Arc<Mutex<State>>,
}

struct State {
    events: HashMap<EventId, EventHolds>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct EventHolds {
    sold_loaded: bool,
    /// Version of the last published change (see `domain::feed`).
    version: u64,
    seats: HashMap<SeatLabel, Slot>,
    reservations: HashMap<HoldToken, Hold>,
    /// Each user's holds that have not ended (released, sold or lapsed), so counting a user's
    /// held seats looks at a handful of holds, not at everything the user did this hour.
    by_user: HashMap<UserId, HashSet<HoldToken>>,
}

#[derive(Clone, Copy)]
enum Slot {
    Held {
        token: HoldToken,
        deadline: UnixMillis,
    },
    Sold,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Held,
    Purchasing,
    Sold,
    Released,
}

struct Hold {
    user: UserId,
    seats: Vec<SeatLabel>,
    phase: Phase,
    deadline: UnixMillis,
    created: UnixMillis,
    retention_ms: i64,
}

impl Hold {
    fn live(&self, now: UnixMillis) -> bool {
        matches!(self.phase, Phase::Held | Phase::Purchasing) && self.deadline > now
    }

    fn forget_at(&self) -> UnixMillis {
        self.deadline.saturating_add(self.retention_ms)
    }
}

impl EventHolds {
    fn seat_taken(&self, label: &SeatLabel, now: UnixMillis) -> bool {
        match self.seats.get(label) {
            Some(Slot::Sold) => true,
            Some(Slot::Held { deadline, .. }) => *deadline > now,
            None => false,
        }
    }

    /// A hold ended: it no longer counts against its user.
    fn ended(&mut self, user: UserId, token: HoldToken) {
        if let Some(tokens) = self.by_user.get_mut(&user) {
            tokens.remove(&token);
            if tokens.is_empty() {
                self.by_user.remove(&user);
            }
        }
    }

    fn seats_held_by(&self, user: UserId, now: UnixMillis) -> usize {
        self.by_user.get(&user).map_or(0, |tokens| {
            tokens
                .iter()
                .filter_map(|t| self.reservations.get(t))
                .filter(|h| h.live(now))
                .map(|h| h.seats.len())
                .sum()
        })
    }

    /// Checks ownership and that every seat still carries this hold, as the Redis scripts do.
    fn live_hold(
        &self,
        token: HoldToken,
        user: UserId,
        now: UnixMillis,
    ) -> Result<&Hold, HoldRefusal> {
        let hold = self.reservations.get(&token).ok_or(HoldRefusal::Unknown)?;
        if user != hold.user {
            return Err(HoldRefusal::NotOwner);
        }
        match hold.phase {
            Phase::Sold => return Err(HoldRefusal::Sold),
            Phase::Released => return Err(HoldRefusal::Released),
            Phase::Held | Phase::Purchasing => {}
        }
        let intact = hold.seats.iter().all(|s| {
            matches!(self.seats.get(s), Some(Slot::Held { token: t, deadline }) if *t == token && *deadline > now)
        });
        if intact {
            Ok(hold)
        } else {
            Err(HoldRefusal::Expired)
        }
    }

    fn set_deadline(&mut self, token: HoldToken, deadline: UnixMillis) {
        if let Some(hold) = self.reservations.get_mut(&token) {
            hold.deadline = deadline;
            for seat in &hold.seats {
                self.seats
                    .insert(seat.clone(), Slot::Held { token, deadline });
            }
        }
    }

    /// Frees the hold's seats that still carry it; returns them.
    fn free_seats(&mut self, token: HoldToken) -> Vec<SeatLabel> {
        let mut freed = Vec::new();
        if let Some(hold) = self.reservations.get(&token) {
            for seat in &hold.seats {
                if matches!(self.seats.get(seat), Some(Slot::Held { token: t, .. }) if *t == token)
                {
                    self.seats.remove(seat);
                    freed.push(seat.clone());
                }
            }
        }
        freed
    }

    /// Marks seats sold; returns those that were not sold before.
    fn sell(&mut self, seats: &[SeatLabel]) -> Vec<SeatLabel> {
        seats
            .iter()
            .filter(|s| {
                !matches!(
                    self.seats.insert((*s).clone(), Slot::Sold),
                    Some(Slot::Sold)
                )
            })
            .cloned()
            .collect()
    }

    /// Publishes one change per seat, each with the next version.
    fn emit(&mut self, hub: &Hub, event: EventId, seats: &[SeatLabel], reason: ChangeReason) {
        let at = now_millis();
        for seat in seats {
            self.version += 1;
            hub.publish(SeatChange {
                event,
                label: seat.clone(),
                reason,
                version: self.version,
                at,
            });
        }
    }
}

impl MemoryHolds {
    pub fn new(hub: Arc<Hub>, metrics: Arc<Metrics>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                events: HashMap::new(),
                hub,
                metrics,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every operation checks before it writes, so a panic under the lock cannot leave a
        // half-applied change: a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One timer per reservation. It holds only a weak reference, so a dropped store ends it.
    fn schedule(&self, reservation: ReservationId) {
        let state = Arc::downgrade(&self.state);
        tokio::spawn(async move {
            while let Some(wake_at) = Self::tick(&state, reservation) {
                let wait = u64::try_from(wake_at.saturating_sub(now_millis())).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(wait + 1)).await;
            }
        });
    }

    /// Applies what is due for the reservation; returns when to look again, or `None` when done.
    fn tick(state: &Weak<Mutex<State>>, reservation: ReservationId) -> Option<UnixMillis> {
        let state = state.upgrade()?;
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            events,
            hub,
            metrics,
        } = &mut *state;
        let event_id = reservation.event();
        let event = events.get_mut(&event_id)?;
        let token = reservation.token();
        let now = now_millis();
        let hold = event.reservations.get(&token)?;
        let (deadline, forget_at, phase, user) =
            (hold.deadline, hold.forget_at(), hold.phase, hold.user);
        if deadline <= now && matches!(phase, Phase::Held | Phase::Purchasing) {
            let freed = event.free_seats(token);
            event.emit(hub, event_id, &freed, ChangeReason::Expired);
            event.ended(user, token);
            let late = u64::try_from(now - deadline).unwrap_or(0);
            metrics.hold_expired(Duration::from_millis(late));
        }
        if forget_at <= now {
            event.reservations.remove(&token);
            event.ended(user, token);
            return None;
        }
        Some(if deadline > now { deadline } else { forget_at })
    }
}

#[async_trait]
impl HoldStore for MemoryHolds {
    async fn hold(&self, request: &HoldRequest) -> StoreResult<HoldOutcome> {
        let now = now_millis();
        let reservation = request.reservation;
        let deadline = now + request.ttl_ms;
        {
            let mut state = self.lock();
            let State { events, hub, .. } = &mut *state;
            let event = events.entry(reservation.event()).or_default();
            if !event.sold_loaded {
                return Ok(HoldOutcome::NotLoaded);
            }
            let taken: Vec<SeatLabel> = request
                .seats
                .iter()
                .filter(|s| event.seat_taken(s, now))
                .cloned()
                .collect();
            if !taken.is_empty() {
                return Ok(HoldOutcome::Unavailable(taken));
            }
            let held = event.seats_held_by(request.user, now);
            if held + request.seats.len() > request.max_seats_per_user {
                return Ok(HoldOutcome::UserLimit { held });
            }
            let token = reservation.token();
            for seat in &request.seats {
                event
                    .seats
                    .insert(seat.clone(), Slot::Held { token, deadline });
            }
            event.reservations.insert(
                token,
                Hold {
                    user: request.user,
                    seats: request.seats.clone(),
                    phase: Phase::Held,
                    deadline,
                    created: now,
                    retention_ms: request.retention_ms,
                },
            );
            event.by_user.entry(request.user).or_default().insert(token);
            event.emit(
                hub,
                reservation.event(),
                &request.seats,
                ChangeReason::Reserved,
            );
        }
        self.schedule(reservation);
        Ok(HoldOutcome::Held {
            expires_at: deadline,
        })
    }

    async fn mark_sold(
        &self,
        event: EventId,
        seats: &[SeatLabel],
        complete: bool,
    ) -> StoreResult<()> {
        let mut state = self.lock();
        let State { events, hub, .. } = &mut *state;
        let holds = events.entry(event).or_default();
        let newly = holds.sell(seats);
        holds.emit(hub, event, &newly, ChangeReason::Sold);
        holds.sold_loaded |= complete;
        Ok(())
    }

    async fn snapshot(
        &self,
        event: EventId,
        seats: &[SeatLabel],
    ) -> StoreResult<Option<SeatSnapshot>> {
        let now = now_millis();
        let state = self.lock();
        let Some(holds) = state.events.get(&event).filter(|e| e.sold_loaded) else {
            return Ok(None);
        };
        let statuses = seats
            .iter()
            .map(|s| match holds.seats.get(s) {
                Some(Slot::Sold) => SeatStatus::Sold,
                Some(Slot::Held { deadline, .. }) if *deadline > now => SeatStatus::Held,
                _ => SeatStatus::Available,
            })
            .collect::<SeatStatuses>();
        Ok(Some(SeatSnapshot {
            statuses,
            version: holds.version,
        }))
    }

    async fn begin_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        lease_ms: i64,
    ) -> StoreResult<Result<PurchaseLease, HoldRefusal>> {
        let now = now_millis();
        let token = reservation.token();
        let mut state = self.lock();
        let Some(event) = state.events.get_mut(&reservation.event()) else {
            return Ok(Err(HoldRefusal::Unknown));
        };
        let (seats, deadline) = match event.live_hold(token, user, now) {
            Ok(hold) => (hold.seats.clone(), hold.deadline.max(now + lease_ms)),
            Err(refusal) => return Ok(Err(refusal)),
        };
        event.set_deadline(token, deadline);
        if let Some(hold) = event.reservations.get_mut(&token) {
            hold.phase = Phase::Purchasing;
        }
        Ok(Ok(PurchaseLease { seats, deadline }))
    }

    async fn abort_purchase(&self, reservation: ReservationId) -> StoreResult<()> {
        let mut state = self.lock();
        if let Some(hold) = state
            .events
            .get_mut(&reservation.event())
            .and_then(|e| e.reservations.get_mut(&reservation.token()))
            .filter(|h| h.phase == Phase::Purchasing)
        {
            hold.phase = Phase::Held;
        }
        Ok(())
    }

    async fn finish_purchase(
        &self,
        reservation: ReservationId,
        _user: UserId,
        seats: &[SeatLabel],
    ) -> StoreResult<()> {
        let now = now_millis();
        let mut state = self.lock();
        let State { events, hub, .. } = &mut *state;
        let event = events.entry(reservation.event()).or_default();
        let newly = event.sell(seats);
        event.emit(hub, reservation.event(), &newly, ChangeReason::Sold);
        if let Some(hold) = event.reservations.get_mut(&reservation.token()) {
            hold.phase = Phase::Sold;
            hold.deadline = hold.deadline.min(now);
            let user = hold.user;
            event.ended(user, reservation.token());
        }
        Ok(())
    }

    async fn release(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<(), HoldRefusal>> {
        let now = now_millis();
        let token = reservation.token();
        let mut state = self.lock();
        let State { events, hub, .. } = &mut *state;
        let Some(event) = events.get_mut(&reservation.event()) else {
            return Ok(Err(HoldRefusal::Unknown));
        };
        match event.live_hold(token, user, now) {
            Ok(hold) if hold.phase == Phase::Purchasing => return Ok(Err(HoldRefusal::Purchasing)),
            Ok(_) | Err(HoldRefusal::Expired) | Err(HoldRefusal::Released) => {}
            Err(refusal) => return Ok(Err(refusal)),
        }
        let freed = event.free_seats(token);
        event.emit(hub, reservation.event(), &freed, ChangeReason::Released);
        if let Some(hold) = event.reservations.get_mut(&token) {
            hold.phase = Phase::Released;
            hold.deadline = hold.deadline.min(now);
        }
        event.ended(user, token);
        Ok(Ok(()))
    }

    async fn extend(
        &self,
        reservation: ReservationId,
        user: UserId,
        ttl_ms: i64,
        max_lifetime_ms: i64,
    ) -> StoreResult<Result<(Vec<SeatLabel>, UnixMillis), HoldRefusal>> {
        let now = now_millis();
        let token = reservation.token();
        let mut state = self.lock();
        let Some(event) = state.events.get_mut(&reservation.event()) else {
            return Ok(Err(HoldRefusal::Unknown));
        };
        let (seats, deadline) = match event.live_hold(token, user, now) {
            Ok(hold) if hold.phase == Phase::Purchasing => return Ok(Err(HoldRefusal::Purchasing)),
            Ok(hold) => {
                let wanted = (now + ttl_ms).min(hold.created + max_lifetime_ms);
                (hold.seats.clone(), hold.deadline.max(wanted))
            }
            Err(refusal) => return Ok(Err(refusal)),
        };
        event.set_deadline(token, deadline);
        Ok(Ok((seats, deadline)))
    }

    async fn release_all_of(&self, user: UserId) -> StoreResult<usize> {
        let now = now_millis();
        let mut state = self.lock();
        let State { events, hub, .. } = &mut *state;
        let mut released = 0;
        for (&event_id, event) in events.iter_mut() {
            let tokens: Vec<HoldToken> = event
                .by_user
                .get(&user)
                .map(|tokens| tokens.iter().copied().collect())
                .unwrap_or_default();
            for token in tokens {
                if !matches!(event.live_hold(token, user, now), Ok(hold) if hold.phase == Phase::Held)
                {
                    continue;
                }
                let freed = event.free_seats(token);
                event.emit(hub, event_id, &freed, ChangeReason::Released);
                if let Some(hold) = event.reservations.get_mut(&token) {
                    hold.phase = Phase::Released;
                    hold.deadline = hold.deadline.min(now);
                }
                event.ended(user, token);
                released += 1;
            }
        }
        Ok(released)
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn held_seats(&self) -> StoreResult<u64> {
        let now = now_millis();
        let state = self.lock();
        let held = state
            .events
            .values()
            .flat_map(|event| event.seats.values())
            .filter(|slot| matches!(slot, Slot::Held { deadline, .. } if *deadline > now))
            .count();
        Ok(held as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SeatLabel;

    fn request(event: EventId, user: UserId, seat: &str) -> HoldRequest {
        HoldRequest {
            reservation: ReservationId::new(event),
            user,
            seats: vec![SeatLabel::parse("seat", seat).expect("label")],
            ttl_ms: 60_000,
            max_seats_per_user: 2,
            retention_ms: 3_600_000,
        }
    }

    #[tokio::test]
    async fn a_users_count_looks_only_at_holds_that_have_not_ended() {
        let holds = MemoryHolds::new(Arc::new(Hub::new()), Arc::new(Metrics::disabled()));
        let (event, user) = (EventId::generate(), UserId::generate());
        holds.mark_sold(event, &[], true).await.expect("loaded");
        for _ in 0..2_000 {
            let request = request(event, user, "A1");
            let held = holds.hold(&request).await.expect("hold");
            assert!(matches!(held, HoldOutcome::Held { .. }), "{held:?}");
            holds
                .release(request.reservation, user)
                .await
                .expect("store")
                .expect("released");
        }
        let kept = holds.hold(&request(event, user, "A2")).await.expect("hold");
        assert!(matches!(kept, HoldOutcome::Held { .. }));
        let state = holds.lock();
        let event = &state.events[&event];
        assert_eq!(
            event.reservations.len(),
            2_001,
            "ended holds are remembered"
        );
        assert_eq!(
            event.by_user[&user].len(),
            1,
            "only the live hold is counted"
        );
    }
}
