//! `seatrush-bench`: drives a real SeatRush server over gRPC and prints each figure beside a
//! baseline measured in the same run (an empty gRPC call, the hold script alone, the ticket
//! statement alone), as a ratio, so figures from noisy machines compare.
//!
//! It starts its own server (the `seatrush` binary next to it) on the embedded backend, or on
//! PostgreSQL + Redis with `--backend distributed`, or targets a running one with `--target`.
//!
//! ```text
//! cargo build --release
//! target/release/seatrush-bench --backend embedded all
//! target/release/seatrush-bench --backend distributed all --json
//! ```

use clap::{Parser, Subcommand, ValueEnum};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use sea_orm::{ConnectionTrait, Database};
use seatrush::domain::{EventId, ReservationId, SeatLabel, TicketId, UserId};
use seatrush::hub::Hub;
use seatrush::memory::MemoryHolds;
use seatrush::ports::{EventStore, HoldRequest, HoldStore, NewTicket, TicketStore};
use seatrush::proto::v1::{
    self as pb, account_service_client::AccountServiceClient,
    booking_service_client::BookingServiceClient, inventory_service_client::InventoryServiceClient,
    watch_seats_response::Payload,
};
use seatrush::redis::RedisHolds;
use seatrush::sql::SqlStore;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const ADMIN: &str = "bench-admin-token";
const PASSWORD: &str = "bench password";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Embedded,
    Distributed,
}

#[derive(Parser)]
#[command(
    name = "seatrush-bench",
    about = "SeatRush load generator and benchmarks"
)]
struct Args {
    #[command(subcommand)]
    scenario: Scenario,
    /// Which backend the started server uses.
    #[arg(long, value_enum, default_value_t = Backend::Embedded, global = true)]
    backend: Backend,
    /// Admin PostgreSQL URL (a fresh database is created under it) for the distributed backend.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        global = true
    )]
    database_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379", global = true)]
    redis_url: String,
    /// Drive a running server at this URL (e.g. http://127.0.0.1:50051) instead of starting one.
    /// It must accept `--admin-token` for CreateEvent and allow many seats per user.
    #[arg(long, global = true)]
    target: Option<String>,
    /// With --target: the server's database, for the raw-statement baseline (skipped without it).
    #[arg(long, global = true)]
    target_database_url: Option<String>,
    /// With --target: the server's process id, to report its memory.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// With --target: the admin token of the server.
    #[arg(long, default_value = ADMIN, global = true)]
    admin_token: String,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 8, global = true)]
    connections: usize,
    /// Calls in flight at once (reserve, purchase and the baselines).
    #[arg(long, default_value_t = 256, global = true)]
    concurrency: usize,
    /// Calls per throughput measurement.
    #[arg(long, default_value_t = 20_000, global = true)]
    calls: usize,
    /// Print one JSON object per figure instead of the table.
    #[arg(long, global = true)]
    json: bool,
}

fn parse_env_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| "expected KEY=VALUE".to_owned())
}

#[derive(Subcommand, Clone, PartialEq, Eq)]
enum Scenario {
    /// N clients reserve the same seat at once.
    HotSeat {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
    },
    /// Distinct seats at the configured concurrency, against an empty call and the raw hold script.
    Reserve,
    /// Reserve + purchase flows, against the raw ticket statement.
    Purchase,
    /// Watchers on one event while holds change.
    Watch {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        /// Seat changes per second.
        #[arg(long, default_value_t = 200)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Holds expiring among other keys with TTLs: how late EXPIRED reaches a watcher.
    Expiry {
        #[arg(long, default_value_t = 100_000)]
        holds: usize,
        /// Unrelated keys with (long) TTLs put into the same Redis first.
        #[arg(long, default_value_t = 200_000)]
        other_keys: usize,
    },
    /// One client reading seat maps of 4, 200 and 20,000 seats one call after another, as a page
    /// that refreshes: the latency a single user sees, against an empty call made the same way.
    SeatMap {
        #[arg(long, default_value_t = 200)]
        calls: usize,
    },
    /// A realistic on-sale: seat-map reads, reserves of Zipf-popular seats, purchases, releases and
    /// abandoned holds that expire.
    Mixed {
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
    /// Reserve throughput with tracing and metrics off and on (OTLP to a sink in this process,
    /// the Prometheus registry on), two servers side by side, alternating rounds.
    Telemetry {
        #[arg(long, default_value_t = 4)]
        rounds: usize,
        /// Extra KEY=VALUE for the telemetry-on server (e.g. OTEL_TRACES_SAMPLER=always_on).
        #[arg(long = "on-env", value_parser = parse_env_pair)]
        on_env: Vec<(String, String)>,
    },
    /// Every scenario with its defaults.
    All,
}

/// One line of the report.
struct Figure {
    scenario: &'static str,
    name: String,
    value: f64,
    unit: &'static str,
    baseline: Option<(String, f64)>,
}

impl Figure {
    fn print(&self, json: bool) {
        let ratio = self
            .baseline
            .as_ref()
            .map(|(_, b)| if *b > 0.0 { self.value / b } else { 0.0 });
        if json {
            let baseline = self
                .baseline
                .as_ref()
                .map(|(n, b)| {
                    format!(
                        ",\"baseline\":\"{n}\",\"baseline_value\":{b:.3},\"ratio\":{:.3}",
                        ratio.unwrap_or(0.0)
                    )
                })
                .unwrap_or_default();
            println!(
                "{{\"scenario\":\"{}\",\"figure\":\"{}\",\"value\":{:.3},\"unit\":\"{}\"{baseline}}}",
                self.scenario, self.name, self.value, self.unit
            );
        } else {
            let baseline = self
                .baseline
                .as_ref()
                .map(|(n, b)| format!("{b:>12.1}  {n:<24} {:>6.1} %", ratio.unwrap_or(0.0) * 100.0))
                .unwrap_or_default();
            println!(
                "| {:<9} | {:<28} | {:>12.1} {:<6} | {baseline}",
                self.scenario, self.name, self.value, self.unit
            );
        }
    }
}

/// Latencies and outcomes of a batch of calls.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    codes: std::collections::BTreeMap<String, usize>,
    elapsed: Duration,
}

impl Sample {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
}

/// Runs `calls` calls of `call(i)` with `concurrency` in flight, printing progress.
async fn closed_loop<F, Fut>(label: &str, calls: usize, concurrency: usize, call: F) -> Sample
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Code>> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = tokio::spawn({
        let done = done.clone();
        let label = label.to_owned();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                eprint!(
                    "\r  {label}: {}/{calls} calls        ",
                    done.load(Ordering::Relaxed)
                );
            }
        }
    });
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (call, next, done) = (call.clone(), next.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= calls {
                    return sample;
                }
                let t = Instant::now();
                let outcome = call(i).await;
                sample.latencies.push(t.elapsed());
                let code = match outcome {
                    Ok(()) => "OK".to_owned(),
                    Err(code) => format!("{code:?}"),
                };
                *sample.codes.entry(code).or_default() += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut all = Sample::default();
    for worker in workers {
        if let Ok(sample) = worker.await {
            all.latencies.extend(sample.latencies);
            for (code, n) in sample.codes {
                *all.codes.entry(code).or_default() += n;
            }
        }
    }
    all.elapsed = started.elapsed();
    progress.abort();
    eprintln!(
        "\r  {label}: {calls} calls in {:.2} s; outcomes {:?}",
        all.elapsed.as_secs_f64(),
        all.codes
    );
    all
}

