//! Observability, end to end: the real `seatrush` binary, configured only by the standard
//! OTEL_* variables, exports to an OTLP receiver started inside the test (a small tonic server
//! implementing the collector's trace and metrics services). Tracing is process-wide, so these
//! tests run the server as a child process instead of in the test process.

use crate::helpers::{ADMIN_TOKEN, Backend, PASSWORD, Storage, assert_code, attach};
use crate::process::Process;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use seatrush::proto::v1 as pb;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::{Code, Request, Response, Status};

/// What the receiver got, as the exporters sent it.
#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.lock().unwrap().traces.push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.lock().unwrap().metrics.push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver on a free port.
struct Collector {
    address: SocketAddr,
    sink: Sink,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let sink = Sink::default();
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

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.task.abort();
    }

    fn spans(&self) -> Vec<Span> {
        let received = self.sink.0.lock().unwrap();
        received
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    fn resource_services(&self) -> Vec<String> {
        let received = self.sink.0.lock().unwrap();
        received
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .filter_map(|r| r.resource.as_ref())
            .filter_map(|r| string_attr(&r.attributes, "service.name"))
            .collect()
    }

    /// The sum of the latest export's data points of a counter matching `filter`.
    fn counter(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let received = self.sink.0.lock().unwrap();
        let last = received.metrics.iter().rev().find_map(|request| {
            request
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .find(|m| m.name == name)
                .cloned()
        })?;
        let Some(metric::Data::Sum(sum)) = last.data else {
            return None;
        };
        Some(
            sum.data_points
                .iter()
                .filter(|p| {
                    filter
                        .iter()
                        .all(|(k, v)| attr_text(&p.attributes, k).as_deref() == Some(*v))
                })
                .map(|p| match p.value {
                    Some(number_data_point::Value::AsInt(n)) => n as f64,
                    Some(number_data_point::Value::AsDouble(n)) => n,
                    None => 0.0,
                })
                .sum(),
        )
    }

    /// Everything received, as bytes (to search for secrets).
    fn encoded(&self) -> Vec<u8> {
        let received = self.sink.0.lock().unwrap();
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

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attr(attributes, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn attr_text(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attr(attributes, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        Some(any_value::Value::IntValue(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn random_hex(bytes: usize) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..bytes * 2].to_owned()
}

/// A request carrying a W3C trace context.
fn traced<T>(message: T, token: &str, trace_id: &str, parent: &str) -> Request<T> {
    let mut request = crate::helpers::authed(message, token);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent}-01").parse().expect("ascii"),
    );
    request
        .metadata_mut()
        .insert("tracestate", "gateway=1".parse().expect("ascii"));
    request
}

async fn scrape(admin: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(admin).await.expect("admin");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: seatrush\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("response");
    body
}

fn children_of<'a>(spans: &'a [Span], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id)
        .collect()
}

fn server_span<'a>(spans: &'a [Span], trace_id: &str, name: &str) -> &'a Span {
    let trace = hex::decode(trace_id).expect("hex");
    spans
        .iter()
        .find(|s| s.trace_id == trace && s.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} span in trace {trace_id}; got {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_reserve_and_purchase_reach_the_collector_with_metrics_and_logs() {
    let mut collector = Collector::start().await;
    let storage = Storage::new(Backend::Distributed).await;
    // Long export intervals: everything below arrives through the flush at shutdown.
    let server = Process::start(
        &storage,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
            ("OTEL_SERVICE_NAME", "seatrush-under-test".into()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=test".into(),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000".into()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "60000".into()),
            ("SEATRUSH_ADMIN_LISTEN", "127.0.0.1:0".into()),
        ],
    )
    .await;
    let app = attach(storage.clone(), server.address.clone()).await;
    let (email, token) = app.user_with_email().await;
    let rival = app.user().await;
    let event = app.event(1, 4).await;

    let trace_id = random_hex(16);
    let reserve_parent = random_hex(8);
    let reservation = app
        .booking
        .clone()
        .reserve(traced(
            pb::ReserveRequest {
                event_id: event.event_id.clone(),
                seats: vec!["A1".into(), "A2".into()],
                hold_seconds: 60,
            },
            &token,
            &trace_id,
            &reserve_parent,
        ))
        .await
        .expect("reserve")
        .into_inner()
        .reservation
        .expect("reservation");
    let tickets = app
        .booking
        .clone()
        .purchase(traced(
            pb::PurchaseRequest {
                reservation_id: reservation.reservation_id.clone(),
            },
            &token,
            &trace_id,
            &random_hex(8),
        ))
        .await
        .expect("purchase")
        .into_inner()
        .tickets;
    assert_eq!(tickets.len(), 2);
    let failed_trace = random_hex(16);
    let conflict = app
        .booking
        .clone()
        .reserve(traced(
            pb::ReserveRequest {
                event_id: event.event_id.clone(),
                seats: vec!["A1".into()],
                hold_seconds: 60,
            },
            &rival,
            &failed_trace,
            &random_hex(8),
        ))
        .await;
    assert_code(conflict, Code::AlreadyExists);

    // A caller that decided not to sample: nothing is recorded for its trace.
    let unsampled_trace = random_hex(16);
    let mut unsampled = Request::new(pb::GetSeatMapRequest {
        event_id: event.event_id.clone(),
    });
    unsampled.metadata_mut().insert(
        "traceparent",
        format!("00-{unsampled_trace}-{}-00", random_hex(8))
            .parse()
            .expect("ascii"),
    );
    app.booking
        .clone()
        .get_seat_map(unsampled)
        .await
        .expect("seat map");

    let admin = server.admin.clone().expect("admin listener address logged");
    let scraped = scrape(&admin).await;
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    let requests = |code: &str| {
        scraped.lines().any(|l| {
            l.starts_with("rpc_server_requests_total{")
                && l.contains("rpc_method=\"Reserve\"")
                && l.contains(&format!("rpc_grpc_status_code=\"{code}\""))
                && l.ends_with(" 1")
        })
    };
    assert!(requests("0") && requests("6"), "{scraped}");
    assert!(
        scraped.contains("seatrush_reserve_conflicts_total 1"),
        "{scraped}"
    );
    assert!(
        scraped.contains("seatrush_tickets_sold_total 2"),
        "{scraped}"
    );

    let logs = server.logs();
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    collector.stop().await;

    // Traces: the Reserve's server span continues the caller's trace, with its RPC attributes
    // and the Redis script as a child; the Purchase has the database write as a child.
    let spans = collector.spans();
    let reserve = server_span(&spans, &trace_id, "seatrush.v1.BookingService/Reserve");
    assert_eq!(
        reserve.parent_span_id,
        hex::decode(&reserve_parent).unwrap()
    );
    assert_eq!(reserve.kind, 2, "SPAN_KIND_SERVER");
    let text = |key| attr_text(&reserve.attributes, key);
    assert_eq!(text("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        text("rpc.service").as_deref(),
        Some("seatrush.v1.BookingService")
    );
    assert_eq!(text("rpc.method").as_deref(), Some("Reserve"));
    assert_eq!(text("rpc.grpc.status_code").as_deref(), Some("0"));
    assert_eq!(
        text("seatrush.event_id").as_deref(),
        Some(event.event_id.as_str())
    );
    let reservation_ref = seatrush::domain::ReservationId::parse("id", &reservation.reservation_id)
        .expect("reservation id")
        .public_ref();
    assert_eq!(
        text("seatrush.reservation_ref").as_deref(),
        Some(reservation_ref.as_str())
    );
    let reserve_children = children_of(&spans, reserve);
    let script = reserve_children
        .iter()
        .find(|s| s.name == "EVALSHA reserve")
        .unwrap_or_else(|| panic!("no Redis child span: {reserve_children:?}"));
    assert_eq!(
        string_attr(&script.attributes, "db.system.name").as_deref(),
        Some("redis")
    );
    assert_eq!(script.kind, 3, "SPAN_KIND_CLIENT");

    let purchase = server_span(&spans, &trace_id, "seatrush.v1.BookingService/Purchase");
    assert_eq!(
        attr_text(&purchase.attributes, "seatrush.reservation_ref").as_deref(),
        Some(reservation_ref.as_str())
    );
    let purchase_children = children_of(&spans, purchase);
    let names: Vec<&str> = purchase_children.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"EVALSHA begin_purchase"), "{names:?}");
    assert!(names.contains(&"EVALSHA finish_purchase"), "{names:?}");
    let insert = purchase_children
        .iter()
        .find(|s| s.name == "INSERT tickets")
        .unwrap_or_else(|| panic!("no database child span: {names:?}"));
    assert_eq!(
        string_attr(&insert.attributes, "db.system.name").as_deref(),
        Some("postgresql")
    );
    let unsampled_id = hex::decode(&unsampled_trace).unwrap();
    assert!(!spans.iter().any(|s| s.trace_id == unsampled_id));
    let failed = server_span(&spans, &failed_trace, "seatrush.v1.BookingService/Reserve");
    assert_eq!(
        attr_text(&failed.attributes, "rpc.grpc.status_code").as_deref(),
        Some("6")
    );
    assert!(
        collector
            .resource_services()
            .iter()
            .all(|s| s == "seatrush-under-test")
    );

    // Metrics, pushed at shutdown.
    let reserve_ok = collector.counter(
        "rpc.server.requests",
        &[("rpc.method", "Reserve"), ("rpc.grpc.status_code", "0")],
    );
    assert_eq!(reserve_ok, Some(1.0));
    assert_eq!(collector.counter("seatrush.holds.created", &[]), Some(1.0));
    assert_eq!(
        collector.counter("seatrush.holds.purchased", &[]),
        Some(1.0)
    );
    assert_eq!(
        collector.counter("seatrush.reserve.conflicts", &[]),
        Some(1.0)
    );

    // Logs: one line for the failed call, carrying its trace id; none for the successful ones.
    let failures: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("request failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains(&failed_trace), "{}", failures[0]);
    assert!(failures[0].contains("\"grpc.status\":6"), "{}", failures[0]);
    assert!(!logs.iter().any(|l| l.contains(&trace_id)), "{logs:?}");

    // Nothing secret in anything exported or logged.
    let mut everything = collector.encoded();
    everything.extend(logs.join("\n").into_bytes());
    everything.extend(scraped.into_bytes());
    let everything = String::from_utf8_lossy(&everything);
    // The reservation id's second half is its secret token.
    let hold_token = &reservation.reservation_id[32..];
    for secret in [
        hold_token,
        token.as_str(),
        rival.as_str(),
        PASSWORD,
        ADMIN_TOKEN,
        email.as_str(),
    ] {
        assert!(!everything.contains(secret), "{secret:?} was exported");
    }
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_serving_when_the_collector_is_gone() {
    let mut collector = Collector::start().await;
    let storage = Storage::new(Backend::Embedded).await;
    let quick_export = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200".into()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000".into()),
        ("SEATRUSH_MAX_SEATS_PER_USER", "1000".into()),
    ];
    let server = Process::start(&storage, &quick_export).await;
    let app = attach(storage.clone(), server.address.clone()).await;
    let token = app.user().await;
    let event = app.event(20, 30).await;
    let trace_id = random_hex(16);
    app.booking
        .clone()
        .reserve(traced(
            pb::ReserveRequest {
                event_id: event.event_id.clone(),
                seats: vec!["A1".into()],
                hold_seconds: 60,
            },
            &token,
            &trace_id,
            &random_hex(8),
        ))
        .await
        .expect("reserve");
    // Exported while running, not only at shutdown.
    let exported = async {
        loop {
            let spans = collector.spans();
            if spans
                .iter()
                .any(|s| s.trace_id == hex::decode(&trace_id).unwrap())
                && collector.counter("seatrush.holds.created", &[]).is_some()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), exported)
        .await
        .expect("spans and metrics arrive while the server runs");

    collector.stop().await;
    // 500 calls with the collector gone: every one answered.
    let calls = (0..500).map(|i| {
        let app = &app;
        let token = token.clone();
        let event = event.event_id.clone();
        async move {
            let row = char::from(b'B' + (i / 30) as u8);
            let seat = format!("{row}{}", i % 30 + 1);
            app.reserve(&token, &event, &[&seat], 60).await
        }
    });
    let results = futures::future::join_all(calls).await;
    let failures: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");

    // And it starts, serves and stops with no collector at all.
    let server = Process::start(&storage, &quick_export).await;
    let app = attach(storage.clone(), server.address.clone()).await;
    app.reserve(&token, &event.event_id, &["A2"], 60)
        .await
        .expect("reserve with the collector down");
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    storage.destroy().await;
}

