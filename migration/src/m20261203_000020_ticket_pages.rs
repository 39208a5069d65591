//! Tickets are listed a page at a time, newest first by id: a user's (ListMyTickets) and an
//! event's (ListEventSales). An index on `(user_id, id)`, and `(event_id, id)` in place of the
//! index on `event_id` alone, lets each page read only its own rows, in order, whatever the page
//! number; the wider event index still serves every lookup by event.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    EventId,
    UserId,
}

fn index(name: &str, columns: [Tickets; 2]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Tickets::Table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(Tickets::Table).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("idx_tickets_user_id", [Tickets::UserId, Tickets::Id]))
            .await?;
        manager
            .create_index(index(
                "idx_tickets_event_id",
                [Tickets::EventId, Tickets::Id],
            ))
            .await?;
        manager.drop_index(drop("idx_tickets_event")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut event = Index::create();
        event
            .name("idx_tickets_event")
            .table(Tickets::Table)
            .col(Tickets::EventId);
        manager.create_index(event.to_owned()).await?;
        manager.drop_index(drop("idx_tickets_event_id")).await?;
        manager.drop_index(drop("idx_tickets_user_id")).await
    }
}
