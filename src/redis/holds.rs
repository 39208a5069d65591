//! [`HoldStore`] on Redis. Each method is one script call (one round trip); the scripts live in
//! `lua/` behind a shared prelude, and their header comments give their keys and arguments.

use super::connection::{RedisConnection, Topology};
use super::schedule::Schedule;
use super::scripts::{
    ABORT_PURCHASE, BEGIN_PURCHASE, EXTEND, FINISH_PURCHASE, HELD, MARK_SOLD, RELEASE,
    RELEASE_USER, RESERVE, SNAPSHOT,
};
use super::traced::Traced;
use super::{KeyLayout, events_with_holds, store_error};
use crate::domain::{
    BestOutcome, EventId, ExtendTerms, Extended, HoldOutcome, HoldRefusal, HoldTerms, Layout,
    LiveHold, PurchaseLease, ReservationId, SeatLabel, SeatStatus, UnixMillis, UserId, millis,
};
use crate::ports::{BestRequest, HoldRequest, HoldStore, SeatSnapshot, StoreError, StoreResult};
use async_trait::async_trait;
use redis::ScriptInvocation;
use std::sync::Arc;
use std::time::Duration;

/// Seats per `mark_sold` call when copying an event's sold list.
const MARK_SOLD_BATCH: usize = 2_000;
/// Holds looked at per `held.lua` call (a few hundred microseconds of Redis time).
const HELD_SLICE: usize = 500;

#[derive(Clone)]
pub struct RedisHolds {
    pub(super) topology: Topology,
    pub(super) conn: RedisConnection,
    /// Kept up to date by the feed, when one runs ([`RedisHolds::start_feed`]).
    pub(super) schedule: Arc<Schedule>,
    pub(super) keys: KeyLayout,
    retention_ms: i64,
}

impl RedisHolds {
    /// Opens the connection this instance uses for holds (one multiplexed socket, or the
    /// cluster's). Keys start with `prefix`; ended holds are remembered for `retention`.
    /// With `root_ca` (PEM), a `rediss://` server must present a certificate signed by it
    /// instead of by a system root.
    pub async fn connect(
        url: &str,
        root_ca: Option<Vec<u8>>,
        prefix: &str,
        retention: Duration,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let (topology, conn) = Topology::connect(url, root_ca, timeout)
            .await
            .map_err(store_error)?;
        Ok(Self {
            topology,
            conn,
            schedule: Arc::default(),
            keys: KeyLayout::new(prefix),
            retention_ms: millis(retention),
        })
    }

    /// The shared connection, with a client span around each command it sends.
    pub(super) fn traced(&self, name: &'static str) -> Traced {
        Traced {
            conn: self.conn.clone(),
            name,
        }
    }

    /// The events with live holds: the feed's schedule when the feed runs, otherwise a SCAN (on
    /// every primary) of their deadline sets, which reads the whole keyspace.
    pub(super) async fn events_with_holds(&self) -> StoreResult<Vec<EventId>> {
        match self.schedule.events() {
            Some(events) => Ok(events),
            None => Ok(events_with_holds(&self.topology, &self.keys)
                .await
                .map_err(store_error)?
                .into_iter()
                .collect()),
        }
    }
}

pub(super) fn refusal(code: &str) -> StoreResult<HoldRefusal> {
    Ok(match code {
        "unknown" => HoldRefusal::Unknown,
        "not_owner" => HoldRefusal::NotOwner,
        "expired" => HoldRefusal::Expired,
        "released" => HoldRefusal::Released,
        "sold" => HoldRefusal::Sold,
        "purchasing" => HoldRefusal::Purchasing,
        other => {
            return Err(StoreError::internal(format!(
                "unexpected hold script reply {other:?}"
            )));
        }
    })
}

pub(super) fn version(raw: Option<&String>) -> StoreResult<u64> {
    raw.and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::internal("hold script returned no version"))
}

pub(super) fn deadline(raw: Option<&String>) -> StoreResult<UnixMillis> {
    raw.and_then(|d| d.parse().ok())
        .ok_or_else(|| StoreError::internal("hold script returned no deadline"))
}

