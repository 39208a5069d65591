//! The gRPC listener's accept loop: connection caps, TCP_NODELAY, and the TLS handshake.
//!
//! tonic's own `TcpIncoming` cannot refuse a connection or run a handshake, so connections are
//! accepted here and handed to tonic as a stream of ready [`Connection`]s. A connection over a
//! cap is closed at once (see `limits.rs`). Each TLS handshake runs in its own task under a
//! timeout, so a peer that connects and sends nothing holds one task for at most that long and
//! never the loop. The loop ends when tonic drops the stream (shutdown), which closes the
//! listening socket.

use super::limits::{ConnectionLimits, ConnectionPermit};
use crate::telemetry::Metrics;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Accepted connections waiting for tonic to pick them up.
const ACCEPT_BACKLOG: usize = 64;
/// Pause after a failed accept (out of file descriptors, typically) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How the listener turns sockets into connections.
pub struct Acceptor {
    pub limits: ConnectionLimits,
    pub tls: Option<TlsAcceptor>,
    pub handshake_timeout: Duration,
    pub metrics: Arc<Metrics>,
}

/// Accepts from `listener` until the returned stream is dropped.
pub fn incoming(
    listener: TcpListener,
    acceptor: Acceptor,
) -> ReceiverStream<io::Result<Connection>> {
    let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
    tokio::spawn(accept_loop(listener, acceptor, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Acceptor,
    tx: mpsc::Sender<io::Result<Connection>>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tx.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let permit = match acceptor.limits.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(refusal) => {
                acceptor.metrics.connection_refused(refusal.as_str());
                tracing::debug!(%peer, cap = refusal.as_str(), "connection refused: cap reached");
                continue;
            }
        };
        // Without TCP_NODELAY every response of more than one segment waits for the client's
        // delayed ACK (~40 ms).
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
        }
        let info = stream.connect_info();
        match &acceptor.tls {
            None => {
                let connection = Connection {
                    io: Io::Plain(stream),
                    info,
                    _permit: permit,
                };
                if tx.send(Ok(connection)).await.is_err() {
                    return;
                }
            }
            Some(tls) => {
                let handshake = tls.accept(stream);
                let timeout = acceptor.handshake_timeout;
                let metrics = acceptor.metrics.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(err)) => {
                            metrics.handshake_failed();
                            tracing::debug!(%peer, error = %err, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            metrics.handshake_failed();
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let connection = Connection {
                        io: Io::Tls(Box::new(stream)),
                        info,
                        _permit: permit,
                    };
                    let _ = tx.send(Ok(connection)).await;
                });
            }
        }
    }
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// An accepted (and, with TLS, handshaken) connection; it holds its place under the caps.
pub struct Connection {
    io: Io,
    info: TcpConnectInfo,
    _permit: ConnectionPermit,
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(io) => io.is_write_vectored(),
            Io::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
