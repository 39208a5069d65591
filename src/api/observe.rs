//! RPC metrics for every call, a server span for every sampled one and, for a failure, one log
//! line: a tower layer around every gRPC service, so health, reflection and unknown methods are
//! covered too.
//!
//! The call's status is read where gRPC puts it: the `grpc-status` header of a trailers-only
//! answer (how tonic sends errors), else the trailers at the end of the body. The span and the
//! timer therefore cover a whole stream, not just its first message. A call dropped before its
//! status (the client went away) is counted as CANCELLED and not logged.
//!
//! `traceparent` / `tracestate` in the request metadata make the span a child of the caller's
//! trace (the global propagator, W3C trace context) and decide its sampling (see `telemetry`).
//! The span's `trace_id` field puts the trace id on every log line written during the call; an
//! unsampled call that came with a trace context gets a small span for that alone.

use crate::domain::{EventId, ReservationId};
use crate::telemetry::metrics::RpcLabels;
use crate::telemetry::{Metrics, RpcSampler, SAMPLED_TARGET};
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use pin_project_lite::pin_project;
use prost::Message;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tonic::Code;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const OTHER: RpcLabels = RpcLabels {
    service: "_OTHER",
    method: "_OTHER",
    full: "_OTHER",
};

/// Every method this server answers, from the descriptor sets it serves by reflection. Names
/// are leaked once at start-up so labels are `&'static` and bounded.
static METHODS: LazyLock<HashMap<&'static str, RpcLabels>> = LazyLock::new(|| {
    let sets = [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashMap::new();
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
            continue;
        };
        for file in set.file {
            for service in &file.service {
                let qualified: &'static str =
                    format!("{}.{}", file.package(), service.name()).leak();
                for method in &service.method {
                    let name: &'static str = method.name().to_owned().leak();
                    let path: &'static str = format!("/{qualified}/{name}").leak();
                    methods.insert(
                        path,
                        RpcLabels {
                            service: qualified,
                            method: name,
                            full: &path[1..],
                        },
                    );
                }
            }
        }
    }
    methods
});

fn labels_of(path: &str) -> RpcLabels {
    METHODS.get(path).copied().unwrap_or(OTHER)
}

#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
}

impl ObserveLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        LazyLock::force(&METHODS);
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for Observe<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = ObservedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let rpc = labels_of(request.uri().path());
        let span = rpc_span(rpc, request.headers());
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ObservedFuture {
            inner,
            call: Some(Call {
                span,
                rpc,
                started: Instant::now(),
                metrics: self.metrics.clone(),
                done: false,
            }),
        }
    }
}

fn rpc_span(rpc: RpcLabels, headers: &HeaderMap) -> Span {
    let parent = headers.contains_key("traceparent").then(|| {
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&MetadataExtractor(headers))
        })
    });
    let remote = parent
        .as_ref()
        .map(|cx| cx.span().span_context().clone())
        .filter(|sc| sc.is_valid());
    let sampled = RpcSampler::installed().is_some_and(|s| s.sample(remote.as_ref()));
    if !sampled {
        // Only the logs could use a span now, and only for the caller's trace id: a span per
        // call for nothing costs several percent of Reserve throughput (BENCHMARKS.md).
        return match remote {
            Some(remote) => tracing::info_span!(
                target: "seatrush::rpc",
                "rpc",
                rpc = rpc.full,
                trace_id = %remote.trace_id(),
            ),
            None => Span::none(),
        };
    }
    // At the target the OpenTelemetry layer takes (see `telemetry`).
    let span = tracing::info_span!(
        target: SAMPLED_TARGET,
        "rpc",
        otel.name = rpc.full,
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = rpc.service,
        rpc.method = rpc.method,
        rpc.grpc.status_code = Empty,
        seatrush.event_id = Empty,
        seatrush.reservation_ref = Empty,
        trace_id = Empty,
        span_id = Empty,
    );
    if let Some(parent) = parent.filter(|_| remote.is_some()) {
        let _ = span.set_parent(parent);
    }
    let own = span.context().span().span_context().clone();
    if own.is_valid() {
        span.record("trace_id", tracing::field::display(own.trace_id()));
        span.record("span_id", tracing::field::display(own.span_id()));
    }
    span
}

/// Puts the call's event on its span (sampled calls only; otherwise nothing happens).
pub fn record_event(event: EventId) {
    let span = Span::current();
    if !span.is_disabled() {
        span.record("seatrush.event_id", tracing::field::display(event));
    }
}

