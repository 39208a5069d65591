//! Rate limits that bind the client, not just the account: every call counts against its peer
//! (the connection's IP address, or the client a trusted proxy names in `x-forwarded-for`), every
//! writing call against its user, and every registration against its peer's per-minute allowance.
//! Token buckets in process memory: no storage round trip on the hot path. They are per
//! instance, so behind a load balancer that spreads one client over N instances the client gets
//! up to N times the rate; the settings are per instance for that reason.
//!
//! A refused call is RESOURCE_EXHAUSTED with `retry-after` metadata (whole seconds, rounded up)
//! and a `google.rpc.RetryInfo` detail with the exact wait.

use crate::config::{Cidr, Settings};
use crate::domain::UserId;
use http::{HeaderMap, Request, Response};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;
use tonic_types::ErrorDetails;

/// The most clients a limiter remembers; past it, buckets that have refilled are forgotten first,
/// then arbitrary ones, down to nine tenths, so the sweep runs once per many new clients (a
/// stream of fresh addresses must not cost a full scan per call).
const REMEMBERED: usize = 100_000;

/// The client behind a call, as far as this instance can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(pub IpAddr);

/// `rate` calls a second on average, `burst` at once; `None` is no limit.
#[derive(Debug, Clone, Copy)]
struct Rate {
    per_second: f64,
    burst: f64,
}

