//! Rows are unique within a section, not within an event: sections "112" and "113" may both have
//! a row "F". A seat is unique by its row's position in the layout and its number instead (which
//! is also the order the seat map is read in).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Seats {
    Table,
    EventId,
    Row,
    Number,
    RowIndex,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_seats_event_row_number")
                    .table(Seats::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_seats_event_row_index_number")
                    .table(Seats::Table)
                    .col(Seats::EventId)
                    .col(Seats::RowIndex)
                    .col(Seats::Number)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_seats_event_row_index_number")
                    .table(Seats::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_seats_event_row_number")
                    .table(Seats::Table)
                    .col(Seats::EventId)
                    .col(Seats::Row)
                    .col(Seats::Number)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
