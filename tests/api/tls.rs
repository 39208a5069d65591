//! TLS on the gRPC listener, met by real clients: certificates made in the test (a CA, server
//! and client certificates from `rcgen`), a tonic client over rustls, a plaintext client that
//! must fail, a certificate replaced on disk while the server runs, and client certificates
//! required by a client CA.

use crate::helpers::{Backend, Running, Storage, start};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use seatrush::config::Settings;
use seatrush::startup::{Application, StartupError};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A certificate authority made for one test.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A PEM certificate and its PEM key.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self) -> Leaf {
        self.leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    pub fn client(&self, name: &str) -> Leaf {
        self.leaf(&[name], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// A test's own directory of PEM files.
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("seatrush-tls-{}", seatrush_testkit::unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `contents` to `name` at once (a rename, as a certificate manager does).
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        let partial = self.path(&format!("{name}.partial"));
        std::fs::write(&partial, contents).expect("write PEM");
        std::fs::rename(&partial, &path).expect("rename PEM");
        path
    }

    /// Settings that serve `server` over TLS from this directory.
    pub fn serve(&self, settings: &mut Settings, server: &Leaf) {
        settings.tls_cert = Some(self.write("server.pem", &server.cert));
        settings.tls_key = Some(self.write("server.key", &server.key));
        settings.tls_reload_ms = 50;
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_server(files: &Files, server: &Leaf, client_ca: Option<&Ca>) -> (Running, Storage) {
    let storage = Storage::new(Backend::Embedded).await;
    let mut settings = storage.settings();
    files.serve(&mut settings, server);
    if let Some(ca) = client_ca {
        settings.tls_client_ca = Some(files.write("client-ca.pem", &ca.pem()));
    }
    (start(settings).await, storage)
}

/// A health check on a new connection that trusts `ca` (and presents `identity`); any failure,
/// at connect or at the call, as text.
pub async fn check_over_tls(
    running: &Running,
    ca: &Ca,
    identity: Option<&Leaf>,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.pem()))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.cert, &leaf.key));
    }
    let attempt = async {
        let channel = Channel::from_shared(format!("https://{}", running.address))
            .map_err(|e| e.to_string())?
            .tls_config(tls)
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trusts_the_ca_calls_the_server_over_tls() {
    let (ca, files) = (Ca::new("SeatRush test CA"), Files::new());
    let (server, storage) = tls_server(&files, &ca.server(), None).await;

    check_over_tls(&server, &ca, None)
        .await
        .expect("a health check over TLS");
    let stranger = Ca::new("someone else");
    assert!(
        check_over_tls(&server, &stranger, None).await.is_err(),
        "a client that does not trust the CA must refuse the server"
    );

    server.stop().await;
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_client_to_a_tls_server_fails_cleanly_and_the_server_serves_on() {
    let (ca, files) = (Ca::new("SeatRush test CA"), Files::new());
    let (server, storage) = tls_server(&files, &ca.server(), None).await;

    let plaintext = async {
        let channel = Channel::from_shared(format!("http://{}", server.address))
            .expect("uri")
            .connect()
            .await?;
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .map_err(Into::into)
    };
    let result: Result<_, Box<dyn std::error::Error>> =
        tokio::time::timeout(Duration::from_secs(5), plaintext)
            .await
            .expect("a plaintext client gets an answer, not a hang");
    assert!(result.is_err(), "plaintext must not be served: {result:?}");
    check_over_tls(&server, &ca, None)
        .await
        .expect("TLS clients are still served");

    server.stop().await;
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_to_new_connections_without_a_restart() {
    let (old_ca, new_ca, files) = (Ca::new("old CA"), Ca::new("new CA"), Files::new());
    let (server, storage) = tls_server(&files, &old_ca.server(), None).await;
    check_over_tls(&server, &old_ca, None)
        .await
        .expect("the first certificate");
    assert!(check_over_tls(&server, &new_ca, None).await.is_err());

    // A broken renewal keeps the old certificate (waiting a few reload intervals is the only
    // way to see that nothing happened).
    files.write("server.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    check_over_tls(&server, &old_ca, None)
        .await
        .expect("a bad file keeps the old certificate");

    let renewed = new_ca.server();
    files.write("server.key", &renewed.key);
    files.write("server.pem", &renewed.cert);
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(err) = check_over_tls(&server, &new_ca, None).await {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up: {err}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        check_over_tls(&server, &old_ca, None).await.is_err(),
        "new connections get the new certificate only"
    );

    server.stop().await;
    storage.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_only_clients_with_a_certificate_it_signed_are_served() {
    let (ca, clients, files) = (Ca::new("server CA"), Ca::new("client CA"), Files::new());
    let (server, storage) = tls_server(&files, &ca.server(), Some(&clients)).await;

    let refused = check_over_tls(&server, &ca, None).await;
    assert!(
        refused.is_err(),
        "a client without a certificate: {refused:?}"
    );
    let forged = Ca::new("not the client CA").client("mallory");
    assert!(check_over_tls(&server, &ca, Some(&forged)).await.is_err());
    check_over_tls(&server, &ca, Some(&clients.client("box-office")))
        .await
        .expect("a client certificate signed by the client CA");

    server.stop().await;
    storage.destroy().await;
}

#[tokio::test]
async fn tls_settings_that_do_not_fit_stop_the_start_with_a_clear_message() {
    let (ca, files) = (Ca::new("SeatRush test CA"), Files::new());
    let server = ca.server();
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".parse().expect("address");
    settings.data_dir = files.path("data");
    settings.tls_cert = Some(files.write("server.pem", &server.cert));
    let Err(err) = Application::build(settings.clone()).await else {
        panic!("a certificate without a key must not start");
    };
    assert!(matches!(err, StartupError::TlsSettings(_)), "{err}");
    assert!(err.to_string().contains("SEATRUSH_TLS_KEY"), "{err}");

    settings.tls_key = Some(files.write("server.key", &ca.client("other").key));
    let Err(err) = Application::build(settings).await else {
        panic!("a key that does not fit must not start");
    };
    assert!(err.to_string().contains("does not fit"), "{err}");
}
