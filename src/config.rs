//! Settings, from flags or the environment (every flag has a variable; `--help` lists both).
//! Secrets and connection strings are redacted in `Debug`, so logging the settings is safe.

use crate::clock::Clock;
use crate::domain::{HoldPolicy, LayoutLimits};
use crate::service::{AccountLimits, Hooks, ThrottlePolicy};
use crate::startup::TlsFiles;
use crate::telemetry::{LogFormat, OtlpSignals};
use clap::Parser;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_REDIS_PREFIX: &str = "seatrush";

#[derive(Clone, Parser)]
#[command(
    name = "seatrush",
    version,
    about = "SeatRush: a gRPC booking engine for high-demand events"
)]
pub struct Settings {
    /// Address the gRPC server listens on (port 0 picks a free port).
    #[arg(long, env = "SEATRUSH_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// postgres://… or sqlite://…; unset: an SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded SQLite database lives when DATABASE_URL is unset.
    #[arg(long, env = "SEATRUSH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// redis://…; unset: holds live in process (one instance only).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// PEM CA certificate a `rediss://` Redis must present a certificate from (a private PKI);
    /// unset: the system's trusted roots.
    #[arg(long, env = "SEATRUSH_REDIS_CA")]
    pub redis_ca: Option<PathBuf>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    #[arg(long, env = "SEATRUSH_REDIS_PREFIX", default_value = DEFAULT_REDIS_PREFIX, value_parser = parse_prefix)]
    pub redis_prefix: String,
    /// How long a Redis command may take before the call fails as UNAVAILABLE, in milliseconds.
    #[arg(long, env = "SEATRUSH_REDIS_TIMEOUT_MS", default_value_t = 5_000)]
    pub redis_timeout_ms: u64,
    /// Bearer token for inventory writes (CreateEvent); unset: inventory writes are refused.
    #[arg(long, env = "SEATRUSH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Do not run database migrations at start-up.
    #[arg(long, env = "SEATRUSH_NO_MIGRATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_migrate: bool,
    /// Create a demo event (rows A–J, 20 seats each) at start-up if it does not exist.
    #[arg(long, env = "SEATRUSH_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
    /// Default hold length in seconds.
    #[arg(long, env = "SEATRUSH_HOLD_SECONDS", default_value_t = 90)]
    pub hold_seconds: u64,
    /// Shortest hold a client may ask for, in seconds.
    #[arg(long, env = "SEATRUSH_MIN_HOLD_SECONDS", default_value_t = 1)]
    pub min_hold_seconds: u64,
    /// Longest hold a client may ask for, in seconds.
    #[arg(long, env = "SEATRUSH_MAX_HOLD_SECONDS", default_value_t = 600)]
    pub max_hold_seconds: u64,
    /// No hold is extended past this many seconds after it was made.
    #[arg(
        long,
        env = "SEATRUSH_MAX_HOLD_LIFETIME_SECONDS",
        default_value_t = 1800
    )]
    pub max_hold_lifetime_seconds: u64,
    /// Most seats in one event.
    #[arg(long, env = "SEATRUSH_MAX_SEATS_PER_EVENT", default_value_t = 100_000)]
    pub max_seats_per_event: u32,
    /// Most sections in one event.
    #[arg(long, env = "SEATRUSH_MAX_SECTIONS", default_value_t = 500)]
    pub max_sections: usize,
    /// Most rows in one section (or in an event without sections).
    #[arg(long, env = "SEATRUSH_MAX_ROWS_PER_SECTION", default_value_t = 200)]
    pub max_rows_per_section: usize,
    /// Most seats in one row (9,999 at the most: labels spell up to four digits).
    #[arg(long, env = "SEATRUSH_MAX_SEATS_PER_ROW", default_value_t = 1_000)]
    pub max_seats_per_row: u32,
    /// Seats per reservation.
    #[arg(long, env = "SEATRUSH_MAX_SEATS_PER_HOLD", default_value_t = 10)]
    pub max_seats_per_hold: usize,
    /// Seats one user may hold at once in one event.
    #[arg(long, env = "SEATRUSH_MAX_SEATS_PER_USER", default_value_t = 10)]
    pub max_seats_per_user: usize,
    /// Seats one client (IP address, or the client a trusted proxy names) may take in one event
    /// within the client window, whichever accounts it uses; 0: no limit.
    #[arg(long, env = "SEATRUSH_MAX_SEATS_PER_CLIENT", default_value_t = 40)]
    pub max_seats_per_client: usize,
    /// How long a seat a client took counts against it, held, released or bought (default: the
    /// longest a hold can live, so every live hold counts).
    #[arg(long, env = "SEATRUSH_CLIENT_WINDOW_SECONDS", default_value_t = 1_800)]
    pub client_window_seconds: u64,
    /// Seats one account may hold and buy in one event, counted together (a purchase does not
    /// give the room back); 0: no limit.
    #[arg(long, env = "SEATRUSH_MAX_SEATS_PER_ACCOUNT", default_value_t = 0)]
    pub max_seats_per_account: usize,
    /// Seconds during which the account and the client of a released or lapsed hold may not hold
    /// its seats again (they go back to everyone else first); 0: no cool-down.
    #[arg(long, env = "SEATRUSH_RELEASE_COOLDOWN_SECONDS", default_value_t = 60)]
    pub release_cooldown_seconds: u64,
    /// Time a started purchase has to commit, in milliseconds.
    #[arg(long, env = "SEATRUSH_PURCHASE_LEASE_MS", default_value_t = 10_000)]
    pub purchase_lease_ms: u64,
    /// Largest tolerated clock difference between Redis and the database, in milliseconds.
    #[arg(long, env = "SEATRUSH_FENCE_MARGIN_MS", default_value_t = 1_000)]
    pub fence_margin_ms: u64,
    /// How long an ended reservation is remembered, in seconds.
    #[arg(
        long,
        env = "SEATRUSH_RESERVATION_RETENTION_SECONDS",
        default_value_t = 3_600
    )]
    pub reservation_retention_seconds: u64,
    /// Session lifetime in seconds.
    #[arg(long, env = "SEATRUSH_SESSION_TTL_SECONDS", default_value_t = 86_400)]
    pub session_ttl_seconds: u64,
    /// How long an instance trusts a cached session lookup, in milliseconds (revocations take
    /// effect on every instance within this time).
    #[arg(long, env = "SEATRUSH_SESSION_CACHE_MS", default_value_t = 900)]
    pub session_cache_ms: u64,
    /// Password hashes that may wait for a core (one runs per core); more are refused at once
    /// with RESOURCE_EXHAUSTED and retry-after. Unset: 32 per core.
    #[arg(long, env = "SEATRUSH_MAX_HASHES_WAITING")]
    pub max_hashes_waiting: Option<usize>,
    /// Consecutive failed logins for one email before each further attempt must wait.
    #[arg(long, env = "SEATRUSH_LOGIN_FREE_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_free_failures: u32,
    /// Longest wait between login attempts for one email (the wait doubles from 1 s), in seconds.
    #[arg(
        long,
        env = "SEATRUSH_LOGIN_MAX_BACKOFF_SECONDS",
        default_value_t = 300
    )]
    pub login_max_backoff_seconds: u64,
    /// Most emails whose failed logins an instance remembers (the oldest is forgotten first).
    #[arg(
        long,
        env = "SEATRUSH_LOGIN_THROTTLE_MAX_EMAILS",
        default_value_t = 100_000
    )]
    pub login_throttle_max_emails: usize,
    /// Database connection pool size.
    #[arg(long, env = "SEATRUSH_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Calls a second one client may make (its IP address, or the client a trusted proxy names);
    /// 0: no limit. Per instance.
    #[arg(long, env = "SEATRUSH_PEER_RATE", default_value_t = 200)]
    pub peer_rate: u32,
    /// Calls one client may make at once before its rate applies.
    #[arg(long, env = "SEATRUSH_PEER_BURST", default_value_t = 400)]
    pub peer_burst: u32,
    /// Writing calls (Reserve, Purchase, Release, ExtendHold, Logout, DeleteAccount) a second one
    /// signed-in user may make; 0: no limit. Per instance.
    #[arg(long, env = "SEATRUSH_USER_RATE", default_value_t = 10)]
    pub user_rate: u32,
    /// Writing calls one user may make at once before the rate applies.
    #[arg(long, env = "SEATRUSH_USER_BURST", default_value_t = 20)]
    pub user_burst: u32,
    /// Registrations a minute from one client; 0: no limit. Per instance.
    #[arg(long, env = "SEATRUSH_REGISTRATIONS_PER_MINUTE", default_value_t = 5)]
    pub registrations_per_minute: u32,
    /// Proxies whose `x-forwarded-for` names the client: IP addresses or CIDR blocks,
    /// comma-separated (e.g. `10.0.0.0/8,192.0.2.1`). Unset: the connection's address is the client.
    #[arg(long, env = "SEATRUSH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<Cidr>,
    /// Origins whose pages may call SeatRush from a browser (gRPC-Web), comma-separated, e.g.
    /// `https://tickets.example`; `*` allows every origin. Unset: none.
    #[arg(long, env = "SEATRUSH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Address of the seat-map page (static files; the page calls the gRPC listener through
    /// gRPC-Web, its origin is allowed automatically); unset: off, except with `--demo`
    /// (127.0.0.1:8080, or a free port when that is taken).
    #[arg(long, env = "SEATRUSH_WEB_LISTEN")]
    pub web_listen: Option<SocketAddr>,
    /// Log format.
    #[arg(long, env = "SEATRUSH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Address of the admin listener, which serves Prometheus metrics at /metrics; unset: off.
    #[arg(long, env = "SEATRUSH_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// PEM certificate chain of the gRPC listener; with SEATRUSH_TLS_KEY the listener speaks
    /// TLS only (reloaded when the file changes). Unset with the key: plaintext.
    #[arg(long, env = "SEATRUSH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of SEATRUSH_TLS_CERT.
    #[arg(long, env = "SEATRUSH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): every client must present a certificate signed by one (mTLS).
    #[arg(long, env = "SEATRUSH_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// How often the certificate and key files are checked for a change, in milliseconds.
    #[arg(long, env = "SEATRUSH_TLS_RELOAD_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..))]
    pub tls_reload_ms: u64,
    /// Time a client has to finish the TLS handshake, in milliseconds.
    #[arg(
        long,
        env = "SEATRUSH_TLS_HANDSHAKE_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub tls_handshake_timeout_ms: u64,
    /// Open gRPC connections, all peers together; more are closed right after accept.
    #[arg(long, env = "SEATRUSH_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Open gRPC connections from one IP address; more are closed right after accept.
    #[arg(long, env = "SEATRUSH_MAX_CONNECTIONS_PER_IP", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_ip: u64,
    /// Concurrent calls (HTTP/2 streams) per connection; a client queues the rest.
    #[arg(long, env = "SEATRUSH_MAX_STREAMS_PER_CONNECTION", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_connection: u32,
    /// A connection is asked to close (GOAWAY) after this many seconds, so clients reconnect
    /// and spread over instances; unset: connections live as long as the client wants.
    #[arg(long, env = "SEATRUSH_MAX_CONNECTION_AGE_SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connection_age_seconds: Option<u64>,
    /// Time the calls of an aged connection have to finish before it is closed, in seconds.
    #[arg(
        long,
        env = "SEATRUSH_MAX_CONNECTION_AGE_GRACE_SECONDS",
        default_value_t = 30
    )]
    pub max_connection_age_grace_seconds: u64,
    /// Calls the server works on at once (all connections); beyond it calls are answered
    /// UNAVAILABLE at once (load shedding).
    #[arg(long, env = "SEATRUSH_MAX_IN_FLIGHT_CALLS", default_value_t = 4_096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight_calls: u64,
    /// Which OTLP exports the standard OTEL_* variables ask for (read by `main`, not a flag).
    #[arg(skip)]
    pub otlp: OtlpSignals,
    /// Fault injection for tests; never set from the command line.
    #[arg(skip)]
    pub hooks: Hooks,
    /// The clock of the embedded hold store and of sessions (tests pass one that follows tokio's
    /// paused clock); unset: the system clock.
    #[arg(skip)]
    pub clock: Option<Arc<dyn Clock>>,
}

