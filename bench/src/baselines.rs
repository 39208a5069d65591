//! The baselines each figure is compared with, measured in the same run: an empty gRPC call,
//! the hold store alone (the Lua script through the same client, or the in-process store) and
//! the fenced ticket statement alone.

use crate::report::{Sample, closed_loop};
use crate::target::Target;
use sea_orm::{ConnectionTrait, Database};
use seatrush::internals::domain::{EventId, HoldTerms, ReservationId, SeatLabel, TicketId, UserId};
use seatrush::internals::ports::{EventStore, HoldRequest, HoldStore, NewTicket, TicketStore};
use seatrush::internals::{Hub, MemoryHolds, Metrics, RedisHolds, SqlStore};
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The empty-call ceiling: health Check through the same connections at the same concurrency.
pub(crate) async fn empty_calls(target: &Target, calls: usize, concurrency: usize) -> Sample {
    let channels = target.channels.clone();
    closed_loop("empty call", calls, concurrency, move |i| {
        let mut health = HealthClient::new(channels[i % channels.len()].clone());
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    })
    .await
}

/// The hold store alone (the Lua script through the same client, or the in-process map).
pub(crate) async fn raw_holds(
    target: &Target,
    calls: usize,
    concurrency: usize,
) -> Result<Sample, Box<dyn std::error::Error>> {
    let holds: Arc<dyn HoldStore> = match &target.redis_url {
        Some(url) => Arc::new(
            RedisHolds::connect(
                url,
                None,
                &format!("{}-raw", target.redis_prefix),
                Duration::from_secs(60),
                Duration::from_secs(10),
            )
            .await?,
        ),
        None => Arc::new(MemoryHolds::new(
            Arc::new(Hub::new()),
            Arc::new(Metrics::disabled()),
            Arc::new(seatrush::clock::SystemClock),
        )),
    };
    let event = EventId::generate();
    holds.mark_sold(event, &[], true).await?;
    let user = UserId::generate();
    Ok(closed_loop("raw hold", calls, concurrency, move |i| {
        let holds = holds.clone();
        async move {
            let seat = SeatLabel::parse(
                "seat",
                &format!(
                    "{}{}",
                    ["A", "B", "C", "D", "E", "F", "G", "H"][i / 500 % 8],
                    1 + i % 500
                ),
            )
            .map_err(|_| Code::Internal)?;
            let request = HoldRequest {
                reservation: ReservationId::new(event),
                user,
                seats: vec![seat],
                terms: HoldTerms {
                    ttl: Duration::from_secs(60),
                    max_seats_per_user: usize::MAX,
                    retention: Duration::from_secs(60),
                    client: None,
                    cooldown: None,
                },
            };
            holds
                .hold(&request)
                .await
                .map(|_| ())
                .map_err(|_| Code::Unavailable)
        }
    })
    .await)
}

/// The same fenced ticket statement alone, one ticket per call, on seats of a second event,
/// through a pool of the server's size.
pub(crate) async fn raw_tickets(
    target: &Target,
    flows: usize,
    concurrency: usize,
) -> Result<Sample, Box<dyn std::error::Error>> {
    let (raw_event, _) = target.event(40, 500).await?;
    let store = SqlStore::connect(&target.database_url, 16).await?;
    let raw_event = EventId::parse("event", &raw_event)?;
    let seats = Arc::new(store.seat_ids(raw_event).await?);
    let user = {
        let db = Database::connect(&target.database_url).await?;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM users LIMIT 1",
            ))
            .await?
            .ok_or("no user")?;
        UserId::from_uuid(row.try_get_by_index(0)?)
    };
    let store = Arc::new(store);
    Ok(
        closed_loop("raw ticket statement", flows, concurrency, move |i| {
            let (store, seats) = (store.clone(), seats.clone());
            async move {
                let ticket = NewTicket {
                    id: TicketId::generate(),
                    seat_id: seats[i],
                    event_id: raw_event,
                    user_id: user,
                    reservation: ReservationId::new(raw_event),
                    price: None,
                    payment: None,
                };
                store
                    .insert_tickets(&[ticket], i64::MAX)
                    .await
                    .map(|_| ())
                    .map_err(|_| Code::Unavailable)
            }
        })
        .await,
    )
}
