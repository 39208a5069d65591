//! Best available on Redis: `reserve_best.lua` chooses and holds in one script call, over a
//! bitmap of taken seats that `prepare_best.lua` builds once per event and every change keeps.

use super::holds::{RedisHolds, labels};
use super::scripts::{PREPARE_BEST, RESERVE_BEST};
use super::store_error;
use crate::domain::{BestOutcome, Choice, EventId, Layout};
use crate::ports::{BestRequest, StoreError, StoreResult};

impl RedisHolds {
    pub(super) async fn best_hold(&self, request: &BestRequest) -> StoreResult<BestOutcome> {
        let event = request.reservation.event();
        let mut call = RESERVE_BEST.prepare_invoke();
        self.hold_keys_and_args(&mut call, request.reservation, request.user, &request.terms);
        call.key(self.keys.best_rows(event))
            .key(self.keys.best_taken(event))
            .key(self.keys.best_free(event))
            .key(self.keys.best_ranks(event));
        call.arg(request.count)
            .arg(self.keys.seat_prefix(event))
            .arg(match request.choice {
                Choice::Best => "best",
                Choice::Any => "any",
            });
        let n = u32::try_from(request.count).unwrap_or(u32::MAX);
        for row in &request.plan {
            call.arg(row.prefix.as_str())
                .arg(row.first)
                .arg(row.seats)
                .arg(row.base)
                .arg(if row.seats >= n { row.least(n) } else { 0 })
                .arg(if row.ranks.is_some() { "1" } else { "0" });
        }
        let reply: Vec<String> = call
            .invoke_async(&mut self.traced("EVALSHA reserve_best"))
            .await
            .map_err(store_error)?;
        match reply.first().map(String::as_str) {
            Some("chosen") => Ok(BestOutcome::Chosen {
                seats: labels(reply.get(1))?,
                outcome: self.hold_outcome(event, &reply[2..])?,
            }),
            Some("not_enough") => Ok(BestOutcome::NotEnough),
            Some("not_prepared") => Ok(BestOutcome::NotPrepared),
            Some("not_loaded") => Ok(BestOutcome::NotLoaded),
            other => Err(StoreError::internal(format!(
                "unexpected reserve_best reply {other:?}"
            ))),
        }
    }

    pub(super) async fn best_prepare(&self, event: EventId, layout: &Layout) -> StoreResult<()> {
        let mut call = PREPARE_BEST.prepare_invoke();
        call.key(self.keys.loaded(event))
            .key(self.keys.best_rows(event))
            .key(self.keys.best_taken(event))
            .key(self.keys.best_free(event))
            .key(self.keys.best_ranks(event))
            .arg(self.keys.seat_prefix(event));
        let seated = crate::domain::best_plan(layout, &crate::domain::Pool::Event);
        let areas = (0..layout.areas().len()).flat_map(|a| crate::domain::area_plan(layout, a));
        for row in seated.into_iter().chain(areas) {
            let offsets: Vec<u8> = row
                .ranks
                .iter()
                .flat_map(|ranks| ranks.offsets.iter())
                .flat_map(|o| o.to_be_bytes())
                .collect();
            call.arg(row.prefix)
                .arg(row.first)
                .arg(row.seats)
                .arg(offsets);
        }
        let reply: String = call
            .invoke_async(&mut self.traced("EVALSHA prepare_best"))
            .await
            .map_err(store_error)?;
        match reply.as_str() {
            // The service loads the sold seats first; a store that lost them since will say so
            // on the next hold_best.
            "ok" | "not_loaded" => Ok(()),
            other => Err(StoreError::internal(format!(
                "unexpected prepare_best reply {other:?}"
            ))),
        }
    }
}
