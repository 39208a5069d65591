use crate::helpers::{Backend, spawn_app};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

/// Waits (bounded) for the health stream of `service` to report `wanted`.
async fn wait_for(app: &crate::helpers::TestApp, service: &str, wanted: ServingStatus) {
    let mut stream = app
        .health
        .clone()
        .watch(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("watch health")
        .into_inner();
    let found = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while let Ok(Some(update)) = stream.message().await {
            if update.status() == wanted {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{service:?} never reported {wanted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_reports_serving() {
    let app = spawn_app(Backend::Embedded).await;
    wait_for(&app, "", ServingStatus::Serving).await;
    wait_for(&app, "seatrush.v1.BookingService", ServingStatus::Serving).await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_database() {
    let app = spawn_app(Backend::Distributed).await;
    wait_for(&app, "", ServingStatus::Serving).await;
    app.storage.cut_database().await;
    wait_for(&app, "", ServingStatus::NotServing).await;
    app.storage.restore_database().await;
    wait_for(&app, "", ServingStatus::Serving).await;
    app.teardown().await;
}
