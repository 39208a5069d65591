//! Logs, traces and metrics, configured the way operators already configure OpenTelemetry.
//!
//! - **Logs** (`tracing`): text or JSON lines on stdout, filtered by `RUST_LOG` (default `info`).
//!   A line is written for every failed request (by `api::observe`), none for a successful one.
//! - **Traces**: exported over OTLP/gRPC only when the standard variables ask for it
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, unless
//!   `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`). The SDK reads the rest itself:
//!   `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, the exporter's settings.
//!   Spans are queued to a background exporter (a full queue drops spans, never waits), so a down
//!   or slow collector costs requests nothing; [`TracingGuard::shutdown`] flushes the queue.
//! - **Sampling** is decided once per call, before any span exists (`RpcSampler`, from
//!   `OTEL_TRACES_SAMPLER` / `_ARG`). An unsampled call's spans never reach the OpenTelemetry
//!   layer, which is what keeps tracing cheap: building an OpenTelemetry span costs about as much as
//!   a Reserve's own work, and building it only for the SDK's sampler to drop it cost 9–27 % of
//!   Reserve throughput at 1 % sampling (measured, BENCHMARKS.md). The default is `parentbased_traceidratio` at 1 %: a
//!   caller's sampled trace always continues, and 1 % of the calls that arrive without one start a
//!   trace.
//! - **Metrics**: see `metrics.rs`; they belong to an [`crate::startup::Application`], not to the
//!   process, so tests can run several servers with their own numbers.
//!
//! Logging and tracing are process-wide (one `tracing` subscriber), so they are set up by
//! `main`, once.

pub(crate) mod admin;
pub(crate) mod metrics;

pub use metrics::Metrics;
pub(crate) use metrics::MetricsPipeline;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::SpanContext;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::Sampler;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use std::time::Duration;
use tracing::subscriber::Interest;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How long shutdown waits for buffered spans and metrics to reach the collector.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Which OpenTelemetry signals the standard environment variables turn on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtlpSignals {
    pub traces: bool,
    pub metrics: bool,
}

impl OtlpSignals {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// An endpoint turns a signal on (the generic one for both, or the signal's own);
    /// `OTEL_<SIGNAL>_EXPORTER=none` or `OTEL_SDK_DISABLED=true` turns it off.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| get(name).is_some_and(|v| !v.trim().is_empty());
        let disabled = get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true");
        let wants = |signal: &str| {
            !disabled
                && get(&format!("OTEL_{signal}_EXPORTER")).is_none_or(|v| v.trim() != "none")
                && (set("OTEL_EXPORTER_OTLP_ENDPOINT")
                    || set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")))
        };
        Self {
            traces: wants("TRACES"),
            metrics: wants("METRICS"),
        }
    }
}

/// The target of a call's span when its trace is sampled; only spans under such a span are
/// handed to the OpenTelemetry layer.
pub(crate) const SAMPLED_TARGET: &str = "seatrush::rpc::sampled";
/// The target of the client spans (Redis commands, SQL statements). They are at debug level, so
/// the default log filter never creates them; the OpenTelemetry layer takes them inside a
/// sampled call.
pub(crate) const CLIENT_TARGET: &str = "seatrush::client";
/// Sampling ratio when `OTEL_TRACES_SAMPLER` is unset.
pub(crate) const DEFAULT_SAMPLE_RATIO: f64 = 0.01;

/// Decides, per call, whether its trace is recorded: the standard `OTEL_TRACES_SAMPLER` values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RpcSampler {
    /// Follow the caller's sampled flag when a trace context came with the call.
    parent_based: bool,
    /// Share of the other calls that start a trace (0 = never, 1 = always).
    ratio: f64,
}

static SAMPLER: OnceLock<RpcSampler> = OnceLock::new();

impl RpcSampler {
    pub fn from_env() -> Self {
        Self::parse(
            std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
            std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref(),
        )
    }

    /// Unknown names fall back to the default, as the SDK does with its own.
    pub fn parse(name: Option<&str>, arg: Option<&str>) -> Self {
        let ratio = || {
            arg.and_then(|a| a.trim().parse::<f64>().ok())
                .filter(|r| (0.0..=1.0).contains(r))
                .unwrap_or(1.0)
        };
        let (parent_based, ratio) = match name.map(str::trim) {
            Some("always_on") => (false, 1.0),
            Some("always_off") => (false, 0.0),
            Some("traceidratio") => (false, ratio()),
            Some("parentbased_always_on") => (true, 1.0),
            Some("parentbased_always_off") => (true, 0.0),
            Some("parentbased_traceidratio") => (true, ratio()),
            _ => (true, DEFAULT_SAMPLE_RATIO),
        };
        Self {
            parent_based,
            ratio,
        }
    }

    /// Whether a call whose metadata carried `parent` (if any) is traced.
    pub fn sample(&self, parent: Option<&SpanContext>) -> bool {
        match parent {
            Some(parent) if self.parent_based && parent.is_valid() => parent.is_sampled(),
            _ => self.ratio >= 1.0 || (self.ratio > 0.0 && random_unit() < self.ratio),
        }
    }

    /// The sampler the traces are set up with, if any (none: nothing is traced).
    pub fn installed() -> Option<&'static RpcSampler> {
        SAMPLER.get()
    }
}

/// A uniform number in [0, 1) from a cheap per-thread generator (xorshift, seeded randomly).
fn random_unit() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut seed = [0u8; 8];
            let _ = getrandom::fill(&mut seed);
            u64::from_le_bytes(seed) | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// The resource every span and metric carries: `service.name` (default `seatrush`, or
