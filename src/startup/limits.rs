//! Caps on open connections, counted at accept time: one for the whole server and one per
//! peer IP address.
//!
//! HTTP/2 multiplexes every call of a client on one connection, so a well-behaved client needs
//! few; a peer that opens thousands is either broken or hostile, and each open connection costs
//! a task, buffers and a file descriptor. Refusing it right after `accept` (closing the socket
//! before any TLS or HTTP/2 work) keeps that cost near zero. A [`ConnectionPermit`] lives as
//! long as the connection and gives its place back when dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max_connections` connections.
    Total,
    /// This peer holds `max_connections_per_ip` connections.
    PerPeer,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::PerPeer => "per_peer",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Shared {
    max_total: usize,
    max_per_ip: usize,
    counts: Mutex<Counts>,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The open-connection counters of one listener.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    shared: Arc<Shared>,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                max_total,
                max_per_ip,
                counts: Mutex::default(),
            }),
        }
    }

    /// A place for a new connection from `ip`, or why there is none.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let mut counts = self.shared.counts();
        if counts.total >= self.shared.max_total {
            return Err(Refusal::Total);
        }
        let of_peer = counts.per_ip.entry(ip).or_insert(0);
        if *of_peer >= self.shared.max_per_ip {
            return Err(Refusal::PerPeer);
        }
        *of_peer += 1;
        counts.total += 1;
        Ok(ConnectionPermit {
            shared: self.shared.clone(),
            ip,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.shared.counts().total
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnectionPermit {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.shared.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(of_peer) = counts.per_ip.get_mut(&self.ip) {
            *of_peer = of_peer.saturating_sub(1);
            if *of_peer == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_peer_at_its_cap_is_refused_while_others_are_admitted() {
        let limits = ConnectionLimits::new(10, 2);
        let _a = limits.admit(ip(1)).expect("first");
        let b = limits.admit(ip(1)).expect("second");
        assert_eq!(limits.admit(ip(1)).err(), Some(Refusal::PerPeer));
        let _c = limits.admit(ip(2)).expect("another peer");
        drop(b);
        let _d = limits.admit(ip(1)).expect("a freed place");
        assert_eq!(limits.open(), 3);
    }

    #[test]
    fn the_server_cap_counts_every_peer_and_frees_places_on_drop() {
        let limits = ConnectionLimits::new(2, 5);
        let a = limits.admit(ip(1)).expect("first");
        let _b = limits.admit(ip(2)).expect("second");
        assert_eq!(limits.admit(ip(3)).err(), Some(Refusal::Total));
        drop(a);
        let _c = limits.admit(ip(3)).expect("a freed place");
        assert_eq!(limits.open(), 2);
        assert!(!limits.shared.counts().per_ip.contains_key(&ip(1)));
    }
}
