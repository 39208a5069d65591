//! Bounded fuzzing of every request decoder and parser through the real server (Logout aside: it
//! would end the session the other cases use): random bytes,
//! and mutations of valid requests (bytes flipped, cut, repeated; strings of odd Unicode), sent
//! to every method as a signed-in user and as the admin. The server must answer each one within
//! seconds, never with INTERNAL or UNKNOWN (a panic in a handler is one), and still be healthy
//! at the end. `SEATRUSH_FUZZ_CASES` (default 150 per method and backend) and
//! `SEATRUSH_FUZZ_SEED` make longer or repeated runs: `SEATRUSH_FUZZ_CASES=20000 cargo test
//! --release --test api fuzz`.

use crate::helpers::{ADMIN_TOKEN, Backend, spawn_app};
use http_body_util::BodyExt;
use prost::Message;
use seatrush::proto::v1 as pb;
use std::time::Duration;
use tonic::Code;
use tower::ServiceExt;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        (0..self.below(max + 1))
            .map(|_| self.next() as u8)
            .collect()
    }

    /// A string a parser may choke on: empty, huge, controls, zero-width, combining marks,
    /// surrogates' neighbours, digits and separators that look like a label.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "",
            "A",
            "a",
            "1",
            "-",
            "--",
            "0",
            "9999",
            "99999999999",
            "ZZZ",
            "112-F-14",
            " ",
            "\u{0}",
            "\u{200B}",
            "\u{FEFF}",
            "\u{301}",
            "ｋ",
            "é",
            "\u{1F3AB}",
            "%",
            "\\",
            "/",
            "@",
            "@example.com",
            "..",
            "\u{202E}",
            "\u{FFFF}",
            "\u{10FFFF}",
            "ß",
            "İ",
            "00000000-0000-0000-0000-000000000000",
            "018f3a4e-0000-7000-8000-000000000000",
        ];
        let mut text = String::new();
        for _ in 0..self.below(6) {
            text.push_str(PIECES[self.below(PIECES.len())]);
        }
        if self.below(20) == 0 {
            text = text.repeat(1 + self.below(5_000));
        }
        text
    }
}

