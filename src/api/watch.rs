//! The WatchSeats response stream. It is pulled, not pushed: the transport asks for the next
//! message only when the connection can take it, and only then is that message built (a snapshot
//! part from the shared layout and the packed statuses, or a change). A watcher that stops
//! reading therefore holds one encoded batch at most, and while it stalls its place in the
//! event's change buffer lapses, so when it reads again it gets a fresh snapshot.
//!
//! The stream ends with UNAVAILABLE when the server stops ("reconnect to another instance") or
//! the feed fails, and is simply dropped when the client goes away.

use super::booking::seat_message;
use super::convert::{seat_status, timestamp};
use crate::domain::SeatStatus;
use crate::proto::v1 as pb;
use crate::service::{FeedItem, SeatMap, Watch};
use futures_util::Stream;
use pb::watch_seats_response::Payload;
use std::pin::Pin;
use tokio::sync::watch;
use tonic::Status;

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchSeatsResponse, Status>> + Send>>;

/// Seats per snapshot part (~4.5 KiB encoded). Small parts keep each stream's encode buffer small:
/// tonic keeps a stream's buffer at the size of the largest batch it sent (see `codec.rs`).
const SNAPSHOT_PART: usize = 64;

fn change_reason(reason: crate::domain::ChangeReason) -> pb::ChangeReason {
    use crate::domain::ChangeReason;
    match reason {
        ChangeReason::Reserved => pb::ChangeReason::Reserved,
        ChangeReason::Released => pb::ChangeReason::Released,
        ChangeReason::Expired => pb::ChangeReason::Expired,
        ChangeReason::Sold => pb::ChangeReason::Sold,
    }
}

/// The stream messages of one feed item: a change is one message, a snapshot several parts, each
/// built only when the stream asks for it (a stalled watcher holds one part, not the map).
enum FeedMessages {
    Snapshot {
        map: SeatMap,
        offset: usize,
        done: bool,
    },
    Change(Option<pb::WatchSeatsResponse>),
}

impl FeedMessages {
    fn of(item: FeedItem) -> Self {
        match item {
            FeedItem::Snapshot(map) => Self::Snapshot {
                map,
                offset: 0,
                done: false,
            },
            FeedItem::Change { seat, change } => {
                let status: SeatStatus = change.reason.status();
                Self::Change(Some(pb::WatchSeatsResponse {
                    payload: Some(Payload::Change(pb::SeatChange {
                        seat_id: seat.id.to_string(),
                        label: seat.label.as_str().to_owned(),
                        status: seat_status(status).into(),
                        reason: change_reason(change.reason).into(),
                        at: Some(timestamp(change.at)),
                        version: change.version,
                    })),
                }))
            }
        }
    }
}

impl Iterator for FeedMessages {
    type Item = pb::WatchSeatsResponse;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Change(message) => message.take(),
            Self::Snapshot { done: true, .. } => None,
            Self::Snapshot { map, offset, done } => {
                let seats = &map.layout.seats;
                let end = (*offset + SNAPSHOT_PART).min(seats.len());
                let part = (*offset..end)
                    .map(|i| seat_message(&seats[i], map.statuses.get(i)))
                    .collect();
                let message = pb::WatchSeatsResponse {
                    payload: Some(Payload::Snapshot(pb::SeatSnapshot {
                        seats: part,
                        version: map.version,
                        offset: u32::try_from(*offset).unwrap_or(u32::MAX),
                        total: u32::try_from(seats.len()).unwrap_or(u32::MAX),
                    })),
                };
                *offset = end;
                *done = end == seats.len();
                Some(message)
            }
        }
    }
}

struct Feed {
    watch: Watch,
    pending: FeedMessages,
    stopping: watch::Receiver<bool>,
    ended: bool,
}

fn going_away() -> Status {
    Status::unavailable("server shutting down; reconnect to another instance")
}

/// The messages of `watch`, built as the client reads them.
pub fn stream(watch: Watch, stopping: watch::Receiver<bool>) -> WatchStream {
    let feed = Feed {
        watch,
        pending: FeedMessages::Change(None),
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
        loop {
            if *self.stopping.borrow() {
                return Err(going_away());
            }
            if let Some(message) = self.pending.next() {
                return Ok(message);
            }
            let item = tokio::select! {
                item = self.watch.next() => item,
                _ = self.stopping.wait_for(|stop| *stop) => return Err(going_away()),
            };
            match item {
                Ok(Some(item)) => self.pending = FeedMessages::of(item),
                Ok(None) => return Err(going_away()),
                Err(err) => return Err(err.into()),
            }
        }
    }
}
