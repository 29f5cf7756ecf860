//! A Redis Cluster of six `redis-server`s on 127.0.0.1 (three masters, one replica each),
//! made with `redis-cli --cluster create`, with the means to find where a key lives, kill a
//! node, await the failover, restart the node and read per-node command counts.

use super::tls::TestPki;
use super::{RedisServer, TempDir, cli, free_port, free_port_with_bus, info_field, poll};
use std::collections::HashMap;
use std::time::Duration;

/// The number of hash slots of a Redis Cluster.
pub(crate) const SLOTS: u16 = 16384;

/// How often the cluster's state is polled.
const POLL: Duration = Duration::from_millis(50);

/// A node as one node sees it: a line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterNode {
    /// The node id (40 hex digits).
    pub(crate) id: String,
    /// Its client port.
    pub(crate) port: u16,
    /// Its flags: `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, ….
    pub(crate) flags: Vec<String>,
    /// The id of its master, for a replica.
    pub(crate) master_id: Option<String>,
    /// Whether the cluster bus link to it is up.
    pub(crate) connected: bool,
    /// The slot ranges it serves (inclusive), for a master.
    pub(crate) slots: Vec<(u16, u16)>,
}

impl ClusterNode {
    /// Flagged `master`.
    pub(crate) fn is_master(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    /// Flagged `slave`.
    pub(crate) fn is_replica(&self) -> bool {
        self.flags.iter().any(|f| f == "slave")
    }

    /// Flagged `fail` or `fail?` (failing, as this view says).
    pub(crate) fn is_failing(&self) -> bool {
        self.flags.iter().any(|f| f == "fail" || f == "fail?")
    }

    /// Serves `slot`.
    pub(crate) fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(lo, hi)| (lo..=hi).contains(&slot))
    }

    /// The number of slots it serves.
    pub(crate) fn slot_count(&self) -> u32 {
        self.slots
            .iter()
            .map(|&(lo, hi)| u32::from(hi - lo) + 1)
            .sum()
    }
}

/// Parses `CLUSTER NODES` output: `<id> <ip:port@cport[,hostname]> <flags> <master|->
/// <ping-sent> <pong-recv> <config-epoch> <link-state> <slot-range>...` (slots being
/// imported or migrated, `[slot->-id]`, are left out).
pub(crate) fn parse_cluster_nodes(text: &str) -> Result<Vec<ClusterNode>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let bad = || format!("unexpected CLUSTER NODES line: {line:?}");
            if fields.len() < 8 {
                return Err(bad());
            }
            let port = fields[1]
                .split_once('@')
                .and_then(|(addr, _)| addr.rsplit_once(':'))
                .and_then(|(_, port)| port.parse().ok())
                .ok_or_else(bad)?;
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| {
                    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
                    Ok((
                        lo.parse().map_err(|_| bad())?,
                        hi.parse().map_err(|_| bad())?,
                    ))
                })
                .collect::<Result<_, String>>()?;
            Ok(ClusterNode {
                id: fields[0].to_owned(),
                port,
                flags: fields[2].split(',').map(str::to_owned).collect(),
                master_id: (fields[3] != "-").then(|| fields[3].to_owned()),
                connected: fields[7] == "connected",
                slots,
            })
        })
        .collect()
}