/// The server under test and what the scenarios need to reach it and its storage.
struct Target {
    address: String,
    channels: Vec<Channel>,
    child: Option<Child>,
    pid: Option<u32>,
    admin_token: String,
    database_url: String,
    redis_url: Option<String>,
    redis_prefix: String,
    admin_url: String,
    db_name: Option<String>,
    data_dir: Option<std::path::PathBuf>,
}

impl Target {
    async fn start(args: &Args) -> Result<Target, Box<dyn std::error::Error>> {
        Self::start_with(args, &[]).await
    }

    /// Starts a server with extra environment variables.
    async fn start_with(
        args: &Args,
        env: &[(&str, String)],
    ) -> Result<Target, Box<dyn std::error::Error>> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let redis_prefix = format!("bench-{unique}");
        let (database_url, redis_url, db_name, data_dir) = match args.backend {
            _ if args.target.is_some() => (
                String::new(),
                (args.backend == Backend::Distributed).then(|| args.redis_url.clone()),
                None,
                None,
            ),
            Backend::Embedded => {
                let dir = std::env::temp_dir().join(format!("seatrush-bench-{unique}"));
                std::fs::create_dir_all(&dir)?;
                (
                    format!("sqlite://{}?mode=rwc", dir.join("seatrush.db").display()),
                    None,
                    None,
                    Some(dir),
                )
            }
            Backend::Distributed => {
                let name = format!("seatrush_bench_{unique}");
                Database::connect(&args.database_url)
                    .await?
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                let base = args
                    .database_url
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .unwrap_or_default();
                (
                    format!("{base}/{name}"),
                    Some(args.redis_url.clone()),
                    Some(name),
                    None,
                )
            }
        };
        let server = std::env::current_exe()?.with_file_name("seatrush");
        let mut command = Command::new(&server);
        command
            .env_clear()
            .env("SEATRUSH_LISTEN", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &database_url)
            .env("SEATRUSH_ADMIN_TOKEN", ADMIN)
            .env("SEATRUSH_REDIS_PREFIX", &redis_prefix)
            .env("SEATRUSH_MAX_SEATS_PER_USER", "1000000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = &redis_url {
            command.env("REDIS_URL", url);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let (child, address, database_url, pid) = match &args.target {
            Some(target) => (
                None,
                target.clone(),
                args.target_database_url.clone().unwrap_or_default(),
                args.server_pid,
            ),
            None => {
                let child = command.spawn().map_err(|e| {
                    format!(
                        "cannot start {}: {e} (build it: cargo build --release)",
                        server.display()
                    )
                })?;
                let pid = Some(child.id());
                (
                    Some(child),
                    format!("http://127.0.0.1:{port}"),
                    database_url,
                    pid,
                )
            }
        };
        let mut channels = Vec::new();
        for _ in 0..200 {
            if let Ok(channel) = Channel::from_shared(address.clone())?.connect().await {
                channels.push(channel);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let first = channels
            .first()
            .cloned()
            .ok_or("the server did not start")?;
        let mut health = HealthClient::new(first);
        for _ in 0..200 {
            let status = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|r| r.into_inner().status);
            if matches!(status, Ok(1)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for _ in 1..args.connections {
            channels.push(Channel::from_shared(address.clone())?.connect().await?);
        }
        Ok(Target {
            address,
            pid,
            admin_token: args.admin_token.clone(),
            channels,
            child,
            database_url,
            redis_url,
            redis_prefix,
            admin_url: args.database_url.clone(),
            db_name,
            data_dir,
        })
    }

    fn channel(&self, i: usize) -> Channel {
        self.channels[i % self.channels.len()].clone()
    }

    /// Resident memory of the server process, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid.unwrap_or(0)))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// CPU time the server process has used (user + system), in seconds; 0 when unknown.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid.unwrap_or(0)))
            .unwrap_or_default();
        // Fields after the command name (which may contain spaces) start at field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks: f64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum())
            .unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        if per_second > 0.0 {
            ticks / per_second
        } else {
            0.0
        }
    }

    async fn users(&self, count: usize) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut tasks = Vec::new();
        for i in 0..count {
            let mut accounts = AccountServiceClient::new(self.channel(i));
            tasks.push(tokio::spawn(async move {
                let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
                accounts
                    .register(pb::RegisterRequest {
                        email: email.clone(),
                        password: PASSWORD.into(),
                    })
                    .await?;
                let login = accounts
                    .login(pb::LoginRequest {
                        email,
                        password: PASSWORD.into(),
                    })
                    .await?;
                Ok::<_, tonic::Status>(login.into_inner().session_token)
            }));
        }
        let mut tokens = Vec::new();
        for task in tasks {
            tokens.push(task.await??);
        }
        Ok(tokens)
    }

    /// An event of `rows` rows (A, B, … AA, AB, …) of `per_row` seats; returns its id and labels.
    async fn event(
        &self,
        rows: usize,
        per_row: u32,
    ) -> Result<(String, Vec<String>), Box<dyn std::error::Error>> {
        let names: Vec<String> = (0..rows)
            .map(|i| {
                if i < 26 {
                    char::from(b'A' + i as u8).to_string()
                } else {
                    format!(
                        "{}{}",
                        char::from(b'A' + (i / 26 - 1) as u8),
                        char::from(b'A' + (i % 26) as u8)
                    )
                }
            })
            .collect();
        let mut request = Request::new(pb::CreateEventRequest {
            name: "Bench night".into(),
            starts_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            rows: names
                .iter()
                .map(|r| pb::RowSpec {
                    row: r.clone(),
                    seat_count: per_row,
                })
                .collect(),
        });
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.admin_token).parse()?,
        );
        let event = InventoryServiceClient::new(self.channel(0))
            .create_event(request)
            .await?
            .into_inner()
            .event
            .ok_or("no event")?;
        let labels = names
            .iter()
            .flat_map(|r| (1..=per_row).map(move |n| format!("{r}{n}")))
            .collect();
        Ok((event.event_id, labels))
    }

    async fn stop(mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(name) = &self.db_name
            && let Ok(admin) = Database::connect(&self.admin_url).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
        if let Some(url) = &self.redis_url
            && let Ok(client) = redis::Client::open(url.as_str())
            && let Ok(mut conn) = client.get_multiplexed_async_connection().await
        {
            // SCAN, not KEYS: KEYS on a big keyspace outlasts the client's timeout and then
            // deletes nothing. The pattern covers the raw-baseline prefix (`…-raw:`) too.
            use redis::AsyncCommands;
            use tokio_stream::StreamExt;
            let options = redis::ScanOptions::default()
                .with_pattern(format!("{}*", self.redis_prefix))
                .with_count(10_000);
            let keys: Vec<String> = match conn.scan_options::<String>(options).await {
                Ok(found) => found.filter_map(Result::ok).collect().await,
                Err(_) => Vec::new(),
            };
            for chunk in keys.chunks(1_000) {
                let _: redis::RedisResult<i64> =
                    redis::cmd("UNLINK").arg(chunk).query_async(&mut conn).await;
            }
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// The empty-call ceiling: health Check through the same connections at the same concurrency.
async fn empty_calls(target: &Target, calls: usize, concurrency: usize) -> Sample {
    let channels = target.channels.clone();
    closed_loop("empty call", calls, concurrency, move |i| {
        let mut health = HealthClient::new(channels[i % channels.len()].clone());
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    })
    .await
}

/// The hold store alone (the Lua script through the same client, or the in-process map).
async fn raw_holds(
    target: &Target,
    calls: usize,
    concurrency: usize,
) -> Result<Sample, Box<dyn std::error::Error>> {
    let holds: Arc<dyn HoldStore> = match &target.redis_url {
        Some(url) => Arc::new(
            RedisHolds::connect(
                url,
                &format!("{}-raw", target.redis_prefix),
                Duration::from_secs(60),
                Duration::from_secs(10),
            )
            .await?,
        ),
        None => Arc::new(MemoryHolds::new(
            Arc::new(Hub::new()),
            Arc::new(seatrush::telemetry::Metrics::disabled()),
            Arc::new(seatrush::clock::SystemClock),
        )),
    };
    let event = EventId::generate();
    holds.mark_sold(event, &[], true).await?;
    let user = UserId::generate();
    Ok(closed_loop("raw hold", calls, concurrency, move |i| {
        let holds = holds.clone();
        async move {
            let seat = SeatLabel::parse(
                "seat",
                &format!(
                    "{}{}",
                    ["A", "B", "C", "D", "E", "F", "G", "H"][i / 500 % 8],
                    1 + i % 500
                ),
            )
            .map_err(|_| Code::Internal)?;
            let request = HoldRequest {
                reservation: ReservationId::new(event),
                user,
                seats: vec![seat],
                terms: seatrush::domain::HoldTerms {
                    ttl: Duration::from_secs(60),
                    max_seats_per_user: usize::MAX,
                    retention: Duration::from_secs(60),
                },
            };
            holds
                .hold(&request)
                .await
                .map(|_| ())
                .map_err(|_| Code::Unavailable)
        }
    })
    .await)
}

async fn hot_seat(
    target: &Target,
    clients: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(100).await?);
    let (event, _) = target.event(1, 10).await?;
    let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut calls = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut booking = BookingServiceClient::new(target.channel(i));
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec!["A1".into()],
                hold_seconds: 0,
            },
            &tokens[i % tokens.len()],
        );
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = Instant::now();
            let outcome = booking.reserve(request).await;
            (t.elapsed(), outcome.map(|_| ()).map_err(|s| s.code()))
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut sample = Sample::default();
    let mut winners = 0;
    for call in calls {
        let (latency, outcome) = call.await?;
        sample.latencies.push(latency);
        match outcome {
            Ok(()) => winners += 1,
            Err(code) => *sample.codes.entry(format!("{code:?}")).or_default() += 1,
        }
    }
    let all_answered = started.elapsed();
    eprintln!(
        "  hot seat: {clients} calls, {winners} winner(s), others {:?}",
        sample.codes
    );
    let push = |figures: &mut Vec<Figure>, name: &str, value: f64, unit| {
        figures.push(Figure {
            scenario: "hot-seat",
            name: name.into(),
            value,
            unit,
            baseline: None,
        })
    };
    push(figures, "winners", f64::from(winners), "");
    push(
        figures,
        "all answered after",
        all_answered.as_secs_f64() * 1e3,
        "ms",
    );
    push(figures, "latency p50", sample.percentile(0.50), "ms");
    push(figures, "latency p99", sample.percentile(0.99), "ms");
    push(figures, "latency max", sample.percentile(1.0), "ms");
    Ok(())
}

