//! A ticket records what it was sold for and the external payment that paid for it.
//!
//! `price_minor` and `currency` are the seat's price when the ticket was written (NULL on
//! tickets sold before this migration: readers fall back to the event's layout, whose prices never
//! change). `payment_reference` is the caller's reference on every ticket of the purchase.
//!
//! "One payment reference pays for one reservation" must hold across instances, so the database
//! enforces it: `payment_reference_key` repeats the reference on the purchase's first ticket only
//! (NULL on the others and on purchases without one), under a unique index. NULLs never collide,
//! on PostgreSQL as on SQLite, so the index costs nothing to purchases without a reference, and a
//! second reservation's insert naming the same reference fails as a whole, like a seat sold twice.
//! The index also serves the lookup by reference.
//!
//! SQLite adds one column per `ALTER TABLE`, hence one statement per column.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    PriceMinor,
    Currency,
    PaymentReference,
    PaymentReferenceKey,
}

/// The adapter tells this index's violations from the seat's by this name (PostgreSQL) or
/// its column (SQLite): keep both containing `payment_reference`.
const INDEX: &str = "uq_tickets_payment_reference";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(Tickets::PriceMinor)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::Currency)
                .string_len(3)
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::PaymentReference)
                .string_len(128)
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::PaymentReferenceKey)
                .string_len(128)
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Tickets::Table)
                    .col(Tickets::PaymentReferenceKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Tickets::Table).to_owned())
            .await?;
        for column in [
            Tickets::PaymentReferenceKey,
            Tickets::PaymentReference,
            Tickets::Currency,
            Tickets::PriceMinor,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
