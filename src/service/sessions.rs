//! The session cache that keeps authentication off the database on the hot path.
//!
//! A token's lookup result is trusted for [`SessionCache::ttl`] (under one second), so a
//! revocation made through any instance takes effect everywhere within that time; a revocation
//! made through this instance takes effect here at once. Concurrent calls with the same uncached
//! token share one database lookup. Ages are read from tokio's clock, so tests can pause it.

use crate::domain::TokenHash;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Entries beyond this trigger a sweep of stale ones, bounding memory under token floods.
const SWEEP_ABOVE: usize = 100_000;

pub(super) struct SessionCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<TokenHash, Entry<V>>>,
}

struct Entry<V> {
    created: Instant,
    cell: Arc<OnceCell<V>>,
}

impl<V: Clone> SessionCache<V> {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value for `key`, or the result of `load`, shared with concurrent callers.
    /// A failed load is not cached.
    pub(super) async fn get_or_load<E, F, Fut>(&self, key: &TokenHash, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if entries.len() > SWEEP_ABOVE {
                entries.retain(|_, e| now.duration_since(e.created) < self.ttl);
            }
            match entries.get(key) {
                Some(entry) if now.duration_since(entry.created) < self.ttl => entry.cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    entries.insert(
                        key.clone(),
                        Entry {
                            created: now,
                            cell: cell.clone(),
                        },
                    );
                    cell
                }
            }
        };
        cell.get_or_try_init(load).await.cloned()
    }

    pub(super) fn forget(&self, key: &TokenHash) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Drops every entry that resolves to a value matching `pred` (a deleted user's sessions).
    pub(super) fn forget_where(&self, pred: impl Fn(&V) -> bool) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| !e.cell.get().is_some_and(&pred));
    }
}
