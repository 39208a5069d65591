//! The numbers that tell whether a sale is healthy, as OpenTelemetry instruments.
//!
//! Every instance counts what it did itself (the holds it created, released, purchased or
//! expired; the watchers it serves), so summing over instances gives the deployment's totals.
//! `seatrush.seats.held` is the exception: it is read from the hold store, which every instance
//! shares, so take one instance's value (or `max`), not the sum.
//!
//! Readers are optional and independent: OTLP (when the standard variables ask for it, like
//! traces) and a Prometheus registry served on the admin listener (`SEATRUSH_ADMIN_LISTEN`).
//! With neither, the instruments are no-ops and cost nothing.

use super::{FLUSH_TIMEOUT, TelemetryError, flush, resource};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    Counter, Histogram, Meter, MeterProvider as _, ObservableGauge, UpDownCounter,
};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets for request durations, in seconds (fine below 10 ms, where Reserve lives).
const DURATION_BUCKETS: [f64; 17] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.007_5, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
/// Buckets for how late an EXPIRED change is, in seconds (the target is under one second).
const LATENESS_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why a Purchase failed, as the `cause` attribute of `seatrush.purchase.failures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseFailure {
    /// The hold had expired or been released (or a purchase of it was under way).
    HoldNotLive,
    /// The hold lapsed while the purchase was in flight: the fenced write refused to commit.
    LateCommit,
    /// The unique index refused: a seat was sold to someone else.
    SeatSold,
    NotOwner,
    NotFound,
    BackendUnavailable,
    Internal,
    Other,
}

impl PurchaseFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::HoldNotLive => "hold_not_live",
            Self::LateCommit => "late_commit",
            Self::SeatSold => "seat_sold",
            Self::NotOwner => "not_owner",
            Self::NotFound => "not_found",
            Self::BackendUnavailable => "backend_unavailable",
            Self::Internal => "internal",
            Self::Other => "other",
        }
    }
}

/// One RPC's labels: `rpc.service` and `rpc.method` are `&'static` names from the served
/// contract (or `_OTHER`), so a client cannot create new series.
#[derive(Debug, Clone, Copy)]
pub struct RpcLabels {
    pub service: &'static str,
    pub method: &'static str,
    /// `service/method`, the span name.
    pub full: &'static str,
}

pub struct Metrics {
    rpc_duration: Histogram<f64>,
    rpc_requests: Counter<u64>,
    rpc_errors: Counter<u64>,
    holds_created: Counter<u64>,
    holds_released: Counter<u64>,
    holds_expired: Counter<u64>,
    holds_purchased: Counter<u64>,
    tickets_sold: Counter<u64>,
    seat_conflicts: Counter<u64>,
    purchase_failures: Counter<u64>,
    watchers: UpDownCounter<i64>,
    changes_sent: Counter<u64>,
    resyncs: Counter<u64>,
    listener_reconnects: Counter<u64>,
    connections_refused: Counter<u64>,
    handshakes_failed: Counter<u64>,
    expiry_lateness: Histogram<f64>,
    held_seats: Arc<AtomicU64>,
    _held_gauge: ObservableGauge<u64>,
    enabled: bool,
}

impl Metrics {
    fn new(meter: &Meter, enabled: bool) -> Self {
        let held_seats = Arc::new(AtomicU64::new(0));
        let observed = held_seats.clone();
        Self {
            rpc_duration: meter
                .f64_histogram("rpc.server.call.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls, by method and status code")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            rpc_requests: meter
                .u64_counter("rpc.server.requests")
                .with_unit("{request}")
                .with_description("gRPC calls answered, by method and status code")
                .build(),
            rpc_errors: meter
                .u64_counter("rpc.server.errors")
                .with_unit("{request}")
                .with_description("gRPC calls answered with a status other than OK")
                .build(),
            holds_created: counter(meter, "seatrush.holds.created", "{hold}", "Holds made"),
            holds_released: counter(
                meter,
                "seatrush.holds.released",
                "{hold}",
                "Holds given back early by their owner",
            ),
            holds_expired: counter(
                meter,
                "seatrush.holds.expired",
                "{hold}",
                "Holds that lapsed, counted by the instance that expired them",
            ),
            holds_purchased: counter(
                meter,
                "seatrush.holds.purchased",
                "{hold}",
                "Holds turned into tickets",
            ),
            tickets_sold: counter(meter, "seatrush.tickets.sold", "{ticket}", "Tickets sold"),
            seat_conflicts: counter(
                meter,
                "seatrush.reserve.conflicts",
                "{request}",
                "Reserve calls refused because a seat was held or sold (ALREADY_EXISTS)",
            ),
            purchase_failures: counter(
                meter,
                "seatrush.purchase.failures",
                "{request}",
                "Failed Purchase calls, by cause",
            ),
            watchers: meter
                .i64_up_down_counter("seatrush.feed.watchers")
                .with_unit("{stream}")
                .with_description("WatchSeats streams open on this instance")
                .build(),
            changes_sent: counter(
                meter,
                "seatrush.feed.changes_sent",
                "{change}",
                "Seat changes sent to watchers",
            ),
            resyncs: counter(
                meter,
                "seatrush.feed.resyncs",
                "{resync}",
                "Fresh snapshots sent to watchers that fell behind or missed changes",
            ),
            listener_reconnects: counter(
                meter,
                "seatrush.feed.listener_reconnects",
                "{reconnect}",
                "Times the Redis feed listener re-subscribed after losing its connection",
            ),
            connections_refused: counter(
                meter,
                "seatrush.connections.refused",
                "{connection}",
                "Connections closed right after accept because a connection cap was reached, by cap",
            ),
            handshakes_failed: counter(
                meter,
                "seatrush.connections.handshake_failures",
                "{connection}",
                "TLS handshakes that failed or timed out",
            ),
            expiry_lateness: meter
                .f64_histogram("seatrush.feed.expired_lateness")
                .with_unit("s")
                .with_description("Time from a hold's deadline to its EXPIRED change")
                .with_boundaries(LATENESS_BUCKETS.to_vec())
                .build(),
            _held_gauge: meter
                .u64_observable_gauge("seatrush.seats.held")
                .with_unit("{seat}")
                .with_description("Seats held right now, in the shared hold store (sampled)")
                .with_callback(move |gauge| gauge.observe(observed.load(Ordering::Relaxed), &[]))
                .build(),
            held_seats,
            enabled,
        }
    }

