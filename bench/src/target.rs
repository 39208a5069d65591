//! The server under test: a `seatrush` process of the bench's own on a fresh database and Redis
//! prefix (or a running one, with `--target`), and what the scenarios need to reach it.

use crate::{ADMIN, Args, Backend, PASSWORD};
use seatrush::proto::v1::{
    self as pb, account_service_client::AccountServiceClient,
    inventory_service_client::InventoryServiceClient,
};
use seatrush_testkit::postgres::TestDatabase;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tonic::Request;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The server under test and what the scenarios need to reach it and its storage.
pub(crate) struct Target {
    pub(crate) address: String,
    pub(crate) channels: Vec<Channel>,
    child: Option<Child>,
    pid: Option<u32>,
    admin_token: String,
    /// The server's database (empty for `--target` without `--target-database-url`).
    pub(crate) database_url: String,
    pub(crate) redis_url: Option<String>,
    pub(crate) redis_prefix: String,
    database: Option<TestDatabase>,
    data_dir: Option<std::path::PathBuf>,
}

impl Target {
    pub(crate) async fn start(args: &Args) -> Result<Target, Box<dyn std::error::Error>> {
        Self::start_with(args, &[]).await
    }

    /// Starts a server with extra environment variables.
    pub(crate) async fn start_with(
        args: &Args,
        env: &[(&str, String)],
    ) -> Result<Target, Box<dyn std::error::Error>> {
        let port = seatrush_testkit::redis::free_port();
        let redis_prefix = seatrush_testkit::redis::fresh_prefix("bench");
        let (database_url, redis_url, database, data_dir) = match args.backend {
            _ if args.target.is_some() => (
                String::new(),
                (args.backend == Backend::Distributed).then(|| args.redis_url.clone()),
                None,
                None,
            ),
            Backend::Embedded => {
                let dir = std::env::temp_dir()
                    .join(format!("seatrush-bench-{}", seatrush_testkit::unique()));
                std::fs::create_dir_all(&dir)?;
                (
                    format!("sqlite://{}?mode=rwc", dir.join("seatrush.db").display()),
                    None,
                    None,
                    Some(dir),
                )
            }
            Backend::Distributed => {
                let database = TestDatabase::create_on(&args.database_url, "seatrush_bench").await;
                (
                    database.url.clone(),
                    Some(args.redis_url.clone()),
                    Some(database),
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
            .env("SEATRUSH_PEER_RATE", "0")
            .env("SEATRUSH_USER_RATE", "0")
            .env("SEATRUSH_REGISTRATIONS_PER_MINUTE", "0")
            .env("SEATRUSH_MAX_SEATS_PER_CLIENT", "0")
            .env("SEATRUSH_RELEASE_COOLDOWN_SECONDS", "0")
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
                        "cannot start {}: {e} (build it: cargo build --release --workspace)",
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
            database,
            data_dir,
        })
    }

    pub(crate) fn channel(&self, i: usize) -> Channel {
        self.channels[i % self.channels.len()].clone()
    }

    /// Resident memory of the server process, in MiB.
    pub(crate) fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid.unwrap_or(0)))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// CPU time the server process has used (user + system), in seconds; 0 when unknown.
    pub(crate) fn cpu_seconds(&self) -> f64 {
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

    pub(crate) async fn users(
        &self,
        count: usize,
    ) -> Result<Vec<String>, Box<dyn std::error::Error>> {
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
    pub(crate) async fn event(
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
        let event_id = self
            .create_event(pb::CreateEventRequest {
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
                        ..Default::default()
                    })
                    .collect(),
                sections: Vec::new(),
                ..Default::default()
            })
            .await?;
        let labels = names
            .iter()
            .flat_map(|r| (1..=per_row).map(move |n| format!("{r}{n}")))
            .collect();
        Ok((event_id, labels))
    }

    /// A stadium: sections "1".."`sections`" of rows "1".."`rows`" of `per_row` seats (labels
    /// like "250-10-5"); returns its id.
    pub(crate) async fn stadium(
        &self,
        sections: u32,
        rows: u32,
        per_row: u32,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let row_specs: Vec<pb::RowSpec> = (1..=rows)
            .map(|r| pb::RowSpec {
                row: r.to_string(),
                seat_count: per_row,
                ..Default::default()
            })
            .collect();
        self.create_event(pb::CreateEventRequest {
            name: "Bench stadium".into(),
            starts_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            rows: Vec::new(),
            sections: (1..=sections)
                .map(|s| pb::SectionSpec {
                    code: s.to_string(),
                    name: format!("Block {s}"),
                    rows: row_specs.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .await
    }

    /// Creates an event as the admin; returns its id.
    pub(crate) async fn create_event(
        &self,
        event: pb::CreateEventRequest,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let mut request = Request::new(event);
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
        Ok(event.event_id)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(database) = &self.database {
            database.drop_database().await;
        }
        if let Some(url) = &self.redis_url {
            // The pattern covers the raw baselines' prefixes (`…-raw`, `…-other`) too.
            seatrush_testkit::redis::delete_keys(url, &self.redis_prefix).await;
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub(crate) fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}
