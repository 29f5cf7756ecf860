//! [`RedisStoreBuilder`]: where the Redis is (one server, a cluster, a Sentinel-managed
//! master), how to reach it (TLS, an ACL user), and how the store behaves.

use crate::connection::{ClusterSeeds, Timeouts, Topology};
use crate::keys::Keys;
use crate::link::{Link, keep_connected};
use crate::push::Hub;
use crate::store::{Inner, RedisStore};
use redis::io::tcp::TcpSettings;
use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion,
    TlsCertificates, TlsMode,
};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tollgate::revocation::StoreError;

/// The key prefix used unless [`RedisStoreBuilder::key_prefix`] says otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "tollgate:";
/// How long a command may wait for Redis's answer by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long connecting to Redis may take by default.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the store tries to get its invalidation subscription back by default, while
/// it is lost.
pub const DEFAULT_RESUBSCRIBE_INTERVAL: Duration = Duration::from_millis(250);
/// How often the store checks, by default, that Redis still answers while the subscription
/// is up.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// TCP keepalive on every connection, unless the [`ConnectionInfo`] sets its own: an idle
/// connection whose peer vanished is probed after this long...
const KEEPALIVE_TIME: Duration = Duration::from_secs(10);
/// ...then every this long...
#[cfg(any(target_os = "android", target_os = "linux"))]
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// ...and closed by the kernel after this many unanswered probes.
#[cfg(any(target_os = "android", target_os = "linux"))]
const KEEPALIVE_RETRIES: u32 = 3;
/// `TCP_USER_TIMEOUT` (Linux), unless the [`ConnectionInfo`] sets its own: the kernel
/// closes a connection whose sent data stays unacknowledged this long.
#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
const USER_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the Redis is, as given to the builder.
enum Target {
    Node(ConnectionInfo),
    Cluster(Vec<ConnectionInfo>),
    Sentinel {
        sentinels: Vec<ConnectionInfo>,
        master: String,
    },
}

impl Target {
    fn infos(&self) -> &[ConnectionInfo] {
        match self {
            Target::Node(info) => std::slice::from_ref(info),
            Target::Cluster(nodes) => nodes,
            Target::Sentinel { sentinels, .. } => sentinels,
        }
    }

    fn infos_mut(&mut self) -> &mut [ConnectionInfo] {
        match self {
            Target::Node(info) => std::slice::from_mut(info),
            Target::Cluster(nodes) => nodes,
            Target::Sentinel { sentinels, .. } => sentinels,
        }
    }

    /// What `Debug` and the logs show: the addresses, never the credentials.
    fn describe(&self) -> String {
        let addresses = |infos: &[ConnectionInfo]| {
            infos
                .iter()
                .map(|info| info.addr().to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Target::Node(info) => format!("{}/{}", info.addr(), info.redis_settings().db()),
            Target::Cluster(nodes) => format!("cluster {}", addresses(nodes)),
            Target::Sentinel { sentinels, master } => {
                format!("sentinel master {master:?} via {}", addresses(sentinels))
            }
        }
    }
}

/// PEM given inline or as a file read when the store connects.
#[derive(Clone)]
enum Pem {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Pem {
    fn load(&self, what: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Pem::Bytes(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path).map_err(|e| {
                StoreError::new(format!("reading the {what} file {}", path.display()), e)
            }),
        }
    }
}

/// The TLS settings beyond the URL's `rediss://`.
#[derive(Clone, Default)]
struct Tls {
    ca: Option<Pem>,
    client: Option<(Pem, Pem)>,
    accept_invalid_hostnames: bool,
}

impl Tls {
    fn is_set(&self) -> bool {
        self.ca.is_some() || self.client.is_some() || self.accept_invalid_hostnames
    }