    /// Instruments that record nothing (no reader configured).
    pub fn disabled() -> Self {
        let meter = opentelemetry::metrics::NoopMeterProvider::new().meter("seatrush");
        Self::new(&meter, false)
    }

    /// Whether anything reads these numbers (then sampling the hold store is worth it).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn rpc_finished(&self, rpc: RpcLabels, code: i32, elapsed: Duration) {
        let labels = [
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", rpc.service),
            KeyValue::new("rpc.method", rpc.method),
            KeyValue::new("rpc.grpc.status_code", i64::from(code)),
        ];
        self.rpc_duration.record(elapsed.as_secs_f64(), &labels);
        self.rpc_requests.add(1, &labels);
        if code != 0 {
            self.rpc_errors.add(1, &labels);
        }
    }

    pub fn hold_created(&self) {
        self.holds_created.add(1, &[]);
    }

    pub fn hold_released(&self) {
        self.holds_released.add(1, &[]);
    }

    /// A hold this instance expired, `late` after its deadline.
    pub fn hold_expired(&self, late: Duration) {
        self.holds_expired.add(1, &[]);
        self.expiry_lateness.record(late.as_secs_f64(), &[]);
    }

    pub fn hold_purchased(&self, tickets: usize) {
        self.holds_purchased.add(1, &[]);
        self.tickets_sold.add(tickets as u64, &[]);
    }

    pub fn seat_conflict(&self) {
        self.seat_conflicts.add(1, &[]);
    }

    pub fn purchase_failed(&self, cause: PurchaseFailure) {
        self.purchase_failures
            .add(1, &[KeyValue::new("cause", cause.as_str())]);
    }

    pub fn watcher_joined(&self) {
        self.watchers.add(1, &[]);
    }

    pub fn watcher_left(&self) {
        self.watchers.add(-1, &[]);
    }

    pub fn changes_sent(&self, n: usize) {
        self.changes_sent.add(n as u64, &[]);
    }

    pub fn resynced(&self) {
        self.resyncs.add(1, &[]);
    }

    pub fn listener_reconnected(&self) {
        self.listener_reconnects.add(1, &[]);
    }

    /// A connection closed at accept; `cap` is `total` or `per_peer`.
    pub fn connection_refused(&self, cap: &'static str) {
        self.connections_refused
            .add(1, &[KeyValue::new("cap", cap)]);
    }

    pub fn handshake_failed(&self) {
        self.handshakes_failed.add(1, &[]);
    }

    pub fn set_held_seats(&self, seats: u64) {
        self.held_seats.store(seats, Ordering::Relaxed);
    }
}

fn counter(
    meter: &Meter,
    name: &'static str,
    unit: &'static str,
    help: &'static str,
) -> Counter<u64> {
    meter
        .u64_counter(name)
        .with_unit(unit)
        .with_description(help)
        .build()
}

/// An application's meter provider and its readers.
pub struct MetricsPipeline {
    provider: Option<SdkMeterProvider>,
    registry: Option<prometheus::Registry>,
    metrics: Arc<Metrics>,
}

impl MetricsPipeline {
    /// `otlp`: push to the collector the OTLP variables name (interval from
    /// `OTEL_METRIC_EXPORT_INTERVAL`, default 60 s); `prometheus`: keep a registry for the admin
    /// listener to serve. Must run inside the Tokio runtime when `otlp` is on.
    pub fn build(otlp: bool, prometheus: bool) -> Result<Self, TelemetryError> {
        if !otlp && !prometheus {
            return Ok(Self {
                provider: None,
                registry: None,
                metrics: Arc::new(Metrics::disabled()),
            });
        }
        let mut builder = SdkMeterProvider::builder().with_resource(resource());
        if otlp {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| TelemetryError(e.to_string()))?;
            builder = builder.with_reader(PeriodicReader::builder(exporter).build());
        }
        let registry = if prometheus {
            let registry = prometheus::Registry::new();
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .scope_info_enabled(false)
                .build()
                .map_err(|e| TelemetryError(e.to_string()))?;
            builder = builder.with_reader(exporter);
            Some(registry)
        } else {
            None
        };
        let provider = builder.build();
        let metrics = Arc::new(Metrics::new(&provider.meter("seatrush"), true));
        Ok(Self {
            provider: Some(provider),
            registry,
            metrics,
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn registry(&self) -> Option<prometheus::Registry> {
        self.registry.clone()
    }

    /// Pushes the last numbers (bounded by [`FLUSH_TIMEOUT`]) and stops the readers.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            flush("metrics", move || {
                provider.shutdown_with_timeout(FLUSH_TIMEOUT)
            })
            .await;
        }
    }
}
