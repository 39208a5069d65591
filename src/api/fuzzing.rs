//! The edge's parsers as plain functions of bytes, for the cargo-fuzz targets in `fuzz/` (built
//! only with the `internals` feature). Each calls the code the server runs, not a copy: the
//! protobuf decoder of a method's request and then the handler's own conversion into domain
//! values, the gRPC frame check of request bodies, and the parsing of the `authorization` and
//! `x-forwarded-for` headers. Nothing here touches storage, so a fuzzer can run them millions of
//! times; what a handler does after parsing is the service's and is tested there.

use super::limits::Limiter;
use super::{MAX_REQUEST_BYTES, accounts, auth, booking, convert, inventory, maps, protocol};
use crate::config::Settings;
use crate::domain::{HoldPolicy, LayoutLimits, SessionToken};
use crate::proto::v1 as pb;
use http::{HeaderMap, HeaderValue};
use prost::Message;
use std::net::IpAddr;
use std::sync::LazyLock;
use tonic::Status;

/// Every method that takes a request message, by its name in `seatrush.v1`. New methods go at
/// the end: the `requests` target picks one by index, and its corpus keeps meaning the same.
pub const RPCS: &[&str] = &[
    "Register",
    "Login",
    "Logout",
    "DeleteAccount",
    "CreateEvent",
    "GetEvent",
    "ListEvents",
    "GetSeatLayout",
    "GetSeatStatuses",
    "GetSeatMap",
    "Reserve",
    "Purchase",
    "Release",
    "ExtendHold",
    "WatchSeats",
    "ListMyReservations",
    "GetReservation",
    "ListMyTickets",
    "GetTicket",
    "ListEventSales",
];

/// The default settings' policies: what a server started without options parses against.
struct Policies {
    hold: HoldPolicy,
    layout: LayoutLimits,
}

static POLICIES: LazyLock<Policies> = LazyLock::new(|| {
    let settings = Settings::defaults();
    Policies {
        hold: settings.hold_policy(),
        layout: settings.layout_limits(),
    }
});

/// Decodes `bytes` as the request of method `rpc` (one of [`RPCS`]) and converts it as its
/// handler does, before any storage is asked. Err is what the client would hear: a message that
/// does not decode or a field that does not parse is INVALID_ARGUMENT; an unknown `rpc` is
/// UNIMPLEMENTED.
pub fn parse_request(rpc: &str, bytes: &[u8]) -> Result<(), Status> {
    let policies = &*POLICIES;
    match rpc {
        "Register" => accounts::registration(&decode(bytes)?).map(drop),
        "Login" => {
            let body: pb::LoginRequest = decode(bytes)?;
            accounts::credentials(&body.email, &body.password).map(drop)
        }
        "Logout" => decode::<pb::LogoutRequest>(bytes).map(drop),
        "DeleteAccount" => decode::<pb::DeleteAccountRequest>(bytes).map(drop),
        "CreateEvent" => inventory::new_event(&decode(bytes)?, &policies.layout)
            .map(drop)
            .map_err(super::status::invalid_argument),
        "GetEvent" => convert::event_id(&decode::<pb::GetEventRequest>(bytes)?.event_id).map(drop),
        "ListEvents" => inventory::list_page(&decode(bytes)?).map(drop),
        "GetSeatLayout" => {
            convert::event_id(&decode::<pb::GetSeatLayoutRequest>(bytes)?.event_id).map(drop)
        }
        "GetSeatStatuses" => {
            convert::event_id(&decode::<pb::GetSeatStatusesRequest>(bytes)?.event_id).map(drop)
        }
        "GetSeatMap" => {
            let body: pb::GetSeatMapRequest = decode(bytes)?;
            convert::event_id(&body.event_id)?;
            maps::seat_query(&body).map(drop)
        }
        "Reserve" => booking::reserve_terms(&decode(bytes)?, &policies.hold).map(drop),
        "Purchase" => booking::purchase_terms(&decode(bytes)?).map(drop),
        "Release" => {
            booking::reservation_id(&decode::<pb::ReleaseRequest>(bytes)?.reservation_id).map(drop)
        }
        "ExtendHold" => booking::extend_terms(&decode(bytes)?, &policies.hold).map(drop),
        "WatchSeats" => {
            convert::event_id(&decode::<pb::WatchSeatsRequest>(bytes)?.event_id).map(drop)
        }
        "ListEventSales" => inventory::sales_page(&decode(bytes)?).map(drop),
        "ListMyReservations" => booking::reservation_page(&decode(bytes)?).map(drop),
        "GetReservation" => {
            let body: pb::GetReservationRequest = decode(bytes)?;
            booking::reservation_id(&body.reservation_id).map(drop)
        }
        "ListMyTickets" => {
            let body: pb::ListMyTicketsRequest = decode(bytes)?;
            booking::page_size(body.page_size)?;
            booking::ticket_cursor(&body.page_token, crate::domain::TicketList::Mine).map(drop)
        }
        "GetTicket" => {
            booking::ticket_id(&decode::<pb::GetTicketRequest>(bytes)?.ticket_id).map(drop)
        }
        other => Err(Status::unimplemented(format!("no method {other}"))),
    }
}

/// prost's decoder, answered as the server's codec answers (`codec.rs`).
fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, Status> {
    M::decode(bytes).map_err(|_| Status::invalid_argument("the message is not valid"))
}

/// Feeds a request body, cut into `chunks` as HTTP/2 DATA frames may cut it, to the check of
/// gRPC message frames (flag, length, message) with the public size limit.
pub fn check_frames<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<(), Status> {
    let mut check = protocol::FrameCheck::new(MAX_REQUEST_BYTES);
    chunks.into_iter().try_for_each(|chunk| check.feed(chunk))
}

/// The session token in an `authorization` header value, as the writing methods read it.
pub fn session_token(authorization: &[u8]) -> Result<Option<SessionToken>, Status> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    let metadata = tonic::metadata::MetadataMap::from_headers(headers);
    Ok(SessionToken::parse(auth::bearer(&metadata)?))
}

/// A limiter that trusts 10.0.0.0/8 as proxies, as a deployment behind a load balancer would.
static LIMITER: LazyLock<Option<Limiter>> = LazyLock::new(|| {
    let mut settings = Settings::defaults();
    settings.trusted_proxies = vec!["10.0.0.0/8".parse().ok()?];
    Some(Limiter::new(&settings))
});

/// The client the rate limiter finds behind a trusted proxy (10.0.0.1) that sent these
/// `x-forwarded-for` header values.
pub fn forwarded_client<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<IpAddr> {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append("x-forwarded-for", value);
        }
    }
    let proxy = IpAddr::from([10, 0, 0, 1]);
    LIMITER
        .as_ref()?
        .peer(Some(proxy), &headers)
        .map(|peer| peer.0)
}
