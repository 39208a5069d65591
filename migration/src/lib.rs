//! SeatRush's schema, as SeaORM migrations that run unchanged on PostgreSQL and SQLite.
//!
//! Times are stored as Unix milliseconds (`BIGINT`) so that the same SQL, including the purchase
//! fence that compares a hold's deadline with the database clock, reads the same on both backends.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_tables;
mod m20261203_000001_seats_by_row_index;
mod m20261203_000010_tickets_by_user_event;
mod m20261203_000020_ticket_pages;
mod m20261203_170000_tickets_by_creation;
mod m20261204_000010_ticket_payment;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_tables::Migration),
            Box::new(m20261203_000001_seats_by_row_index::Migration),
            Box::new(m20261203_000010_tickets_by_user_event::Migration),
            Box::new(m20261203_000020_ticket_pages::Migration),
            Box::new(m20261203_170000_tickets_by_creation::Migration),
            Box::new(m20261204_000010_ticket_payment::Migration),
        ]
    }
}
