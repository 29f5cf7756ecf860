//! How the store reaches Redis — one server, the master a Sentinel names, or a Redis
//! Cluster — and the [`Connection`] each one gives.

use crate::push::Hub;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{Client, Cmd, ConnectionInfo, Pipeline, PushInfo, RedisFuture, RedisResult, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// Where the Redis is.
pub(crate) enum Topology {
    /// One server (or a managed endpoint that is one to its clients).
    Node(Client),
    /// The master of a Sentinel-managed group, asked of the Sentinels at every connection.
    Sentinel(tokio::sync::Mutex<SentinelClient>),
    /// A Redis Cluster, from its seed nodes.
    Cluster(ClusterSeeds),
}

/// What a cluster connection is built from: a [`redis::cluster::ClusterClient`] is built
/// anew for each connection, because its push sender (numbered, see [`Hub::on_push`]) is
/// part of it.
pub(crate) struct ClusterSeeds {
    pub(crate) nodes: Vec<ConnectionInfo>,
    pub(crate) certificates: Option<redis::TlsCertificates>,
    /// Only read with the feature `danger-accept-invalid-hostnames` (always `false`
    /// without it).
    #[cfg_attr(not(feature = "danger-accept-invalid-hostnames"), allow(dead_code))]
    pub(crate) accept_invalid_hostnames: bool,
}

impl Topology {
    /// Whether this is a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Topology::Cluster(_))
    }
}

/// The timeouts of every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) response: Duration,
    pub(crate) connection: Duration,
}

impl Topology {
    /// A new connection, numbered `number` for the hub, which receives its push frames.
    pub(crate) async fn connect(
        &self,
        hub: &Arc<Hub>,
        number: u64,
        timeouts: Timeouts,
    ) -> RedisResult<Connection> {
        match self {
            Topology::Node(client) => {
                let config = manager_config(hub, number, timeouts);
                ConnectionManager::new_with_config(client.clone(), config)
                    .await
                    .map(Connection::Node)
            }
            Topology::Sentinel(sentinel) => {
                // Asks the Sentinels for the current master, and checks that it says so.
                let client = sentinel.lock().await.async_get_client().await?;
                let config = manager_config(hub, number, timeouts);
                ConnectionManager::new_with_config(client, config)
                    .await
                    .map(Connection::Node)
            }
            Topology::Cluster(seeds) => {
                let frames = hub.clone();
                let mut builder = ClusterClientBuilder::new(seeds.nodes.clone())
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(move |frame: PushInfo| {
                        frames.on_push(number, frame);
                        Ok::<(), Infallible>(())
                    })
                    .connection_timeout(timeouts.connection)
                    .response_timeout(timeouts.response)
                    // A redirection (MOVED, ASK) or a node that went away is retried,
                    // briefly: the store's own deadline bounds the whole operation.
                    .retries(3)
                    .min_retry_wait(10)
                    .max_retry_wait(200);
                if let Some(first) = seeds.nodes.first() {
                    builder = builder.tcp_settings(first.tcp_settings().clone());
                }
                if let Some(certificates) = &seeds.certificates {
                    builder = builder.certs(certificates.clone());
                }
                #[cfg(feature = "danger-accept-invalid-hostnames")]
                if seeds.accept_invalid_hostnames {
                    builder = builder.danger_accept_invalid_hostnames(true);
                }
                builder
                    .build()?
                    .get_async_connection()
                    .await
                    .map(Connection::Cluster)
            }
        }
    }
}

/// The settings of each connection manager: `number` tells the hub which connection its
/// push frames come from.
fn manager_config(hub: &Arc<Hub>, number: u64, timeouts: Timeouts) -> ConnectionManagerConfig {
    let frames = hub.clone();
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(timeouts.response))
        .set_connection_timeout(Some(timeouts.connection))
        // One attempt per reconnection: a request must not wait through a backoff sequence
        // while Redis is down. The keeper task, and requests, start the next attempt.
        .set_number_of_retries(0)
        .set_push_sender(move |frame: PushInfo| {
            frames.on_push(number, frame);
            Ok::<(), Infallible>(())
        })
        .set_automatic_resubscription()
}

/// One connection of the store: a reconnecting connection to one server, or a cluster
/// connection that routes each command to the node of its keys and follows `MOVED`/`ASK`.
#[derive(Clone)]
pub(crate) enum Connection {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Subscribes to `channel`: with `SSUBSCRIBE` when `sharded` (a cluster whose servers
    /// have sharded pub/sub), else with `SUBSCRIBE`.
    pub(crate) async fn subscribe(&mut self, channel: &str, sharded: bool) -> RedisResult<()> {
        match self {
            Connection::Node(manager) => manager.subscribe(channel).await,
            Connection::Cluster(cluster) if sharded => cluster.ssubscribe(channel).await,
            Connection::Cluster(cluster) => cluster.subscribe(channel).await,
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Node(manager) => manager.req_packed_command(cmd),
            Connection::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Node(manager) => manager.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Node(manager) => manager.get_db(),
            Connection::Cluster(cluster) => cluster.get_db(),
        }
    }
}