async fn reserve(
    target: &Target,
    args: &Args,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(64).await?);
    let calls = args.calls.min(20_000);
    let (event, labels) = target.event(40, 500).await?;
    let labels = Arc::new(labels);
    let mut empty = empty_calls(target, calls, args.concurrency).await;
    let raw = raw_holds(target, calls, args.concurrency).await?;
    let mut sample = reserve_seats(
        "reserve",
        target,
        tokens,
        event,
        labels,
        calls,
        args.concurrency,
    )
    .await;
    let rate = sample.per_second();
    figures.push(Figure {
        scenario: "reserve",
        name: "reserves/s".into(),
        value: rate,
        unit: "1/s",
        baseline: Some(("empty gRPC call/s".into(), empty.per_second())),
    });
    figures.push(Figure {
        scenario: "reserve",
        name: "reserves/s vs raw holds".into(),
        value: rate,
        unit: "1/s",
        baseline: Some(("raw hold store/s".into(), raw.per_second())),
    });
    figures.push(Figure {
        scenario: "reserve",
        name: "latency p50".into(),
        value: sample.percentile(0.5),
        unit: "ms",
        baseline: Some(("empty call p50".into(), empty.percentile(0.5))),
    });
    figures.push(Figure {
        scenario: "reserve",
        name: "latency p99".into(),
        value: sample.percentile(0.99),
        unit: "ms",
        baseline: Some(("empty call p99".into(), empty.percentile(0.99))),
    });
    Ok(())
}

