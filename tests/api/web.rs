//! gRPC-Web and CORS, spoken by hand over HTTP/1.1 as a browser's fetch would: unary calls in the
//! binary and the text (base64) encodings, a failed call's status with its details, a WatchSeats
//! stream that sees another client's Reserve, and the CORS preflight for an allowed origin, a
//! foreign one, and none configured.

use crate::helpers::Backend;
use crate::helpers::{Storage, spawn_with};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use seatrush::proto::v1 as pb;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PAGE: &str = "http://seats.example";

/// An HTTP/1.1 exchange: the request head and body go out, the response head comes back with
/// the connection left open for the body.
struct Exchange {
    stream: TcpStream,
    head: String,
    buffered: Vec<u8>,
}

async fn send(address: &str, head: &str, body: &[u8]) -> Exchange {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "{head}Host: {host}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut buffered = Vec::new();
    loop {
        if let Some(end) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffered[..end]).into_owned();
            let buffered = buffered[end + 4..].to_vec();
            return Exchange {
                stream,
                head,
                buffered,
            };
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("an answer")
            .expect("read");
        assert!(n > 0, "connection closed before the head: {buffered:?}");
        buffered.extend_from_slice(&chunk[..n]);
    }
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The next chunk of a chunked body (empty at its end).
    async fn chunk(&mut self) -> Vec<u8> {
        loop {
            if let Some(end) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(
                    std::str::from_utf8(&self.buffered[..end])
                        .expect("size")
                        .trim(),
                    16,
                )
                .expect("hex size");
                if self.buffered.len() >= end + 2 + size + 2 {
                    let chunk = self.buffered[end + 2..end + 2 + size].to_vec();
                    self.buffered.drain(..end + 2 + size + 2);
                    return chunk;
                }
            }
            let mut more = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut more))
                .await
                .expect("more of the body")
                .expect("read");
            assert!(n > 0, "connection closed inside the body");
            self.buffered.extend_from_slice(&more[..n]);
        }
    }

    /// The whole body, de-chunked.
    async fn body(&mut self) -> Vec<u8> {
        if let Some(length) = self.header("content-length") {
            let length: usize = length.parse().expect("length");
            while self.buffered.len() < length {
                let mut more = [0u8; 8192];
                let n = self.stream.read(&mut more).await.expect("read");
                assert!(n > 0, "connection closed inside the body");
                self.buffered.extend_from_slice(&more[..n]);
            }
            return self.buffered.drain(..length).collect();
        }
        let mut body = Vec::new();
        loop {
            let chunk = self.chunk().await;
            if chunk.is_empty() {
                return body;
            }
            body.extend_from_slice(&chunk);
        }
    }
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    body
}

/// gRPC-Web frames: (is trailers, payload).
fn frames(mut body: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        frames.push((body[0] & 0x80 != 0, body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    frames
}

fn trailers(frames: &[(bool, Vec<u8>)]) -> String {
    frames
        .iter()
        .filter(|(t, _)| *t)
        .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
        .collect()
}

fn call_head(path: &str, content_type: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nContent-Type: {content_type}\r\nX-Grpc-Web: 1\r\nOrigin: {PAGE}\r\nAccept: {content_type}\r\n"
    )
}

#[tokio::test]
async fn a_browser_calls_unary_methods_in_both_encodings_and_reads_errors() {
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.cors_origins = vec![PAGE.into()];
    })
    .await;
    let event = app.event(2, 5).await;
    let layout = pb::GetSeatLayoutRequest {
        event_id: event.event_id.clone(),
    };
    let path = "/seatrush.v1.BookingService/GetSeatLayout";

    let mut binary = send(
        &app.address,
        &call_head(path, "application/grpc-web+proto"),
        &framed(&layout.encode_to_vec()),
    )
    .await;
    assert!(binary.head.starts_with("HTTP/1.1 200"), "{}", binary.head);
    assert_eq!(binary.header("access-control-allow-origin"), Some(PAGE));
    let exposed = binary
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("grpc-status-details-bin"), "{exposed}");
    let answer = frames(&binary.body().await);
    let seats = pb::GetSeatLayoutResponse::decode(answer[0].1.as_slice()).expect("layout");
    assert_eq!(seats.seat_count, 10);
    assert!(trailers(&answer).contains("grpc-status:0"), "{answer:?}");

    let mut text = send(
        &app.address,
        &call_head(path, "application/grpc-web-text"),
        STANDARD.encode(framed(&layout.encode_to_vec())).as_bytes(),
    )
    .await;
    let decoded = STANDARD.decode(text.body().await).expect("base64");
    let answer = frames(&decoded);
    let seats = pb::GetSeatLayoutResponse::decode(answer[0].1.as_slice()).expect("layout");
    assert_eq!(seats.seat_count, 10);

    // A failed call: the status and its BadRequest detail, as a browser client decodes them.
    let bad = pb::GetSeatLayoutRequest {
        event_id: "not-an-id".into(),
    };
    let mut failed = send(
        &app.address,
        &call_head(path, "application/grpc-web+proto"),
        &framed(&bad.encode_to_vec()),
    )
    .await;
    let body = failed.body().await;
    let status_headers = format!("{}\r\n{}", failed.head, trailers(&frames(&body)));
    let code = status_headers.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("grpc-status")
            .then(|| value.trim())
    });
    assert_eq!(code, Some("3"), "{status_headers}");
    let details = status_headers
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("grpc-status-details-bin")
                .then_some(value)
        })
        .expect("details")
        .trim()
        .to_owned();
    let status = tonic_types::pb::Status::decode(
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(details.trim_end_matches('='))
            .expect("base64 details")
            .as_slice(),
    )
    .expect("google.rpc.Status");
    assert!(
        status
            .details
            .iter()
            .any(|d| d.type_url.ends_with("google.rpc.BadRequest")),
        "{status:?}"
    );
    app.teardown().await;
}