    /// The certificates for the `redis` crate, `None` when the system roots and no client
    /// certificate are to be used.
    fn certificates(&self) -> Result<Option<TlsCertificates>, StoreError> {
        if self.ca.is_none() && self.client.is_none() {
            return Ok(None);
        }
        let root_cert = match &self.ca {
            Some(ca) => Some(ca.load("Redis CA certificate")?),
            None => None,
        };
        let client_tls = match &self.client {
            Some((cert, key)) => Some(ClientTlsConfig {
                client_cert: cert.load("Redis client certificate")?,
                client_key: key.load("Redis client key")?,
            }),
            None => None,
        };
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }
}

/// Builds a [`RedisStore`]; see [`RedisStore::builder`], [`RedisStore::cluster`] and
/// [`RedisStore::sentinel`].
#[must_use]
pub struct RedisStoreBuilder {
    target: Result<Target, StoreError>,
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    resubscribe_interval: Duration,
    heartbeat_interval: Duration,
    tls: Tls,
    username: Option<String>,
    password: Option<String>,
    replicas: Option<u32>,
    legacy_keys: Option<bool>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("target", &self.target.as_ref().map(Target::describe).ok())
            .field("prefix", &self.prefix)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("custom_ca", &self.tls.ca.is_some())
            .field("client_certificate", &self.tls.client.is_some())
            .field(
                "accept_invalid_hostnames",
                &self.tls.accept_invalid_hostnames,
            )
            .field("response_timeout", &self.response_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("resubscribe_interval", &self.resubscribe_interval)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("wait_for_replicas", &self.replicas)
            .field("read_legacy_keys", &self.legacy_keys)
            .finish()
    }
}

fn invalid(error: redis::RedisError) -> StoreError {
    StoreError::new("invalid Redis connection info", error)
}

fn all_infos<T: IntoConnectionInfo>(
    targets: impl IntoIterator<Item = T>,
) -> Result<Vec<ConnectionInfo>, StoreError> {
    let infos = targets
        .into_iter()
        .map(|t| t.into_connection_info().map_err(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    if infos.is_empty() {
        return Err(StoreError::msg("no Redis address given"));
    }
    Ok(infos)
}

impl RedisStoreBuilder {
    fn new(target: Result<Target, StoreError>) -> Self {
        Self {
            target,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            resubscribe_interval: DEFAULT_RESUBSCRIBE_INTERVAL,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            tls: Tls::default(),
            username: None,
            password: None,
            replicas: None,
            legacy_keys: None,
        }
    }

    pub(crate) fn node(target: impl IntoConnectionInfo) -> Self {
        Self::new(
            target
                .into_connection_info()
                .map(Target::Node)
                .map_err(invalid),
        )
    }

    pub(crate) fn cluster<T: IntoConnectionInfo>(nodes: impl IntoIterator<Item = T>) -> Self {
        Self::new(all_infos(nodes).map(Target::Cluster))
    }

    pub(crate) fn sentinel<T: IntoConnectionInfo>(
        sentinels: impl IntoIterator<Item = T>,
        master: impl Into<String>,
    ) -> Self {
        let master = master.into();
        Self::new(all_infos(sentinels).and_then(|sentinels| {
            if master.is_empty() {
                return Err(StoreError::msg("the Sentinel master name is empty"));
            }
            Ok(Target::Sentinel { sentinels, master })
        }))
    }

    /// A builder configured by the environment, for a service or a command that takes its
    /// Redis from `url` (read by the caller from its own variable, e.g. `REDIS_URL`) and
    /// these variables, all optional:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `TOLLGATE_REDIS_MODE` | `node` (default), `cluster` or `sentinel` |
    /// | `TOLLGATE_REDIS_SENTINEL_MASTER` | the master's name, in `sentinel` mode (required there) |
    /// | `TOLLGATE_REDIS_CA_FILE` | PEM file of the CA that signs the server certificates (else the system roots) |
    /// | `TOLLGATE_REDIS_CLIENT_CERT_FILE`, `TOLLGATE_REDIS_CLIENT_KEY_FILE` | client certificate and key (PEM) for mutual TLS |
    /// | `TOLLGATE_REDIS_USERNAME`, `TOLLGATE_REDIS_PASSWORD` | the ACL user, instead of the URL's |
    /// | `TOLLGATE_REDIS_KEY_PREFIX` | [`key_prefix`](Self::key_prefix) |
    /// | `TOLLGATE_REDIS_WAIT_REPLICAS` | [`wait_for_replicas`](Self::wait_for_replicas) |
    /// | `TOLLGATE_REDIS_LEGACY_KEYS` | [`read_legacy_keys`](Self::read_legacy_keys): `true` or `false` |
    ///
    /// In `cluster` and `sentinel` mode `url` may list several addresses, separated by
    /// commas (cluster seed nodes; Sentinels). Errors name the variable at fault.
    pub fn from_env(url: &str) -> Result<Self, StoreError> {
        Self::from_vars(url, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `var`.
    pub fn from_vars(url: &str, var: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let urls = || url.split(',').map(str::trim).filter(|u| !u.is_empty());
        let mode = var("TOLLGATE_REDIS_MODE");
        let mut builder = match mode.as_deref().map(str::trim) {
            None | Some("node" | "cluster") if var("TOLLGATE_REDIS_SENTINEL_MASTER").is_some() => {
                return Err(StoreError::msg(
                    "TOLLGATE_REDIS_SENTINEL_MASTER is set, but TOLLGATE_REDIS_MODE is not \
                     sentinel: set TOLLGATE_REDIS_MODE=sentinel (the URLs are then the \
                     Sentinels'), or unset the master name",
                ));
            }
            None | Some("node") if urls().count() > 1 => {
                return Err(StoreError::msg(
                    "several Redis URLs were given for one server: set TOLLGATE_REDIS_MODE \
                     to cluster (seed nodes) or sentinel (Sentinels)",
                ));
            }
            None | Some("node") => Self::node(url.trim()),
            Some("cluster") => Self::cluster(urls()),
            Some("sentinel") => {
                let master = var("TOLLGATE_REDIS_SENTINEL_MASTER").ok_or_else(|| {
                    StoreError::msg(
                        "TOLLGATE_REDIS_MODE=sentinel needs TOLLGATE_REDIS_SENTINEL_MASTER, \
                         the name the Sentinels monitor the master under",
                    )
                })?;
                Self::sentinel(urls(), master)
            }
            Some(other) => {
                return Err(StoreError::msg(format!(
                    "TOLLGATE_REDIS_MODE is {other:?}: expected node, cluster or sentinel"
                )));
            }
        };
        if let Some(ca) = var("TOLLGATE_REDIS_CA_FILE") {
            builder = builder.ca_file(ca);
        }
        match (
            var("TOLLGATE_REDIS_CLIENT_CERT_FILE"),
            var("TOLLGATE_REDIS_CLIENT_KEY_FILE"),
        ) {
            (Some(cert), Some(key)) => builder = builder.client_certificate_files(cert, key),
            (None, None) => {}
            _ => {
                return Err(StoreError::msg(
                    "TOLLGATE_REDIS_CLIENT_CERT_FILE and TOLLGATE_REDIS_CLIENT_KEY_FILE go \
                     together: set both for mutual TLS, or neither",
                ));
            }
        }
        if let Some(username) = var("TOLLGATE_REDIS_USERNAME") {
            builder = builder.username(username);
        }
        if let Some(password) = var("TOLLGATE_REDIS_PASSWORD") {
            builder = builder.password(password);
        }
        if let Some(prefix) = var("TOLLGATE_REDIS_KEY_PREFIX") {
            builder = builder.key_prefix(prefix);
        }
        if let Some(replicas) = var("TOLLGATE_REDIS_WAIT_REPLICAS") {
            let replicas = replicas.trim().parse().map_err(|_| {
                StoreError::msg(format!(
                    "TOLLGATE_REDIS_WAIT_REPLICAS is {replicas:?}: expected a number of replicas"
                ))
            })?;
            builder = builder.wait_for_replicas(replicas);
        }
        if let Some(legacy) = var("TOLLGATE_REDIS_LEGACY_KEYS") {
            let legacy = match legacy.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => {
                    return Err(StoreError::msg(format!(
                        "TOLLGATE_REDIS_LEGACY_KEYS is {other:?}: expected true or false"
                    )));
                }
            };
            builder = builder.read_legacy_keys(legacy);
        }
        Ok(builder)
    }

    /// Prefix of every key and of the invalidation channel (default `tollgate:`). Services
    /// that must not see each other's revocations on one Redis use different prefixes.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a command may wait for Redis's answer (default 500 ms). With an unanswered
    /// lookup the layer applies its store-failure policy, so keep this short.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long one connection attempt may take (default 1 s), the TLS handshake included.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How often to try to get the invalidation subscription back while it is lost
    /// (default 250 ms). Each try also makes the connection reconnect if Redis is back, and
    /// a try that gets no answer replaces the connection with a new one.
    pub fn resubscribe_interval(mut self, interval: Duration) -> Self {
        self.resubscribe_interval = interval;
        self
    }

    /// How often to check the connection while the subscription is up (default 1 s), with
    /// a `PING` (with `ROLE` for a Sentinel-managed master, which must still be the
    /// master); an operation that timed out also triggers one at once. A connection can die
    /// silently (a network partition, a frozen server) without being closed; an unanswered
    /// check counts as a lost subscription, so that caches stop trusting "not revoked"
    /// answers for long within about this interval plus the response timeout, and the
    /// connection is replaced by a new one at once.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Trusts the CA certificate(s) in this PEM file, instead of the system's roots, for
    /// the server certificates (a `rediss://` URL). The file is read when the store
    /// connects; a missing or malformed file is an error then.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca = Some(Pem::File(path.into()));
        self
    }

    /// [`ca_file`](Self::ca_file) with the PEM itself.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// Mutual TLS: presents this client certificate (chain) and key, PEM files read when
    /// the store connects.
    pub fn client_certificate_files(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.client = Some((Pem::File(certificate.into()), Pem::File(key.into())));
        self
    }

    /// [`client_certificate_files`](Self::client_certificate_files) with the PEM itself.
    pub fn client_certificate_pem(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client = Some((Pem::Bytes(certificate.into()), Pem::Bytes(key.into())));
        self
    }

    /// Accepts a server certificate that does not name the host connected to (it must
    /// still be valid and signed by a trusted CA).
    ///
    /// # Security
    ///
    /// Without the host name check, any certificate the trusted CAs signed — for any other
    /// server — is accepted, so whoever holds one can sit between the store and Redis, read
    /// the revocations and answer "not revoked". Only use this against servers reached by
    /// an address their certificates cannot name, with a CA that signs nothing else. The
    /// whole verification can never be turned off: a URL ending in `#insecure` is refused.
    ///
    /// Needs the feature `danger-accept-invalid-hostnames`, which turns on the `redis`
    /// crate's `tls-rustls-insecure` for the whole build: with it, `#insecure` URLs of
    /// *other* users of `redis` in the same binary turn verification off (this store
    /// refuses them either way). Not available with Sentinel.
    #[cfg(feature = "danger-accept-invalid-hostnames")]
    pub fn danger_accept_invalid_hostnames(mut self) -> Self {
        self.tls.accept_invalid_hostnames = true;
        self
    }

    /// The ACL user to log in as (Redis 6+ `AUTH username password`), instead of the URL's.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password to log in with, instead of the URL's. Never logged, nor shown by
    /// `Debug`.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// How many replicas must have a revocation before it counts as made: after each
    /// write the store sends `WAIT replicas timeout`, and a revocation that fewer replicas
    /// acknowledged within half the response timeout is an error (stored on the primary,
    /// but a failover could lose it — retry it).
    ///
    /// Default: 1 for a cluster and for a Sentinel-managed master, whose failovers promote
    /// a replica; 0 for one server. Set 0 where the primary has no replica, or where the
    /// service does not offer `WAIT`.
    ///
    /// `WAIT` holds the connection until the replicas answer — at once while they are up,
    /// for the wait's timeout when none is — so while a replica is down, the lookups that
    /// share the connection queue behind each write for that long.
    pub fn wait_for_replicas(mut self, replicas: u32) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// Whether lookups also read the key layout of tollgate-redis 0.1, whose keys share no
    /// cluster slot: on during an upgrade, so that no revocation made before it is lost.
    /// Default: on for one server and a Sentinel-managed master, off (and not allowed) on a
    /// cluster. Turn it off once the longest token lifetime has passed since the upgrade:
    /// every revocation under the old layout has then expired (see the crate docs).
    pub fn read_legacy_keys(mut self, read: bool) -> Self {
        self.legacy_keys = Some(read);
        self
    }

    /// Connects, subscribes to the invalidation channel, and starts the task that keeps the
    /// connection and the subscription up. Fails if Redis cannot be reached now (a server
    /// certificate that does not verify, a wrong password: an error naming the cause);
    /// later outages are survived.
    ///
    /// Every connection gets TCP keepalive and, on Linux, `TCP_USER_TIMEOUT`, unless the
    /// [`ConnectionInfo`] given sets its own ([`ConnectionInfo::set_tcp_settings`]).
    ///
    /// Needs a Tokio runtime.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let mut target = self.target?;
        let is_tls = |info: &ConnectionInfo| matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        let tls = target.infos().iter().any(is_tls);
        if tls && !target.infos().iter().all(is_tls) {
            return Err(StoreError::msg(
                "some Redis URLs are rediss:// and others redis://: use one scheme for all",
            ));
        }
        for info in target.infos_mut() {
            if matches!(info.addr(), ConnectionAddr::TcpTls { insecure: true, .. }) {
                return Err(StoreError::msg(
                    "a Redis URL ending in #insecure turns certificate verification off, \
                     which tollgate refuses: give the servers' CA with ca_file \
                     (TOLLGATE_REDIS_CA_FILE) instead",
                ));
            }
            // Pub/sub messages arrive as RESP3 push frames on the same connection as the
            // lookups, which needs RESP3 (Redis 6 or later).
            let mut settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            if let Some(username) = &self.username {
                settings = settings.set_username(username);
            }
            if let Some(password) = &self.password {
                settings = settings.set_password(password);
            }
            let tcp = detect_dead_peers(info.tcp_settings().clone());
            *info = info
                .clone()
                .set_redis_settings(settings)
                .set_tcp_settings(tcp);
        }
        if self.tls.is_set() && !tls {
            return Err(StoreError::msg(
                "TLS options (a CA file, a client certificate) were given for a plain-text \
                 Redis URL: use rediss://",
            ));
        }
        if tls {
            install_crypto_provider();
        }
        let description = target.describe();
        let certificates = self.tls.certificates()?;
        let is_cluster = matches!(target, Target::Cluster(_));
        let legacy_keys = match (self.legacy_keys, is_cluster) {
            (Some(true), true) => {
                return Err(StoreError::msg(
                    "read_legacy_keys cannot be on for a Redis Cluster: the key layout of \
                     tollgate-redis 0.1 puts a token's keys in different slots",
                ));
            }
            (Some(read), _) => read,
            (None, cluster) => !cluster,
        };
        let replicas = self
            .replicas
            .unwrap_or(u32::from(!matches!(target, Target::Node(_))));
        let topology = match target {
            Target::Node(info) => Topology::Node(node_client(
                info,
                certificates,
                self.tls.accept_invalid_hostnames,
            )?),
            Target::Cluster(nodes) => Topology::Cluster(ClusterSeeds {
                nodes,
                certificates,
                accept_invalid_hostnames: self.tls.accept_invalid_hostnames,
            }),
            Target::Sentinel { sentinels, master } => {
                if self.tls.accept_invalid_hostnames {
                    return Err(StoreError::msg(
                        "danger_accept_invalid_hostnames is not available with Sentinel",
                    ));
                }
                Topology::Sentinel(tokio::sync::Mutex::new(sentinel_client(
                    &sentinels,
                    &master,
                    certificates,
                )?))
            }
        };

        let keys = Keys::new(self.prefix).map_err(StoreError::msg)?;
        let hub = Arc::new(Hub::new(keys.channel()));
        let timeouts = Timeouts {
            response: self.response_timeout,
            connection: self.connection_timeout,
        };
        let link = Arc::new(Link::open(topology, hub, timeouts).await?);
        link.subscribe_now().await?;
        let keeper = tokio::spawn(keep_connected(
            link.clone(),
            self.resubscribe_interval,
            self.heartbeat_interval,
        ))
        .abort_handle();
        tracing::debug!(target: "tollgate_redis", redis = %description, "connected");
        Ok(RedisStore::from_inner(Inner {
            link,
            keys,
            target: description,
            replicas,
            wait_timeout: self.response_timeout / 2,
            legacy_keys,
            keeper,
        }))
    }
}

/// The client of one server, with the TLS settings beyond the URL.
fn node_client(
    info: ConnectionInfo,
    certificates: Option<TlsCertificates>,
    accept_invalid_hostnames: bool,
) -> Result<Client, StoreError> {
    let info = match certificates {
        Some(certificates) => Client::build_with_tls(info, certificates)
            .map_err(invalid)?
            .get_connection_info()
            .clone(),
        None => info,
    };
    #[cfg(feature = "danger-accept-invalid-hostnames")]
    let info = if accept_invalid_hostnames {
        let mut addr = info.addr().clone();
        addr.set_danger_accept_invalid_hostnames(true);
        info.set_addr(addr)
    } else {
        info
    };
    #[cfg(not(feature = "danger-accept-invalid-hostnames"))]
    let _ = accept_invalid_hostnames;
    Client::open(info).map_err(invalid)
}

/// The client of the Sentinels, which names the master at each connection. The URLs'
/// credentials, TLS and database are used for the Sentinels and for the master alike.
fn sentinel_client(
    sentinels: &[ConnectionInfo],
    master: &str,
    certificates: Option<TlsCertificates>,
) -> Result<redis::sentinel::SentinelClient, StoreError> {
    let first = &sentinels[0];
    let settings = first.redis_settings();
    let addresses = sentinels.iter().map(|info| info.addr().clone());
    let mut builder = SentinelClientBuilder::new(addresses, master, SentinelServerType::Master)
        .map_err(invalid)?
        .set_client_to_redis_protocol(ProtocolVersion::RESP3)
        .set_client_to_redis_db(settings.db())
        .set_client_to_redis_tcp_settings(first.tcp_settings().clone())
        .set_client_to_sentinel_tcp_settings(first.tcp_settings().clone());
    if let Some(username) = settings.username() {
        builder = builder
            .set_client_to_redis_username(username)
            .set_client_to_sentinel_username(username);
    }
    if let Some(password) = settings.password() {
        builder = builder
            .set_client_to_redis_password(password)
            .set_client_to_sentinel_password(password);
    }
    if matches!(first.addr(), ConnectionAddr::TcpTls { .. }) {
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
        if let Some(certificates) = certificates {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
    }
    builder.build().map_err(invalid)
}

/// rustls needs one process-wide crypto provider; install aws-lc-rs (rustls's default,
/// and what the AWS SDK uses) unless the application installed one already.
fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// TCP keepalive and `TCP_USER_TIMEOUT`, where `settings` has none: the kernel then closes
/// a connection whose peer vanished. The heartbeat catches that sooner while it runs; this
/// also covers idle connections and data stuck unacknowledged.
fn detect_dead_peers(settings: TcpSettings) -> TcpSettings {
    #[cfg(not(target_family = "wasm"))]
    let settings = if settings.keepalive().is_none() {
        let keepalive = redis::io::tcp::socket2::TcpKeepalive::new().with_time(KEEPALIVE_TIME);
        #[cfg(any(target_os = "android", target_os = "linux"))]
        let keepalive = keepalive
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_RETRIES);
        settings.set_keepalive(keepalive)
    } else {
        settings
    };
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    let settings = if settings.user_timeout().is_none() {
        settings.set_user_timeout(USER_TIMEOUT)
    } else {
        settings
    };
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn debug_hides_the_password() {
        let builder = RedisStoreBuilder::node("redis://user:s3cret-pw@127.0.0.1:6390/2")
            .password("an0ther-secret");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(!shown.contains("an0ther-secret"), "{shown}");
        assert!(shown.contains("127.0.0.1:6390/2"), "{shown}");
    }

    fn from(url: &str, vars: &[(&str, &str)]) -> Result<RedisStoreBuilder, StoreError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RedisStoreBuilder::from_vars(url, |name| vars.get(name).cloned())
    }

    #[test]
    fn the_environment_names_the_topology() {
        let cluster = from(
            "redis://127.0.0.1:7000, redis://127.0.0.1:7001",
            &[("TOLLGATE_REDIS_MODE", "cluster")],
        )
        .unwrap();
        assert_eq!(
            cluster
                .target
                .as_ref()
                .map(Target::describe)
                .ok()
                .as_deref(),
            Some("cluster 127.0.0.1:7000,127.0.0.1:7001")
        );
        let sentinel = from(
            "redis://127.0.0.1:26379",
            &[
                ("TOLLGATE_REDIS_MODE", "sentinel"),
                ("TOLLGATE_REDIS_SENTINEL_MASTER", "mymaster"),
                ("TOLLGATE_REDIS_WAIT_REPLICAS", "2"),
                ("TOLLGATE_REDIS_LEGACY_KEYS", "false"),
            ],
        )
        .unwrap();
        assert_eq!(sentinel.replicas, Some(2));
        assert_eq!(sentinel.legacy_keys, Some(false));
        assert!(
            sentinel
                .target
                .as_ref()
                .map(Target::describe)
                .unwrap()
                .contains("\"mymaster\"")
        );
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let error = |url: &str, vars: &[(&str, &str)]| from(url, vars).unwrap_err().to_string();
        assert!(
            error("redis://h", &[("TOLLGATE_REDIS_MODE", "cluter")])
                .contains("TOLLGATE_REDIS_MODE")
        );
        assert!(
            error("redis://h", &[("TOLLGATE_REDIS_MODE", "sentinel")])
                .contains("TOLLGATE_REDIS_SENTINEL_MASTER")
        );
        assert!(
            error(
                "rediss://h",
                &[("TOLLGATE_REDIS_CLIENT_CERT_FILE", "c.pem")]
            )
            .contains("TOLLGATE_REDIS_CLIENT_KEY_FILE")
        );
        assert!(
            error("redis://h", &[("TOLLGATE_REDIS_WAIT_REPLICAS", "one")])
                .contains("TOLLGATE_REDIS_WAIT_REPLICAS")
        );
        assert!(error("redis://a,redis://b", &[]).contains("TOLLGATE_REDIS_MODE"));
        assert!(
            error(
                "redis://s:26379",
                &[("TOLLGATE_REDIS_SENTINEL_MASTER", "m")]
            )
            .contains("TOLLGATE_REDIS_MODE=sentinel")
        );
        assert!(
            error("redis://h", &[("TOLLGATE_REDIS_LEGACY_KEYS", "maybe")])
                .contains("TOLLGATE_REDIS_LEGACY_KEYS")
        );
    }

    #[tokio::test]
    async fn unsafe_or_contradictory_settings_fail_before_connecting() {
        let refused = |builder: RedisStoreBuilder| async move {
            builder.connect().await.unwrap_err().to_string()
        };
        assert!(
            refused(RedisStore::builder("rediss://127.0.0.1:1/#insecure"))
                .await
                .contains("#insecure")
        );
        assert!(
            refused(RedisStore::cluster([
                "rediss://127.0.0.1:1/",
                "redis://127.0.0.1:2/"
            ]))
            .await
            .contains("one scheme")
        );
        assert!(
            refused(RedisStore::builder("redis://127.0.0.1:1/").ca_certificate_pem("x"))
                .await
                .contains("rediss://")
        );
        assert!(
            refused(RedisStore::cluster(["redis://127.0.0.1:1/"]).read_legacy_keys(true))
                .await
                .contains("read_legacy_keys")
        );
        assert!(
            refused(RedisStore::builder("rediss://127.0.0.1:1/").ca_file("/nonexistent/ca.pem"))
                .await
                .contains("/nonexistent/ca.pem")
        );
    }
}
