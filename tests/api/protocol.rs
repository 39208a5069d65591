//! The transport as real clients meet it: latency of sequential calls, descriptors served by
//! reflection, and client mistakes answered as client mistakes.

use crate::helpers::{Backend, spawn_app};
use seatrush::proto::v1 as pb;
use std::time::{Duration, Instant};

/// Nagle's algorithm on the server's sockets held every response of more than one TCP segment
/// until the client's delayed ACK (~40 ms). Sequential reads of a 200-seat map must not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_reads_of_a_200_seat_map_do_not_wait_for_delayed_acks() {
    let app = spawn_app(Backend::Embedded).await;
    let event = app.event(10, 20).await;
    let mut booking = app.booking.clone();
    let mut times = Vec::new();
    for i in 0..45 {
        let started = Instant::now();
        let map = booking
            .get_seat_map(pb::GetSeatMapRequest {
                event_id: event.event_id.clone(),
                ..Default::default()
            })
            .await
            .expect("seat map")
            .into_inner();
        assert_eq!(map.seats.len(), 200);
        if i >= 5 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let p50 = times[times.len() / 2];
    assert!(
        p50 < Duration::from_millis(10),
        "sequential GetSeatMap p50 is {p50:?}; a Nagle stall shows as ~40 ms"
    );
    app.teardown().await;
}

/// Just enough of `descriptor.proto` to reach a method's `google.api.http` option (field
/// 72295728 of `MethodOptions`), which `prost_types` would drop.
mod descriptor {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct File {
        #[prost(message, repeated, tag = "6")]
        pub service: Vec<Service>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Service {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, repeated, tag = "2")]
        pub method: Vec<Method>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Method {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "4")]
        pub options: Option<MethodOptions>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MethodOptions {
        #[prost(message, optional, tag = "72295728")]
        pub http: Option<HttpRule>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HttpRule {
        #[prost(string, tag = "2")]
        pub get: String,
        #[prost(string, tag = "4")]
        pub post: String,
        #[prost(string, tag = "7")]
        pub body: String,
    }
}

/// Gateways and code generators read the HTTP mapping from reflection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_serves_the_http_annotations() {
    use prost::Message;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = spawn_app(Backend::Embedded).await;
    let mut reflection = ServerReflectionClient::new(crate::helpers::connect(&app.address).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "seatrush.v1.BookingService".into(),
        )),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
        panic!("expected file descriptors, got {answer:?}");
    };
    let reserve = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| descriptor::File::decode(bytes.as_slice()).expect("descriptor"))
        .flat_map(|file| file.service)
        .filter(|service| service.name == "BookingService")
        .flat_map(|service| service.method)
        .find(|method| method.name == "Reserve")
        .expect("Reserve is described");
    let http = reserve
        .options
        .and_then(|options| options.http)
        .expect("Reserve carries its google.api.http option");
    assert_eq!(http.post, "/v1/events/{event_id}/reservations");
    assert_eq!(http.body, "*");
    app.teardown().await;
}

/// A raw HTTP/2 request to the server, as a client that is not a gRPC stub might send it.
async fn raw(
    address: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> http::Response<tonic::body::Body> {
    use tower::ServiceExt;
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{address}{path}"))
        .header("te", "trailers");
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request
        .body(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from(body),
        )))
        .expect("request");
    crate::helpers::connect(address)
        .await
        .oneshot(request)
        .await
        .expect("an HTTP answer")
}

/// The gRPC status of an answer: from its headers (trailers-only), else its trailers.
async fn grpc_status(response: http::Response<tonic::body::Body>) -> tonic::Status {
    use http_body_util::BodyExt;
    if let Some(status) = tonic::Status::from_header_map(response.headers()) {
        return status;
    }
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().expect("trailers");
    tonic::Status::from_header_map(trailers).expect("grpc-status")
}

fn framed(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut body = vec![flag];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    body
}

