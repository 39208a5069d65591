//! Events and their seats.

use super::entities::{events, seats};
use super::{SqlStore, store_error};
use crate::domain::{EventId, EventName, Layout, NewEvent, PageCursor, SeatId, now_millis};
use crate::ports::{EventRecord, EventStore, StoreError, StoreResult};
use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};

/// Seats per INSERT statement: four parameters each, well under SQLite's (32,766) and
/// PostgreSQL's (65,535) bind-parameter limits. A 100,000-seat event is 13 statements.
const SEAT_BATCH: usize = 8_000;
/// SQLite parses a statement of thousands of rows slowly (measured: 8,000-row statements took
/// 25 s for 100,000 seats); smaller ones are fast.
const SQLITE_SEAT_BATCH: usize = 500;

/// The `n`th (1-based) bind parameter, by number, so the event id is bound once.
fn numbered(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// One multi-row INSERT of `(row, number, row index)` seats of `event`, each with a new id.
fn insert_seats(backend: DbBackend, event: EventId, seats: &[(&str, i32, i32)]) -> Statement {
    let mut values: Vec<Value> = Vec::with_capacity(seats.len() * 4 + 1);
    values.push(event.as_uuid().into());
    let mut tuples = Vec::with_capacity(seats.len());
    for (row, number, index) in seats {
        let base = values.len();
        values.extend([
            SeatId::generate().as_uuid().into(),
            (*row).into(),
            (*number).into(),
            (*index).into(),
        ]);
        let p = |i| numbered(backend, base + i);
        tuples.push(format!(
            "({}, {}, {}, {}, {})",
            p(1),
            numbered(backend, 1),
            p(2),
            p(3),
            p(4)
        ));
    }
    let sql = format!(
        "INSERT INTO seats (id, event_id, row, number, row_index) VALUES {}",
        tuples.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
}

fn event_record(model: events::Model) -> StoreResult<EventRecord> {
    let layout = Layout::decode(&model.layout).ok_or_else(|| {
        StoreError::internal(format!("event {} has an unreadable layout", model.id))
    })?;
    Ok(EventRecord {
        id: EventId::from_uuid(model.id),
        name: EventName::from_trusted(model.name),
        starts_at: model.starts_at,
        layout,
    })
}

#[async_trait]
impl EventStore for SqlStore {
    #[tracing::instrument(name = "INSERT events", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "INSERT", db.collection.name = "events"))]
    async fn create_event(&self, event: &NewEvent) -> StoreResult<()> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let row = events::ActiveModel {
            id: Set(event.id.as_uuid()),
            name: Set(event.name.as_str().to_owned()),
            starts_at: Set(event.starts_at),
            seat_count: Set(i32::try_from(event.layout.seat_count()).unwrap_or(i32::MAX)),
            layout: Set(event.layout.encode()),
            created_at: Set(now_millis()),
        };
        events::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        // Seats, then the places of general-admission areas: a place is a row of `seats`, so
        // that a ticket for it is unique as a seat's is.
        let rows: Vec<(&str, u32, i32)> = event
            .layout
            .sections()
            .iter()
            .chain(event.layout.areas())
            .flat_map(|section| section.rows.iter())
            .enumerate()
            .map(|(i, row)| {
                (
                    row.name.as_str(),
                    row.seats,
                    i32::try_from(i).unwrap_or(i32::MAX),
                )
            })
            .collect();
        let seats: Vec<(&str, i32, i32)> = rows
            .iter()
            .flat_map(|&(row, seats, index)| {
                (1..=seats).map(move |n| (row, i32::try_from(n).unwrap_or(i32::MAX), index))
            })
            .collect();
        let batch = match self.backend() {
            DbBackend::Sqlite => SQLITE_SEAT_BATCH,
            _ => SEAT_BATCH,
        };
        for batch in seats.chunks(batch) {
            txn.execute_raw(insert_seats(self.backend(), event.id, batch))
                .await
                .map_err(store_error)?;
        }
        txn.commit().await.map_err(store_error)
    }

    #[tracing::instrument(name = "SELECT events", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "events"))]
    async fn get_event(&self, id: EventId) -> StoreResult<Option<EventRecord>> {
        events::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(event_record)
            .transpose()
    }

    #[tracing::instrument(name = "SELECT events", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "events"))]
    async fn list_events(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<EventRecord>> {
        let mut query = events::Entity::find()
            .order_by_asc(events::Column::StartsAt)
            .order_by_asc(events::Column::Id)
            .limit(u64::from(limit));
        if let Some(cursor) = after {
            query = query.filter(
                Condition::any()
                    .add(events::Column::StartsAt.gt(cursor.starts_at))
                    .add(
                        Condition::all()
                            .add(events::Column::StartsAt.eq(cursor.starts_at))
                            .add(events::Column::Id.gt(cursor.id.as_uuid())),
                    ),
            );
        }
        query
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(event_record)
            .collect()
    }

    #[tracing::instrument(name = "SELECT seats", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "seats"))]
    async fn seat_ids(&self, event: EventId) -> StoreResult<Vec<SeatId>> {
        let ids: Vec<uuid::Uuid> = seats::Entity::find()
            .select_only()
            .column(seats::Column::Id)
            .filter(seats::Column::EventId.eq(event.as_uuid()))
            .order_by_asc(seats::Column::RowIndex)
            .order_by_asc(seats::Column::Number)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(ids.into_iter().map(SeatId::from_uuid).collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
