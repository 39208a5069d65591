//! Logs, traces and metrics, configured the way operators already configure OpenTelemetry.
//!
//! - **Logs** (`tracing`): text or JSON lines on stdout, filtered by `RUST_LOG` (default `info`).
//!   A line is written for every failed request (by `api::observe`), none for a successful one.
//! - **Traces**: exported over OTLP/gRPC only when the standard variables ask for it
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, unless
//!   `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`). The SDK reads the rest itself:
//!   `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`.
//!   Spans are queued to a background exporter (a full queue drops spans, never waits), so a down
//!   or slow collector costs requests nothing; [`TracingGuard::shutdown`] flushes the queue.
//! - **Metrics**: see [`metrics`]; they belong to an [`crate::startup::Application`], not to the
//!   process, so tests can run several servers with their own numbers.
//!
//! Logging and tracing are process-wide (one `tracing` subscriber), so they are set up by
//! `main`, once.

pub mod admin;
pub mod metrics;

pub use metrics::{Metrics, MetricsPipeline};

use crate::config::LogFormat;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

/// How long shutdown waits for buffered spans and metrics to reach the collector.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The resource every span and metric carries: `service.name` (default `seatrush`, or
/// `OTEL_SERVICE_NAME`), `service.version`, and `OTEL_RESOURCE_ATTRIBUTES`.
pub fn resource() -> Resource {
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

    /// Exports what is buffered (bounded by [`FLUSH_TIMEOUT`]) and stops the exporter.
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
#[error("cannot set up the OTLP trace exporter: {0}")]
pub struct TelemetryError(String);

/// Installs the process's subscriber: the log layer and, when the environment asks for it,
/// the OTLP trace layer. Must run inside the Tokio runtime (the exporter's gRPC client needs
/// it). A second call (tests start many servers) only installs nothing.
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
        Some(
            SdkTracerProvider::builder()
                .with_resource(resource())
                .with_batch_exporter(exporter)
                .build(),
        )
    } else {
        None
    };
    // Only SeatRush's own spans (the RPC span and its Redis and database children) are exported.
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("seatrush"))
            .with_filter(Targets::new().with_target("seatrush", Level::INFO))
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
    use super::OtlpSignals;

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
