//! `seatrush-bench`: drives a real SeatRush server over gRPC and prints each figure beside a
//! baseline measured in the same run (an empty gRPC call, the hold script alone, the ticket
//! statement alone), as a ratio, so figures from noisy machines compare.
//!
//! It starts its own server (the `seatrush` binary next to it) on the embedded backend, or on
//! PostgreSQL + Redis with `--backend distributed`, or targets a running one with `--target`.
//!
//! ```text
//! cargo build --release --workspace
//! target/release/seatrush-bench --backend embedded all
//! target/release/seatrush-bench --backend distributed all --json
//! ```

mod baselines;
mod report;
mod scenarios;
mod target;

use crate::scenarios::{
    best::best_available, expiry::expiry, hot_seat::hot_seat, login_flood::login_flood,
    mixed::mixed, purchase::purchase, reserve::reserve, seat_map::seat_map, stadium::stadium,
    stadium::stadiums, standing::general_admission, telemetry::telemetry, watch::watch,
};
use crate::target::Target;
use clap::{Parser, Subcommand, ValueEnum};

pub(crate) const ADMIN: &str = "bench-admin-token";
pub(crate) const PASSWORD: &str = "bench password";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    Embedded,
    Distributed,
}

#[derive(Parser)]
#[command(
    name = "seatrush-bench",
    about = "SeatRush load generator and benchmarks"
)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) scenario: Scenario,
    /// Which backend the started server uses.
    #[arg(long, value_enum, default_value_t = Backend::Embedded, global = true)]
    pub(crate) backend: Backend,
    /// Admin PostgreSQL URL (a fresh database is created under it) for the distributed backend.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        global = true
    )]
    pub(crate) database_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379", global = true)]
    pub(crate) redis_url: String,
    /// Drive a running server at this URL (e.g. http://127.0.0.1:50051) instead of starting one.
    /// It must accept `--admin-token` for CreateEvent and allow many seats per user.
    #[arg(long, global = true)]
    pub(crate) target: Option<String>,
    /// With --target: the server's database, for the raw-statement baseline (skipped without it).
    #[arg(long, global = true)]
    pub(crate) target_database_url: Option<String>,
    /// With --target: the server's process id, to report its memory.
    #[arg(long, global = true)]
    pub(crate) server_pid: Option<u32>,
    /// With --target: the admin token of the server.
    #[arg(long, default_value = ADMIN, global = true)]
    pub(crate) admin_token: String,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 8, global = true)]
    pub(crate) connections: usize,
    /// Calls in flight at once (reserve, purchase and the baselines).
    #[arg(long, default_value_t = 256, global = true)]
    pub(crate) concurrency: usize,
    /// Calls per throughput measurement.
    #[arg(long, default_value_t = 20_000, global = true)]
    pub(crate) calls: usize,
    /// Print one JSON object per figure instead of the table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

pub(crate) fn parse_env_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| "expected KEY=VALUE".to_owned())
}

#[derive(Subcommand, Clone, PartialEq, Eq)]
pub(crate) enum Scenario {
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
    /// A stadium on-sale: 100,000 seats in 500 sections, fans reading the packed statuses and
    /// booking adjacent seats, watchers following the feed.
    Stadium {
        #[arg(long, default_value_t = 1_000)]
        fans: usize,
        #[arg(long, default_value_t = 500)]
        watchers: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// The percentage of a fan's calls that read the seat statuses (the rest book).
        #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u8).range(0..=100))]
        reads: u8,
    },
    /// Ten 100,000-seat events active at once: the server's memory.
    Stadiums {
        #[arg(long, default_value_t = 10)]
        count: usize,
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
    /// One real user signing in, one login after another, while wrong-password logins stay in
    /// flight from one address and then from many: against the same logins with no flood.
    LoginFlood {
        #[arg(long, default_value_t = 200)]
        flood: usize,
        #[arg(long, default_value_t = 100)]
        logins: usize,
    },
    /// Reserves of the best 2 seats of a 10,000-seat event, against Reserves of 2 named seats.
    BestAvailable {
        #[arg(long, default_value_t = 5_000)]
        pairs: usize,
    },
    /// Places of a general-admission area, 2 at a time against named pairs, and a rush at its
    /// last 100 places against a rush at one seat.
    GeneralAdmission {
        #[arg(long, default_value_t = 10_000)]
        rush: usize,
    },
    /// Every scenario with its defaults.
    All,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let scenarios: Vec<Scenario> = match args.scenario.clone() {
        Scenario::All => vec![
            Scenario::HotSeat { clients: 10_000 },
            Scenario::Reserve,
            Scenario::BestAvailable { pairs: 5_000 },
            Scenario::GeneralAdmission { rush: 10_000 },
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
            Scenario::Stadium {
                fans: 1_000,
                watchers: 500,
                seconds: 15,
                reads: 70,
            },
            Scenario::Stadiums { count: 10 },
            Scenario::LoginFlood {
                flood: 200,
                logins: 100,
            },
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
        let target = match scenario {
            // The flood and the real user are told apart by the address a proxy forwards.
            Scenario::LoginFlood { .. } => {
                Target::start_with(&args, &[("SEATRUSH_TRUSTED_PROXIES", "127.0.0.1".into())])
                    .await?
            }
            _ => Target::start(&args).await?,
        };
        let result = match scenario {
            Scenario::HotSeat { clients } => hot_seat(&target, clients, &mut figures).await,
            Scenario::Reserve => reserve(&target, &args, &mut figures).await,
            Scenario::BestAvailable { pairs } => {
                best_available(&target, &args, pairs, &mut figures).await
            }
            Scenario::GeneralAdmission { rush } => {
                general_admission(&target, &args, rush, &mut figures).await
            }
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
            Scenario::Stadium {
                fans,
                watchers,
                seconds,
                reads,
            } => {
                stadium(
                    &target,
                    fans,
                    watchers,
                    seconds,
                    f64::from(reads) / 100.0,
                    &mut figures,
                )
                .await
            }
            Scenario::Stadiums { count } => stadiums(&target, count, &mut figures).await,
            Scenario::LoginFlood { flood, logins } => {
                login_flood(&target, flood, logins, &mut figures).await
            }
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
