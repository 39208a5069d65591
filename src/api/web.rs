//! Browsers: gRPC-Web (binary and text, unary and server streaming) beside gRPC on the same
//! listener, translated by tonic-web before any other rule sees the call, and a CORS policy for
//! pages on other origins. No origin is allowed unless configured (`SEATRUSH_CORS_ORIGINS`); `*`
//! only when asked for. A preflight is answered here and may be cached by the browser for a day;
//! the gRPC status headers are exposed so a browser client can read a failed call's code,
//! message and details (`grpc-status-details-bin`: ErrorInfo, BadRequest, RetryInfo).

use http::{HeaderName, HeaderValue, Method};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a gRPC-Web client sends.
const ALLOWED: [&str; 6] = [
    "content-type",
    "authorization",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "grpc-accept-encoding",
];
/// Response headers a browser client must be able to read.
const EXPOSED: [&str; 5] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "retry-after",
    "grpc-encoding",
];
const PREFLIGHT_CACHE: Duration = Duration::from_secs(86_400);

/// The CORS policy for `origins` (exact origins such as `https://tickets.example`, or `*`);
/// `None` without origins, so an `OPTIONS` request stays a protocol error (HTTP 405).
pub fn cors(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o.trim_end_matches('/'))
                    .map_err(|_| format!("`{o}` is not an origin"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::POST])
            .allow_headers(ALLOWED.map(HeaderName::from_static))
            .expose_headers(EXPOSED.map(HeaderName::from_static))
            .max_age(PREFLIGHT_CACHE),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_are_header_values_or_a_star() {
        assert!(super::cors(&["https://tickets.example".into()]).is_ok());
        assert!(super::cors(&["*".into()]).is_ok());
        assert!(matches!(super::cors(&[]), Ok(None)));
        assert!(super::cors(&["https://bad\nexample".into()]).is_err());
    }
}
