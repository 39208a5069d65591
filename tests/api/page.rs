//! The seat-map page's listener: off unless asked for; when on, the three embedded files with
//! their content types and a strict Content-Security-Policy naming the gRPC listener, 404 for
//! anything else, GET only; and the gRPC listener's CORS policy admits the page's origin.

use crate::helpers::{Backend, Storage};
use seatrush::startup::Application;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// One HTTP/1.1 request on a fresh connection; the whole response (head, body) as text.
async fn http(address: SocketAddr, method: &str, path: &str, extra: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    (head.to_ascii_lowercase(), body.to_owned())
}

async fn serve(web: bool) -> (Option<SocketAddr>, SocketAddr, oneshot::Sender<()>, Storage) {
    let storage = Storage::new(Backend::Embedded).await;
    let mut settings = storage.settings();
    if web {
        settings.web_listen = Some("127.0.0.1:0".parse().expect("address"));
    }
    let app = Application::build(settings).await.expect("starts");
    let (page, grpc) = (app.page_address(), app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (page, grpc, stop, storage)
}

#[tokio::test]
async fn there_is_no_page_listener_unless_asked_for() {
    let (page, _, stop, storage) = serve(false).await;
    assert_eq!(page, None);
    let _ = stop.send(());
    storage.destroy().await;
}

#[tokio::test]
async fn the_page_is_served_with_content_types_and_a_strict_policy() {
    let (page, grpc, stop, storage) = serve(true).await;
    let page = page.expect("a page listener");

    let (head, body) = http(page, "GET", "/", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        body.contains(&format!("content=\"http://{grpc}\"")),
        "the page is told where gRPC is: {body}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let policy = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .expect("a CSP");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(
        policy.contains(&format!("connect-src http://{grpc}")),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");

    let (head, body) = http(page, "GET", "/app.js", "").await;
    assert!(
        head.contains("content-type: text/javascript; charset=utf-8"),
        "{head}"
    );
    assert!(body.len() > 1_000, "the bundle is embedded");
    let (head, _) = http(page, "GET", "/app.css", "").await;
    assert!(
        head.contains("content-type: text/css; charset=utf-8"),
        "{head}"
    );

    let (head, _) = http(page, "GET", "/nope", "").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    let (head, _) = http(page, "POST", "/", "Content-Length: 0\r\n").await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
    assert!(head.contains("allow: get, head"), "{head}");
    let (head, body) = http(page, "HEAD", "/", "").await;
    assert!(
        head.starts_with("http/1.1 200") && body.is_empty(),
        "{head}"
    );

    // The gRPC listener admits the page's origin (both spellings of loopback).
    for origin in [
        format!("http://{page}"),
        format!("http://localhost:{}", page.port()),
    ] {
        let preflight = format!(
            "Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,x-grpc-web\r\n"
        );
        let (head, _) = http(
            grpc,
            "OPTIONS",
            "/seatrush.v1.BookingService/Reserve",
            &preflight,
        )
        .await;
        assert!(
            head.contains(&format!("access-control-allow-origin: {origin}")),
            "{origin}: {head}"
        );
    }
    let _ = stop.send(());
    storage.destroy().await;
}

/// The page listener faces the public: connections that ask for the bundle and never read are
/// held at most `MAX_CONNECTIONS` (1,024, `startup/http1.rs`) at a time; one more is closed at once,
/// and once they go the page is served again.
#[tokio::test]
async fn clients_that_never_read_hold_a_bounded_number_of_connections() {
    let (page, _, stop, storage) = serve(true).await;
    let page = page.expect("a page listener");
    let mut idle = Vec::new();
    for _ in 0..1_024 {
        let mut stream = TcpStream::connect(page).await.expect("connect");
        stream
            .write_all(b"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        idle.push(stream);
    }
    // Every one of those is being served (its answer waits, unread), so the next gets nothing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut extra = TcpStream::connect(page).await.expect("connect");
        let _ = extra.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(5), extra.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "connection 1,025 was served"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(idle);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = TcpStream::connect(page).await.expect("connect");
        let _ = again
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), again.read_to_end(&mut raw)).await;
        if raw.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    storage.destroy().await;
}
