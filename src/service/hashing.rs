//! Argon2id password hashing, off the async workers and behind a bounded queue that sheds.
//!
//! A hash is tens of milliseconds of CPU and a 19 MiB work area, so one runs per core at a time.
//! Before this queue was bounded, a flood of wrong-password logins queued without limit and a
//! real user's login waited behind all of it (4–5 s under a 200-way flood). Now at most
//! `max_waiting` hashes wait for a core; one more is refused at once with
//! [`ServiceError::Busy`], which tells the client when to retry, instead of making everyone
//! behind it slower. A hash whose caller went away still finishes and holds its place until then,
//! so cancelled calls cannot be used to run more hashes than there are cores.

use super::{BusyReason, ServiceError, ServiceResult};
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Runs hashes one per core, with at most `max_waiting` more waiting.
#[derive(Debug)]
pub struct HashingQueue {
    cores: Arc<Semaphore>,
    /// Hashes running or waiting.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    /// Hashes let in since start (tests use it to prove a refusal cost no hash).
    started: AtomicUsize,
}

/// A place in the queue, given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashingQueue {
    pub fn new(max_waiting: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            cores: Arc::new(Semaphore::new(cores)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: cores.saturating_add(max_waiting),
            started: AtomicUsize::new(0),
        }
    }

    /// Hashes let in since start.
    #[cfg(test)]
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Acquire)
    }

    /// Runs `work` on a blocking thread once a core is free.
    ///
    /// # Errors
    /// [`ServiceError::Busy`] at once when the queue is full; `Internal` if the work panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ServiceResult<T> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ServiceError::Busy {
                reason: BusyReason::Hashing,
                retry_after: RETRY_AFTER,
            });
        }
        let place = Place(self.admitted.clone());
        self.started.fetch_add(1, Ordering::AcqRel);
        let core = self.cores.clone().acquire_owned().await.map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let queue = Arc::new(HashingQueue::new(3));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let mut running = Vec::new();
        for _ in 0..cores + 3 {
            let (queue, gate) = (queue.clone(), gate.clone());
            running.push(tokio::spawn(async move {
                queue
                    .run(move || gate.lock().map(|g| g.recv().is_ok()).unwrap_or(false))
                    .await
            }));
        }
        while queue.admitted.load(Ordering::Acquire) < cores + 3 {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        let refused = queue.run(|| true).await;
        assert!(
            matches!(
                refused,
                Err(ServiceError::Busy {
                    reason: BusyReason::Hashing,
                    ..
                })
            ),
            "{refused:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(100));
        for _ in 0..cores + 3 {
            release.send(()).expect("a hash is waiting");
        }
        for task in running {
            assert!(task.await.expect("task").expect("admitted"));
        }
        assert_eq!(queue.admitted.load(Ordering::Acquire), 0);
        assert!(queue.run(|| true).await.expect("room again"));
    }
}
