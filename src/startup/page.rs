//! The seat-map page's listener (`SEATRUSH_WEB_LISTEN`, off by default; `--demo` turns it on):
//! three static files built from `web/` and embedded in the binary, served by a small HTTP/1.1
//! server of its own (`http1.rs`), so the gRPC listener's rules (limits, protocol checks) stay
//! about gRPC.
//!
//! The page is a client like any other: it calls the gRPC listener through gRPC-Web, on another
//! origin (the start-up code adds this listener's origins to the CORS list). It learns the gRPC
//! address from a `<meta>` tag filled in here for each request, from the `Host` the browser used,
//! so the same binary works on `localhost` and behind a name. Only GET and HEAD; every answer
//! carries a strict Content-Security-Policy (scripts and styles from this origin only, network
//! calls to the gRPC listener only, no framing).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use std::net::SocketAddr;
use tokio::net::TcpListener;

const INDEX: &str = include_str!("../../web/dist/index.html");
const APP_JS: &[u8] = include_bytes!("../../web/dist/app.js");
const APP_CSS: &[u8] = include_bytes!("../../web/dist/app.css");
/// What `index.html` carries where the gRPC-Web URL goes.
const GRPC_PLACEHOLDER: &str = "__SEATRUSH_GRPC_URL__";

/// Where the page finds the gRPC listener.
#[derive(Clone, Debug)]
pub struct Site {
    /// The gRPC listener's address as bound.
    pub grpc: SocketAddr,
    /// Whether the gRPC listener speaks TLS (`https`).
    pub tls: bool,
}

impl Site {
    /// The gRPC-Web base URL for a page loaded from `host` (the request's `Host`): the gRPC
    /// listener's own address when it is bound to one, else the host the browser used, on the
    /// gRPC port. `None` for a `Host` that is not a plain host name or address.
    fn grpc_url(&self, host: Option<&str>) -> Option<String> {
        let scheme = if self.tls { "https" } else { "http" };
        if !self.grpc.ip().is_unspecified() {
            return Some(format!("{scheme}://{}", self.grpc));
        }
        let host = host?;
        let name = match host.rsplit_once(':') {
            Some((name, port))
                if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => host,
        };
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
        plain.then(|| format!("{scheme}://{name}:{}", self.grpc.port()))
    }
}

/// The origins a browser gives pages from `address` (a loopback address is also `localhost`);
/// empty for an unspecified address (0.0.0.0), whose public name only the operator knows.
pub fn origins(address: SocketAddr) -> Vec<String> {
    let ip = address.ip();
    if ip.is_unspecified() {
        return Vec::new();
    }
    let mut origins = vec![format!("http://{address}")];
    if ip.is_loopback() {
        origins.push(format!("http://localhost:{}", address.port()));
    }
    origins
}

/// The answer to one request for the page (served by `http1::serve`).
pub fn answer<B>(request: &Request<B>, site: &Site) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n",
            None,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let Some(grpc) = site.grpc_url(host) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "bad Host header\n",
            None,
        );
    };
    let mut response = match request.uri().path() {
        "/" | "/index.html" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            INDEX.replace(GRPC_PLACEHOLDER, &grpc),
            Some(&grpc),
        ),
        "/app.js" => reply(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            APP_JS,
            Some(&grpc),
        ),
        "/app.css" => reply(
            StatusCode::OK,
            "text/css; charset=utf-8",
            APP_CSS,
            Some(&grpc),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n", None),
    };
    if request.method() == Method::HEAD {
        *response.body_mut() = Full::new(Bytes::new());
    }
    response
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
    grpc: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let connect = grpc.unwrap_or("'none'");
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Where `--demo` serves the page when `SEATRUSH_WEB_LISTEN` is unset.
const DEMO_ADDRESS: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

/// Binds the page's address (before the server starts, so a bad address fails start-up):
/// `wanted`, or with `demo` and nothing wanted, 127.0.0.1:8080 (any free port when that is
/// taken). `None`: no page.
pub async fn bind(
    wanted: Option<SocketAddr>,
    demo: bool,
) -> Result<Option<(TcpListener, SocketAddr)>, (SocketAddr, std::io::Error)> {
    let listener = match (wanted, demo) {
        (Some(address), _) => TcpListener::bind(address).await.map_err(|e| (address, e))?,
        (None, true) => {
            let preferred = SocketAddr::from(DEMO_ADDRESS);
            match TcpListener::bind(preferred).await {
                Ok(listener) => listener,
                Err(_) => {
                    let any = SocketAddr::from((DEMO_ADDRESS.0, 0));
                    TcpListener::bind(any).await.map_err(|e| (any, e))?
                }
            }
        }
        (None, false) => return Ok(None),
    };
    let bound = listener
        .local_addr()
        .map_err(|e| (wanted.unwrap_or(SocketAddr::from(DEMO_ADDRESS)), e))?;
    Ok(Some((listener, bound)))
}

/// The URL to print for a page bound at `address`, opening `event` when given.
pub fn url(address: SocketAddr, event: Option<&str>) -> String {
    let host = if address.ip().is_unspecified() {
        format!("localhost:{}", address.port())
    } else {
        address.to_string()
    };
    match event {
        Some(event) => format!("http://{host}/?event={event}"),
        None => format!("http://{host}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(grpc: &str) -> Site {
        Site {
            grpc: grpc.parse().expect("address"),
            tls: false,
        }
    }

    #[test]
    fn a_bound_grpc_address_is_used_as_is() {
        assert_eq!(
            site("127.0.0.1:50051")
                .grpc_url(Some("evil.example"))
                .as_deref(),
            Some("http://127.0.0.1:50051")
        );
    }

    #[test]
    fn an_unspecified_grpc_address_takes_the_host_the_browser_used() {
        let site = site("0.0.0.0:50051");
        assert_eq!(
            site.grpc_url(Some("tickets.example:8080")).as_deref(),
            Some("http://tickets.example:50051")
        );
        assert_eq!(
            site.grpc_url(Some("[::1]:8080")).as_deref(),
            Some("http://[::1]:50051")
        );
        assert_eq!(site.grpc_url(Some("a\"><script>")), None);
        assert_eq!(site.grpc_url(None), None);
    }

    #[test]
    fn loopback_pages_are_also_localhost() {
        assert_eq!(
            origins("127.0.0.1:8080".parse().expect("address")),
            ["http://127.0.0.1:8080", "http://localhost:8080"]
        );
        assert!(origins("0.0.0.0:8080".parse().expect("address")).is_empty());
    }
}
