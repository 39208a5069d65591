//! [`HoldStore`] in process: the hold lifecycle of `domain::lifecycle` under one lock. Every
//! operation takes the lock once, so each is atomic just as a Redis script is, and publishes its
//! seat changes to the [`Hub`] under that lock, so versions reach watchers in order.
//!
//! One expiry task per store (not one per hold) sleeps until the earliest due deadline of any
//! event, expires what is due (EXPIRED), forgets ended holds past their retention, and sleeps
//! again. A seat counts as held only while its deadline is in the future, so a late task can
//! never keep a seat taken. Time comes from a [`Clock`], so tests drive expiry with tokio's
//! paused clock.

use crate::clock::Clock;
use crate::domain::{
    BestOutcome, Change, EventHolds, EventId, ExtendTerms, Extended, HoldOutcome, HoldRefusal,
    Layout, LiveHold, PurchaseLease, ReservationId, SeatChange, SeatLabel, UnixMillis, UserId,
};
use crate::hub::Hub;
use crate::ports::{BestRequest, HoldRequest, HoldStore, SeatSnapshot, StoreResult};
use crate::telemetry::Metrics;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct MemoryHolds {
    inner: Arc<Inner>,
}

struct Inner {
    events: Mutex<HashMap<EventId, EventHolds>>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    /// Wakes the expiry task when a deadline earlier than the one it sleeps towards appears.
    wake: Arc<Notify>,
    /// What the expiry task sleeps towards (`i64::MAX`: nothing due).
    next_wake: AtomicI64,
}

