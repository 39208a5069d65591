//! The gRPC-over-HTTP/2 rules a client can break, answered as the client's mistake: a tower
//! layer in front of every service (inside [`super::ObserveLayer`], so what it answers is
//! counted and logged like any other call).
//!
//! - Not a POST: HTTP 405. Not `content-type: application/grpc…` (a Connect or JSON client, a
//!   browser): HTTP 415, as the gRPC HTTP/2 protocol asks. Both carry a `grpc-status` too.
//! - Message framing is checked as the request body streams in: a compressed or otherwise
//!   flagged message (SeatRush accepts no request compression) is INVALID_ARGUMENT, a message
//!   over [`MAX_REQUEST_BYTES`] is RESOURCE_EXHAUSTED (the gRPC status table's code for a
//!   message over the size limit; tonic would say OUT_OF_RANGE), both before the message is read.
//!   Only a CreateEvent that carries the admin token may be larger ([`MAX_LAYOUT_BYTES`]), so a
//!   stranger can never make the server buffer more than 64 KiB a call.
//! - A message that does not decode is INVALID_ARGUMENT (the codec says so for SeatRush's own
//!   services; for health and reflection the parser's INTERNAL is rewritten here).
//!
//! No parser text reaches the client.

use super::auth::AdminGate;
use super::{MAX_LAYOUT_BYTES, MAX_REQUEST_BYTES};
use bytes::Bytes;
use futures_util::future::{Either, MapOk, Ready, TryFutureExt, ready};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body as HttpBody, Frame};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::{Code, Status};

#[derive(Clone)]
pub struct ProtocolLayer {
    admin: AdminGate,
}

impl ProtocolLayer {
    pub fn new(admin: AdminGate) -> Self {
        Self { admin }
    }
}

impl<S> tower::Layer<S> for ProtocolLayer {
    type Service = Protocol<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Protocol {
            inner,
            admin: self.admin.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Protocol<S> {
    inner: S,
    admin: AdminGate,
}

const CREATE_EVENT: &str = "/seatrush.v1.InventoryService/CreateEvent";

type Checked<F> = MapOk<F, fn(Response<Body>) -> Response<Body>>;

impl<S> tower::Service<Request<Body>> for Protocol<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, Checked<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(refusal) = refuse(&request) {
            return Either::Left(ready(Ok(refusal)));
        }
        let limit = if request.uri().path() == CREATE_EVENT
            && self.admin.check_headers(request.headers()).is_ok()
        {
            MAX_LAYOUT_BYTES
        } else {
            MAX_REQUEST_BYTES
        };
        let request = request.map(|body| {
            Body::new(CheckedBody {
                inner: body,
                frames: FrameCheck::new(limit),
            })
        });
        Either::Right(
            self.inner
                .call(request)
                .map_ok(undecodable_is_invalid_argument as fn(_) -> _),
        )
    }
}

/// An HTTP answer for a request that is not a gRPC call at all.
fn refuse(request: &Request<Body>) -> Option<Response<Body>> {
    if request.method() != Method::POST {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::InvalidArgument,
            "SeatRush serves gRPC: calls are HTTP/2 POST requests",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Some(response);
    }
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if !grpc {
        return Some(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            "SeatRush serves gRPC: content-type must be application/grpc (a Connect or JSON \
             client needs a gateway)",
        ));
    }
    None
}

fn plain(status: StatusCode, code: Code, message: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(
        message.as_bytes(),
    ))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("grpc-status", HeaderValue::from(code as i32));
    headers.insert("grpc-message", HeaderValue::from_static(message));
    response
}

/// prost's decode errors (health and reflection use tonic's stock codec) as INVALID_ARGUMENT.
fn undecodable_is_invalid_argument(response: Response<Body>) -> Response<Body> {
    let undecodable = Status::from_header_map(response.headers()).is_some_and(|status| {
        status.code() == Code::Internal
            && status
                .message()
                .starts_with("failed to decode Protobuf message")
    });
    if !undecodable {
        return response;
    }
    Status::invalid_argument("the request message could not be decoded").into_http()
}

/// Where the request body is in its sequence of `flag, length, message` frames.
pub(super) struct FrameCheck {
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
    limit: usize,
}

impl FrameCheck {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            header: [0; 5],
            header_len: 0,
            body_left: 0,
            limit,
        }
    }

    pub(super) fn feed(&mut self, mut data: &[u8]) -> Result<(), Status> {
        while !data.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(data.len());
                self.body_left -= n;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len == 5 {
                self.header_len = 0;
                self.body_left = self.check_header()?;
            }
        }
        Ok(())
    }

    fn check_header(&self) -> Result<usize, Status> {
        match self.header[0] {
            0 => {}
            1 => {
                return Err(Status::invalid_argument(
                    "compressed request messages are not accepted (no grpc-encoding is supported)",
                ));
            }
            flag => {
                return Err(Status::invalid_argument(format!(
                    "invalid message flag {flag} (0 is the only one accepted)"
                )));
            }
        }
        let len = u32::from_be_bytes([
            self.header[1],
            self.header[2],
            self.header[3],
            self.header[4],
        ]) as usize;
        if len > self.limit {
            return Err(Status::resource_exhausted(format!(
                "the request message has {len} bytes; at most {} are accepted",
                self.limit
            )));
        }
        Ok(len)
    }
}

pin_project! {
    struct CheckedBody {
        #[pin]
        inner: Body,
        frames: FrameCheck,
    }
}

impl HttpBody for CheckedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && let Err(status) = this.frames.feed(data)
        {
            return Poll::Ready(Some(Err(status)));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flag: u8, len: u32) -> Vec<u8> {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes
    }

    #[test]
    fn frames_split_anywhere_are_followed() {
        let mut stream = frame(0, 3);
        stream.extend_from_slice(b"abc");
        stream.extend(frame(0, 0));
        stream.extend(frame(0, 2));
        stream.extend_from_slice(b"xy");
        for split in 0..stream.len() {
            let mut check = FrameCheck::new(MAX_REQUEST_BYTES);
            check.feed(&stream[..split]).expect("first half");
            check.feed(&stream[split..]).expect("second half");
            assert_eq!((check.header_len, check.body_left), (0, 0));
        }
    }

    #[test]
    fn flags_and_oversized_messages_are_refused() {
        let compressed = FrameCheck::new(MAX_REQUEST_BYTES)
            .feed(&frame(1, 3))
            .unwrap_err();
        assert_eq!(compressed.code(), Code::InvalidArgument);
        let odd = FrameCheck::new(MAX_REQUEST_BYTES)
            .feed(&frame(7, 3))
            .unwrap_err();
        assert_eq!(odd.code(), Code::InvalidArgument);
        let big = FrameCheck::new(MAX_REQUEST_BYTES)
            .feed(&frame(0, MAX_REQUEST_BYTES as u32 + 1))
            .unwrap_err();
        assert_eq!(big.code(), Code::ResourceExhausted);
        FrameCheck::new(MAX_REQUEST_BYTES)
            .feed(&frame(0, MAX_REQUEST_BYTES as u32))
            .expect("the limit itself is fine");
    }
}