/// `calls` Reserves of one distinct seat each (`labels[i]`), `concurrency` in flight.
async fn reserve_seats(
    label: &str,
    target: &Target,
    tokens: Arc<Vec<String>>,
    event: String,
    labels: Arc<Vec<String>>,
    calls: usize,
    concurrency: usize,
) -> Sample {
    let channels = target.channels.clone();
    closed_loop(label, calls, concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![labels[i].clone()],
                hold_seconds: 0,
            },
            &tokens[i % tokens.len()],
        );
        async move {
            booking
                .reserve(request)
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    })
    .await
}

/// An OTLP receiver that counts what it is sent and keeps nothing (the collector's part).
#[derive(Clone, Default)]
struct OtlpSink {
    spans: Arc<AtomicU64>,
    metric_exports: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for OtlpSink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpSink {
    async fn export(
        &self,
        _request: Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metric_exports.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

impl OtlpSink {
    async fn start(&self) -> Result<String, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(self.clone()))
            .add_service(MetricsServiceServer::new(self.clone()));
        tokio::spawn(
            server.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Ok(format!("http://{address}"))
    }
}

/// What tracing and metrics cost: the same Reserve load against a server with telemetry off and
/// one with OTLP traces (default sampling: every call), OTLP metrics and the Prometheus registry
/// on, alternating so that drift in the machine's speed hits both.
async fn telemetry(
    args: &Args,
    rounds: usize,
    on_env: &[(String, String)],
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let sink = OtlpSink::default();
    let endpoint = sink.start().await?;
    let off = Target::start(args).await?;
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", "5000".into()),
        ("SEATRUSH_ADMIN_LISTEN", "127.0.0.1:0".into()),
    ];
    env.extend(on_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let on = Target::start_with(args, &env).await?;
    let calls = args.calls.min(20_000);
    // Index 0: telemetry off, 1: on.
    let targets = [&off, &on];
    let mut totals = [Sample::default(), Sample::default()];
    let mut cpu = [0.0; 2];
    let mut prepared = Vec::new();
    for target in targets {
        prepared.push(Arc::new(target.users(64).await?));
    }
    let mut round_ratios = Vec::new();
    for round in 0..rounds.max(1) {
        // Alternate which goes first, so a trend in the machine's speed favours neither.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut rates = [0.0; 2];
        let cpu_before = targets.map(Target::cpu_seconds);
        for which in order {
            let target = targets[which];
            let (event, labels) = target.event(40, 500).await?;
            let label = format!("round {} telemetry {}", round + 1, ["off", "on"][which]);
            let sample = reserve_seats(
                &label,
                target,
                prepared[which].clone(),
                event,
                Arc::new(labels),
                calls,
                args.concurrency,
            )
            .await;
            rates[which] = sample.per_second();
            totals[which].elapsed += sample.elapsed;
            totals[which].latencies.extend(sample.latencies);
        }
        for (which, target) in targets.into_iter().enumerate() {
            cpu[which] += target.cpu_seconds() - cpu_before[which];
        }
        round_ratios.push(rates[1] / rates[0]);
    }
    let [mut off_sample, mut on_sample] = totals;
    let (off_calls, on_calls) = (off_sample.latencies.len(), on_sample.latencies.len());
    round_ratios.sort_by(f64::total_cmp);
    eprintln!(
        "  on/off per round: {}",
        round_ratios
            .iter()
            .map(|r| format!("{:.1} %", r * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Let the last batch of spans reach the sink before counting.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let spans = sink.spans.load(Ordering::Relaxed) as f64;
    figures.push(Figure {
        scenario: "telemetry",
        name: "reserves/s, telemetry on".into(),
        value: on_sample.per_second(),
        unit: "1/s",
        baseline: Some(("telemetry off".into(), off_sample.per_second())),
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "server CPU per reserve, on".into(),
        value: cpu[1] * 1e6 / on_calls.max(1) as f64,
        unit: "us",
        baseline: Some((
            "telemetry off".into(),
            cpu[0] * 1e6 / off_calls.max(1) as f64,
        )),
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "median round, on / off".into(),
        value: round_ratios[round_ratios.len() / 2] * 100.0,
        unit: "%",
        baseline: None,
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "latency p99, telemetry on".into(),
        value: on_sample.percentile(0.99),
        unit: "ms",
        baseline: Some(("telemetry off".into(), off_sample.percentile(0.99))),
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "spans exported per reserve".into(),
        value: spans / on_calls.max(1) as f64,
        unit: "spans",
        baseline: None,
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "metric exports received".into(),
        value: sink.metric_exports.load(Ordering::Relaxed) as f64,
        unit: "",
        baseline: None,
    });
    off.stop().await;
    on.stop().await;
    Ok(())
}

/// The same fenced ticket statement alone, one ticket per call, on seats of a second event,
/// through a pool of the server's size.
async fn raw_tickets(
    target: &Target,
    flows: usize,
    concurrency: usize,
) -> Result<Sample, Box<dyn std::error::Error>> {
    let (raw_event, _) = target.event(40, 500).await?;
    let store = SqlStore::connect(&target.database_url, 16).await?;
    let raw_event = EventId::parse("event", &raw_event)?;
    let seats = Arc::new(store.seats(raw_event).await?);
    let user = {
        let db = Database::connect(&target.database_url).await?;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM users LIMIT 1",
            ))
            .await?
            .ok_or("no user")?;
        UserId::from_uuid(row.try_get_by_index(0)?)
    };
    let store = Arc::new(store);
    Ok(
        closed_loop("raw ticket statement", flows, concurrency, move |i| {
            let (store, seats) = (store.clone(), seats.clone());
            async move {
                let ticket = NewTicket {
                    id: TicketId::generate(),
                    seat_id: seats[i].id,
                    event_id: raw_event,
                    user_id: user,
                    reservation: ReservationId::new(raw_event),
                };
                store
                    .insert_tickets(&[ticket], i64::MAX)
                    .await
                    .map(|_| ())
                    .map_err(|_| Code::Unavailable)
            }
        })
        .await,
    )
}

async fn purchase(
    target: &Target,
    args: &Args,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(64).await?);
    // One seat per flow, of an event of 20,000 seats.
    let flows = (args.calls / 2).min(20_000);
    let (event, labels) = target.event(40, 500).await?;
    let labels = Arc::new(labels);
    let mut raw = if target.database_url.is_empty() {
        None
    } else {
        Some(raw_tickets(target, flows, args.concurrency).await?)
    };
    let channels = target.channels.clone();
    let mut sample = closed_loop("reserve + purchase", flows, args.concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let token = tokens[i % tokens.len()].clone();
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![labels[i].clone()],
                hold_seconds: 0,
            },
            &token,
        );
        async move {
            let held = booking
                .reserve(request)
                .await
                .map_err(|s| s.code())?
                .into_inner()
                .reservation
                .ok_or(Code::Internal)?;
            booking
                .purchase(authed(
                    pb::PurchaseRequest {
                        reservation_id: held.reservation_id,
                    },
                    &token,
                ))
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    })
    .await;
    figures.push(Figure {
        scenario: "purchase",
        name: "tickets/s (reserve+purchase)".into(),
        value: sample.per_second(),
        unit: "1/s",
        baseline: raw
            .as_mut()
            .map(|r| ("raw ticket statement/s".into(), r.per_second())),
    });
    figures.push(Figure {
        scenario: "purchase",
        name: "flow latency p50".into(),
        value: sample.percentile(0.5),
        unit: "ms",
        baseline: raw
            .as_mut()
            .map(|r| ("raw statement p50".into(), r.percentile(0.5))),
    });
    figures.push(Figure {
        scenario: "purchase",
        name: "flow latency p99".into(),
        value: sample.percentile(0.99),
        unit: "ms",
        baseline: raw
            .as_mut()
            .map(|r| ("raw statement p99".into(), r.percentile(0.99))),
    });
    Ok(())
}

