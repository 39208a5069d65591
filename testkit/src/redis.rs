//! Redis for tests and benchmarks: a key prefix of the caller's own on the local server, and Redis
//! servers (one, or a three-primary Cluster) of the caller's own, on free ports. Child processes
//! die with the process that started them, even when it panics or is killed.

use redis::AsyncCommands;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_stream::StreamExt;

/// The local Redis (`SEATRUSH_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
pub fn url() -> String {
    std::env::var("SEATRUSH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A connection to `url`; panics, naming it, when Redis cannot be reached.
pub async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!("Redis is required and is not reachable at {url}: {e}. Start it (see .ci/run).")
        });
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .expect("redis ping");
    conn
}

/// A key prefix no other run uses: `<kind>-<random>`.
pub fn fresh_prefix(kind: &str) -> String {
    format!("{kind}-{}", crate::unique())
}

/// Deletes every key starting with `prefix` (SCAN and UNLINK: KEYS on a big keyspace outlasts
/// the client's timeout and then deletes nothing).
pub async fn delete_keys(url: &str, prefix: &str) {
    let mut conn = connect(url).await;
    let options = redis::ScanOptions::default()
        .with_pattern(format!("{prefix}*"))
        .with_count(10_000);
    let keys: Vec<String> = match conn.scan_options::<String>(options).await {
        Ok(found) => found.filter_map(Result::ok).collect().await,
        Err(_) => Vec::new(),
    };
    for chunk in keys.chunks(1_000) {
        let _: redis::RedisResult<i64> =
            redis::cmd("UNLINK").arg(chunk).query_async(&mut conn).await;
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `redis-server` of the caller's own, which it can really stop and restart.
pub struct OwnRedis {
    pub port: u16,
    child: Child,
}

impl OwnRedis {
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Started with extra `redis-server` arguments, e.g. `["--rename-command", "CONFIG", ""]`.
    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let port_arg = port.to_string();
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &port_arg,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null());
        // SAFETY: prctl only sets this child's parent-death signal, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .expect("redis-server is required (installed by .ci/run)");
        Self { port, child }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Waits until the server answers PING.
    pub async fn ready(&self) {
        let client = redis::Client::open(self.url()).expect("url");
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("own redis-server on port {} did not start", self.port);
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A three-primary Redis Cluster on free ports, made with `redis-cli --cluster create`.
pub struct OwnCluster {
    nodes: Vec<OwnRedis>,
    dir: PathBuf,
}

impl OwnCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("seatrush-cluster-{}", crate::unique()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mut nodes = Vec::new();
        for port in free_ports_with_bus(3) {
            let conf = dir.join(format!("nodes-{port}.conf"));
            let conf = conf.to_string_lossy().into_owned();
            nodes.push(OwnRedis::start_with(
                port,
                &["--cluster-enabled", "yes", "--cluster-config-file", &conf],
            ));
        }
        for node in &nodes {
            node.ready().await;
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = tokio::process::Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .await
            .expect("redis-cli is required (installed with redis-server by .ci/run)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes, dir };
        for node in &cluster.nodes {
            let mut conn = connect(&node.url()).await;
            let mut ok = false;
            for _ in 0..200 {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .expect("cluster info");
                if info.contains("cluster_state:ok") {
                    ok = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(ok, "the cluster did not become ready");
        }
        cluster
    }

    /// A URL of one node (SeatRush discovers the rest).
    pub fn url(&self) -> String {
        self.nodes[0].url()
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Ports whose cluster bus port (+10000) is free too.
fn free_ports_with_bus(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    while ports.len() < n {
        let port = free_port();
        if port < 55_000
            && !ports.contains(&port)
            && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            ports.push(port);
        }
    }
    ports
}

/// A three-primary cluster shared by every caller in this process: started on first use, on a
/// thread of its own that lives as long as the process (the parent-death signal of its
/// redis-servers follows the thread that started them). Callers keep apart by key prefix.
/// Returns the URL of each node.
pub async fn shared_cluster() -> &'static [String] {
    static NODES: tokio::sync::OnceCell<Vec<String>> = tokio::sync::OnceCell::const_new();
    NODES
        .get_or_init(|| async {
            let (started, urls) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the shared cluster");
                let cluster = runtime.block_on(OwnCluster::start());
                let _ = started.send(cluster.nodes.iter().map(OwnRedis::url).collect());
                loop {
                    std::thread::park();
                }
            });
            urls.await.expect("the shared cluster started")
        })
        .await
}

/// How many keys each of `nodes` holds.
pub async fn keys_per_node(nodes: &[String]) -> Vec<i64> {
    let mut counts = Vec::new();
    for node in nodes {
        let mut conn = connect(node).await;
        counts.push(
            redis::cmd("DBSIZE")
                .query_async(&mut conn)
                .await
                .expect("dbsize"),
        );
    }
    counts
}
