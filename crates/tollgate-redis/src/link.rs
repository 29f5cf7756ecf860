//! The store's connection, kept up by a background task that notices when it silently is
//! not, and replaces it (after a failover, with one to the new master).

use crate::connection::{Connection, Timeouts, Topology};
use crate::push::Hub;
use arc_swap::ArcSwap;
use redis::{RedisError, RedisResult, Value};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tollgate::revocation::StoreError;

/// The connection the store uses, replaced by a new one (a new socket) when it stops
/// answering.
///
/// The `redis` crate's connections reconnect when an error says the connection is gone
/// (closed, reset), but not on a timeout: a connection that silently stopped carrying
/// traffic (a partition, a middlebox that dropped it, a frozen peer) would be used, and
/// time out, forever. Nor does a connection to a Sentinel-managed master notice that the
/// master was demoted. So the store holds the current connection in an [`ArcSwap`], and
/// its background task swaps in a new one, connected afresh (to the master the Sentinels
/// name now), when the old one stops answering as it should; each operation uses the
/// connection current when it starts.
pub(crate) struct Link {
    topology: Topology,
    current: ArcSwap<Connection>,
    pub(crate) hub: Arc<Hub>,
    /// Whether invalidations go through sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`): on a
    /// cluster whose servers have it (Redis 7, Valkey). Asked again with every new
    /// connection, so that instances agree once an engine upgrade has replaced the nodes.
    sharded: AtomicBool,
    /// How many connections were opened before the current one: numbers them, so that the
    /// hub ignores the push frames of one that was replaced.
    opened: AtomicU64,
    timeouts: Timeouts,
    /// The bound on one operation: connecting (if the connection is being re-established)
    /// plus the answer.
    deadline: Duration,
}

impl Link {
    /// Connects to `topology`; fails if Redis cannot be reached now.
    pub(crate) async fn open(
        topology: Topology,
        hub: Arc<Hub>,
        timeouts: Timeouts,
    ) -> Result<Self, StoreError> {
        let deadline = timeouts.connection + timeouts.response;
        let mut connection = within(
            deadline,
            &hub,
            "connecting to Redis",
            topology.connect(&hub, 0, timeouts),
        )
        .await?;
        let sharded = within(
            deadline,
            &hub,
            "asking Redis whether it has sharded pub/sub",
            has_sharded_pubsub(&topology, &mut connection),
        )
        .await?;
        Ok(Self {
            topology,
            current: ArcSwap::from_pointee(connection),
            hub,
            sharded: AtomicBool::new(sharded),
            opened: AtomicU64::new(0),
            timeouts,
            deadline,
        })
    }

    /// Whether the store talks to a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        self.topology.is_cluster()
    }

    /// Whether invalidations go through sharded pub/sub, on the current connection.
    pub(crate) fn sharded(&self) -> bool {
        self.sharded.load(Ordering::Relaxed)
    }

    /// The current connection.
    pub(crate) fn connection(&self) -> Connection {
        Connection::clone(&self.current.load())
    }

    /// [`within`] the deadline.
    pub(crate) async fn within<T>(
        &self,
        what: &'static str,
        operation: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        within(self.deadline, &self.hub, what, operation).await
    }

    /// Subscribes the current connection to the invalidation channel, within the deadline.
    pub(crate) async fn subscribe_now(&self) -> Result<(), StoreError> {
        let mut connection = self.connection();
        self.within(
            "subscribing to the Redis invalidation channel",
            connection.subscribe(self.hub.channel(), self.sharded()),
        )
        .await
    }

    /// Whether the current connection answers as it should within the deadline: on a
    /// cluster a `PING`; elsewhere `ROLE`, which must say `master`: a Sentinel-managed
    /// master, or the primary behind a DNS name (ElastiCache's primary endpoint), can be
    /// demoted under the store and go on answering. A server that refuses `ROLE` (a
    /// service without it, an ACL without it) counts as answering.
    async fn answers(&self) -> bool {
        let mut connection = self.connection();
        if !self.topology.is_cluster() {
            let cmd = redis::cmd("ROLE");
            let role = cmd.query_async::<Value>(&mut connection);
            return match tokio::time::timeout(self.deadline, role).await {
                Ok(Ok(Value::Array(role))) => is_master(role.first()),
                Ok(Ok(_)) => true,
                Ok(Err(error)) => answered(&error),
                Err(_) => false,
            };
        }
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<()>(&mut connection);
        match tokio::time::timeout(self.deadline, ping).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => answered(&error),
            Err(_) => false,
        }
    }

    /// Sends `SUBSCRIBE` on `connection`: `false` if it did not answer at all (an error
    /// reply is an answer: the connection works).
    async fn subscribe(&self, mut connection: Connection) -> bool {
        let subscribe = connection.subscribe(self.hub.channel(), self.sharded());
        match tokio::time::timeout(self.deadline, subscribe).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => answered(&error),
            Err(_) => false,
        }
    }

    /// Opens a new connection, makes it the current one, and subscribes on it. The old one
    /// is closed once the operations still using it are done. Nothing changes if Redis
    /// cannot be reached.
    async fn replace(&self) {
        let number = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        let connect = self.topology.connect(&self.hub, number, self.timeouts);
        let connection = match self.within("connecting to Redis", connect).await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::debug!(target: "tollgate_redis", %error, "no new Redis connection yet");
                return;
            }
        };
        let mut probe = connection.clone();
        if let Ok(sharded) = self
            .within(
                "asking Redis whether it has sharded pub/sub",
                has_sharded_pubsub(&self.topology, &mut probe),
            )
            .await
        {
            self.sharded.store(sharded, Ordering::Relaxed);
        }
        self.hub.switch_to(number);
        self.current.store(Arc::new(connection.clone()));
        tracing::info!(target: "tollgate_redis", "replaced the Redis connection");
        self.subscribe(connection).await;
    }
}