/// Labels stored by `reserve.lua`, which only ever wrote parsed labels.
pub(super) fn labels(raw: Option<&String>) -> StoreResult<Vec<SeatLabel>> {
    raw.ok_or_else(|| StoreError::internal("hold script returned no seats"))?
        .split(',')
        .map(|l| SeatLabel::parse("seat", l).map_err(|e| StoreError::internal(e.to_string())))
        .collect()
}

/// `{'ok', deadline, labels}` or `{refusal}`, as `begin_purchase.lua` and `extend.lua` answer.
fn lease_reply(reply: &[String]) -> StoreResult<Result<(UnixMillis, Vec<SeatLabel>), HoldRefusal>> {
    match reply.first().map(String::as_str) {
        Some("ok") => Ok(Ok((deadline(reply.get(1))?, labels(reply.get(2))?))),
        Some(code) => Ok(Err(refusal(code)?)),
        None => Err(StoreError::internal("empty hold script reply")),
    }
}

impl RedisHolds {
    /// reserve.lua's KEYS[1..8] and ARGV[1..11] (reserve_best.lua begins with the same).
    pub(super) fn hold_keys_and_args(
        &self,
        call: &mut ScriptInvocation<'_>,
        reservation: ReservationId,
        user: UserId,
        terms: &HoldTerms,
    ) {
        let event = reservation.event();
        let client = terms.client;
        let cooldown = terms.cooldown;
        call.key(self.keys.loaded(event))
            .key(self.keys.reservation(reservation))
            .key(self.keys.user(event, user))
            .key(self.keys.version(event))
            .key(self.keys.deadlines(event))
            .key(self.keys.client(event, client.map(|c| c.client)))
            .key(self.keys.user_cooldown(event, user))
            .key(
                self.keys
                    .client_cooldown(event, cooldown.and_then(|c| c.client)),
            );
        call.arg(reservation.token().to_hex())
            .arg(millis(terms.ttl))
            .arg(user.to_string())
            .arg(terms.max_seats_per_user)
            .arg(millis(terms.retention))
            .arg(self.keys.channel())
            .arg(event.to_string())
            .arg(client.map_or(0, |c| c.max_seats))
            .arg(client.map_or(0, |c| millis(c.window)))
            .arg(cooldown.map_or(0, |c| millis(c.length)))
            .arg(
                cooldown
                    .and_then(|c| c.client)
                    .map(|ip| ip.to_string())
                    .unwrap_or_default(),
            );
    }

    /// reserve.lua's reply (also the tail of reserve_best.lua's).
    pub(super) fn hold_outcome(
        &self,
        event: EventId,
        reply: &[String],
    ) -> StoreResult<HoldOutcome> {
        match reply.first().map(String::as_str) {
            Some("ok") => {
                let expires_at = deadline(reply.get(1))?;
                // Known here at once; other instances learn it from the feed.
                self.schedule.note(event, expires_at);
                Ok(HoldOutcome::Held {
                    expires_at,
                    version: version(reply.get(2))?,
                    held_by_user: reply.get(3).and_then(|h| h.parse().ok()).ok_or_else(|| {
                        StoreError::internal("reserve reply without a held count")
                    })?,
                })
            }
            Some("taken") => Ok(HoldOutcome::Unavailable(parsed_labels(&reply[1..]))),
            Some("limit") => Ok(HoldOutcome::UserLimit {
                held: reply.get(1).and_then(|h| h.parse().ok()).unwrap_or(0),
            }),
            Some("client_limit") => Ok(HoldOutcome::ClientLimit {
                held: reply.get(1).and_then(|h| h.parse().ok()).unwrap_or(0),
            }),
            Some("cooling") => Ok(HoldOutcome::CoolingDown(parsed_labels(&reply[1..]))),
            Some("not_loaded") => Ok(HoldOutcome::NotLoaded),
            other => Err(StoreError::internal(format!(
                "unexpected reserve reply {other:?}"
            ))),
        }
    }
}

fn parsed_labels(raw: &[String]) -> Vec<SeatLabel> {
    raw.iter()
        .filter_map(|l| SeatLabel::parse("seat", l).ok())
        .collect()
}

