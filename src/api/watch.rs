//! The WatchSeats response stream. It is pulled, not pushed: the transport asks for the next
//! message only when the connection can take it, and only then is that message built (the
//! snapshot, whose packed statuses are shared with every other reader, or the batches of changes
//! published since the last message, each encoded by the first of its watchers and copied by the
//! others). A client that reads slowly gets fewer, larger messages.
//! A watcher that stops reading therefore holds one message at most, and while it stalls its
//! place in the board's buffer lapses, so when it reads again it gets a fresh snapshot.
//!
//! The stream ends with UNAVAILABLE when the server stops ("reconnect to another instance") or
//! the feed fails, and is simply dropped when the client goes away.

use super::convert::{change_reason, seat_status, timestamp};
use crate::proto::v1 as pb;
use crate::service::{Batch, EventSeats, FeedItem, Watch};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use pb::watch_seats_response::Payload;
use prost::encoding;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;
use tonic::Status;

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchSeatsResponse, Status>> + Send>>;

struct Feed {
    watch: Watch,
    labels: bool,
    stopping: watch::Receiver<bool>,
    ended: bool,
}

fn going_away() -> Status {
    Status::unavailable("server shutting down; reconnect to another instance")
}

/// The messages of `watch`, built as the client reads them; `labels` adds each changed seat's
/// label.
pub fn stream(watch: Watch, labels: bool, stopping: watch::Receiver<bool>) -> WatchStream {
    let feed = Feed {
        watch,
        labels,
        stopping,
        ended: false,
    };
    Box::pin(futures_util::stream::unfold(feed, |mut feed| async move {
        if feed.ended {
            return None;
        }
        let next = feed.next().await;
        feed.ended = next.is_err();
        Some((next, feed))
    }))
}

impl Feed {
    async fn next(&mut self) -> Result<pb::WatchSeatsResponse, Status> {
        if *self.stopping.borrow() {
            return Err(going_away());
        }
        let item = tokio::select! {
            item = self.watch.next() => item,
            _ = self.stopping.wait_for(|stop| *stop) => return Err(going_away()),
        };
        match item {
            Ok(Some(item)) => Ok(self.message(item)),
            Ok(None) => Err(going_away()),
            Err(err) => Err(err.into()),
        }
    }

    fn message(&self, item: FeedItem) -> pb::WatchSeatsResponse {
        let payload = match item {
            FeedItem::Snapshot(snapshot) => Payload::Snapshot(pb::SeatStatusSnapshot {
                version: snapshot.version,
                layout_digest: self.watch.seats().digest().to_owned(),
                seat_count: snapshot.seat_count,
                areas: super::maps::area_messages(self.watch.seats(), &snapshot.areas),
                statuses: snapshot.statuses,
            }),
            FeedItem::Changes(batches) => Payload::Changes(self.changes(&batches)),
        };
        pb::WatchSeatsResponse {
            payload: Some(payload),
        }
    }
}

impl Feed {
    /// One message for consecutive batches: the version range and the first batch's time, then
    /// each batch's updates, encoded by the first watcher that sends that batch.
    fn changes(&self, batches: &[Arc<Batch>]) -> pb::SeatChangeBatch {
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return pb::SeatChangeBatch::default();
        };
        let mut header = BytesMut::with_capacity(32);
        encoding::uint64::encode(1, &first.from_version, &mut header);
        encoding::uint64::encode(2, &last.to_version, &mut header);
        encoding::message::encode(4, &timestamp(first.first_at), &mut header);
        let mut parts = Vec::with_capacity(batches.len() + 1);
        parts.push(header.freeze());
        for batch in batches {
            let updates = batch.wire[usize::from(self.labels)]
                .get_or_init(|| encoded_updates(self.watch.seats(), batch, self.labels));
            parts.push(updates.clone());
        }
        pb::SeatChangeBatch::from_parts(parts)
    }
}

/// The batch's `updates` and `areas` entries (fields 3 and 5 of `SeatChangeBatch`), encoded.
fn encoded_updates(seats: &EventSeats, batch: &Batch, labels: bool) -> Bytes {
    let mut buf = BytesMut::new();
    for update in &batch.updates {
        let update = pb::SeatUpdate {
            seat_index: update.index,
            status: seat_status(update.reason.status()).into(),
            reason: change_reason(update.reason).into(),
            label: if labels {
                update.label.as_str().to_owned()
            } else {
                String::new()
            },
        };
        encoding::message::encode(3, &update, &mut buf);
    }
    for area in super::maps::area_messages(seats, &batch.areas) {
        encoding::message::encode(5, &area, &mut buf);
    }
    buf.freeze()
}