async fn watch(
    target: &Target,
    watchers: usize,
    rate: u64,
    seconds: u64,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = target.users(8).await?;
    let (event, labels) = target.event(10, 100).await?;
    let idle_rss = target.rss_mib();
    let lags = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let resyncs = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // The server takes up to 256 streams per connection, as a gateway would see it: open one
    // connection per 200 watchers.
    let mut watch_channels = Vec::new();
    for _ in 0..watchers.div_ceil(200) {
        watch_channels.push(
            Channel::from_shared(target.address.clone())?
                .connect()
                .await?,
        );
    }
    for i in 0..watchers {
        let mut booking = BookingServiceClient::new(watch_channels[i / 200].clone());
        let mut stream = booking
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.clone(),
            })
            .await?
            .into_inner();
        let (lags, resyncs) = (lags.clone(), resyncs.clone());
        tasks.push(tokio::spawn(async move {
            let mut first = true;
            while let Ok(Some(message)) = stream.message().await {
                match message.payload {
                    Some(Payload::Change(change)) => {
                        let at = change
                            .at
                            .map_or(0.0, |t| t.seconds as f64 * 1e3 + f64::from(t.nanos) / 1e6);
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0.0, |d| d.as_secs_f64() * 1e3);
                        if let Ok(mut all) = lags.lock() {
                            all.push(now - at);
                        }
                    }
                    Some(Payload::Snapshot(part)) if !first && part.offset == 0 => {
                        resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                first = false;
            }
        }));
        if i % 500 == 499 {
            eprint!("\r  watch: {} watchers connected   ", i + 1);
        }
    }
    let watching_rss = target.rss_mib();
    eprintln!("\r  watch: {watchers} watchers connected; driving {rate} changes/s for {seconds} s");
    // Each reserve or release is one change; alternate over distinct seats, spread over users.
    let mut booking = BookingServiceClient::new(target.channel(0));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    let total = rate * seconds;
    let mut held: std::collections::VecDeque<(String, String)> = Default::default();
    let mut peak_rss = watching_rss;
    for n in 0..total {
        tick.tick().await;
        let token = &tokens[n as usize % tokens.len()];
        if n % 2 == 0 || held.is_empty() {
            let seat = labels[(n as usize / 2) % labels.len()].clone();
            let request = authed(
                pb::ReserveRequest {
                    event_id: event.clone(),
                    seats: vec![seat],
                    hold_seconds: 0,
                },
                token,
            );
            if let Ok(r) = booking.reserve(request).await
                && let Some(r) = r.into_inner().reservation
            {
                held.push_back((r.reservation_id, token.clone()));
            }
        } else if let Some((id, token)) = held.pop_front() {
            let _ = booking
                .release(authed(pb::ReleaseRequest { reservation_id: id }, &token))
                .await;
        }
        if n % rate == 0 {
            peak_rss = peak_rss.max(target.rss_mib());
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    peak_rss = peak_rss.max(target.rss_mib());
    drop(booking);
    let mut lags = std::mem::take(&mut *lags.lock().map_err(|_| "poisoned")?);
    for task in &tasks {
        task.abort();
    }
    lags.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lags.is_empty() {
            0.0
        } else {
            lags[((lags.len() as f64 - 1.0) * p).round() as usize]
        }
    };
    let push = |figures: &mut Vec<Figure>, name: String, value: f64, unit| {
        figures.push(Figure {
            scenario: "watch",
            name,
            value,
            unit,
            baseline: None,
        })
    };
    push(
        figures,
        format!("deliveries ({watchers} watchers)"),
        lags.len() as f64,
        "",
    );
    push(figures, "delivery lag p50".into(), pct(0.5), "ms");
    push(figures, "delivery lag p99".into(), pct(0.99), "ms");
    push(
        figures,
        "resyncs".into(),
        resyncs.load(Ordering::Relaxed) as f64,
        "",
    );
    push(figures, "server RSS idle".into(), idle_rss, "MiB");
    push(
        figures,
        format!("server RSS, {watchers} watching"),
        watching_rss,
        "MiB",
    );
    push(
        figures,
        "server RSS peak under load".into(),
        peak_rss,
        "MiB",
    );
    Ok(())
}