/// Client mistakes are answered as client mistakes: the right HTTP or gRPC code, no parser
/// text, an info line in the log rather than a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_not_server_faults() {
    use tonic::Code;
    let storage = crate::helpers::Storage::new(Backend::Embedded).await;
    let server = crate::process::Process::start(&storage, &[]).await;
    let address = server.address.clone();
    let seat_map = "/seatrush.v1.BookingService/GetSeatMap";

    let options = raw(&address, "OPTIONS", seat_map, None, Vec::new()).await;
    assert_eq!(options.status(), http::StatusCode::METHOD_NOT_ALLOWED);
    for content_type in [
        "application/json",
        "application/proto",
        "application/connect+proto",
    ] {
        let answer = raw(
            &address,
            "POST",
            seat_map,
            Some(content_type),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(
            answer.status(),
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }

    let grpc = Some("application/grpc");
    let compressed = raw(&address, "POST", seat_map, grpc, framed(1, b"\x0a\x00")).await;
    assert_eq!(grpc_status(compressed).await.code(), Code::InvalidArgument);
    let odd_flag = raw(&address, "POST", seat_map, grpc, framed(9, b"\x0a\x00")).await;
    assert_eq!(grpc_status(odd_flag).await.code(), Code::InvalidArgument);

    for path in [seat_map, "/grpc.health.v1.Health/Check"] {
        let junk = raw(&address, "POST", path, grpc, framed(0, b"\xff\xff\xff")).await;
        let status = grpc_status(junk).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert!(
            !status.message().contains("Protobuf") && !status.message().contains("wire type"),
            "{path}: parser text reached the client: {:?}",
            status.message()
        );
    }

    let oversized = raw(
        &address,
        "POST",
        seat_map,
        grpc,
        framed(0, &vec![0; 70_000]),
    )
    .await;
    let status = grpc_status(oversized).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    let logs = server.logs();
    let failures: Vec<&String> = logs
        .iter()
        .filter(|line| line.contains("request failed"))
        .collect();
    assert!(
        failures.len() >= 6,
        "every refused call is logged: {failures:?}"
    );
    for line in failures {
        assert!(
            line.contains("\"level\":\"INFO\""),
            "logged as a fault: {line}"
        );
    }
    server.terminate().await;
    storage.destroy().await;
}

/// A watcher that goes away has not failed: nothing is logged for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_leaves_is_not_logged_as_a_failure() {
    let storage = crate::helpers::Storage::new(Backend::Embedded).await;
    let server = crate::process::Process::start(&storage, &[]).await;
    let app = crate::helpers::attach(storage.clone(), server.address.clone()).await;
    let event = app.event(1, 4).await;
    let mut watcher = crate::feed::Watcher::start(&mut app.booking.clone(), &event.event_id).await;
    watcher.next(Duration::from_millis(50)).await;
    drop(watcher);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A failure logged after the watcher left marks where the log has reached.
    let marker = uuid::Uuid::new_v4().to_string();
    let missing = app
        .booking
        .clone()
        .get_seat_map(pb::GetSeatMapRequest {
            event_id: marker.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.logs().iter().any(|line| line.contains(&marker)) {
        assert!(Instant::now() < deadline, "the marker was never logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let watch_failures: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|line| line.contains("request failed") && line.contains("WatchSeats"))
        .collect();
    assert!(watch_failures.is_empty(), "{watch_failures:?}");
    server.terminate().await;
    storage.destroy().await;
}

/// Only the admin may send a large CreateEvent (a stadium's layout); a stranger's large message
/// is refused before it is read, whatever it claims to be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_create_event_needs_the_admin_token_before_it_is_read() {
    use seatrush::proto::v1::inventory_service_client::InventoryServiceClient;
    let app = spawn_app(Backend::Embedded).await;
    let sections = (1..=500)
        .map(|s| pb::SectionSpec {
            code: s.to_string(),
            name: format!("Block {s} of the north stand, upper tier, behind the goal"),
            rows: (1..=10)
                .map(|r| pb::RowSpec {
                    row: r.to_string(),
                    seat_count: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let request = pb::CreateEventRequest {
        name: "Large".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        }),
        sections,
        ..Default::default()
    };
    assert!(prost::Message::encoded_len(&request) > 64 * 1024);
    let mut inventory = InventoryServiceClient::new(crate::helpers::connect(&app.address).await);
    let stranger = inventory
        .create_event(crate::helpers::authed(request.clone(), "not-the-admin"))
        .await;
    assert_eq!(stranger.unwrap_err().code(), tonic::Code::ResourceExhausted);
    let admin = inventory
        .create_event(crate::helpers::authed(request, crate::helpers::ADMIN_TOKEN))
        .await
        .expect("the admin may")
        .into_inner();
    assert_eq!(admin.event.expect("event").seat_count, 5_000);
    app.teardown().await;
}