/// Puts the call's reservation (its public reference, never the id, which is a secret) and its
/// event on its span (sampled calls only).
pub fn record_reservation(reservation: ReservationId) {
    let span = Span::current();
    if !span.is_disabled() {
        span.record(
            "seatrush.event_id",
            tracing::field::display(reservation.event()),
        );
        span.record("seatrush.reservation_ref", reservation.public_ref());
    }
}

struct MetadataExtractor<'a>(&'a HeaderMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// An RPC in flight: finished exactly once, with its status, or as CANCELLED when dropped.
struct Call {
    span: Span,
    rpc: RpcLabels,
    started: Instant,
    metrics: Arc<Metrics>,
    done: bool,
}

impl Call {
    fn finish(&mut self, code: Code, message: &str) {
        self.record(code, message, true);
    }

    /// Counts the call; logs a failure unless `log` is false (a client that went away).
    fn record(&mut self, code: Code, message: &str, log: bool) {
        if self.done {
            return;
        }
        self.done = true;
        let elapsed = self.started.elapsed();
        let status = code as i32;
        self.metrics.rpc_finished(self.rpc, status, elapsed);
        self.span.record("rpc.grpc.status_code", status);
        if code == Code::Ok || !log {
            return;
        }
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        // Entered, not `parent:`, so log formatters that list the current spans see it.
        let _entered = self.span.enter();
        if is_server_fault(code) {
            self.span.record("otel.status_code", "ERROR");
            tracing::warn!(rpc = self.rpc.full, grpc.status = status, grpc.code = ?code, grpc.message = message, elapsed_ms, "request failed");
        } else {
            tracing::info!(rpc = self.rpc.full, grpc.status = status, grpc.code = ?code, grpc.message = message, elapsed_ms, "request failed");
        }
    }

    fn finish_from(&mut self, headers: &HeaderMap) -> bool {
        match tonic::Status::from_header_map(headers) {
            Some(status) => {
                self.finish(status.code(), status.message());
                true
            }
            None => false,
        }
    }
}

/// A call dropped before its status: the client went away (a watcher leaving, a cancelled
/// call) or the connection broke. Counted as CANCELLED, but not logged: leaving is not a failure.
impl Drop for Call {
    fn drop(&mut self) {
        self.record(
            Code::Cancelled,
            "the call ended before its status was sent",
            false,
        );
    }
}

/// The codes the OpenTelemetry gRPC conventions count as server errors.
fn is_server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

pin_project! {
    pub struct ObservedFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, ResBody, E> Future for ObservedFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ObservedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.call.as_ref().map(|call| call.span.enter());
            ready!(this.inner.poll(cx))
        };
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(c) = call.as_mut()
                    && c.finish_from(response.headers())
                {
                    call = None;
                }
                Ok(response.map(|inner| ObservedBody { inner, call }))
            }
            Err(err) => {
                if let Some(mut call) = call {
                    call.finish(Code::Unknown, "the service failed");
                }
                Err(err)
            }
        })
    }
}

pin_project! {
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = {
            let _entered = this.call.as_ref().map(|call| call.span.enter());
            ready!(this.inner.poll_frame(cx))
        };
        if let Some(mut call) = this.call.take() {
            match &frame {
                Some(Ok(frame)) => match frame.trailers_ref() {
                    Some(trailers) => {
                        if !call.finish_from(trailers) {
                            call.finish(Code::Unknown, "trailers without grpc-status");
                        }
                    }
                    None => *this.call = Some(call),
                },
                Some(Err(_)) => call.finish(Code::Unknown, "the response body failed"),
                None => call.finish(Code::Unknown, "the response ended without a status"),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::labels_of;

    #[test]
    fn known_methods_get_their_names_and_others_a_fixed_label() {
        let reserve = labels_of("/seatrush.v1.BookingService/Reserve");
        assert_eq!(reserve.service, "seatrush.v1.BookingService");
        assert_eq!(reserve.method, "Reserve");
        assert_eq!(reserve.full, "seatrush.v1.BookingService/Reserve");
        assert_eq!(labels_of("/grpc.health.v1.Health/Check").method, "Check");
        assert_eq!(
            labels_of("/seatrush.v1.BookingService/Nope").service,
            "_OTHER"
        );
        assert_eq!(labels_of("/x").method, "_OTHER");
    }
}