fn parse_prefix(raw: &str) -> Result<String, String> {
    if !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
    {
        Ok(raw.to_owned())
    } else {
        Err("1 to 64 characters of [A-Za-z0-9_-:.]".into())
    }
}

impl Settings {
    /// The defaults with no database, Redis or admin token configured (for tests and embedding).
    /// Other settings still honour their environment variables.
    pub fn defaults() -> Self {
        // Parsing an empty command line cannot fail: every option has a default or is optional.
        let mut settings = Self::parse_from(["seatrush"]);
        settings.database_url = None;
        settings.redis_url = None;
        settings.admin_token = None;
        settings.listen = DEFAULT_LISTEN
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50051)));
        settings
    }

    pub fn hold_policy(&self) -> HoldPolicy {
        HoldPolicy {
            default_ttl: Duration::from_secs(self.hold_seconds),
            min_ttl: Duration::from_secs(self.min_hold_seconds),
            max_ttl: Duration::from_secs(self.max_hold_seconds),
            max_lifetime: Duration::from_secs(self.max_hold_lifetime_seconds),
            max_seats_per_hold: self.max_seats_per_hold,
            max_seats_per_user: self.max_seats_per_user,
            max_seats_per_client: self.max_seats_per_client,
            client_window: Duration::from_secs(self.client_window_seconds),
            max_seats_per_account: self.max_seats_per_account,
            release_cooldown: Duration::from_secs(self.release_cooldown_seconds),
            purchase_lease: Duration::from_millis(self.purchase_lease_ms),
            fence_margin: Duration::from_millis(self.fence_margin_ms),
            retention: Duration::from_secs(self.reservation_retention_seconds),
        }
    }

    pub fn layout_limits(&self) -> LayoutLimits {
        LayoutLimits {
            max_seats: self.max_seats_per_event,
            max_sections: self.max_sections,
            max_rows_per_section: self.max_rows_per_section,
            max_seats_per_row: self.max_seats_per_row,
        }
    }

    /// The listener's TLS files, when a certificate is configured; an error names the setting
    /// that is missing.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, &'static str> {
        match (&self.tls_cert, &self.tls_key, &self.tls_client_ca) {
            (Some(cert), Some(key), client_ca) => Ok(Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: client_ca.clone(),
            })),
            (None, None, None) => Ok(None),
            (None, None, Some(_)) => {
                Err("SEATRUSH_TLS_CLIENT_CA needs SEATRUSH_TLS_CERT and SEATRUSH_TLS_KEY")
            }
            _ => Err("SEATRUSH_TLS_CERT and SEATRUSH_TLS_KEY are set together or not at all"),
        }
    }

    pub fn account_limits(&self) -> AccountLimits {
        let defaults = AccountLimits::default();
        AccountLimits {
            max_hashes_waiting: self
                .max_hashes_waiting
                .unwrap_or(defaults.max_hashes_waiting),
            throttle: ThrottlePolicy {
                free_failures: self.login_free_failures,
                max_backoff: Duration::from_secs(self.login_max_backoff_seconds),
                max_tracked: self.login_throttle_max_emails,
            },
        }
    }

    /// The database to use: DATABASE_URL, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("seatrush.db").display()
            )
        })
    }
}

