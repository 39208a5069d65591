//! Events and their seats.

use super::entities::{events, seats};
use super::{SqlStore, store_error};
use crate::domain::{
    EventId, EventName, Layout, NewEvent, PageCursor, RowName, SeatId, SeatLabel, now_millis,
};
use crate::ports::{EventRecord, EventStore, SeatRecord, StoreError, StoreResult};
use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

/// Rows per INSERT statement: well under SQLite's and PostgreSQL's bind-parameter limits.
const SEAT_BATCH: usize = 1_000;

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
        let mut all = Vec::with_capacity(event.layout.seat_count() as usize);
        for (row_index, spec) in event.layout.rows().iter().enumerate() {
            for number in 1..=spec.seat_count {
                all.push(seats::ActiveModel {
                    id: Set(SeatId::generate().as_uuid()),
                    event_id: Set(event.id.as_uuid()),
                    row: Set(spec.row.as_str().to_owned()),
                    number: Set(number as i32),
                    row_index: Set(row_index as i32),
                });
            }
        }
        for batch in all.chunks(SEAT_BATCH) {
            seats::Entity::insert_many(batch.to_vec())
                .exec_without_returning(&txn)
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
    async fn seats(&self, event: EventId) -> StoreResult<Vec<SeatRecord>> {
        let rows = seats::Entity::find()
            .filter(seats::Column::EventId.eq(event.as_uuid()))
            .order_by_asc(seats::Column::RowIndex)
            .order_by_asc(seats::Column::Number)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|s| {
                let number = u32::try_from(s.number).unwrap_or(0);
                let row = RowName::from_trusted(s.row);
                SeatRecord {
                    id: SeatId::from_uuid(s.id),
                    label: SeatLabel::new(&row, number),
                    row: row.as_str().to_owned(),
                    number,
                }
            })
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