/// Every method, with a plausible request to mutate.
fn seeds(rng: &mut Rng, event: &str, reservation: &str) -> Vec<(&'static str, Vec<u8>)> {
    let event = if rng.below(3) == 0 {
        rng.text()
    } else {
        event.to_owned()
    };
    let reservation = if rng.below(3) == 0 {
        rng.text()
    } else {
        reservation.to_owned()
    };
    let seats: Vec<String> = (0..rng.below(12)).map(|_| rng.text()).collect();
    let row = pb::RowSpec {
        row: rng.text(),
        seat_count: rng.next() as u32 % 2_000,
        ..Default::default()
    };
    vec![
        (
            "/seatrush.v1.AccountService/Register",
            pb::RegisterRequest {
                email: rng.text(),
                password: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.AccountService/Login",
            pb::LoginRequest {
                email: rng.text(),
                password: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.InventoryService/CreateEvent",
            pb::CreateEventRequest {
                name: rng.text(),
                starts_at: Some(prost_types::Timestamp {
                    seconds: rng.next() as i64,
                    nanos: rng.next() as i32,
                }),
                rows: vec![row.clone(); rng.below(3)],
                sections: vec![
                    pb::SectionSpec {
                        code: rng.text(),
                        name: rng.text(),
                        rows: vec![row; rng.below(3)],
                        ..Default::default()
                    };
                    rng.below(3)
                ],
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.InventoryService/GetEvent",
            pb::GetEventRequest {
                event_id: event.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.InventoryService/ListEvents",
            pb::ListEventsRequest {
                page_size: rng.next() as u32,
                page_token: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/GetSeatLayout",
            pb::GetSeatLayoutRequest {
                event_id: event.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/GetSeatStatuses",
            pb::GetSeatStatusesRequest {
                event_id: event.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/GetSeatMap",
            pb::GetSeatMapRequest {
                event_id: event.clone(),
                section: rng.text(),
                row: rng.text(),
                status: rng.next() as i32 % 6,
                page_size: rng.next() as u32,
                page_token: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/Reserve",
            pb::ReserveRequest {
                event_id: event.clone(),
                seats,
                hold_seconds: rng.next() as u32 % 2_000,
                best_available: None,
                general_admission: None,
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/Purchase",
            pb::PurchaseRequest {
                reservation_id: reservation.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/Release",
            pb::ReleaseRequest {
                reservation_id: reservation.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/ExtendHold",
            pb::ExtendHoldRequest {
                reservation_id: reservation,
                hold_seconds: rng.next() as u32 % 2_000,
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/ListMyReservations",
            pb::ListMyReservationsRequest {
                page_size: rng.next() as u32,
                page_token: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/GetReservation",
            pb::GetReservationRequest {
                reservation_id: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/ListMyTickets",
            pb::ListMyTicketsRequest {
                page_size: rng.next() as u32,
                page_token: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/GetTicket",
            pb::GetTicketRequest {
                ticket_id: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.InventoryService/ListEventSales",
            pb::ListEventSalesRequest {
                event_id: event.clone(),
                page_size: rng.next() as u32,
                page_token: rng.text(),
            }
            .encode_to_vec(),
        ),
        (
            "/seatrush.v1.BookingService/WatchSeats",
            pb::WatchSeatsRequest {
                event_id: event,
                labels: rng.below(2) == 0,
            }
            .encode_to_vec(),
        ),
    ]
}

fn mutate(rng: &mut Rng, mut message: Vec<u8>) -> Vec<u8> {
    match rng.below(5) {
        0 => rng.bytes(300),
        1 => message,
        2 => {
            message.truncate(rng.below(message.len() + 1));
            message
        }
        _ => {
            for _ in 0..1 + rng.below(4) {
                if message.is_empty() {
                    break;
                }
                let at = rng.below(message.len());
                message[at] = rng.next() as u8;
            }
            message
        }
    }
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    body
}

/// The call's gRPC status (None: a stream that is still sending, which is fine).
async fn call(
    channel: &tonic::transport::Channel,
    address: &str,
    path: &str,
    token: &str,
    message: &[u8],
) -> Option<tonic::Status> {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{address}{path}"))
        .header("te", "trailers")
        .header("content-type", "application/grpc")
        .header("authorization", format!("Bearer {token}"))
        .body(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from(framed(message)),
        )))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), channel.clone().oneshot(request))
        .await
        .unwrap_or_else(|_| panic!("{path} hung on {message:?}"))
        .expect("an HTTP answer");
    if let Some(status) = tonic::Status::from_header_map(response.headers()) {
        return Some(status);
    }
    let streaming = path.ends_with("WatchSeats");
    let wait = if streaming { 200 } else { 10_000 };
    match tokio::time::timeout(Duration::from_millis(wait), response.into_body().collect()).await {
        Ok(collected) => {
            let collected = collected.expect("body");
            let trailers = collected.trailers().expect("trailers");
            Some(tonic::Status::from_header_map(trailers).expect("grpc-status"))
        }
        Err(_) if streaming => None,
        Err(_) => panic!("{path} hung on {message:?}"),
    }
}

async fn requests_that_make_no_sense_are_answered_as_such(backend: Backend) {
    let cases: usize = std::env::var("SEATRUSH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("SEATRUSH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EA7_2B5B);
    eprintln!("fuzz: {cases} cases per method, SEATRUSH_FUZZ_SEED={seed}");
    let app = spawn_app(backend).await;
    let event = app.event(3, 10).await.event_id;
    let user = app.user().await;
    let held = app
        .reserve(&user, &event, &["A1"], 600)
        .await
        .expect("hold")
        .reservation_id;
    let channel = crate::helpers::connect(&app.address).await;
    let mut rng = Rng(seed | 1);
    let mut answered = std::collections::BTreeMap::<i32, usize>::new();
    for _ in 0..cases {
        for (path, seed) in seeds(&mut rng, &event, &held) {
            let message = mutate(&mut rng, seed);
            let token = if path.contains("Inventory") && rng.below(2) == 0 {
                ADMIN_TOKEN
            } else {
                &user
            };
            if let Some(status) = call(&channel, &app.address, path, token, &message).await {
                assert!(
                    !matches!(status.code(), Code::Internal | Code::Unknown),
                    "{path} answered {status:?} to {message:?}"
                );
                *answered.entry(status.code() as i32).or_default() += 1;
            }
        }
    }
    eprintln!("fuzz: answers {answered:?}");
    app.health
        .clone()
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("still serving");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_make_no_sense_are_answered_as_such_embedded() {
    requests_that_make_no_sense_are_answered_as_such(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_make_no_sense_are_answered_as_such_distributed() {
    requests_that_make_no_sense_are_answered_as_such(Backend::Distributed).await;
}