#[async_trait]
impl HoldStore for RedisHolds {
    async fn hold(&self, request: &HoldRequest) -> StoreResult<HoldOutcome> {
        let event = request.reservation.event();
        let mut call = RESERVE.prepare_invoke();
        self.hold_keys_and_args(&mut call, request.reservation, request.user, &request.terms);
        for seat in &request.seats {
            call.key(self.keys.seat(event, seat)).arg(seat.as_str());
        }
        let reply: Vec<String> = call
            .invoke_async(&mut self.traced("EVALSHA reserve"))
            .await
            .map_err(store_error)?;
        self.hold_outcome(event, &reply)
    }

    async fn hold_best(&self, request: &BestRequest) -> StoreResult<BestOutcome> {
        self.best_hold(request).await
    }

    async fn prepare_best(&self, event: EventId, layout: &Layout) -> StoreResult<()> {
        self.best_prepare(event, layout).await
    }

    async fn mark_sold(
        &self,
        event: EventId,
        seats: &[SeatLabel],
        complete: bool,
    ) -> StoreResult<u64> {
        let mut conn = self.traced("EVALSHA mark_sold");
        let mut after = 0;
        let batches: Vec<&[SeatLabel]> = if seats.is_empty() {
            vec![&[]]
        } else {
            seats.chunks(MARK_SOLD_BATCH).collect()
        };
        let last = batches.len() - 1;
        for (i, batch) in batches.into_iter().enumerate() {
            let mut call = MARK_SOLD.prepare_invoke();
            call.key(self.keys.loaded(event))
                .key(self.keys.version(event));
            for seat in batch {
                call.key(self.keys.seat(event, seat));
            }
            call.arg(if complete && i == last { "1" } else { "0" })
                .arg(self.keys.channel())
                .arg(event.to_string());
            for seat in batch {
                call.arg(seat.as_str());
            }
            let reply: String = call.invoke_async(&mut conn).await.map_err(store_error)?;
            after = version(Some(&reply))?;
        }
        Ok(after)
    }

    async fn snapshot(&self, event: EventId, layout: &Layout) -> StoreResult<Option<SeatSnapshot>> {
        let mut labels = String::with_capacity(layout.seat_count() as usize * 8);
        for (i, label) in layout.labels().enumerate() {
            if i > 0 {
                labels.push(',');
            }
            labels.push_str(label.as_str());
        }
        let reply: Vec<String> = SNAPSHOT
            .key(self.keys.loaded(event))
            .key(self.keys.version(event))
            .arg(self.keys.seat_prefix(event))
            .arg(labels)
            .invoke_async(&mut self.traced("EVALSHA snapshot"))
            .await
            .map_err(store_error)?;
        let [loaded, version, codes] = reply.as_slice() else {
            return Err(StoreError::internal("malformed snapshot reply"));
        };
        if loaded != "1" {
            return Ok(None);
        }
        let version = version
            .parse()
            .map_err(|_| StoreError::internal("snapshot without a version"))?;
        if codes.len() != layout.seat_count() as usize {
            return Err(StoreError::internal("snapshot of the wrong length"));
        }
        let statuses = codes
            .bytes()
            .map(|code| match code {
                b'2' => SeatStatus::Sold,
                b'1' => SeatStatus::Held,
                _ => SeatStatus::Available,
            })
            .collect();
        Ok(Some(SeatSnapshot { statuses, version }))
    }

