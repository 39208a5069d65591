//! Assembles the application: picks the storage adapters from the settings, builds the services,
//! binds the listener and serves gRPC until the shutdown future resolves.
//!
//! [`Application::build`] binds before it returns, so a caller (a test) knows the port and can
//! connect at once; [`Application::run_until_stopped`] serves until shutdown, then lets in-flight
//! calls finish.
//!
//! The listener is ours, not tonic's (`listener.rs`): it applies the connection caps
//! (`limits.rs`) and, when a certificate is configured, the TLS handshake (`tls.rs`). The side
//! listeners (metrics, the seat-map page in `page.rs`) share one small HTTP/1.1 server
//! (`http1.rs`).

mod http1;
mod limits;
mod listener;
mod page;
mod tls;
mod transport;

pub use tls::{TlsError, TlsFiles};
use transport::Transport;

use crate::api::{
    AccountsApi, AdminGate, BookingApi, InventoryApi, LimitLayer, Limiter, MAX_LAYOUT_BYTES,
    MAX_REQUEST_BYTES, ObserveLayer, ProtocolLayer, ShedLayer, cors,
};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::domain::{EventId, EventName, Layout, LayoutLimits, NewEvent, now_millis};
use crate::faults::{self, FaultPoint};
use crate::hub::Hub;
use crate::memory::MemoryHolds;
use crate::ports::{EventStore, HoldStore, StoreError};
use crate::proto::v1::{
    account_service_server::AccountServiceServer, booking_service_server::BookingServiceServer,
    inventory_service_server::InventoryServiceServer,
};
use crate::redis::{FeedError, RedisHolds};
use crate::service::{
    AccountsService, BookingService, Catalog, FeedService, InventoryService, RecordsService,
    SalesReconciler, SeatMaps, SoldSeats,
};
use crate::sql::SqlStore;
use crate::telemetry::{Metrics, MetricsPipeline, TelemetryError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The demo event's fixed id, so `--demo` creates it once.
pub const DEMO_EVENT_ID: &str = "0193f5a0-0000-7000-8000-00000000de00";

/// Streams a connection may make the server reset (protocol errors) before it is closed: h2's
/// guard against reset floods (RUSTSEC-2024-0003), which tonic turns off unless it is set.
const MAX_LOCAL_ERROR_RESETS: usize = 1024;
/// Streams a client may open and reset before the server accepts them (HTTP/2 rapid reset).
const MAX_PENDING_ACCEPT_RESETS: usize = 20;
/// Largest request header block (all metadata of one call).
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
/// How long shutdown waits for in-flight calls and streams before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the seats-held gauge is read from the hold store (when metrics are read at all).
const HELD_SAMPLE_INTERVAL: Duration = Duration::from_secs(15);
const SERVICE_NAMES: [&str; 3] = [
    "seatrush.v1.AccountService",
    "seatrush.v1.InventoryService",
    "seatrush.v1.BookingService",
];

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[source] StoreError),
    #[error("cannot run database migrations: {0}")]
    Migrate(#[source] StoreError),
    #[error("cannot connect to Redis: {0}")]
    Redis(#[source] StoreError),
    #[error("cannot read the Redis CA {0}: {1}")]
    RedisCa(String, #[source] std::io::Error),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, #[source] std::io::Error),
    #[error("cannot start the live feed: {0}")]
    Feed(#[source] FeedError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    #[error("cannot create the demo event: {0}")]
    Demo(#[source] StoreError),
    #[error("cannot set up metrics: {0}")]
    Telemetry(#[source] TelemetryError),
    #[error("cannot build server reflection: {0}")]
    Reflection(#[source] tonic_reflection::server::Error),
    #[error("invalid TLS settings: {0}")]
    TlsSettings(&'static str),
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] TlsError),
    #[error("invalid SEATRUSH_CORS_ORIGINS: {0}")]
    Cors(String),
    #[error("server failed: {0}")]
    Serve(#[source] tonic::transport::Error),
}

pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    sql: SqlStore,
    holds: Arc<dyn HoldStore>,
    accounts: Arc<AccountsService>,
    inventory: Arc<InventoryService>,
    booking: Arc<BookingService>,
    records: Arc<RecordsService>,
    maps: Arc<SeatMaps>,
    feed: Arc<FeedService>,
    reconciler: Option<Arc<SalesReconciler>>,
    limits: LayoutLimits,
    limiter: Arc<Limiter>,
    cors: Option<tower_http::cors::CorsLayer>,
    admin: AdminGate,
    metrics: MetricsPipeline,
    admin_listener: Option<(TcpListener, SocketAddr)>,
    page_listener: Option<(TcpListener, SocketAddr)>,
    transport: Transport,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // Certificates first: a bad file is reported before any backend is touched.
        let transport = Transport::from_settings(&settings)?;
        if settings.database_url.is_none() {
            std::fs::create_dir_all(&settings.data_dir)
                .map_err(|e| StartupError::DataDir(settings.data_dir.display().to_string(), e))?;
        }
        let sql = SqlStore::connect(&settings.database_url(), settings.db_max_connections)
            .await
            .map_err(StartupError::Database)?;
        if !settings.no_migrate {
            sql.migrate().await.map_err(StartupError::Migrate)?;
        }
        let pipeline =
            MetricsPipeline::build(settings.otlp.metrics, settings.admin_listen.is_some())
                .map_err(StartupError::Telemetry)?;
        let metrics = pipeline.metrics();
        let policy = settings.hold_policy();
        let clock: Arc<dyn Clock> = settings
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock));
        let hub = Arc::new(Hub::new());
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let holds: Arc<dyn HoldStore> = match &settings.redis_url {
            Some(url) => {
                let timeout = Duration::from_millis(settings.redis_timeout_ms);
                let root_ca = match &settings.redis_ca {
                    Some(path) => Some(
                        std::fs::read(path)
                            .map_err(|e| StartupError::RedisCa(path.display().to_string(), e))?,
                    ),
                    None => None,
                };
                let redis = RedisHolds::connect(
                    url,
                    root_ca,
                    &settings.redis_prefix,
                    policy.retention,
                    timeout,
                )
                .await
                .map_err(StartupError::Redis)?;
                redis
                    .start_feed(hub.clone(), metrics.clone(), stopping)
                    .await
                    .map_err(StartupError::Feed)?;
                Arc::new(redis)
            }
            None => Arc::new(MemoryHolds::new(
                hub.clone(),
                metrics.clone(),
                clock.clone(),
            )),
        };
        let shared = Arc::new(sql.clone());
        let catalog = Arc::new(Catalog::new(shared.clone()));
        let accounts = Arc::new(
            AccountsService::new(
                shared.clone(),
                holds.clone(),
                clock.clone(),
                Duration::from_secs(settings.session_ttl_seconds),
                Duration::from_millis(settings.session_cache_ms),
            )
            .with_limits(settings.account_limits()),
        );
        let inventory = Arc::new(InventoryService::new(catalog.clone()));
        let sold = Arc::new(SoldSeats::new(holds.clone(), shared.clone()));
        let maps = Arc::new(SeatMaps::new(
            catalog.clone(),
            holds.clone(),
            sold.clone(),
            hub,
            stop.subscribe(),
        ));
        let records = Arc::new(RecordsService::new(
            holds.clone(),
            shared.clone(),
            catalog.clone(),
        ));
        let reconciler = Arc::new(SalesReconciler::new(
            sold,
            catalog.clone(),
            maps.clone(),
            policy.purchase_lease,
            now_millis(),
        ));
        let booking = Arc::new(BookingService::new(
            holds.clone(),
            shared.clone(),
            catalog,
            maps.clone(),
            policy,
            settings.hooks.clone(),
            metrics.clone(),
        ));
        let feed = Arc::new(FeedService::new(maps.clone(), metrics));
        if settings.demo {
            create_demo_event(&sql).await.map_err(StartupError::Demo)?;
        }
        // Before listening: what a crash left half-sold is repaired before anyone reads the map.
        let reconciler = if faults::armed(FaultPoint::ReconcilerOff) {
            None
        } else {
            if let Err(err) = reconciler.pass().await {
                tracing::warn!(error = ?err, "cannot reconcile recent sales at startup; retrying while serving");
            }
            Some(reconciler)
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| StartupError::Bind(settings.listen, e))?;
        let address = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(settings.listen, e))?;
        let admin_listener = match settings.admin_listen {
            Some(wanted) => Some(
                http1::bind(wanted)
                    .await
                    .map_err(|e| StartupError::Bind(wanted, e))?,
            ),
            None => None,
        };
        if let Some((_, admin)) = &admin_listener {
            tracing::info!(address = %admin, "metrics at http://{admin}/metrics");
        }
        let page_listener = page::bind(settings.web_listen, settings.demo)
            .await
            .map_err(|(address, e)| StartupError::Bind(address, e))?;
        // The page calls this listener from its own origin, which CORS must therefore allow.
        let mut origins = settings.cors_origins.clone();
        if let Some((_, page)) = &page_listener {
            origins.extend(page::origins(*page));
            let url = page::url(*page, settings.demo.then_some(DEMO_EVENT_ID));
            tracing::info!(%url, "seat-map page");
        }
        tracing::info!(%address, tls = transport.tls.is_some(), backend = if settings.redis_url.is_some() { "distributed" } else { "embedded" }, "SeatRush listening");
        Ok(Self {
            listener,
            address,
            sql,
            holds,
            accounts,
            inventory,
            booking,
            records,
            maps,
            feed,
            reconciler,
            limits: settings.layout_limits(),
            limiter: Arc::new(Limiter::new(&settings)),
            cors: cors(&origins).map_err(StartupError::Cors)?,
            admin: AdminGate::new(settings.admin_token.as_deref()),
            metrics: pipeline,
            admin_listener,
            page_listener,
            transport,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where `/metrics` is served, when `admin_listen` is set.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_listener.as_ref().map(|(_, address)| *address)
    }

    /// Where the seat-map page is served, when `web_listen` (or `demo`) is set.
    pub fn page_address(&self) -> Option<SocketAddr> {
        self.page_listener.as_ref().map(|(_, address)| *address)
    }

    /// Serves until `shutdown` resolves; in-flight calls finish before this returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        tokio::spawn(watch_backends(
            reporter.clone(),
            self.sql.clone(),
            self.holds.clone(),
            self.stop.subscribe(),
        ));
        if let Some(reconciler) = &self.reconciler {
            tokio::spawn(reconciler.clone().run(self.stop.subscribe()));
        }
        let metrics = self.metrics.metrics();
        if metrics.enabled() {
            tokio::spawn(sample_held_seats(
                self.holds.clone(),
                metrics.clone(),
                self.stop.subscribe(),
            ));
        }
        if let (Some((listener, _)), Some(registry)) =
            (self.admin_listener, self.metrics.registry())
        {
            let answer = move |request: &http::Request<hyper::body::Incoming>| {
                crate::telemetry::admin::answer(request, &registry)
            };
            tokio::spawn(http1::serve(
                listener,
                "admin",
                answer,
                self.stop.subscribe(),
            ));
        }

        if let Some((listener, _)) = self.page_listener {
            let site = page::Site {
                grpc: self.address,
                tls: self.transport.tls.is_some(),
            };
            let answer =
                move |request: &http::Request<hyper::body::Incoming>| page::answer(request, &site);
            tokio::spawn(http1::serve(
                listener,
                "page",
                answer,
                self.stop.subscribe(),
            ));
        }

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(StartupError::Reflection)?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(StartupError::Reflection)?;

        let accounts = AccountServiceServer::new(AccountsApi::new(self.accounts.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
        let inventory = InventoryServiceServer::new(InventoryApi::new(
            self.inventory.clone(),
            self.records.clone(),
            self.admin.clone(),
            self.limits,
        ))
        .max_decoding_message_size(MAX_LAYOUT_BYTES);
        let booking = BookingServiceServer::new(BookingApi::new(
            self.booking.clone(),
            self.records.clone(),
            self.accounts.clone(),
            self.maps.clone(),
            self.feed.clone(),
            self.stop.subscribe(),
        ))
        .max_decoding_message_size(MAX_REQUEST_BYTES);

        let transport = self.transport;
        let acceptor = listener::Acceptor {
            limits: transport.limits,
            tls: transport.tls.map(|(files, config, resolver)| {
                tokio::spawn(tls::watch_files(
                    files,
                    resolver,
                    transport.tls_reload,
                    self.stop.subscribe(),
                ));
                tokio_rustls::TlsAcceptor::from(config)
            }),
            handshake_timeout: transport.handshake_timeout,
            metrics: metrics.clone(),
        };
        let incoming = listener::incoming(self.listener, acceptor);
        let shutdown_reporter = reporter.clone();
        let stop = self.stop.clone();
        let mut stopping = self.stop.subscribe();
        let mut server = Server::builder();
        if let Some(age) = transport.max_age {
            server = server
                .max_connection_age(age)
                .max_connection_age_grace(transport.max_age_grace);
        }
        let serve = server
            // HTTP/1.1 for gRPC-Web from browsers; gRPC itself stays HTTP/2.
            .accept_http1(true)
            .timeout(Duration::from_secs(30))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .max_concurrent_streams(Some(transport.max_streams))
            .concurrency_limit_per_connection(transport.max_streams as usize)
            .http2_max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_ACCEPT_RESETS))
            .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
            .layer(ObserveLayer::new(metrics))
            .layer(ShedLayer::new(transport.max_in_flight))
            .layer(LimitLayer::new(self.limiter.clone()))
            .layer(tower::util::option_layer(self.cors))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(ProtocolLayer::new(self.admin.clone()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(accounts)
            .add_service(inventory)
            .add_service(booking)
            .serve_with_incoming_shutdown(incoming, async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight calls");
                let _ = stop.send(true);
                set_all(&shutdown_reporter, ServingStatus::NotServing).await;
            });
        // tonic waits for every connection to close; a client that never reads could hold
        // shutdown forever, so the wait is bounded.
        let result = tokio::select! {
            result = serve => result,
            _ = async {
                let _ = stopping.wait_for(|stop| *stop).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "connections still open after the grace period; stopping anyway");
                Ok(())
            }
        };
        self.sql.close().await;
        self.metrics.shutdown().await;
        result.map_err(StartupError::Serve)
    }
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// SERVING only while the database (and Redis, when configured) answer.
async fn watch_backends(
    reporter: HealthReporter,
    sql: SqlStore,
    holds: Arc<dyn HoldStore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    set_all(&reporter, ServingStatus::NotServing).await;
    let mut last = None;
    loop {
        let db = tokio::time::timeout(HEALTH_INTERVAL * 2, sql.ping()).await;
        let redis = tokio::time::timeout(HEALTH_INTERVAL * 2, holds.ping()).await;
        let healthy = matches!(db, Ok(Ok(()))) && matches!(redis, Ok(Ok(())));
        if *stop.borrow() {
            return;
        }
        if last != Some(healthy) {
            if healthy {
                tracing::info!("backends reachable: SERVING");
            } else {
                tracing::warn!(database = ?db.map(|r| r.map_err(|e| e.to_string())), redis = ?redis.map(|r| r.map_err(|e| e.to_string())), "a backend is unreachable: NOT_SERVING");
            }
            set_all(
                &reporter,
                if healthy {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                },
            )
            .await;
            last = Some(healthy);
        }
        tokio::select! {
            _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Reads the seats-held gauge from the hold store every few seconds.
async fn sample_held_seats(
    holds: Arc<dyn HoldStore>,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match tokio::time::timeout(HELD_SAMPLE_INTERVAL, holds.held_seats()).await {
            Ok(Ok(seats)) => metrics.set_held_seats(seats),
            Ok(Err(err)) => tracing::debug!(error = %err, "cannot count held seats"),
            Err(_) => tracing::debug!("counting held seats timed out"),
        }
        tokio::select! {
            _ = tokio::time::sleep(HELD_SAMPLE_INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn create_demo_event(sql: &SqlStore) -> Result<(), StoreError> {
    let id =
        EventId::parse("demo", DEMO_EVENT_ID).map_err(|e| StoreError::internal(e.to_string()))?;
    if sql.get_event(id).await?.is_none() {
        let rows: Vec<String> = ('A'..='J').map(String::from).collect();
        let layout = Layout::parse_rows(
            "demo",
            rows.iter().map(|r| (r.as_str(), 20)),
            &LayoutLimits::default(),
        )
        .map_err(|e| StoreError::internal(e.to_string()))?;
        sql.create_event(&NewEvent {
            id,
            name: EventName::from_trusted("SeatRush Demo Night".into()),
            starts_at: now_millis() + 30 * 24 * 3600 * 1000,
            layout,
        })
        .await?;
    }
    tracing::info!(event_id = DEMO_EVENT_ID, "demo event ready");
    Ok(())
}