/// An IP address block (`10.0.0.0/8`) or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{raw}` is not an IP address or a CIDR block like 10.0.0.0/8");
        let (address, prefix) = raw.trim().split_once('/').unwrap_or((raw.trim(), ""));
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?
        };
        Ok(Self { network, prefix })
    }
}

fn redact(url: &Option<String>) -> &'static str {
    if url.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &redact(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("redis_url", &redact(&self.redis_url))
            .field("redis_ca", &self.redis_ca)
            .field("redis_prefix", &self.redis_prefix)
            .field("admin_token", &redact(&self.admin_token))
            .field("hold_policy", &self.hold_policy())
            .field("layout_limits", &self.layout_limits())
            .field("session_ttl_seconds", &self.session_ttl_seconds)
            .field("session_cache_ms", &self.session_cache_ms)
            .field("account_limits", &self.account_limits())
            .field("db_max_connections", &self.db_max_connections)
            .field("admin_listen", &self.admin_listen)
            .field("tls_files", &self.tls_files())
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field(
                "max_streams_per_connection",
                &self.max_streams_per_connection,
            )
            .field(
                "max_connection_age_seconds",
                &self.max_connection_age_seconds,
            )
            .field("max_in_flight_calls", &self.max_in_flight_calls)
            .field("peer_rate", &(self.peer_rate, self.peer_burst))
            .field("user_rate", &(self.user_rate, self.user_burst))
            .field("registrations_per_minute", &self.registrations_per_minute)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cors_origins", &self.cors_origins)
            .field("web_listen", &self.web_listen)
            .field("otlp", &self.otlp)
            .finish_non_exhaustive()
    }
}