/// Whether invalidations should go through sharded pub/sub on `connection`: on a cluster
/// whose servers have `SPUBLISH` (Redis 7, Valkey).
async fn has_sharded_pubsub(topology: &Topology, connection: &mut Connection) -> RedisResult<bool> {
    if !topology.is_cluster() {
        return Ok(false);
    }
    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("SPUBLISH")
        .query_async(connection)
        .await?;
    Ok(matches!(info, Value::Array(entries) if entries.first().is_some_and(|e| *e != Value::Nil)))
}

/// Awaits `operation` for at most `deadline`: the connection bounds each connection
/// attempt and each answer, and this bounds their sum, so a request never hangs on Redis.
/// An operation that timed out, or that a demoted master refused, wakes the keeper task,
/// which then checks the connection at once rather than at its next heartbeat.
pub(crate) async fn within<T>(
    deadline: Duration,
    hub: &Hub,
    what: &'static str,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            if error.is_timeout()
                || error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
            {
                hub.wake_keeper();
            }
            Err(StoreError::new(format!("{what} failed"), error))
        }
        Err(elapsed) => {
            hub.wake_keeper();
            Err(StoreError::new(
                format!("{what}: no answer within {deadline:?}"),
                elapsed,
            ))
        }
    }
}

/// Whether the first element of a `ROLE` reply says `master`.
fn is_master(role: Option<&Value>) -> bool {
    match role {
        Some(Value::BulkString(name)) => name == b"master",
        Some(Value::SimpleString(name)) => name == "master",
        _ => false,
    }
}

/// Whether `error` is an answer from Redis (so the connection works), not the lack of one.
fn answered(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    )
}

/// Keeps the connection and the invalidation subscription up, and notices when they
/// silently are not.
///
/// While the subscription is up, it checks the connection every `heartbeat` (and at once
/// when an operation timed out): a connection that does not answer as it should counts as
/// lost, even if it was never closed, and is replaced by a new one right away. While the
/// subscription is lost (the connection dropped, Redis is down), it subscribes again every
/// `resubscribe` interval, so that it comes back without any request traffic; if that gets
/// no answer, it replaces the connection. A redundant subscription is harmless. The task
/// holds no reference to the store, and is aborted when the store is dropped.
pub(crate) async fn keep_connected(link: Arc<Link>, resubscribe: Duration, heartbeat: Duration) {
    let hub = link.hub.clone();
    loop {
        if hub.is_subscribed() {
            // Until the heartbeat is due, the subscription is lost, or an operation timed
            // out.
            let _ = tokio::time::timeout(heartbeat, hub.woken()).await;
            if !hub.is_subscribed() || link.answers().await {
                continue;
            }
            hub.suspect();
            link.replace().await;
            continue;
        }
        tokio::time::sleep(resubscribe).await;
        if hub.is_subscribed() {
            continue;
        }
        // Failures are expected while Redis is down; the hub reports the state.
        if !link.subscribe(link.connection()).await || !link.answers().await {
            link.replace().await;
        }
    }
}
