//! Best available on Redis: `reserve_best.lua` chooses and holds in one script call, over a
//! bitmap of taken seats that `prepare_best.lua` builds once per event and every change keeps.

use super::holds::{RedisHolds, labels};
use super::scripts::{PREPARE_BEST, RESERVE_BEST};
use super::store_error;
use crate::domain::{BestOutcome, Choice, EventId, Layout};
use crate::ports::{BestRequest, StoreError, StoreResult};

/// Plan rows sent with a first reserve_best call (then eight times as many, until all).
const FIRST_ROWS: usize = 256;

impl RedisHolds {
    /// Sends the plan's first rows, and all of them only when those do not settle the choice:
    /// most calls need the front of a stadium's 10,000-row plan, not the whole of it.
    pub(super) async fn best_hold(&self, request: &BestRequest) -> StoreResult<BestOutcome> {
        // At least the rows of the best base and one past them, so that a block found there can
        // be known to be the best.
        let first_base = request.plan.first().map_or(0, |r| r.base);
        let past_first_base = request
            .plan
            .iter()
            .position(|r| r.base > first_base)
            .map_or(request.plan.len(), |i| i + 1);
        let mut rows = FIRST_ROWS.max(past_first_base).min(request.plan.len());
        loop {
            match self.best_hold_rows(request, rows).await? {
                Some(outcome) => return Ok(outcome),
                None if rows < request.plan.len() => {
                    rows = rows.saturating_mul(8).min(request.plan.len());
                }
                None => {
                    return Err(StoreError::internal(
                        "reserve_best asked for more rows than the plan has",
                    ));
                }
            }
        }
    }

    /// One call of reserve_best.lua with the plan's first `rows` rows; `None`: they were not
    /// enough to choose.
    async fn best_hold_rows(
        &self,
        request: &BestRequest,
        rows: usize,
    ) -> StoreResult<Option<BestOutcome>> {
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
            })
            .arg(if rows >= request.plan.len() { "1" } else { "0" });
        let n = u32::try_from(request.count).unwrap_or(u32::MAX);
        for row in request.plan.iter().take(rows) {
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
        Ok(Some(match reply.first().map(String::as_str) {
            Some("chosen") => BestOutcome::Chosen {
                seats: labels(reply.get(1))?,
                outcome: self.hold_outcome(event, &reply[2..])?,
            },
            Some("more") => return Ok(None),
            Some("not_enough") => BestOutcome::NotEnough,
            Some("not_prepared") => BestOutcome::NotPrepared,
            Some("not_loaded") => BestOutcome::NotLoaded,
            other => {
                return Err(StoreError::internal(format!(
                    "unexpected reserve_best reply {other:?}"
                )));
            }
        }))
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
