//! The admin listener (`SEATRUSH_ADMIN_LISTEN`, off by default): `GET /metrics` in the
//! Prometheus text format, on its own port so it can stay off the public network. Served by
//! `startup`'s small HTTP/1.1 server; this is only the answer.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use prometheus::{Encoder, TextEncoder};

/// The answer to one request: the registry's metrics for `GET /metrics`.
pub fn answer<B>(request: &Request<B>, registry: &prometheus::Registry) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &'static str, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        response
    };
    if request.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            b"try /metrics\n".to_vec(),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            b"GET /metrics\n".to_vec(),
        );
    }
    let mut body = Vec::with_capacity(16 * 1024);
    match TextEncoder::new().encode(&registry.gather(), &mut body) {
        Ok(()) => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            body,
        ),
        Err(err) => {
            tracing::warn!(error = %err, "cannot encode metrics");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                b"cannot encode metrics\n".to_vec(),
            )
        }
    }
}