/// Milliseconds since the epoch of a protobuf timestamp, and of now.
fn ms(ts: &Option<prost_types::Timestamp>) -> f64 {
    ts.as_ref()
        .map_or(0.0, |t| t.seconds as f64 * 1e3 + f64::from(t.nanos) / 1e6)
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

async fn expiry(
    target: &Target,
    args: &Args,
    holds: usize,
    other_keys: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let other_prefix = format!("{}-other", target.redis_prefix);
    if let Some(url) = &target.redis_url {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        for start in (0..other_keys).step_by(10_000) {
            let mut pipe = redis::pipe();
            for i in start..(start + 10_000).min(other_keys) {
                pipe.cmd("SET")
                    .arg(format!("{other_prefix}:{i}"))
                    .arg("x")
                    .arg("EX")
                    .arg(3_600 + i % 3_600)
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        eprintln!("  expiry: {other_keys} other keys with TTLs written");
    }
    let tokens = Arc::new(target.users(64).await?);
    let events = holds.div_ceil(20_000);
    let mut deadlines: std::collections::HashMap<(String, String), f64> = Default::default();
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::<(String, String, f64)>::new()));
    let mut streams = Vec::new();
    let mut plan = Vec::new();
    for _ in 0..events {
        let (event, labels) = target.event(40, 500).await?;
        let mut stream = BookingServiceClient::new(target.channel(0))
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.clone(),
            })
            .await?
            .into_inner();
        let arrivals = arrivals.clone();
        let watched = event.clone();
        streams.push(tokio::spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                if let Some(Payload::Change(change)) = message.payload
                    && change.reason() == pb::ChangeReason::Expired
                    && let Ok(mut all) = arrivals.lock()
                {
                    all.push((watched.clone(), change.label, now_ms()));
                }
            }
        }));
        plan.extend(labels.into_iter().map(|l| (event.clone(), l)));
    }
    plan.truncate(holds);
    let plan = Arc::new(plan);
    let made = Arc::new(std::sync::Mutex::new(Vec::<(String, String, f64)>::new()));
    let channels = target.channels.clone();
    let made_in = made.clone();
    let plan_in = plan.clone();
    closed_loop("short holds", holds, args.concurrency, move |i| {
        let mut booking = BookingServiceClient::new(channels[i % channels.len()].clone());
        let (event, label) = plan_in[i].clone();
        let request = authed(
            pb::ReserveRequest {
                event_id: event.clone(),
                seats: vec![label.clone()],
                hold_seconds: 15,
            },
            &tokens[i % tokens.len()],
        );
        let made = made_in.clone();
        async move {
            let held = booking
                .reserve(request)
                .await
                .map_err(|s| s.code())?
                .into_inner()
                .reservation
                .ok_or(Code::Internal)?;
            if let Ok(mut made) = made.lock() {
                made.push((event, label, ms(&held.expires_at)));
            }
            Ok(())
        }
    })
    .await;
    for (event, label, deadline) in made.lock().map_err(|_| "poisoned")?.drain(..) {
        deadlines.insert((event, label), deadline);
    }
    let last = deadlines.values().cloned().fold(0.0, f64::max);
    while now_ms() < last + 5_000.0 {
        if arrivals.lock().map_err(|_| "poisoned")?.len() >= deadlines.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for stream in &streams {
        stream.abort();
    }
    let arrivals = std::mem::take(&mut *arrivals.lock().map_err(|_| "poisoned")?);
    let mut lateness: Vec<f64> = arrivals
        .iter()
        .filter_map(|(e, l, at)| deadlines.get(&(e.clone(), l.clone())).map(|d| at - d))
        .collect();
    lateness.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lateness.is_empty() {
            0.0
        } else {
            lateness[((lateness.len() as f64 - 1.0) * p).round() as usize]
        }
    };
    if let Some(url) = &target.redis_url {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        for start in (0..other_keys).step_by(10_000) {
            let keys: Vec<String> = (start..(start + 10_000).min(other_keys))
                .map(|i| format!("{other_prefix}:{i}"))
                .collect();
            let _: i64 = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
        }
    }
    let push = |figures: &mut Vec<Figure>, name: String, value: f64, unit| {
        figures.push(Figure {
            scenario: "expiry",
            name,
            value,
            unit,
            baseline: None,
        })
    };
    push(
        figures,
        format!("holds expired, of {}", deadlines.len()),
        lateness.len() as f64,
        "",
    );
    push(figures, "EXPIRED lateness p50".into(), pct(0.5), "ms");
    push(figures, "EXPIRED lateness p99".into(), pct(0.99), "ms");
    push(figures, "EXPIRED lateness max".into(), pct(1.0), "ms");
    Ok(())
}