/// The seats-held gauge's source: the hold store counts live holds' seats, not lapsed, released
/// or sold ones. On Redis it is read through a second client, as another instance would: once
/// scanning Redis for the events, once from the events a running feed has seen.
async fn held_seats_are_counted_in_the_hold_store(backend: Backend) {
    let storage = Storage::new(backend).await;
    match backend {
        Backend::Distributed => {
            let url = crate::helpers::redis_url();
            let connect = || {
                seatrush::redis::RedisHolds::connect(
                    &url,
                    &storage.redis_prefix,
                    Duration::from_secs(60),
                    Duration::from_secs(5),
                )
            };
            let scanning = connect().await.expect("redis");
            count_held_seats(Arc::new(scanning)).await;
            let with_feed = connect().await.expect("redis");
            let (_stop, stopping) = tokio::sync::watch::channel(false);
            with_feed
                .start_feed(
                    Arc::new(seatrush::hub::Hub::new()),
                    Arc::new(seatrush::telemetry::Metrics::disabled()),
                    stopping,
                )
                .await
                .expect("feed");
            count_held_seats(Arc::new(with_feed)).await;
        }
        Backend::Embedded => {
            count_held_seats(Arc::new(seatrush::memory::MemoryHolds::new(
                Arc::new(seatrush::hub::Hub::new()),
                Arc::new(seatrush::telemetry::Metrics::disabled()),
                Arc::new(seatrush::clock::SystemClock),
            )))
            .await
        }
    }
    storage.destroy().await;
}

