//! The transport settings of the gRPC listener, checked and loaded once at start-up: TLS (the
//! certificate is read here, so a bad file stops the start before any backend is touched),
//! connection caps, HTTP/2 streams per connection, connection age and the load-shedding cap.

use super::StartupError;
use super::limits::ConnectionLimits;
use super::tls::{self, ReloadingCert, TlsFiles};
use crate::config::Settings;
use std::sync::Arc;
use std::time::Duration;

/// How connections are accepted and served, from the settings.
pub(super) struct Transport {
    pub(super) tls: Option<(TlsFiles, Arc<rustls::ServerConfig>, Arc<ReloadingCert>)>,
    pub(super) tls_reload: Duration,
    pub(super) handshake_timeout: Duration,
    pub(super) limits: ConnectionLimits,
    /// Concurrent calls per HTTP/2 connection. Beyond it clients queue (HTTP/2 flow control),
    /// so a burst is served in bounded batches instead of starting every call at once.
    pub(super) max_streams: u32,
    pub(super) max_age: Option<Duration>,
    pub(super) max_age_grace: Duration,
    pub(super) max_in_flight: usize,
}

impl Transport {
    pub(super) fn from_settings(settings: &Settings) -> Result<Self, StartupError> {
        let tls = match settings.tls_files().map_err(StartupError::TlsSettings)? {
            Some(files) => {
                let (config, resolver) = tls::server_config(&files).map_err(StartupError::Tls)?;
                Some((files, config, resolver))
            }
            None => None,
        };
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            tls,
            tls_reload: Duration::from_millis(settings.tls_reload_ms),
            handshake_timeout: Duration::from_millis(settings.tls_handshake_timeout_ms),
            limits: ConnectionLimits::new(
                size(settings.max_connections),
                size(settings.max_connections_per_ip),
            ),
            max_streams: settings.max_streams_per_connection,
            max_age: settings.max_connection_age_seconds.map(Duration::from_secs),
            max_age_grace: Duration::from_secs(settings.max_connection_age_grace_seconds),
            max_in_flight: size(settings.max_in_flight_calls),
        })
    }
}