/// xorshift64*: a fast per-task generator; reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct MixedTally {
    map: Sample,
    reserve: Sample,
    purchase: Sample,
    taken: usize,
    bought: usize,
    released: usize,
    abandoned: usize,
    errors: usize,
}

/// Sequential calls on one connection: `calls` empty calls, then `calls` seat-map reads of each
/// size. This is where a transport stall shows (Nagle's algorithm held every response over one
/// segment for the client's delayed ACK, ~40 ms, until TCP_NODELAY was set on accepted sockets).
async fn seat_map(
    target: &Target,
    calls: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let channel = target.channel(0);
    let mut health = HealthClient::new(channel.clone());
    let mut empty = Sample::default();
    for _ in 0..calls {
        let t = Instant::now();
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        empty.latencies.push(t.elapsed());
    }
    let (empty_p50, empty_p99) = (empty.percentile(0.5), empty.percentile(0.99));
    let mut booking = BookingServiceClient::new(channel);
    for (rows, per_row) in [(1, 4), (10, 20), (200, 100)] {
        let (event, _) = target.event(rows, per_row).await?;
        let seats = rows * per_row as usize;
        let mut sample = Sample::default();
        let mut bytes = 0;
        for _ in 0..calls {
            let t = Instant::now();
            let map = booking
                .get_seat_map(pb::GetSeatMapRequest {
                    event_id: event.clone(),
                })
                .await?
                .into_inner();
            sample.latencies.push(t.elapsed());
            bytes = prost::Message::encoded_len(&map);
        }
        eprintln!("  seat map of {seats} seats: {bytes} bytes");
        for (name, p, baseline) in [("p50", 0.5, empty_p50), ("p99", 0.99, empty_p99)] {
            figures.push(Figure {
                scenario: "seat-map",
                name: format!("{seats} seats, sequential {name}"),
                value: sample.percentile(p),
                unit: "ms",
                baseline: Some((format!("empty call {name}"), baseline)),
            });
        }
    }
    Ok(())
}

