//! Server TLS: the rustls configuration of the gRPC listener, with a certificate that can be
//! replaced on disk while the server runs.
//!
//! Certificates are short-lived in most deployments (cert-manager, ACME), so a restart per
//! renewal would drop every open call and watch stream. Instead the configuration holds a
//! [`ReloadingCert`] resolver: each handshake takes the current `Arc<CertifiedKey>`, and
//! [`watch_files`] swaps in a new one when the files' modification time or size changes. A new
//! file that does not parse, or a key that does not match its certificate, keeps the old
//! certificate and is logged (a half-written renewal is picked up on the next change). Open
//! connections keep the certificate they were made with.
//!
//! ALPN offers `h2` (gRPC) and `http/1.1` (so a later gRPC-Web layer can share the port).
//! With a client CA every client must present a certificate signed by it (mTLS); the client
//! CA is read once at start-up. Only the `ring` provider is used.

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// Where the server's certificate, its key and (for mTLS) the client CA are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("{0} is not valid PEM: {1}")]
    Pem(PathBuf, String),
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("the key in {0} does not fit its certificate or is not supported: {1}")]
    Key(PathBuf, #[source] rustls::Error),
    #[error("the client CA in {0} is not usable: {1}")]
    ClientCa(PathBuf, String),
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read(path.to_owned(), e))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(path.to_owned(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// Reads a certificate chain and its private key, and checks that they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(cert)?;
    let der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| TlsError::Pem(key.to_owned(), e.to_string()))?;
    CertifiedKey::from_der(chain, der, &provider()).map_err(|e| TlsError::Key(key.to_owned(), e))
}

/// The certificate every new handshake is answered with; [`watch_files`] replaces it.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    pub fn new(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
        }
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The server configuration for `files`, and the resolver to hand to [`watch_files`].
pub fn server_config(
    files: &TlsFiles,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCert>), TlsError> {
    let resolver = Arc::new(ReloadingCert::new(load_certified_key(
        &files.cert,
        &files.key,
    )?));
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let builder = match &files.client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::ClientCa(path.clone(), e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::ClientCa(path.clone(), e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), resolver))
}

/// What identifies a version of a file without reading it.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Polls the certificate and key files every `interval` and loads them into `resolver` when
/// either changed, until `stop` turns true.
pub async fn watch_files(
    files: TlsFiles,
    resolver: Arc<ReloadingCert>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = (stamp(&files.cert), stamp(&files.key));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let now = (stamp(&files.cert), stamp(&files.key));
        if now == seen {
            continue;
        }
        seen = now;
        let (cert, key) = (files.cert.clone(), files.key.clone());
        match tokio::task::spawn_blocking(move || load_certified_key(&cert, &key)).await {
            Ok(Ok(key)) => {
                resolver.replace(key);
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Ok(Err(err)) => {
                tracing::error!(error = %err, "new TLS certificate rejected; still serving the previous one");
            }
            Err(err) => tracing::error!(error = %err, "TLS certificate reload failed"),
        }
    }
}
