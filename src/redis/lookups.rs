//! A user's own holds, read from Redis: one hold by its key, or all of a user's holds through
//! each event's per-user zset. Both scripts decide "live" with the prelude's `live_hold`, the check
//! every operation on a hold makes, so the in-process store and Redis agree (the contract suite's
//! lookup cases prove it).
//!
//! Why no cross-event index per user: every key a script touches carries its event's hash tag, so
//! that a script runs on one Cluster slot; a per-user key would live in another slot and could
//! not be written atomically with the hold. Listing instead asks each event with live holds (the
//! feed's schedule knows them without a query), one round trip per event.

use super::holds::RedisHolds;
use super::scripts::{HOLDS_OF, LOOKUP};
use super::store_error;
use crate::domain::{EventId, HoldRefusal, HoldToken, LiveHold, ReservationId, SeatLabel, UserId};
use crate::ports::{StoreError, StoreResult};

fn number(raw: Option<&String>, what: &str) -> StoreResult<i64> {
    raw.and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::internal(format!("hold without a {what}")))
}

/// Labels stored by `reserve.lua`, which only ever wrote parsed labels.
fn labels(raw: Option<&String>) -> StoreResult<Vec<SeatLabel>> {
    raw.ok_or_else(|| StoreError::internal("hold without seats"))?
        .split(',')
        .map(|l| SeatLabel::parse("seat", l).map_err(|e| StoreError::internal(e.to_string())))
        .collect()
}

/// `[deadline, created, labels]` as the scripts answer them.
fn live(reservation: ReservationId, fields: &[String]) -> StoreResult<LiveHold> {
    Ok(LiveHold {
        reservation,
        deadline: number(fields.first(), "deadline")?,
        created: number(fields.get(1), "creation time")?,
        seats: labels(fields.get(2))?,
    })
}

impl RedisHolds {
    pub(super) async fn lookup(
        &self,
        reservation: ReservationId,
        user: UserId,
    ) -> StoreResult<Result<LiveHold, HoldRefusal>> {
        let event = reservation.event();
        let reply: Vec<String> = LOOKUP
            .key(self.keys.reservation(reservation))
            .arg(reservation.token().to_hex())
            .arg(user.to_string())
            .arg(self.keys.seat_prefix(event))
            .invoke_async(&mut self.traced("EVALSHA lookup"))
            .await
            .map_err(store_error)?;
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(Ok(live(reservation, &reply[1..])?)),
            Some(code) => Ok(Err(super::holds::refusal(code)?)),
            None => Err(StoreError::internal("empty lookup reply")),
        }
    }

    /// The user's live holds in `event`.
    async fn holds_in(&self, event: EventId, user: UserId) -> StoreResult<Vec<LiveHold>> {
        let reply: Vec<String> = HOLDS_OF
            .key(self.keys.user(event, user))
            .arg(self.keys.seat_prefix(event))
            .arg(self.keys.reservation_prefix(event))
            .arg(user.to_string())
            .invoke_async(&mut self.traced("EVALSHA holds_of"))
            .await
            .map_err(store_error)?;
        reply
            .chunks(4)
            .map(|hold| {
                let token = hold
                    .first()
                    .and_then(|t| HoldToken::from_hex(t))
                    .ok_or_else(|| StoreError::internal("hold without a token"))?;
                live(ReservationId::from_parts(event, token), &hold[1..])
            })
            .collect()
    }

    pub(super) async fn all_holds_of(&self, user: UserId) -> StoreResult<Vec<LiveHold>> {
        let mut holds = Vec::new();
        for event in self.events_with_holds().await? {
            holds.extend(self.holds_in(event, user).await?);
        }
        Ok(holds)
    }
}
