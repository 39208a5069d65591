//! Load shedding: when the server already works on its cap of calls, a new call is answered
//! UNAVAILABLE at once (with `retry-after`-free gRPC semantics: clients retry UNAVAILABLE with
//! backoff), instead of queueing until every queued call times out late.
//!
//! A call holds its place from arrival until its response headers are ready: for a unary call
//! that is the whole work of the handler; a server stream (WatchSeats) gives its place back once
//! the stream is open, so open watch streams never starve unary calls. Sits inside
//! [`super::ObserveLayer`], so a shed call is counted and logged like any other.

use futures_util::future::{Either, Ready, ready};
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;

#[derive(Clone)]
pub struct ShedLayer {
    slots: Arc<Semaphore>,
}

impl ShedLayer {
    /// Sheds calls beyond `max_in_flight` at once (server-wide).
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            slots: self.slots.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

pin_project_lite::pin_project! {
    /// The inner call's future, holding its slot until it resolves.
    pub struct Holding<F> {
        #[pin]
        inner: F,
        _slot: OwnedSemaphorePermit,
    }
}

impl<F: Future> Future for Holding<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

impl<S, B> tower::Service<Request<B>> for Shed<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, Holding<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => Either::Right(Holding {
                inner: self.inner.call(request),
                _slot: slot,
            }),
            Err(_) => {
                tracing::debug!(path = request.uri().path(), "call shed: server saturated");
                Either::Left(ready(Ok(Status::unavailable(
                    "server overloaded; retry with backoff",
                )
                .into_http())))
            }
        }
    }
}
