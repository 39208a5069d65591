//! Argon2id password hashing, off the async workers and behind a bounded queue that sheds.
//!
//! A hash is tens of milliseconds of CPU and a 19 MiB work area, so one runs per core at a time.
//! Before this queue was bounded, a flood of wrong-password logins queued without limit and a
//! real user's login waited behind all of it (4–5 s under a 200-way flood). Now at most
//! `max_waiting` hashes wait for a core; one more is refused at once with
//! [`ServiceError::Busy`], which tells the client when to retry, instead of making everyone
//! behind it slower. A bound alone would let one flooding client hold every place, so that a
//! real user is refused instead of delayed: one client address (an IPv4 address or an IPv6 /64)
//! holds at most an eighth of the places. Many addresses can still fill the queue; then everyone
//! is refused quickly with retry advice, and the per-email throttle and more instances are what
//! is left. A hash whose caller went away still finishes and holds its place until then,
//! so cancelled calls cannot be used to run more hashes than there are cores.

use super::{BusyReason, ServiceError, ServiceResult};
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// What a refused hash tells its client: the queue drains in well under this.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// An argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&bytes)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Runs hashes one per core, with at most `max_waiting` more waiting, of which one client
/// address holds at most an eighth.
#[derive(Debug)]
pub struct HashingQueue {
    cores: Arc<Semaphore>,
    places: Arc<Mutex<Places>>,
    capacity: usize,
    per_source: usize,
    /// Places given out since start (tests use it to prove a refused login took none).
    started: AtomicUsize,
}

/// Hashes running or waiting, in all and by client address.
#[derive(Debug, Default)]
struct Places {
    taken: usize,
    by_source: HashMap<IpAddr, usize>,
}

impl Places {
    fn release(&mut self, source: Option<IpAddr>) {
        self.taken = self.taken.saturating_sub(1);
        if let Some(source) = source
            && let Some(held) = self.by_source.get_mut(&source)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.by_source.remove(&source);
            }
        }
    }
}

/// A place in the queue, given back when dropped.
struct Place {
    places: Arc<Mutex<Places>>,
    source: Option<IpAddr>,
}

impl Drop for Place {
    fn drop(&mut self) {
        lock(&self.places).release(self.source);
    }
}

fn lock(places: &Mutex<Places>) -> std::sync::MutexGuard<'_, Places> {
    // Every change is one statement's worth: a poisoned lock holds consistent counts.
    places
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The address a share is counted by: an IPv4 address, or an IPv6 address's /64 (what one
/// customer is usually given).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// A place in the queue: run the hash with it, or drop it to give the place back.
#[must_use]
pub struct Admitted {
    place: Place,
    cores: Arc<Semaphore>,
}

impl Admitted {
    /// Runs `work` on a blocking thread once a core is free.
    ///
    /// # Errors
    /// `Internal` if the work panicked.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ServiceResult<T> {
        let Self { place, cores } = self;
        let core = cores.acquire_owned().await.map_err(|e| {
            ServiceError::Internal(crate::ports::StoreError::internal(format!(
                "hashing closed: {e}"
            )))
        })?;
        tokio::task::spawn_blocking(move || {
            let _held = (place, core);
            work()
        })
        .await
        .map_err(|e| {
            ServiceError::Internal(crate::ports::StoreError::internal(format!(
                "password task failed: {e}"
            )))
        })
    }
}

impl HashingQueue {
    pub fn new(max_waiting: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let capacity = cores.saturating_add(max_waiting);
        Self {
            cores: Arc::new(Semaphore::new(cores)),
            places: Arc::default(),
            capacity,
            per_source: (capacity / 8).max(1),
            started: AtomicUsize::new(0),
        }
    }

    /// Hashes let in since start.
    #[cfg(test)]
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Acquire)
    }

    /// Runs `work` for a client at `source` on a blocking thread once a core is free.
    ///
    /// # Errors
    /// As [`HashingQueue::admit`] and [`Admitted::run`].
    pub async fn run<T: Send + 'static>(
        &self,
        source: Option<IpAddr>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ServiceResult<T> {
        self.admit(source)?.run(work).await
    }

    /// A place in the queue for a client at `source`, taken before anything else is spent on the
    /// call (a refused login does not even reach the database).
    ///
    /// # Errors
    /// [`ServiceError::Busy`] at once when the queue, or this source's share of it, is full.
    pub fn admit(&self, source: Option<IpAddr>) -> ServiceResult<Admitted> {
        let place = self.take_place(source.map(source_key))?;
        self.started.fetch_add(1, Ordering::AcqRel);
        Ok(Admitted {
            place,
            cores: self.cores.clone(),
        })
    }

    fn take_place(&self, source: Option<IpAddr>) -> ServiceResult<Place> {
        let mut places = lock(&self.places);
        let held = source.map_or(0, |s| places.by_source.get(&s).copied().unwrap_or(0));
        if places.taken >= self.capacity || held >= self.per_source {
            return Err(ServiceError::Busy {
                reason: BusyReason::Hashing,
                retry_after: RETRY_AFTER,
            });
        }
        places.taken += 1;
        if let Some(source) = source {
            *places.by_source.entry(source).or_default() += 1;
        }
        Ok(Place {
            places: self.places.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn ip(n: usize) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8]))
    }

    fn busy<T: std::fmt::Debug>(result: ServiceResult<T>) -> bool {
        matches!(
            result,
            Err(ServiceError::Busy {
                reason: BusyReason::Hashing,
                retry_after: RETRY_AFTER,
            })
        )
    }

    async fn taken(queue: &HashingQueue, expected: usize) {
        while lock(&queue.places).taken != expected {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_or_a_full_share_refuses_at_once_and_places_come_back() {
        let queue = Arc::new(HashingQueue::new(6));
        let (capacity, share) = (queue.capacity, queue.per_source);
        assert!(share < capacity);
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let hold = |source: Option<IpAddr>| {
            let (queue, gate) = (queue.clone(), gate.clone());
            tokio::spawn(async move {
                queue
                    .run(source, move || {
                        gate.lock().map(|g| g.recv().is_ok()).unwrap_or(false)
                    })
                    .await
            })
        };
        let mut running: Vec<_> = (0..share).map(|_| hold(ip(1))).collect();
        taken(&queue, share).await;
        assert!(busy(queue.run(ip(1), || true).await), "one source's share");
        running.extend((0..capacity - share).map(|n| hold(ip(2 + n))));
        taken(&queue, capacity).await;
        let started = std::time::Instant::now();
        assert!(busy(queue.run(ip(999), || true).await), "the whole queue");
        assert!(busy(queue.run(None, || true).await));
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "refused at once"
        );
        for _ in 0..capacity {
            release.send(()).expect("a hash is waiting");
        }
        for task in running {
            assert!(task.await.expect("task").expect("admitted"));
        }
        assert_eq!(lock(&queue.places).taken, 0);
        assert!(lock(&queue.places).by_source.is_empty());
        assert_eq!(queue.started(), capacity);
        assert!(queue.run(ip(1), || true).await.expect("room again"));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
    }
}
