//! The `seatrush` server binary: settings, logging, then [`seatrush::startup`].

use clap::Parser;
use seatrush::config::Settings;
use seatrush::startup::Application;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    seatrush::telemetry::init(settings.log_format);
    tracing::debug!(?settings, "starting");
    let result = async {
        Application::build(settings)
            .await?
            .run_until_stopped(shutdown_signal())
            .await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "SeatRush stopped");
            eprintln!("seatrush: {err}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
