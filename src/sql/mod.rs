//! The SeaORM adapter: accounts, events, seats and tickets, on PostgreSQL or SQLite with the
//! same code. Database errors become [`StoreError`]s here; their text never travels further
//! than a log line.

mod accounts;
mod entities;
mod events;
mod ledger;
mod tickets;

use crate::ports::StoreError;
use migration::MigratorTrait;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr};
use std::time::Duration;

/// A database connection pool implementing the durable ports.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl SqlStore {
    /// Connects with a bounded pool. SQLite runs in WAL mode so readers never wait for the writer.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let db = Database::connect(options).await.map_err(store_error)?;
        Ok(Self { db })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::Migrator::up(&self.db, None)
            .await
            .map_err(store_error)
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The OpenTelemetry `db.system.name` of the backend.
    pub fn system(&self) -> &'static str {
        match self.backend() {
            DbBackend::Postgres => "postgresql",
            DbBackend::Sqlite => "sqlite",
            _ => "other_sql",
        }
    }

    pub async fn close(&self) {
        let _ = self.db.close_by_ref().await;
    }
}

/// Classifies a database error: connection trouble is worth a retry, the rest is a bug.
fn store_error(err: DbErr) -> StoreError {
    if is_unavailable(&err) {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Internal(Box::new(err))
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                Sqlx::Io(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Tls(_) => true,
                // PostgreSQL classes 08 (connection exception), 53 (insufficient resources) and
                // 57 (operator intervention: shutdown, admin termination); SQLite busy/locked.
                Sqlx::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57")
                        || code == "5"
                        || code == "6"
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

fn is_unique_violation(err: &DbErr) -> bool {
    unique_violation(err).is_some()
}

/// The database's message for a unique violation: it names the index on PostgreSQL and the
/// columns on SQLite, which is how a caller tells one unique index from another.
fn unique_violation(err: &DbErr) -> Option<String> {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) => Some(message),
        _ => None,
    }
}

/// The `n`th (1-based) bind placeholder of the backend.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}