impl MemoryHolds {
    /// A store and its expiry task (which ends when the store is dropped). Needs a tokio runtime.
    pub fn new(hub: Arc<Hub>, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Self {
        let wake = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            events: Mutex::new(HashMap::new()),
            hub,
            metrics,
            clock,
            wake: wake.clone(),
            next_wake: AtomicI64::new(i64::MAX),
        });
        tokio::spawn(expire_due(Arc::downgrade(&inner), wake));
        Self { inner }
    }

    /// Runs `op` on the event's holds under the lock, then publishes the changes it made.
    fn with_event<T>(
        &self,
        event: EventId,
        op: impl FnOnce(&mut EventHolds, UnixMillis) -> (T, Vec<Change>),
    ) -> T {
        let now = self.inner.clock.now();
        let mut events = self.inner.lock();
        let holds = events.entry(event).or_default();
        let (result, changes) = op(holds, now);
        self.inner.publish(event, now, changes);
        self.inner.due(holds.next_due());
        result
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<EventId, EventHolds>> {
        // Every operation checks before it writes, so a panic under the lock cannot leave a
        // half-applied change: a poisoned lock is still consistent.
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called under the lock, so versions are published in order.
    fn publish(&self, event: EventId, at: UnixMillis, changes: Vec<Change>) {
        for change in changes {
            self.hub.publish(SeatChange {
                event,
                label: change.label,
                reason: change.reason,
                version: change.version,
                at,
            });
        }
    }

    /// Makes sure the expiry task wakes by `at`.
    fn due(&self, at: Option<UnixMillis>) {
        if let Some(at) = at
            && self.next_wake.fetch_min(at, Ordering::AcqRel) > at
        {
            self.wake.notify_one();
        }
    }

    /// Expires and forgets what is due in every event; returns when something is next due.
    fn tick(&self) -> Option<UnixMillis> {
        let now = self.clock.now();
        let mut events = self.lock();
        let mut next = None::<UnixMillis>;
        for (&event, holds) in events.iter_mut() {
            if holds.next_due().is_some_and(|at| at <= now) {
                let (lapsed, changes) = holds.expire(now);
                for hold in lapsed {
                    self.metrics
                        .hold_expired(Duration::from_millis(hold.late_ms));
                }
                self.publish(event, now, changes);
                holds.forget(now);
            }
            next = match (next, holds.next_due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.next_wake
            .store(next.unwrap_or(i64::MAX), Ordering::Release);
        next
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

/// The store's one expiry task. It holds the store only while it works.
async fn expire_due(store: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let (next, clock) = {
            let Some(store) = store.upgrade() else { return };
            (store.tick(), store.clock.clone())
        };
        match next {
            Some(at) => {
                let wait = u64::try_from(at - clock.now()).unwrap_or(0);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[async_trait]
impl HoldStore for MemoryHolds {
    async fn hold(&self, request: &HoldRequest) -> StoreResult<HoldOutcome> {
        let token = request.reservation.token();
        Ok(self.with_event(request.reservation.event(), |holds, now| {
            holds.hold(token, request.user, &request.seats, &request.terms, now)
        }))
    }

    async fn hold_best(&self, request: &BestRequest) -> StoreResult<BestOutcome> {
        let token = request.reservation.token();
        Ok(self.with_event(request.reservation.event(), |holds, now| {
            holds.hold_best(
                token,
                request.user,
                &request.plan,
                request.choice,
                request.count,
                &request.terms,
                now,
            )
        }))
    }

    async fn prepare_best(&self, event: EventId, layout: &Layout) -> StoreResult<()> {
        let layout = Arc::new(layout.clone());
        self.with_event(event, |holds, now| {
            holds.prepare_best(layout, now);
            ((), Vec::new())
        });
        Ok(())
    }

    async fn mark_sold(
        &self,
        event: EventId,
        seats: &[SeatLabel],
        complete: bool,
    ) -> StoreResult<u64> {
        Ok(self.with_event(event, |holds, _| {
            let changes = holds.mark_sold(seats, complete);
            (holds.version(), changes)
        }))
    }

    async fn snapshot(&self, event: EventId, layout: &Layout) -> StoreResult<Option<SeatSnapshot>> {
        let now = self.inner.clock.now();
        let events = self.inner.lock();
        Ok(events.get(&event).and_then(|holds| {
            holds
                .statuses(layout.labels(), now)
                .map(|statuses| SeatSnapshot {
                    statuses,
                    version: holds.version(),
                })
        }))
    }

    async fn begin_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        lease: Duration,
    ) -> StoreResult<Result<PurchaseLease, HoldRefusal>> {
        Ok(self.with_event(reservation.event(), |holds, now| {
            (
                holds.begin_purchase(reservation.token(), user, lease, now),
                Vec::new(),
            )
        }))
    }

    async fn abort_purchase(&self, reservation: ReservationId) -> StoreResult<()> {
        self.with_event(reservation.event(), |holds, _| {
            holds.abort_purchase(reservation.token());
            ((), Vec::new())
        });
        Ok(())
    }

    async fn finish_purchase(
        &self,
        reservation: ReservationId,
        _user: UserId,
        seats: &[SeatLabel],
    ) -> StoreResult<u64> {
        Ok(self.with_event(reservation.event(), |holds, now| {
            let changes = holds.finish_purchase(reservation.token(), seats, now);
            (holds.version(), changes)
        }))
    }

    async fn release(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<u64, HoldRefusal>> {
        Ok(self.with_event(reservation.event(), |holds, now| {
            let (released, changes) = holds.release(reservation.token(), user, now);
            (released.map(|()| holds.version()), changes)
        }))
    }

    async fn extend(
        &self,
        reservation: ReservationId,
        user: UserId,
        terms: &ExtendTerms,
    ) -> StoreResult<Result<Extended, HoldRefusal>> {
        Ok(self.with_event(reservation.event(), |holds, now| {
            (
                holds.extend(reservation.token(), user, terms, now),
                Vec::new(),
            )
        }))
    }

    async fn release_all_of(&self, user: UserId) -> StoreResult<usize> {
        let now = self.inner.clock.now();
        let mut events = self.inner.lock();
        let mut released = 0;
        for (&event, holds) in events.iter_mut() {
            let (n, changes) = holds.release_user(user, now);
            self.inner.publish(event, now, changes);
            released += n;
        }
        Ok(released)
    }

    async fn live_hold(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<LiveHold, HoldRefusal>> {
        let now = self.inner.clock.now();
        let event = reservation.event();
        let events = self.inner.lock();
        Ok(match events.get(&event) {
            Some(holds) => holds.lookup(event, reservation.token(), user, now),
            None => Err(HoldRefusal::Unknown),
        })
    }

    async fn holds_of(&self, user: UserId) -> StoreResult<Vec<LiveHold>> {
        let now = self.inner.clock.now();
        let events = self.inner.lock();
        Ok(events
            .iter()
            .flat_map(|(&event, holds)| holds.holds_of(event, user, now))
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn held_seats(&self) -> StoreResult<u64> {
        let now = self.inner.clock.now();
        let events = self.inner.lock();
        Ok(events.values().map(|h| h.held_seats(now) as u64).sum())
    }
}

#[cfg(test)]
mod tests;
