//! A small HTTP/1.1 server for the side listeners (the admin listener's `/metrics`, the seat-map
//! page): accepts until shutdown, gives every connection its own task with a header timeout,
//! and closes connections gracefully when the server stops. The page listener faces the public:
//! at most [`MAX_CONNECTIONS`] connections at once (measured: a connection that asks for the
//! bundle and never reads costs ~15 KB; 5,000 of them held 75 MB before this cap), beyond which a
//! new connection is closed at once. Each listener brings only its
//! answer, a plain function of the request, so the accept loop exists once.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// A client that has not sent its request head by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once by one side listener.
pub const MAX_CONNECTIONS: usize = 1_024;
/// Pause after a failed accept (out of file descriptors, typically) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `answer` on `listener` (named `name` in logs) until `stop` turns true.
pub async fn serve<F>(
    listener: TcpListener,
    name: &'static str,
    answer: F,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Clone + Send + Sync + 'static,
{
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(listener = name, error = %err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            tracing::debug!(listener = name, "connection refused: the listener is full");
            drop(stream);
            continue;
        };
        let answer = answer.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _place = place;
            let service = service_fn(move |request| {
                let response = answer(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => connection.as_mut().graceful_shutdown(),
            }
        });
    }
}

/// Binds `address` (before the server starts, so a bad address fails start-up).
pub async fn bind(
    address: std::net::SocketAddr,
) -> std::io::Result<(TcpListener, std::net::SocketAddr)> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}
