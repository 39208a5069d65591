//! Observability, end to end: the real `seatrush` binary, configured only by the standard
//! OTEL_* variables, exports to an OTLP receiver started inside the test (`seatrush-testkit`'s,
//! a small tonic server implementing the collector's trace and metrics services). Tracing is process-wide, so these
//! tests run the server as a child process instead of in the test process.

use crate::helpers::{ADMIN_TOKEN, Backend, PASSWORD, Storage, assert_code, attach};
use crate::process::Process;
use seatrush::proto::v1 as pb;
use seatrush_testkit::otlp::Receiver;
use seatrush_testkit::otlp::opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use seatrush_testkit::otlp::opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use seatrush_testkit::otlp::opentelemetry_proto::tonic::trace::v1::Span;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Code, Request};

/// The latest export's sum of a counter's data points matching `filter`.
fn counter(collector: &Receiver, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
    let received = collector.received();
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

/// The `service.name` of every resource that sent spans.
fn resource_services(collector: &Receiver) -> Vec<String> {
    collector
        .received()
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .filter_map(|r| r.resource.as_ref())
        .filter_map(|r| string_attr(&r.attributes, "service.name"))
        .collect()
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
    let mut collector = Receiver::start(true).await;
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
                best_available: None,
                general_admission: None,
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
                ..Default::default()
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
                best_available: None,
                general_admission: None,
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
        ..Default::default()
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
    let reservation_ref =
        seatrush::internals::domain::ReservationId::parse("id", &reservation.reservation_id)
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
        resource_services(&collector)
            .iter()
            .all(|s| s == "seatrush-under-test")
    );

    // Metrics, pushed at shutdown.
    let reserve_ok = counter(
        &collector,
        "rpc.server.requests",
        &[("rpc.method", "Reserve"), ("rpc.grpc.status_code", "0")],
    );
    assert_eq!(reserve_ok, Some(1.0));
    assert_eq!(
        counter(&collector, "seatrush.holds.created", &[]),
        Some(1.0)
    );
    assert_eq!(
        counter(&collector, "seatrush.holds.purchased", &[]),
        Some(1.0)
    );
    assert_eq!(
        counter(&collector, "seatrush.reserve.conflicts", &[]),
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
    let mut collector = Receiver::start(true).await;
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
                best_available: None,
                general_admission: None,
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
                && counter(&collector, "seatrush.holds.created", &[]).is_some()
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
            ..Default::default()
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
        if let Some(Payload::Changes(batch)) = message.payload {
            reasons.extend(batch.updates.iter().map(|u| u.reason()));
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

crate::both_backends!(booking_and_feed_metrics_are_served_on_the_admin_listener);