/// Six seats held on a new event; then one hold released and one lapsed: three.
async fn count_held_seats(store: Arc<dyn seatrush::ports::HoldStore>) {
    use seatrush::domain::{EventId, HoldOutcome, HoldTerms, ReservationId, SeatLabel, UserId};
    use seatrush::ports::HoldRequest;
    let event = EventId::generate();
    store.mark_sold(event, &[], true).await.expect("loaded");
    let user = UserId::generate();
    let hold = |seats: &[&str], ttl_ms: u64| HoldRequest {
        reservation: ReservationId::new(event),
        user,
        seats: seats
            .iter()
            .map(|s| SeatLabel::parse("seat", s).expect("label"))
            .collect(),
        terms: HoldTerms {
            ttl: Duration::from_millis(ttl_ms),
            max_seats_per_user: 100,
            retention: Duration::from_secs(60),
        },
    };
    let kept = hold(&["A1", "A2", "A3"], 60_000);
    let released = hold(&["B1", "B2"], 60_000);
    let lapsing = hold(&["C1"], 1_500);
    for request in [&kept, &released, &lapsing] {
        let outcome = store.hold(request).await.expect("hold");
        assert!(matches!(outcome, HoldOutcome::Held { .. }), "{outcome:?}");
    }
    // A feed learns of the event from the RESERVED changes, a moment after the holds.
    let mut counted = 0;
    for _ in 0..50 {
        counted = store.held_seats().await.expect("count");
        if counted == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counted, 6);
    store
        .release(released.reservation, user)
        .await
        .expect("release")
        .expect("released");
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(store.held_seats().await.expect("count"), 3);
    store
        .release(kept.reservation, user)
        .await
        .expect("release")
        .expect("released");
    assert_eq!(store.held_seats().await.expect("count"), 0);
}