    async fn begin_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        lease: Duration,
    ) -> StoreResult<Result<PurchaseLease, HoldRefusal>> {
        let event = reservation.event();
        let reply: Vec<String> = BEGIN_PURCHASE
            .key(self.keys.reservation(reservation))
            .key(self.keys.user(event, user))
            .key(self.keys.deadlines(event))
            .arg(reservation.token().to_hex())
            .arg(user.to_string())
            .arg(millis(lease))
            .arg(self.keys.seat_prefix(event))
            .arg(self.retention_ms)
            .invoke_async(&mut self.traced("EVALSHA begin_purchase"))
            .await
            .map_err(store_error)?;
        Ok(lease_reply(&reply)?.map(|(deadline, seats)| PurchaseLease { seats, deadline }))
    }

    async fn abort_purchase(&self, reservation: ReservationId) -> StoreResult<()> {
        let _: String = ABORT_PURCHASE
            .key(self.keys.reservation(reservation))
            .invoke_async(&mut self.traced("EVALSHA abort_purchase"))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn finish_purchase(
        &self,
        reservation: ReservationId,
        user: UserId,
        seats: &[SeatLabel],
    ) -> StoreResult<u64> {
        let event = reservation.event();
        let mut call = FINISH_PURCHASE.prepare_invoke();
        call.key(self.keys.reservation(reservation))
            .key(self.keys.user(event, user))
            .key(self.keys.version(event))
            .key(self.keys.deadlines(event))
            .arg(self.keys.seat_prefix(event))
            .arg(self.retention_ms)
            .arg(self.keys.channel())
            .arg(event.to_string())
            .arg(reservation.token().to_hex());
        for seat in seats {
            call.arg(seat.as_str());
        }
        let reply: String = call
            .invoke_async(&mut self.traced("EVALSHA finish_purchase"))
            .await
            .map_err(store_error)?;
        version(Some(&reply))
    }

    async fn release(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<u64, HoldRefusal>> {
        let event = reservation.event();
        let reply: Vec<String> = RELEASE
            .key(self.keys.reservation(reservation))
            .key(self.keys.user(event, user))
            .key(self.keys.version(event))
            .key(self.keys.deadlines(event))
            .arg(reservation.token().to_hex())
            .arg(user.to_string())
            .arg(self.keys.seat_prefix(event))
            .arg(self.retention_ms)
            .arg(self.keys.channel())
            .arg(event.to_string())
            .arg(self.keys.cooldown_prefix(event))
            .invoke_async(&mut self.traced("EVALSHA release"))
            .await
            .map_err(store_error)?;
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(Ok(version(reply.get(1))?)),
            Some(code) => Ok(Err(refusal(code)?)),
            None => Err(StoreError::internal("empty release reply")),
        }
    }

    async fn extend(
        &self,
        reservation: ReservationId,
        user: UserId,
        terms: &ExtendTerms,
    ) -> StoreResult<Result<Extended, HoldRefusal>> {
        let event = reservation.event();
        let reply: Vec<String> = EXTEND
            .key(self.keys.reservation(reservation))
            .key(self.keys.user(event, user))
            .key(self.keys.deadlines(event))
            .arg(reservation.token().to_hex())
            .arg(user.to_string())
            .arg(millis(terms.ttl))
            .arg(millis(terms.max_lifetime))
            .arg(self.keys.seat_prefix(event))
            .arg(self.retention_ms)
            .invoke_async(&mut self.traced("EVALSHA extend"))
            .await
            .map_err(store_error)?;
        Ok(lease_reply(&reply)?.map(|(deadline, seats)| Extended { seats, deadline }))
    }

    async fn release_all_of(&self, user: UserId) -> StoreResult<usize> {
        let mut conn = self.traced("EVALSHA release_user");
        let mut released = 0;
        for event in self.events_with_holds().await? {
            let n: usize = RELEASE_USER
                .key(self.keys.user(event, user))
                .key(self.keys.version(event))
                .key(self.keys.deadlines(event))
                .arg(self.keys.seat_prefix(event))
                .arg(self.keys.reservation_prefix(event))
                .arg(user.to_string())
                .arg(self.retention_ms)
                .arg(self.keys.channel())
                .arg(event.to_string())
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            released += n;
        }
        Ok(released)
    }

    async fn live_hold(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<LiveHold, HoldRefusal>> {
        self.lookup(reservation, user).await
    }

    async fn holds_of(&self, user: UserId) -> StoreResult<Vec<LiveHold>> {
        self.all_holds_of(user).await
    }

    async fn ping(&self) -> StoreResult<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// `held.lua` counts each event's holds in slices, so no call keeps Redis busy for long.
    async fn held_seats(&self) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let mut held = 0;
        for event in self.events_with_holds().await? {
            let mut first = 0;
            loop {
                let (seats, holds): (u64, usize) = HELD
                    .key(self.keys.deadlines(event))
                    .arg(self.keys.seat_prefix(event))
                    .arg(self.keys.reservation_prefix(event))
                    .arg(first)
                    .arg(HELD_SLICE)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                held += seats;
                if holds < HELD_SLICE {
                    break;
                }
                first += HELD_SLICE;
            }
        }
        Ok(held)
    }
}
