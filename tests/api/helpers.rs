//! `spawn_app`: a real SeatRush server on port 0, on the embedded backend (its own SQLite file,
//! in-process holds) or the distributed one (its own PostgreSQL database and Redis key prefix on
//! the local services), with generated clients pointed at it.
//!
//! PostgreSQL and Redis are required: when they cannot be reached the test fails and says so
//! (see `seatrush-testkit` for the variables that point elsewhere).

use sea_orm::{Database, DatabaseConnection};
use seatrush::config::Settings;
use seatrush::proto::v1::{
    account_service_client::AccountServiceClient, booking_service_client::BookingServiceClient,
    inventory_service_client::InventoryServiceClient,
};
use seatrush::startup::Application;
use seatrush_testkit::postgres::TestDatabase;
use std::path::PathBuf;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_health::pb::health_client::HealthClient;

/// Load tests take this, so that two of them never compete for the machine's two cores (they
/// test the server's behaviour under load, not the test runner's).
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Distributed,
}

/// Runs an async test body once per backend, as two separate `#[tokio::test]`s.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Embedded).await;
                }
            )*
        }
        mod distributed {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Distributed).await;
                }
            )*
        }
    };
}

pub fn redis_url() -> String {
    seatrush_testkit::redis::url()
}

/// Where a test's data lives, shared by every instance of that test.
#[derive(Clone)]
pub struct Storage {
    pub backend: Backend,
    pub database_url: String,
    pub redis_prefix: String,
    database: Option<TestDatabase>,
    data_dir: Option<PathBuf>,
}

impl Storage {
    pub async fn new(backend: Backend) -> Self {
        let redis_prefix = seatrush_testkit::redis::fresh_prefix("srtest");
        match backend {
            Backend::Embedded => {
                let dir = std::env::temp_dir()
                    .join(format!("seatrush-test-{}", seatrush_testkit::unique()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                Self {
                    backend,
                    database_url: format!(
                        "sqlite://{}?mode=rwc",
                        dir.join("seatrush.db").display()
                    ),
                    redis_prefix,
                    database: None,
                    data_dir: Some(dir),
                }
            }
            Backend::Distributed => {
                let database = TestDatabase::create("seatrush_test").await;
                seatrush_testkit::redis::connect(&redis_url()).await;
                Self {
                    backend,
                    database_url: database.url.clone(),
                    redis_prefix,
                    database: Some(database),
                    data_dir: None,
                }
            }
        }
    }

    pub fn settings(&self) -> Settings {
        let mut settings = Settings::defaults();
        settings.listen = "127.0.0.1:0".parse().expect("address");
        settings.database_url = Some(self.database_url.clone());
        settings.admin_token = Some(ADMIN_TOKEN.into());
        settings.redis_prefix = self.redis_prefix.clone();
        // The tests make thousands of calls from one address; limits.rs turns the limits on.
        settings.peer_rate = 0;
        settings.user_rate = 0;
        settings.registrations_per_minute = 0;
        settings.max_seats_per_client = 0;
        // Tests release and take back the same seats; cooldown.rs turns the cool-down on.
        settings.release_cooldown_seconds = 0;
        // Tests register hundreds of users at once from one address; accounts_under_attack.rs
        // puts the default hashing queue back.
        settings.max_hashes_waiting = Some(100_000);
        if self.backend == Backend::Distributed {
            settings.redis_url = Some(redis_url());
        }
        settings
    }

    pub async fn connect_db(&self) -> DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }

    fn database(&self) -> &TestDatabase {
        self.database.as_ref().expect("a PostgreSQL test database")
    }

    /// A PostgreSQL outage for this test only: refuses new connections and ends the open ones.
    pub async fn cut_database(&self) {
        self.database().cut().await;
    }

    /// Ends the outage of [`Storage::cut_database`].
    pub async fn restore_database(&self) {
        self.database().restore().await;
    }

    /// Drops the test's database, Redis keys and files.
    pub async fn destroy(&self) {
        if let Some(database) = &self.database {
            database.drop_database().await;
            delete_redis_keys(&self.redis_prefix).await;
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Deletes every key under `prefix` (what a Redis restart without persistence does).
pub async fn delete_redis_keys(prefix: &str) {
    seatrush_testkit::redis::delete_keys(&redis_url(), &format!("{prefix}:")).await;
}

pub struct TestApp {
    pub storage: Storage,
    pub address: String,
    pub accounts: AccountServiceClient<Channel>,
    pub inventory: InventoryServiceClient<Channel>,
    pub booking: BookingServiceClient<Channel>,
    pub health: HealthClient<Channel>,
    /// Where `/metrics` is served, when the test turned the admin listener on.
    pub admin_address: Option<std::net::SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(Storage::new(backend).await, |_| {}).await
}

/// Starts an instance on `storage` (a new one, or the storage of a running instance).
pub async fn spawn_with(storage: Storage, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = storage.settings();
    configure(&mut settings);
    let server = start(settings).await;
    let mut app = attach(storage, format!("http://{}", server.address)).await;
    app.admin_address = server.admin_address;
    app.shutdown = Some(server.shutdown);
    app.server = Some(server.task);
    app
}

/// A server running from `settings`, without clients (for tests that bring their own).
pub struct Running {
    pub address: std::net::SocketAddr,
    pub admin_address: Option<std::net::SocketAddr>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Builds and starts a server; it is listening when this returns.
pub async fn start(settings: Settings) -> Running {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = seatrush::telemetry::init(
            seatrush::telemetry::LogFormat::Text,
            seatrush::telemetry::OtlpSignals::default(),
        );
    }
    let app = Application::build(settings)
        .await
        .expect("application starts");
    let address = app.address();
    let admin_address = app.admin_address();
    let (shutdown, rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    Running {
        address,
        admin_address,
        shutdown,
        task,
    }
}

impl Running {
    /// Stops the server (in-flight calls finish).
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Clients for a server running elsewhere (another process) on `storage`; `stop` is then a
/// no-op and `teardown` only drops the storage.
pub async fn attach(storage: Storage, address: String) -> TestApp {
    let channel = connect(&address).await;
    TestApp {
        storage,
        accounts: AccountServiceClient::new(channel.clone()),
        inventory: InventoryServiceClient::new(channel.clone()),
        booking: BookingServiceClient::new(channel.clone()),
        health: HealthClient::new(channel),
        address,
        admin_address: None,
        shutdown: None,
        server: None,
    }
}

/// A new HTTP/2 connection to the server.
pub async fn connect(address: &str) -> Channel {
    Channel::from_shared(address.to_owned())
        .expect("uri")
        .connect()
        .await
        .expect("connect to the test server")
}

pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

pub fn unique_email() -> String {
    format!("fan-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Err(status) if status.code() == code => status,
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

impl TestApp {
    /// Another instance sharing this one's database and Redis prefix.
    pub async fn second_instance(&self) -> TestApp {
        spawn_with(self.storage.clone(), |s| s.no_migrate = true).await
    }

    /// Stops the server (in-flight calls finish).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Stops the server and drops its storage.
    pub async fn teardown(self) {
        let storage = self.storage.clone();
        self.stop().await;
        storage.destroy().await;
    }
}

pub use seatrush_testkit::redis::OwnRedis;
