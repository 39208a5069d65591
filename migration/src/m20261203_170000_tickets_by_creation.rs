//! The sales reconciler of every instance reads the tickets written in the last seconds, twice a
//! second (`src/service/reconcile.rs`): an index on the creation time makes that a short range
//! read instead of a scan of every sale.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    CreatedAt,
}

const INDEX: &str = "idx_tickets_created_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Tickets::Table)
                    .col(Tickets::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Tickets::Table).to_owned())
            .await
    }
}
