//! The sales reconciler: makes the hold store agree with the database about which seats are sold,
//! whatever happened to the purchases that sold them.
//!
//! A purchase commits its tickets and then tells the hold store (`booking/purchase.rs`, steps 2
//! and 3). A process that dies between the two leaves the seats "purchasing" in Redis; when that
//! lease runs out the sweeper frees them and the seat map shows sold seats as available. The
//! unique index still refuses a second sale, but the map lies until someone tries.
//!
//! So every instance reads, at startup and then every [`RECONCILE_INTERVAL`], the tickets created
//! since the newest one it has seen (one range read of `idx_tickets_created_at`), and marks their
//! seats sold in the hold store, which is idempotent. A ticket's creation time is its writer's
//! clock when the statement was built, and the fence lets that statement commit at most one
//! purchase lease later; so each read reaches back a lease and a clock-skew allowance before the
//! newest ticket seen, and a ticket that becomes visible late is still read. Tickets already
//! applied are remembered for that window, so the hold store is written once per new ticket.
//!
//! At startup the read reaches back [`STARTUP_LOOKBACK`]: an instance restarting after a crash
//! (or after every instance was down) repairs what the crash left, before it listens.

use super::{Catalog, SeatMaps, ServiceResult, SoldSeats};
use crate::domain::{EventId, SeatId, TicketId, UnixMillis, millis};
use crate::ports::{SalesCursor, SoldSeat};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How often each instance reads the newest tickets.
pub const RECONCILE_INTERVAL: Duration = Duration::from_millis(500);
/// How far back the first read after startup reaches.
pub const STARTUP_LOOKBACK: Duration = Duration::from_secs(3_600);
/// How far the clocks of the instances, Redis and the database may disagree.
const CLOCK_SKEW: Duration = Duration::from_secs(2);
/// Tickets per read.
const PAGE: u64 = 2_000;

pub struct SalesReconciler {
    /// The ticket and hold stores.
    sold: Arc<SoldSeats>,
    catalog: Arc<Catalog>,
    maps: Arc<SeatMaps>,
    /// How far before the newest ticket seen each read starts.
    overlap: UnixMillis,
    /// One pass at a time.
    progress: tokio::sync::Mutex<Progress>,
}

struct Progress {
    /// The newest creation time read so far.
    newest: UnixMillis,
    /// Tickets whose seats the hold store was told about, with their creation time; only those
    /// within `overlap` of `newest` are kept, since no read reaches further back.
    applied: HashMap<TicketId, UnixMillis>,
}

impl SalesReconciler {
    /// A reconciler whose first pass reads the tickets of the last [`STARTUP_LOOKBACK`] before
    /// `now`. `purchase_lease` bounds how late a ticket commits after its creation time.
    pub fn new(
        sold: Arc<SoldSeats>,
        catalog: Arc<Catalog>,
        maps: Arc<SeatMaps>,
        purchase_lease: Duration,
        now: UnixMillis,
    ) -> Self {
        let overlap = millis(purchase_lease + CLOCK_SKEW);
        Self {
            sold,
            catalog,
            maps,
            overlap,
            progress: tokio::sync::Mutex::new(Progress {
                newest: now - millis(STARTUP_LOOKBACK) + overlap,
                applied: HashMap::new(),
            }),
        }
    }

    /// Reads the tickets created since the last pass (and the overlap before it) and marks the
    /// seats of those not applied yet as sold. Returns how many seats it told the hold store
    /// about. On an error nothing is forgotten: the next pass reads the same tickets again.
    pub async fn pass(&self) -> ServiceResult<usize> {
        let mut progress = self.progress.lock().await;
        let since = progress.newest - self.overlap;
        let read = self.read_since(since).await?;
        let mut newest = progress.newest;
        let mut fresh: HashMap<EventId, Vec<&SoldSeat>> = HashMap::new();
        for sold in &read {
            newest = newest.max(sold.created_at);
            if !progress.applied.contains_key(&sold.ticket) {
                fresh.entry(sold.event_id).or_default().push(sold);
            }
        }
        let mut marked = 0;
        for (event, sold) in fresh {
            let seats = self.catalog.event_seats(event).await?;
            let ids: HashSet<SeatId> = sold.iter().map(|s| s.seat_id).collect();
            let labels = seats.labels_of(&ids);
            let version = self.sold.holds.mark_sold(event, &labels, false).await?;
            self.maps.produced(event, version);
            marked += labels.len();
            progress
                .applied
                .extend(sold.iter().map(|s| (s.ticket, s.created_at)));
        }
        progress.newest = newest;
        let horizon = newest - self.overlap;
        progress.applied.retain(|_, created| *created >= horizon);
        if marked > 0 {
            tracing::debug!(seats = marked, "sold seats confirmed to the hold store");
        }
        Ok(marked)
    }

    /// Every ticket created at or after `since`, page by page.
    async fn read_since(&self, since: UnixMillis) -> ServiceResult<Vec<SoldSeat>> {
        let mut read = Vec::new();
        let mut from = SalesCursor { since, after: None };
        loop {
            let page = self.sold.tickets.sold_since(from, PAGE).await?;
            let full = page.len() as u64 == PAGE;
            let last = page.last().map(|s| SalesCursor {
                since: s.created_at,
                after: Some(s.ticket),
            });
            read.extend(page);
            match last {
                Some(next) if full => from = next,
                _ => return Ok(read),
            }
        }
    }

    /// Runs a pass every [`RECONCILE_INTERVAL`] until `stop` turns true. A failed pass is logged
    /// and tried again at the next tick.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            match self.pass().await {
                Ok(_) if failing => {
                    tracing::info!("sales reconciler reads the database again");
                    failing = false;
                }
                Ok(_) => {}
                Err(err) if !failing => {
                    tracing::warn!(error = ?err, "sales reconciler pass failed; retrying every tick");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
