//! The real `seatrush` binary as a child process: for what only a process shows (its resident
//! memory, its exit, its stdout), configured only through the environment as an operator would.

use crate::helpers::{ADMIN_TOKEN, Backend, Storage};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// A `seatrush` process with JSON logs, its stdout collected line by line.
pub struct Process {
    child: Child,
    pub address: String,
    pub admin: Option<String>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub async fn start(storage: &Storage, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_seatrush"));
        for (key, _) in std::env::vars() {
            if key.starts_with("OTEL_") || key.starts_with("SEATRUSH_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command
            .env("SEATRUSH_LISTEN", "127.0.0.1:0")
            .env("SEATRUSH_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("DATABASE_URL", &storage.database_url)
            .env("SEATRUSH_REDIS_PREFIX", &storage.redis_prefix)
            .env("SEATRUSH_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("SEATRUSH_PEER_RATE", "0")
            .env("SEATRUSH_USER_RATE", "0")
            .env("SEATRUSH_REGISTRATIONS_PER_MINUTE", "0")
            .env("SEATRUSH_MAX_SEATS_PER_CLIENT", "0")
            .env("SEATRUSH_RELEASE_COOLDOWN_SECONDS", "0")
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if storage.backend == Backend::Distributed {
            command.env("REDIS_URL", crate::helpers::redis_url());
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the seatrush binary");
        let stdout = child.stdout.take().expect("stdout");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = oneshot::channel();
        let collected = logs.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut admin = None;
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                    let fields = &json["fields"];
                    let address = fields["address"].as_str().map(str::to_owned);
                    match fields["message"].as_str() {
                        Some(m) if m.starts_with("metrics at") => admin = address,
                        Some("SeatRush listening") => {
                            if let (Some(tx), Some(address)) = (ready.take(), address) {
                                let _ = tx.send((address, admin.clone()));
                            }
                        }
                        _ => {}
                    }
                }
                collected.lock().unwrap().push(line);
            }
        });
        let (address, admin) = tokio::time::timeout(Duration::from_secs(60), ready_rx)
            .await
            .expect("the server starts within a minute")
            .unwrap_or_else(|_| panic!("the server exited: {:?}", child.try_wait()));
        Self {
            child,
            address: format!("http://{address}"),
            admin,
            logs,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status (the server flushes telemetry on the way out).
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running") as libc::pid_t;
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server exits within 30 s of SIGTERM")
            .expect("exit status")
    }
}

impl Process {
    /// Waits for the process to end on its own (a fault point kills it); the signal that ended
    /// it, if one did.
    pub async fn killed(mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server dies within 30 s")
            .expect("exit status");
        status.signal()
    }

    /// Resident memory of the process (VmRSS), in bytes.
    pub fn rss(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }
}