#[tokio::test]
async fn a_browser_watches_seats_while_another_client_reserves() {
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.cors_origins = vec!["*".into()];
    })
    .await;
    let event = app.event(2, 5).await;
    let watch = pb::WatchSeatsRequest {
        event_id: event.event_id.clone(),
        labels: true,
    };
    let mut stream = send(
        &app.address,
        &call_head(
            "/seatrush.v1.BookingService/WatchSeats",
            "application/grpc-web+proto",
        ),
        &framed(&watch.encode_to_vec()),
    )
    .await;
    assert_eq!(stream.header("access-control-allow-origin"), Some("*"));
    let mut pending = Vec::new();
    let mut next = async || loop {
        if pending.len() >= 5 {
            let len = u32::from_be_bytes([pending[1], pending[2], pending[3], pending[4]]) as usize;
            if pending.len() >= 5 + len {
                let message: Vec<u8> = pending[5..5 + len].to_vec();
                pending.drain(..5 + len);
                return pb::WatchSeatsResponse::decode(message.as_slice()).expect("message");
            }
        }
        pending.extend_from_slice(&stream.chunk().await);
    };
    let first = next().await;
    assert!(matches!(
        first.payload,
        Some(pb::watch_seats_response::Payload::Snapshot(_))
    ));
    let user = app.user().await;
    app.reserve(&user, &event.event_id, &["B2"], 60)
        .await
        .expect("hold");
    match next().await.payload {
        Some(pb::watch_seats_response::Payload::Changes(batch)) => {
            assert_eq!(batch.updates.len(), 1);
            assert_eq!(batch.updates[0].label, "B2");
        }
        other => panic!("expected the change, got {other:?}"),
    }
    app.teardown().await;
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /seatrush.v1.BookingService/Reserve HTTP/1.1\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type,x-grpc-web,authorization\r\n"
        )
    };
    let app = spawn_with(Storage::new(Backend::Embedded).await, |s| {
        s.cors_origins = vec![PAGE.into()];
    })
    .await;
    let allowed = send(&app.address, &preflight(PAGE), &[]).await;
    assert!(allowed.head.starts_with("HTTP/1.1 200"), "{}", allowed.head);
    assert_eq!(allowed.header("access-control-allow-origin"), Some(PAGE));
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default();
    for needed in ["content-type", "x-grpc-web", "authorization"] {
        assert!(headers.contains(needed), "{headers}");
    }
    assert_eq!(allowed.header("access-control-max-age"), Some("86400"));
    let foreign = send(&app.address, &preflight("http://evil.example"), &[]).await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    app.teardown().await;

    let closed = spawn_with(Storage::new(Backend::Embedded).await, |_| {}).await;
    let refused = send(&closed.address, &preflight(PAGE), &[]).await;
    assert_eq!(
        refused.header("access-control-allow-origin"),
        None,
        "no origins by default"
    );
    closed.teardown().await;
}