async fn mixed(
    target: &Target,
    args: &Args,
    seconds: u64,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(target.users(64).await?);
    let (event, labels) = target.event(40, 250).await?;
    // Seat popularity: Zipf with s = 1.1 over the seat map order (front rows first).
    let weights: Vec<f64> = (1..=labels.len())
        .map(|k| 1.0 / (k as f64).powf(1.1))
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let cdf: Arc<Vec<f64>> = Arc::new(
        weights
            .iter()
            .map(|w| {
                acc += w / sum;
                acc
            })
            .collect(),
    );
    let labels = Arc::new(labels);
    let expired = Arc::new(AtomicU64::new(0));
    let watcher = {
        let mut stream = BookingServiceClient::new(target.channel(0))
            .watch_seats(pb::WatchSeatsRequest {
                event_id: event.clone(),
            })
            .await?
            .into_inner();
        let expired = expired.clone();
        tokio::spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                if let Some(Payload::Change(change)) = message.payload
                    && change.reason() == pb::ChangeReason::Expired
                {
                    expired.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut fans = Vec::new();
    for f in 0..args.concurrency {
        let mut booking = BookingServiceClient::new(target.channel(f));
        let (tokens, labels, cdf, event) =
            (tokens.clone(), labels.clone(), cdf.clone(), event.clone());
        fans.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (f as u64 + 1));
            let mut tally = MixedTally::default();
            let token = &tokens[f % tokens.len()];
            while Instant::now() < until {
                if rng.unit() < 0.3 {
                    let t = Instant::now();
                    match booking
                        .get_seat_map(pb::GetSeatMapRequest {
                            event_id: event.clone(),
                        })
                        .await
                    {
                        Ok(_) => tally.map.latencies.push(t.elapsed()),
                        Err(_) => tally.errors += 1,
                    }
                    continue;
                }
                let pick = |rng: &mut Rng| {
                    let u = rng.unit();
                    labels[cdf.partition_point(|c| *c < u).min(labels.len() - 1)].clone()
                };
                let mut seats = vec![pick(&mut rng)];
                if rng.unit() < 0.5 {
                    let second = pick(&mut rng);
                    if second != seats[0] {
                        seats.push(second);
                    }
                }
                let t = Instant::now();
                let request = authed(
                    pb::ReserveRequest {
                        event_id: event.clone(),
                        seats,
                        hold_seconds: 5,
                    },
                    token,
                );
                let held = match booking.reserve(request).await {
                    Ok(r) => r.into_inner().reservation,
                    Err(status) if status.code() == Code::AlreadyExists => {
                        tally.taken += 1;
                        None
                    }
                    Err(_) => {
                        tally.errors += 1;
                        None
                    }
                };
                tally.reserve.latencies.push(t.elapsed());
                let Some(held) = held else { continue };
                let choice = rng.unit();
                if choice < 0.6 {
                    let t = Instant::now();
                    match booking
                        .purchase(authed(
                            pb::PurchaseRequest {
                                reservation_id: held.reservation_id,
                            },
                            token,
                        ))
                        .await
                    {
                        Ok(_) => tally.bought += 1,
                        Err(_) => tally.errors += 1,
                    }
                    tally.purchase.latencies.push(t.elapsed());
                } else if choice < 0.8 {
                    let _ = booking
                        .release(authed(
                            pb::ReleaseRequest {
                                reservation_id: held.reservation_id,
                            },
                            token,
                        ))
                        .await;
                    tally.released += 1;
                } else {
                    tally.abandoned += 1;
                }
            }
            tally
        }));
    }
    let mut all = MixedTally::default();
    for fan in fans {
        let tally = fan.await?;
        all.map.latencies.extend(tally.map.latencies);
        all.reserve.latencies.extend(tally.reserve.latencies);
        all.purchase.latencies.extend(tally.purchase.latencies);
        all.taken += tally.taken;
        all.bought += tally.bought;
        all.released += tally.released;
        all.abandoned += tally.abandoned;
        all.errors += tally.errors;
    }
    // Let the last abandoned holds lapse, so their EXPIRED changes are counted.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    watcher.abort();
    let elapsed = seconds as f64;
    let reserves = all.reserve.latencies.len();
    eprintln!(
        "  mixed: {} seat maps, {reserves} reserves ({} taken), {} bought, {} released, {} abandoned, {} errors",
        all.map.latencies.len(),
        all.taken,
        all.bought,
        all.released,
        all.abandoned,
        all.errors
    );
    let push = |figures: &mut Vec<Figure>, name: String, value: f64, unit| {
        figures.push(Figure {
            scenario: "mixed",
            name,
            value,
            unit,
            baseline: None,
        })
    };
    push(
        figures,
        "seat-map reads/s".into(),
        all.map.latencies.len() as f64 / elapsed,
        "1/s",
    );
    push(
        figures,
        format!("seat-map p50 (p99 {:.1} ms)", all.map.percentile(0.99)),
        all.map.percentile(0.5),
        "ms",
    );
    push(
        figures,
        "reserves/s".into(),
        reserves as f64 / elapsed,
        "1/s",
    );
    push(
        figures,
        "reserves refused: seat taken".into(),
        100.0 * all.taken as f64 / reserves.max(1) as f64,
        "%",
    );
    push(
        figures,
        format!("reserve p50 (p99 {:.1} ms)", all.reserve.percentile(0.99)),
        all.reserve.percentile(0.5),
        "ms",
    );
    push(
        figures,
        "tickets/s".into(),
        all.bought as f64 / elapsed,
        "1/s",
    );
    push(
        figures,
        format!("purchase p50 (p99 {:.1} ms)", all.purchase.percentile(0.99)),
        all.purchase.percentile(0.5),
        "ms",
    );
    push(figures, "holds abandoned".into(), all.abandoned as f64, "");
    push(
        figures,
        "seats reported EXPIRED".into(),
        expired.load(Ordering::Relaxed) as f64,
        "",
    );
    push(figures, "errors".into(), all.errors as f64, "");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let scenarios: Vec<Scenario> = match args.scenario.clone() {
        Scenario::All => vec![
            Scenario::HotSeat { clients: 10_000 },
            Scenario::Reserve,
            Scenario::Purchase,
            Scenario::Watch {
                watchers: 1_000,
                rate: 200,
                seconds: 10,
            },
            Scenario::Expiry {
                holds: 100_000,
                other_keys: 200_000,
            },
            Scenario::SeatMap { calls: 200 },
            Scenario::Mixed { seconds: 15 },
            Scenario::Telemetry {
                rounds: 4,
                on_env: Vec::new(),
            },
        ],
        one => vec![one],
    };
    let mut figures = Vec::new();
    for scenario in scenarios {
        if let Scenario::Telemetry { rounds, on_env } = &scenario {
            telemetry(&args, *rounds, on_env, &mut figures).await?;
            continue;
        }
        // A fresh server per scenario, so one's leftovers do not weigh on the next.
        let target = Target::start(&args).await?;
        let result = match scenario {
            Scenario::HotSeat { clients } => hot_seat(&target, clients, &mut figures).await,
            Scenario::Reserve => reserve(&target, &args, &mut figures).await,
            Scenario::Purchase => purchase(&target, &args, &mut figures).await,
            Scenario::Watch {
                watchers,
                rate,
                seconds,
            } => watch(&target, watchers, rate, seconds, &mut figures).await,
            Scenario::Expiry { holds, other_keys } => {
                expiry(&target, &args, holds, other_keys, &mut figures).await
            }
            Scenario::SeatMap { calls } => seat_map(&target, calls, &mut figures).await,
            Scenario::Mixed { seconds } => mixed(&target, &args, seconds, &mut figures).await,
            Scenario::Telemetry { .. } | Scenario::All => Ok(()),
        };
        target.stop().await;
        result?;
    }
    if !args.json {
        println!(
            "backend: {:?}; {} connections; concurrency {}",
            args.backend, args.connections, args.concurrency
        );
        println!(
            "| scenario  | figure                       |        value        |     baseline  (name)                 ratio |"
        );
        println!(
            "| --------- | ---------------------------- | ------------------- | ----------------------------------------- |"
        );
    }
    for figure in &figures {
        figure.print(args.json);
    }
    Ok(())
}
