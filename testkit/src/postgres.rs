//! A PostgreSQL database of the caller's own on the local server.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// The admin connection URL (`SEATRUSH_TEST_DATABASE_URL`, default the local `postgres`).
pub fn admin_url() -> String {
    std::env::var("SEATRUSH_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A connection to `url`; panics, naming it, when PostgreSQL cannot be reached.
pub async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is required and is not reachable at {url}: {e}. Start it (see .ci/run).")
    })
}

/// A fresh database, named `<kind>_<random>`.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDatabase {
    /// On the server of [`admin_url`].
    pub async fn create(kind: &str) -> Self {
        Self::create_on(&admin_url(), kind).await
    }

    /// On the server of `admin_url` (an admin connection URL).
    pub async fn create_on(admin_url: &str, kind: &str) -> Self {
        let name = format!("{kind}_{}", crate::unique());
        connect(admin_url)
            .await
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        let url = format!("{base}/{name}");
        Self {
            name,
            url,
            admin_url: admin_url.to_owned(),
        }
    }

    async fn admin(&self) -> DatabaseConnection {
        connect(&self.admin_url).await
    }

    /// An outage of this database only: new connections are refused and open ones are ended.
    pub async fn cut(&self) {
        let admin = self.admin().await;
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false",
                self.name
            ))
            .await
            .expect("close the database");
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ))
            .await
            .expect("end its connections");
    }

    /// Ends the outage of [`TestDatabase::cut`].
    pub async fn restore(&self) {
        self.admin()
            .await
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true",
                self.name
            ))
            .await
            .expect("open the database");
    }

    /// Drops the database, ending any connection still open.
    pub async fn drop_database(&self) {
        let _ = self
            .admin()
            .await
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await;
    }
}