/// The hash slot of `key`, as Redis computes it: CRC16 (XMODEM) of the key, or of its hash
/// tag (the part between the first `{` and the next `}`, if not empty), modulo 16384.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16_xmodem(hashed) % SLOTS
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum of Redis Cluster.
fn crc16_xmodem(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, &byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// Six cluster-enabled `redis-server`s on 127.0.0.1 made into one cluster of three masters
/// with one replica each (`--cluster-node-timeout 1000`: a dead master is replaced in about
/// 2 s). Every node is killed when this is dropped, and the temporary directory (node
/// configuration files, logs) removed.
#[derive(Debug)]
pub(crate) struct RedisCluster {
    // Dropped first: the servers are killed before their directory is removed.
    nodes: HashMap<u16, RedisServer>,
    ports: Vec<u16>,
    ids: HashMap<u16, String>,
    /// For each killed master: its replicas when it was killed (the candidates to succeed it).
    replicas_of_killed: HashMap<u16, Vec<u16>>,
    /// With TLS: each node's TLS port (clients), beside its plain port (the harness's own
    /// admin commands), and the PKI (its certificate for every node, the bus in TLS too).
    tls: Option<(HashMap<u16, u16>, TestPki)>,
    dir: TempDir,
}

impl RedisCluster {
    /// Starts the six nodes on free ports (each with its bus port, `P + 10000`, free too),
    /// runs `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`, and returns
    /// once [`RedisCluster::wait_until_stable`] holds (30 s at most).
    pub(crate) fn start() -> Self {
        Self::start_inner(None)
    }

    /// [`RedisCluster::start`] with TLS as ElastiCache runs it: each node also serves TLS
    /// clients on a port of its own (`--tls-port`, the certificate of a [`TestPki`]), the
    /// cluster bus and replication speak TLS (`--tls-cluster yes`, `--tls-replication yes`),
    /// and `CLUSTER SLOTS` answers a TLS client with the TLS ports. The plain ports stay for
    /// the harness's admin commands. [`RedisCluster::tls_urls`] are the `rediss://` seeds.
    pub(crate) fn start_tls() -> Self {
        Self::start_inner(Some(TestPki::generate()))
    }

    fn start_inner(pki: Option<TestPki>) -> Self {
        let dir = TempDir::new("cluster");
        let mut cluster = Self {
            nodes: HashMap::new(),
            ports: Vec::new(),
            ids: HashMap::new(),
            replicas_of_killed: HashMap::new(),
            tls: pki.map(|pki| (HashMap::new(), pki)),
            dir,
        };
        for _ in 0..6 {
            let mut last_error = String::new();
            let server = (0..5).find_map(|_| {
                let port = free_port_with_bus();
                if let Some((tls_ports, _)) = &mut cluster.tls {
                    tls_ports.insert(port, free_port());
                }
                RedisServer::start_on_with(port, &cluster.node_args(port))
                    .map_err(|e| last_error = e)
                    .ok()
            });
            let server =
                server.unwrap_or_else(|| panic!("could not start a cluster node: {last_error}"));
            cluster.ports.push(server.port);
            cluster.nodes.insert(server.port, server);
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "1", "--cluster-yes"]);
        cli(cluster.ports[0], &create)
            .unwrap_or_else(|e| panic!("redis-cli --cluster create failed: {e}"));
        for &port in &cluster.ports {
            let id = cli(port, &["CLUSTER", "MYID"]).expect("CLUSTER MYID");
            cluster.ids.insert(port, id);
        }
        cluster
            .wait_until_stable(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("the cluster did not come up: {e}"));
        cluster
    }

    /// The arguments of the node on `port` (after the harness's own `--port P --bind
    /// 127.0.0.1 --save "" --appendonly no`).
    fn node_args(&self, port: u16) -> Vec<String> {
        let mut args: Vec<String> = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &self.dir.file(&format!("nodes-{port}.conf")),
            "--cluster-node-timeout",
            "1000",
            "--dir",
            &self.dir.file(""),
            "--dbfilename",
            &format!("dump-{port}.rdb"),
            "--logfile",
            &self.dir.file(&format!("redis-{port}.log")),
            // A replica's full sync starts at once, not after the default 5 s of waiting
            // for more replicas.
            "--repl-diskless-sync-delay",
            "0",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some((tls_ports, pki)) = &self.tls {
            let path = |p: std::path::PathBuf| p.display().to_string();
            args.extend([
                "--tls-port".to_owned(),
                tls_ports[&port].to_string(),
                "--tls-cluster".to_owned(),
                "yes".to_owned(),
                "--tls-replication".to_owned(),
                "yes".to_owned(),
                "--tls-cert-file".to_owned(),
                path(pki.server_cert_path()),
                "--tls-key-file".to_owned(),
                path(pki.server_key_path()),
                "--tls-ca-cert-file".to_owned(),
                path(pki.ca_pem_path()),
                // The bus and replication connect as clients: with the client certificate
                // (the server's is for server authentication only).
                "--tls-client-cert-file".to_owned(),
                path(pki.client_cert_path()),
                "--tls-client-key-file".to_owned(),
                path(pki.client_key_path()),
                "--tls-auth-clients".to_owned(),
                "no".to_owned(),
            ]);
        }
        args
    }

    /// `rediss://127.0.0.1:T/` of every node (a cluster from [`RedisCluster::start_tls`]).
    pub(crate) fn tls_urls(&self) -> Vec<String> {
        let (tls_ports, _) = self.tls.as_ref().expect("a cluster started with TLS");
        self.ports
            .iter()
            .map(|p| format!("rediss://127.0.0.1:{}/", tls_ports[p]))
            .collect()
    }

    /// The PKI of a cluster from [`RedisCluster::start_tls`].
    pub(crate) fn pki(&self) -> &TestPki {
        &self.tls.as_ref().expect("a cluster started with TLS").1
    }

    /// Every node's port (killed ones too), in the order they were started.
    pub(crate) fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The ports of the nodes not killed (by [`RedisCluster::kill`]).
    pub(crate) fn live_ports(&self) -> Vec<u16> {
        self.ports
            .iter()
            .copied()
            .filter(|p| self.nodes.get(p).is_some_and(|s| s.pid().is_some()))
            .collect()
    }

    /// `redis://127.0.0.1:P/` of every node (killed ones too).
    pub(crate) fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    /// The URL of the first node started: the one to give a cluster client as its seed.
    pub(crate) fn seed_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.ports[0])
    }

    /// The temporary directory (node configuration files `nodes-P.conf`, logs `redis-P.log`).
    pub(crate) fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The id of the node on `port`.
    pub(crate) fn node_id(&self, port: u16) -> &str {
        &self.ids[&port]
    }

    /// `CLUSTER NODES` as the node on `port` sees the cluster.
    pub(crate) fn nodes_seen_by(&self, port: u16) -> Result<Vec<ClusterNode>, String> {
        parse_cluster_nodes(&cli(port, &["CLUSTER", "NODES"])?)
    }

    /// `CLUSTER NODES` as the first running node sees the cluster.
    pub(crate) fn nodes(&self) -> Vec<ClusterNode> {
        let port = *self.live_ports().first().expect("a running node");
        self.nodes_seen_by(port).expect("CLUSTER NODES")
    }

    /// The ports of the masters that serve slots and are not failing (as the first running
    /// node sees it), sorted.
    pub(crate) fn masters(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .nodes()
            .iter()
            .filter(|n| n.is_master() && !n.is_failing() && !n.slots.is_empty())
            .map(|n| n.port)
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The ports of the replicas that are not failing (as the first running node sees it),
    /// sorted.
    pub(crate) fn replicas(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .nodes()
            .iter()
            .filter(|n| n.is_replica() && !n.is_failing())
            .map(|n| n.port)
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The ports of the replicas of the master on `master_port` (as the first running node
    /// sees it), sorted.
    pub(crate) fn replicas_of(&self, master_port: u16) -> Vec<u16> {
        let id = self.ids[&master_port].clone();
        let mut ports: Vec<u16> = self
            .nodes()
            .iter()
            .filter(|n| n.is_replica() && n.master_id.as_deref() == Some(id.as_str()))
            .map(|n| n.port)
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The port of the (not failing) master serving `slot`, as the first running node sees
    /// it; after a kill, call [`RedisCluster::wait_for_failover`] first.
    pub(crate) fn master_of_slot(&self, slot: u16) -> u16 {
        self.nodes()
            .iter()
            .find(|n| n.is_master() && !n.is_failing() && n.serves(slot))
            .map(|n| n.port)
            .unwrap_or_else(|| panic!("no master serves slot {slot}"))
    }

    /// The port of the master serving `key` ([`key_slot`], then
    /// [`RedisCluster::master_of_slot`]).
    pub(crate) fn master_of_key(&self, key: &str) -> u16 {
        self.master_of_slot(key_slot(key.as_bytes()))
    }

    /// The slot of `key` as the server computes it (`CLUSTER KEYSLOT`), to check
    /// [`key_slot`] against.
    pub(crate) fn server_key_slot(&self, key: &str) -> u16 {
        let port = *self.live_ports().first().expect("a running node");
        cli(port, &["CLUSTER", "KEYSLOT", key])
            .expect("CLUSTER KEYSLOT")
            .parse()
            .expect("a slot number")
    }

    /// SIGKILL to the node on `port` (a crash: no goodbye to clients or to the cluster).
    /// Its replicas at that moment are remembered for [`RedisCluster::wait_for_failover`].
    pub(crate) fn kill(&mut self, port: u16) {
        let replicas = self.replicas_of(port);
        self.replicas_of_killed.insert(port, replicas);
        self.nodes
            .get_mut(&port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
            .kill();
    }

    /// Awaits the end of the failover of the master killed on `killed_port`: one of its
    /// replicas reports `role:master`, and every running node reports `cluster_state:ok`
    /// and sees every slot served by a master that is not failing and is not the killed
    /// one. Returns the new master's port.
    pub(crate) fn wait_for_failover(
        &mut self,
        killed_port: u16,
        timeout: Duration,
    ) -> Result<u16, String> {
        let candidates = self
            .replicas_of_killed
            .get(&killed_port)
            .cloned()
            .unwrap_or_default();
        if candidates.is_empty() {
            return Err(format!(
                "the node on port {killed_port} was not a killed master with replicas"
            ));
        }
        let live = self.live_ports();
        poll(timeout, POLL, "the failover", || {
            let promoted = candidates
                .iter()
                .copied()
                .find(|&port| {
                    cli(port, &["ROLE"]).is_ok_and(|role| role.lines().next() == Some("master"))
                })
                .ok_or("no replica of the killed master is a master yet")?;
            for &port in &live {
                cluster_ok(port)?;
                let nodes = self.nodes_seen_by(port)?;
                check_slots_served(port, &nodes, |n| n.port != killed_port)?;
                if !nodes.iter().any(|n| n.port == promoted && n.is_master()) {
                    return Err(format!("node {port} does not see {promoted} as master yet"));
                }
            }
            Ok(promoted)
        })
    }

    /// Starts the node on `port` again (same configuration file: it rejoins the cluster; a
    /// former master comes back as a replica of its successor). Await the cluster with
    /// [`RedisCluster::wait_until_stable`].
    pub(crate) fn restart(&mut self, port: u16) -> Result<(), String> {
        let args = self.node_args(port);
        let server = RedisServer::start_on_with(port, &args)?;
        self.nodes.insert(port, server);
        Ok(())
    }

    /// Awaits a healthy cluster: every running node reports `cluster_state:ok` and sees all
    /// 16384 slots served by masters that are not failing, each of them with a connected
    /// replica that is not failing; every running replica reports `master_link_status:up`.
    pub(crate) fn wait_until_stable(&self, timeout: Duration) -> Result<(), String> {
        let live = self.live_ports();
        poll(timeout, POLL, "a stable cluster", || {
            for &port in &live {
                cluster_ok(port)?;
                let nodes = self.nodes_seen_by(port)?;
                check_slots_served(port, &nodes, |_| true)?;
                for master in nodes
                    .iter()
                    .filter(|n| n.is_master() && !n.slots.is_empty())
                {
                    let has_replica = nodes.iter().any(|n| {
                        n.is_replica()
                            && !n.is_failing()
                            && n.connected
                            && n.master_id.as_deref() == Some(master.id.as_str())
                    });
                    if !has_replica {
                        return Err(format!(
                            "node {port} sees no replica of master {}",
                            master.port
                        ));
                    }
                }
                let me = nodes
                    .iter()
                    .find(|n| n.flags.iter().any(|f| f == "myself"))
                    .ok_or("no myself line")?;
                if me.is_replica() {
                    let info = cli(port, &["INFO", "replication"])?;
                    if info_field(&info, "master_link_status") != Some("up") {
                        return Err(format!("replica {port}: master link not up"));
                    }
                }
            }
            Ok(())
        })
    }

    /// `INFO commandstats` of the node on `port`: calls per command (`get`, `mget`,
    /// `cluster|info`, …), counted since it started or since [`RedisCluster::reset_stats`].
    /// The harness's own admin commands are counted too (`info`, `cluster|*`, `role`,
    /// `config|resetstat`); look at data commands.
    pub(crate) fn command_stats(&self, port: u16) -> HashMap<String, u64> {
        let info = cli(port, &["INFO", "commandstats"])
            .unwrap_or_else(|e| panic!("INFO commandstats on {port}: {e}"));
        parse_command_stats(&info)
    }

    /// `CONFIG RESETSTAT` on every running node: command counts back to zero.
    pub(crate) fn reset_stats(&self) {
        for port in self.live_ports() {
            cli(port, &["CONFIG", "RESETSTAT"])
                .unwrap_or_else(|e| panic!("CONFIG RESETSTAT on {port}: {e}"));
        }
    }
}

/// `cmdstat_NAME:calls=N,usec=…` lines of `INFO commandstats` as NAME → N.
pub(crate) fn parse_command_stats(info: &str) -> HashMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.trim_end().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// `Ok` if the node on `port` reports `cluster_state:ok` with all slots assigned and ok.
fn cluster_ok(port: u16) -> Result<(), String> {
    let info = cli(port, &["CLUSTER", "INFO"])?;
    let slots = SLOTS.to_string();
    if info_field(&info, "cluster_state") == Some("ok")
        && info_field(&info, "cluster_slots_assigned") == Some(slots.as_str())
        && info_field(&info, "cluster_slots_ok") == Some(slots.as_str())
    {
        Ok(())
    } else {
        Err(format!("node {port}: CLUSTER INFO {info:?}"))
    }
}

/// `Ok` if, in the view `nodes` of the node on `port`, all 16384 slots are served by
/// masters that are not failing and pass `allowed`.
fn check_slots_served(
    port: u16,
    nodes: &[ClusterNode],
    allowed: impl Fn(&ClusterNode) -> bool,
) -> Result<(), String> {
    let served: u32 = nodes
        .iter()
        .filter(|n| n.is_master() && !n.is_failing() && allowed(n))
        .map(ClusterNode::slot_count)
        .sum();
    if served == u32::from(SLOTS) {
        Ok(())
    } else {
        Err(format!("node {port} sees {served} slots served"))
    }
}