/// `OTEL_SERVICE_NAME`), `service.version`, and `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) fn resource() -> Resource {
    let mut builder = Resource::builder();
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    if !named {
        builder = builder.with_service_name("seatrush");
    }
    builder
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build()
}

/// Keeps the trace pipeline alive; [`TracingGuard::shutdown`] flushes it.
#[must_use = "dropping the guard does not flush buffered spans; call shutdown"]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
}

impl TracingGuard {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is buffered (bounded by `FLUSH_TIMEOUT`) and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            flush("traces", move || {
                provider.shutdown_with_timeout(FLUSH_TIMEOUT)
            })
            .await;
        }
    }
}

/// Runs an SDK shutdown (which blocks until the exporter is done) off the async workers.
async fn flush(
    signal: &'static str,
    shutdown: impl FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send + 'static,
) {
    if let Ok(Err(err)) = tokio::task::spawn_blocking(shutdown).await {
        tracing::warn!(error = %err, "could not flush {signal} at shutdown");
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OpenTelemetry export: {0}")]
pub struct TelemetryError(String);

/// Installs the process's subscriber: the log layer and, when the environment asks for it,
/// the OTLP trace layer. Must run inside the Tokio runtime (the exporter's gRPC client needs
/// it). A second call (tests start many servers) installs nothing.
pub fn init(format: LogFormat, signals: OtlpSignals) -> Result<TracingGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let logs = match format {
        LogFormat::Text => fmt::layer().with_target(false).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    }
    .with_filter(filter);

    let provider = if signals.traces {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError(e.to_string()))?;
        let _ = SAMPLER.set(RpcSampler::from_env());
        Some(
            SdkTracerProvider::builder()
                .with_resource(resource())
                // The call's span was only created for the exporter if `RpcSampler` chose it.
                .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
                .with_batch_exporter(exporter)
                .build(),
        )
    } else {
        None
    };
    // Only sampled calls' spans, and what happens inside them, reach the exporter: a background
    // task's spans (the sweeper, health pings) would otherwise each start a trace.
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("seatrush"))
            .with_filter(
                dynamic_filter_fn(|metadata, cx| {
                    metadata.target() == SAMPLED_TARGET || cx.lookup_current().is_some()
                })
                // Nothing above debug: without a hint the process-wide maximum level becomes
                // TRACE, and every `log` record of the libraries is built and filtered.
                .with_max_level_hint(tracing::level_filters::LevelFilter::DEBUG)
                // Decided once per call site, so the libraries' own trace events cost nothing.
                .with_callsite_filter(|metadata| {
                    if metadata.target() == SAMPLED_TARGET {
                        Interest::always()
                    } else if metadata.target() == CLIENT_TARGET
                        || (metadata.target().starts_with("seatrush")
                            && *metadata.level() <= tracing::Level::INFO)
                    {
                        Interest::sometimes()
                    } else {
                        Interest::never()
                    }
                }),
            )
    });
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    Ok(TracingGuard {
        provider: provider.filter(|_| installed),
    })
}

#[cfg(test)]
mod tests {
    use super::{OtlpSignals, RpcSampler};
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn remote(sampled: bool) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from_bytes(7u128.to_be_bytes()),
            SpanId::from_bytes(9u64.to_be_bytes()),
            flags,
            true,
            TraceState::default(),
        )
    }

    #[test]
    fn the_default_follows_the_caller_and_samples_one_percent_of_the_rest() {
        let sampler = RpcSampler::parse(None, None);
        assert!(sampler.sample(Some(&remote(true))));
        assert!(!sampler.sample(Some(&remote(false))));
        let sampled = (0..100_000).filter(|_| sampler.sample(None)).count();
        assert!((500..1_500).contains(&sampled), "{sampled} of 100000");
    }

    #[test]
    fn standard_sampler_names_are_honoured() {
        let on = RpcSampler::parse(Some("always_on"), None);
        assert!(on.sample(None) && on.sample(Some(&remote(false))));
        let off = RpcSampler::parse(Some("parentbased_always_off"), None);
        assert!(!off.sample(None) && off.sample(Some(&remote(true))));
        let half = RpcSampler::parse(Some("traceidratio"), Some("0.5"));
        let sampled = (0..10_000).filter(|_| half.sample(None)).count();
        assert!((4_000..6_000).contains(&sampled), "{sampled}");
        assert_eq!(
            RpcSampler::parse(Some("parentbased_traceidratio"), Some("bogus")),
            RpcSampler::parse(Some("parentbased_always_on"), None)
        );
    }

    fn signals(vars: &[(&str, &str)]) -> OtlpSignals {
        OtlpSignals::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_is_exported_unless_an_endpoint_is_set() {
        assert_eq!(signals(&[]), OtlpSignals::default());
        assert_eq!(
            signals(&[
                ("OTEL_SERVICE_NAME", "x"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", " ")
            ]),
            OtlpSignals::default()
        );
    }

    #[test]
    fn endpoints_and_exporter_switches_pick_the_signals() {
        let all = OtlpSignals {
            traces: true,
            metrics: true,
        };
        assert_eq!(
            signals(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]),
            all
        );
        assert_eq!(
            signals(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317")]),
            OtlpSignals {
                traces: true,
                metrics: false
            }
        );
        assert_eq!(
            signals(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_METRICS_EXPORTER", "none")
            ]),
            OtlpSignals {
                traces: true,
                metrics: false
            }
        );
        assert_eq!(
            signals(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_SDK_DISABLED", "true")
            ]),
            OtlpSignals::default()
        );
    }
}