impl Rate {
    fn new(count: u32, per: Duration, burst: u32) -> Option<Self> {
        (count > 0).then(|| Self {
            per_second: f64::from(count) / per.as_secs_f64(),
            burst: f64::from(burst.max(1)),
        })
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One token bucket per key, bounded in number.
struct Buckets<K> {
    rate: Option<Rate>,
    capacity: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Copy> Buckets<K> {
    fn new(rate: Option<Rate>) -> Self {
        Self {
            rate,
            capacity: REMEMBERED,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `key`, or says how long until one is there.
    fn take(&self, key: K) -> Result<(), Duration> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let now = Instant::now();
        let refill = |b: &Bucket| {
            (b.tokens + now.duration_since(b.at).as_secs_f64() * rate.per_second).min(rate.burst)
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= self.capacity && !buckets.contains_key(&key) {
            buckets.retain(|_, b| refill(b) < rate.burst);
            let excess = buckets.len().saturating_sub(self.capacity * 9 / 10);
            let evicted: Vec<K> = buckets.keys().take(excess).copied().collect();
            for key in evicted {
                buckets.remove(&key);
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        bucket.tokens = refill(bucket);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / rate.per_second,
            ))
        }
    }
}

pub struct Limiter {
    proxies: Vec<Cidr>,
    peers: Buckets<Peer>,
    users: Buckets<UserId>,
    registrations: Buckets<Peer>,
}

impl Limiter {
    pub fn new(settings: &Settings) -> Self {
        let second = Duration::from_secs(1);
        Self {
            proxies: settings.trusted_proxies.clone(),
            peers: Buckets::new(Rate::new(settings.peer_rate, second, settings.peer_burst)),
            users: Buckets::new(Rate::new(settings.user_rate, second, settings.user_burst)),
            registrations: Buckets::new(Rate::new(
                settings.registrations_per_minute,
                Duration::from_secs(60),
                settings.registrations_per_minute,
            )),
        }
    }

    /// The client: the connection's address, unless that is a trusted proxy, in which case the
    /// nearest address in `x-forwarded-for` that is not one (proxies append to the right).
    pub(super) fn peer(&self, remote: Option<IpAddr>, headers: &HeaderMap) -> Option<Peer> {
        let trusted = |ip: &IpAddr| self.proxies.iter().any(|c| c.contains(ip));
        let remote = remote?;
        if !trusted(&remote) {
            return Some(Peer(remote));
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map_while(|hop| hop.trim().parse().ok())
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(remote);
        Some(Peer(client))
    }

    /// Counts a writing call of `user` (called once the caller is authenticated).
    pub fn user_call(&self, user: UserId) -> Result<(), Status> {
        self.users
            .take(user)
            .map_err(|wait| exhausted("too many calls for this user", wait))
    }

    /// Counts a registration from `peer`.
    pub fn registration(&self, peer: Option<Peer>) -> Result<(), Status> {
        match peer {
            Some(peer) => self
                .registrations
                .take(peer)
                .map_err(|wait| exhausted("too many registrations from this client", wait)),
            None => Ok(()),
        }
    }
}

/// RESOURCE_EXHAUSTED that says when to come back.
pub fn exhausted(what: &str, wait: Duration) -> Status {
    let wait = wait.max(Duration::from_millis(1));
    super::status::retry_later(
        format!("{what}; retry in {} ms", wait.as_millis()),
        wait,
        ErrorDetails::new(),
    )
}

/// Counts every call against its peer and hands the peer and the limiter to the handlers (in the
/// request's extensions) for the per-user and registration limits.
#[derive(Clone)]
pub struct LimitLayer {
    limiter: Arc<Limiter>,
}

impl LimitLayer {
    pub fn new(limiter: Arc<Limiter>) -> Self {
        Self { limiter }
    }
}

impl<S> tower::Layer<S> for LimitLayer {
    type Service = Limit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Limit {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Limit<S> {
    inner: S,
    limiter: Arc<Limiter>,
}

impl<S> tower::Service<Request<Body>> for Limit<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = futures_util::future::Either<
        futures_util::future::Ready<Result<Response<Body>, S::Error>>,
        S::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let remote = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.ip());
        let peer = self.limiter.peer(remote, request.headers());
        if let Some(peer) = peer {
            if let Err(wait) = self.limiter.peers.take(peer) {
                let status = exhausted("too many calls from this client", wait);
                return futures_util::future::Either::Left(futures_util::future::ready(Ok(
                    status.into_http()
                )));
            }
            request.extensions_mut().insert(peer);
        }
        request.extensions_mut().insert(self.limiter.clone());
        futures_util::future::Either::Right(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_refuses_past_its_burst_and_refills_at_its_rate() {
        let buckets = Buckets::new(Rate::new(2, Duration::from_secs(1), 3));
        for _ in 0..3 {
            assert!(buckets.take(1).is_ok());
        }
        let wait = buckets.take(1).expect_err("over the burst");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(buckets.take(2).is_ok(), "another key has its own bucket");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(buckets.take(1).is_ok());
        assert!(buckets.take(1).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_of_new_clients_keeps_the_memory_bounded() {
        let mut buckets = Buckets::new(Rate::new(1, Duration::from_secs(60), 1));
        buckets.capacity = 100;
        for client in 0..10_000u32 {
            let _ = buckets.take(client);
            let remembered = buckets.buckets.lock().expect("lock").len();
            assert!(remembered <= 100, "{remembered} clients after {client}");
        }
        assert!(
            buckets.take(9_999).is_err(),
            "the newest client is still limited"
        );
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let mut settings = Settings::defaults();
        settings.trusted_proxies = vec!["10.0.0.0/8".parse().expect("cidr")];
        let limiter = Limiter::new(&settings);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.9, 10.1.2.3"
                .parse()
                .expect("header"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            limiter.peer(Some(ip("10.9.9.9")), &headers),
            Some(Peer(ip("203.0.113.9"))),
            "the nearest untrusted hop; what the client itself wrote is not believed"
        );
        assert_eq!(
            limiter.peer(Some(ip("192.0.2.7")), &headers),
            Some(Peer(ip("192.0.2.7"))),
            "a direct client cannot pick its own address"
        );
    }

    #[test]
    fn proxies_are_addresses_or_blocks() {
        let cidr = |s: &str| s.parse::<Cidr>();
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(
            cidr("10.0.0.0/8")
                .expect("block")
                .contains(&ip("10.200.1.1"))
        );
        assert!(!cidr("10.0.0.0/8").expect("block").contains(&ip("11.0.0.1")));
        assert!(cidr("192.0.2.1").expect("one").contains(&ip("192.0.2.1")));
        assert!(!cidr("192.0.2.1").expect("one").contains(&ip("192.0.2.2")));
        assert!(cidr("0.0.0.0/0").expect("all").contains(&ip("8.8.8.8")));
        assert!(cidr("::1").expect("v6").contains(&ip("::1")));
        assert!(!cidr("::1").expect("v6").contains(&ip("127.0.0.1")));
        for bad in ["10.0.0.0/33", "proxy", "10.0.0.0/x", ""] {
            assert!(cidr(bad).is_err(), "{bad}");
        }
    }
}
