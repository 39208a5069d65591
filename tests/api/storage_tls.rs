//! TLS to the backends: PostgreSQL with `sslmode=require` and Redis over `rediss://`, checked
//! against a real PostgreSQL and a `redis-server` of the test's own that speaks only TLS.

use crate::helpers::{Backend, Storage, spawn_with};
use crate::tls::{Ca, Files};
use sea_orm::{ConnectionTrait, Database, Statement};
use seatrush::startup::Application;
use seatrush_testkit::redis::{OwnRedis, free_port};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_reaches_postgresql_over_tls() {
    let mut storage = Storage::new(Backend::Distributed).await;
    storage.database_url = format!("{}?sslmode=require", storage.database_url);
    let app = spawn_with(storage.clone(), |_| {}).await;
    let event = app.event(1, 5).await;
    assert_eq!(app.seat_map(&event.event_id).await.len(), 5);

    // What the server says about a connection made with the same URL.
    let db = Database::connect(&storage.database_url)
        .await
        .unwrap_or_else(|e| panic!("sslmode=require: {e}"));
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .expect("pg_stat_ssl")
        .expect("a row");
    assert!(row.try_get::<bool>("", "ssl").expect("ssl column"));
    app.teardown().await;
}

/// A `redis-server` listening on TLS only, with a certificate from `ca`.
fn tls_redis(ca: &Ca, files: &Files) -> (OwnRedis, u16) {
    let server = ca.server();
    let cert = files.write("redis.pem", &server.cert);
    let key = files.write("redis.key", &server.key);
    let ca_file = files.write("redis-ca.pem", &ca.pem());
    let port = free_port().to_string();
    let path = |p: &std::path::Path| p.display().to_string();
    let redis = OwnRedis::start_with(
        0,
        &[
            "--tls-port",
            &port,
            "--tls-cert-file",
            &path(&cert),
            "--tls-key-file",
            &path(&key),
            "--tls-ca-cert-file",
            &path(&ca_file),
            "--tls-auth-clients",
            "no",
        ],
    );
    (redis, port.parse().expect("port"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distributed_backend_keeps_holds_in_a_redis_reached_over_tls() {
    let (ca, files) = (Ca::new("Redis test CA"), Files::new());
    let (_redis, port) = tls_redis(&ca, &files);
    let url = format!("rediss://127.0.0.1:{port}");
    let redis_ca = files.write("trusted.pem", &ca.pem());
    let storage = Storage::new(Backend::Distributed).await;

    // Without the private CA the certificate is refused (and not for want of TLS support).
    let mut untrusting = storage.settings();
    untrusting.redis_url = Some(url.clone());
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        let Err(err) = Application::build(untrusting.clone()).await else {
            panic!("a certificate from a private CA must not be trusted by default");
        };
        let text = err.to_string();
        assert!(!text.contains("TLS support"), "{text}");
        if !text.contains("refused") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // redis-server still starting
    };
    assert!(
        err.contains("certificate") || err.contains("Unknown"),
        "{err}"
    );

    let app = spawn_with(storage, |s| {
        s.redis_url = Some(url);
        s.redis_ca = Some(redis_ca);
    })
    .await;
    let event = app.event(1, 5).await;
    let user = app.user().await;
    app.reserve(&user, &event.event_id, &["A1", "A2"], 60)
        .await
        .expect("a hold in the TLS Redis");
    let held = app
        .seat_map(&event.event_id)
        .await
        .values()
        .filter(|s| **s == seatrush::proto::v1::SeatStatus::Held)
        .count();
    assert_eq!(held, 2);
    app.teardown().await;
}
