//! Reaching Redis: one endpoint, or a Redis Cluster. Start-up asks the `REDIS_URL` node
//! `INFO cluster`, so the same URL names a single Redis or any node of a cluster.
//!
//! Scripts and commands go through [`RedisConnection`]: a `ConnectionManager` (one multiplexed,
//! self-reconnecting socket) or a cluster connection that routes each script to the node owning
//! its keys' slot (every key of an event shares the `{<event>}` hash tag, see `mod.rs`).
//!
//! What is per node on a cluster is done per primary through [`Topology::primaries`]: keyevent
//! notifications (a node only announces its own keys' expiry), SCAN, and `CONFIG`. The seat
//! change channel needs no such care: a PUBLISH reaches every node's subscribers.
//!
//! A `rediss://` URL is TLS (rustls); the server certificate is checked against the system's
//! roots, or only against a given CA (a private PKI) when one is configured.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection every script and command of this instance goes through.
#[derive(Clone)]
pub enum RedisConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// The Redis deployment: the configured node, and whether it belongs to a cluster.
#[derive(Clone)]
pub struct Topology {
    seed: Client,
    url: String,
    root_ca: Option<Vec<u8>>,
    cluster: bool,
}

/// A client for `url`, trusting only `root_ca` (PEM) when one is given.
fn client(url: &str, root_ca: &Option<Vec<u8>>) -> RedisResult<Client> {
    match root_ca {
        Some(pem) => Client::build_with_tls(url, certificates(pem)),
        None => Client::open(url),
    }
}

fn certificates(root_ca: &[u8]) -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: Some(root_ca.to_vec()),
    }
}

impl Topology {
    /// Connects to `url` and, when it is a cluster node, to the cluster; with `root_ca` (PEM),
    /// a `rediss://` server must present a certificate signed by it.
    pub async fn connect(
        url: &str,
        root_ca: Option<Vec<u8>>,
        timeout: Duration,
    ) -> RedisResult<(Self, RedisConnection)> {
        let seed = client(url, &root_ca)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let single = seed
            .clone()
            .get_connection_manager_with_config(config)
            .await?;
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut single.clone())
            .await?;
        let cluster = info.lines().any(|l| l.trim() == "cluster_enabled:1");
        let topology = Self {
            seed,
            url: url.to_owned(),
            root_ca,
            cluster,
        };
        if !cluster {
            return Ok((topology, RedisConnection::Single(single)));
        }
        let mut builder = ClusterClient::builder(vec![url.to_owned()]);
        if let Some(pem) = &topology.root_ca {
            builder = builder.certs(certificates(pem));
        }
        let connection = builder
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(timeout)
            .retries(2)
            .build()?
            .get_async_connection()
            .await?;
        tracing::info!(
            primaries = topology.primaries().await?.len(),
            "connected to a Redis Cluster"
        );
        Ok((topology, RedisConnection::Cluster(connection)))
    }

    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The configured node (on a cluster, the feed channel is subscribed there).
    pub fn seed(&self) -> &Client {
        &self.seed
    }

    /// The nodes holding data: the one Redis, or every primary of the cluster now.
    pub async fn primaries(&self) -> RedisResult<Vec<Client>> {
        if !self.cluster {
            return Ok(vec![self.seed.clone()]);
        }
        let mut conn = self.seed.get_multiplexed_async_connection().await?;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await?;
        primary_addresses(&nodes)
            .into_iter()
            .map(|address| client(&node_url(&self.url, &address), &self.root_ca))
            .collect()
    }
}

/// `host:port` of every healthy primary that serves slots, from `CLUSTER NODES`.
fn primary_addresses(nodes: &str) -> Vec<String> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let serving = flags.split(',').any(|f| f == "master")
                && !flags.split(',').any(|f| f == "fail" || f == "noaddr")
                && fields.len() > 8;
            let address = fields.get(1)?.split(['@', ',']).next()?;
            (serving && !address.starts_with(':')).then(|| address.to_owned())
        })
        .collect()
}

/// The seed URL with its host and port replaced (scheme and credentials kept).
fn node_url(seed: &str, address: &str) -> String {
    let (scheme, rest) = seed.split_once("://").unwrap_or(("redis", seed));
    let authority = rest.split('/').next().unwrap_or(rest);
    let credentials = authority
        .rsplit_once('@')
        .map(|(c, _)| format!("{c}@"))
        .unwrap_or_default();
    format!("{scheme}://{credentials}{address}")
}

#[cfg(test)]
mod tests {
    use super::{node_url, primary_addresses};

    #[test]
    fn primaries_are_read_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@31002,node-2 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383
6ec2 127.0.0.1:30005@31005 master,fail - 1426238316232 1426238316232 5 disconnected 1-2
824f 127.0.0.1:30006@31006 master - 0 1426238316232 6 connected
e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
";
        assert_eq!(
            primary_addresses(nodes),
            ["127.0.0.1:30002", "127.0.0.1:30003", "127.0.0.1:30001"]
        );
    }

    #[test]
    fn node_urls_keep_the_scheme_and_credentials() {
        assert_eq!(
            node_url("redis://127.0.0.1:7000", "10.0.0.2:7001"),
            "redis://10.0.0.2:7001"
        );
        assert_eq!(
            node_url("rediss://user:secret@cache:6379/0", "10.0.0.2:6380"),
            "rediss://user:secret@10.0.0.2:6380"
        );
    }
}
