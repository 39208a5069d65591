//! The per-account cap counts an account's tickets in one event at every Reserve: an index on
//! (user, event) keeps that one short index range instead of a scan of the event's sales.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    UserId,
    EventId,
}

const NAME: &str = "idx_tickets_user_event";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Tickets::Table)
                    .col(Tickets::UserId)
                    .col(Tickets::EventId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Tickets::Table).to_owned())
            .await
    }
}
