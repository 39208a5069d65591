//! An OTLP/gRPC receiver on a free port, standing in for the OpenTelemetry Collector: it keeps
//! what the exporters send (for tests that inspect spans and metrics) or only counts it (for the
//! load generator, which must not grow).

pub use opentelemetry_proto;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// What the receiver got, as the exporters sent it (empty when it only counts).
#[derive(Default)]
pub struct Received {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
}

#[derive(Default)]
struct Store {
    keep: bool,
    received: Mutex<Received>,
    spans: AtomicU64,
    metric_exports: AtomicU64,
}

#[derive(Clone, Default)]
struct Sink(Arc<Store>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.spans.fetch_add(spans as u64, Ordering::Relaxed);
        if self.0.keep {
            lock(&self.0.received).traces.push(request);
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.metric_exports.fetch_add(1, Ordering::Relaxed);
        if self.0.keep {
            lock(&self.0.received).metrics.push(request.into_inner());
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn lock(received: &Mutex<Received>) -> MutexGuard<'_, Received> {
    received.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running receiver.
pub struct Receiver {
    address: SocketAddr,
    sink: Sink,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts receiving; `keep` keeps every request, otherwise only counts are kept.
    pub async fn start(keep: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an OTLP receiver");
        let address = listener.local_addr().expect("address");
        let sink = Sink(Arc::new(Store {
            keep,
            ..Store::default()
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(sink.clone()))
            .add_service(MetricsServiceServer::new(sink.clone()));
        let task = tokio::spawn(async move {
            let _ = server
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
        });
        Self {
            address,
            sink,
            stop: Some(stop),
            task,
        }
    }

    /// The URL for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops receiving (as a collector that goes away).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.task.abort();
    }

    pub fn span_count(&self) -> u64 {
        self.sink.0.spans.load(Ordering::Relaxed)
    }

    pub fn metric_exports(&self) -> u64 {
        self.sink.0.metric_exports.load(Ordering::Relaxed)
    }

    /// What was kept (nothing unless started with `keep`).
    pub fn received(&self) -> MutexGuard<'_, Received> {
        lock(&self.sink.0.received)
    }

    /// Every span kept.
    pub fn spans(&self) -> Vec<Span> {
        self.received()
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    /// Everything kept, as bytes (to search for secrets).
    pub fn encoded(&self) -> Vec<u8> {
        let received = self.received();
        let mut bytes = Vec::new();
        for r in &received.traces {
            bytes.extend(r.encode_to_vec());
        }
        for r in &received.metrics {
            bytes.extend(r.encode_to_vec());
        }
        bytes
    }
}