/// The booking and feed numbers on the admin listener: a hold that lapses while watched is
/// created, expired (with its lateness), sent to the watcher, and the watcher is counted.
async fn booking_and_feed_metrics_are_served_on_the_admin_listener(backend: Backend) {
    use seatrush::proto::v1::watch_seats_response::Payload;
    let app = crate::helpers::spawn_with(Storage::new(backend).await, |s| {
        s.admin_listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await;
    let admin = app.admin_address.expect("admin listener").to_string();
    let token = app.user().await;
    let event = app.event(1, 5).await;
    let mut stream = app
        .booking
        .clone()
        .watch_seats(pb::WatchSeatsRequest {
            event_id: event.event_id.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    app.reserve(&token, &event.event_id, &["A1"], 1)
        .await
        .expect("reserve");
    let mut reasons = Vec::new();
    while reasons.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a change within 10 s")
            .expect("stream")
            .expect("open");
        if let Some(Payload::Change(change)) = message.payload {
            reasons.push(change.reason());
        }
    }
    assert_eq!(
        reasons,
        [pb::ChangeReason::Reserved, pb::ChangeReason::Expired]
    );
    let scraped = scrape(&admin).await;
    for line in [
        "seatrush_holds_created_total 1",
        "seatrush_holds_expired_total 1",
        "seatrush_feed_expired_lateness_seconds_count 1",
        "seatrush_feed_watchers 1",
        "seatrush_feed_changes_sent_total 2",
    ] {
        assert!(
            scraped.lines().any(|l| l == line),
            "no {line:?} in\n{scraped}"
        );
    }
    drop(stream);
    app.teardown().await;
}

crate::both_backends!(
    held_seats_are_counted_in_the_hold_store,
    booking_and_feed_metrics_are_served_on_the_admin_listener
);
