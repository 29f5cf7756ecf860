//! Redis Sentinel on 127.0.0.1: a master, one replica and three sentinels watching them
//! (quorum 2, a master is down after 1 s), with the means to kill the master and await the
//! sentinels' choice of a new one.

use super::{RedisServer, TempDir, cli, free_port, info_field, poll, server_pid};
use std::collections::HashMap;
use std::time::Duration;

/// How often the deployment's state is polled.
const POLL: Duration = Duration::from_millis(50);

/// The name the sentinels know the master by.
pub(crate) const MASTER_NAME: &str = "mymaster";

/// A master, its replica (`--replicaof`) and three sentinels (`redis-server CONF
/// --sentinel`, each with a writable configuration file of its own). Every process is killed
/// when this is dropped, and the temporary directory (configurations, logs) removed.
#[derive(Debug)]
pub(crate) struct RedisSentinel {
    // Dropped first: the servers are killed before their directory is removed.
    data: HashMap<u16, RedisServer>,
    sentinels: Vec<RedisServer>,
    first_master: u16,
    first_replica: u16,
    dir: TempDir,
}

impl RedisSentinel {
    /// Starts the master, the replica and the sentinels on free ports, and returns once the
    /// replica is in sync (`master_link_status:up`) and every sentinel knows the master
    /// (flags `master`), its replica (`num-slaves`) and the two other sentinels
    /// (`num-other-sentinels`), 30 s at most.
    pub(crate) fn start() -> Self {
        let dir = TempDir::new("sentinel");
        let data_args = |dir: &TempDir, name: &str| -> Vec<String> {
            vec![
                "--dir".to_owned(),
                dir.file(""),
                "--dbfilename".to_owned(),
                format!("{name}.rdb"),
                "--logfile".to_owned(),
                dir.file(&format!("{name}.log")),
                // A full sync starts at once, not after 5 s of waiting for more replicas.
                "--repl-diskless-sync-delay".to_owned(),
                "0".to_owned(),
            ]
        };
        let master = RedisServer::start_with(&data_args(&dir, "master"));
        let mut replica_args = data_args(&dir, "replica");
        replica_args.extend(["--replicaof", "127.0.0.1"].map(str::to_owned));
        replica_args.push(master.port.to_string());
        let replica = RedisServer::start_with(&replica_args);
        let (first_master, first_replica) = (master.port, replica.port);
        poll(Duration::from_secs(30), POLL, "the replica in sync", || {
            let info = cli(first_replica, &["INFO", "replication"])?;
            match info_field(&info, "master_link_status") {
                Some("up") => Ok(()),
                other => Err(format!("master_link_status {other:?}")),
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let mut last_error = String::new();
            let sentinel = (0..5).find_map(|_| {
                start_sentinel(&dir, first_master)
                    .map_err(|e| last_error = e)
                    .ok()
            });
            sentinels.push(
                sentinel.unwrap_or_else(|| panic!("could not start a sentinel: {last_error}")),
            );
        }
        let deployment = Self {
            data: HashMap::from([(first_master, master), (first_replica, replica)]),
            sentinels,
            first_master,
            first_replica,
            dir,
        };
        let ports = deployment.sentinel_ports();
        poll(
            Duration::from_secs(30),
            POLL,
            "every sentinel knows the master, the replica and the other sentinels",
            || {
                for &port in &ports {
                    let master = sentinel_master(port)?;
                    let field = |name: &str| master.get(name).map(String::as_str);
                    if field("flags") != Some("master")
                        || field("port") != Some(first_master.to_string().as_str())
                        || field("num-slaves") != Some("1")
                        || field("num-other-sentinels") != Some("2")
                    {
                        return Err(format!("sentinel {port}: {master:?}"));
                    }
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        deployment
    }

    /// The sentinels' ports.
    pub(crate) fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|s| s.port).collect()
    }

    /// `redis://127.0.0.1:S/` of every sentinel.
    pub(crate) fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::url).collect()
    }

    /// The name the sentinels know the master by: `mymaster`.
    pub(crate) fn master_name(&self) -> &'static str {
        MASTER_NAME
    }

    /// The ports of the master and of the replica as started (the roles change on failover).
    pub(crate) fn data_ports(&self) -> (u16, u16) {
        (self.first_master, self.first_replica)
    }

    /// The temporary directory (sentinel configurations, logs).
    pub(crate) fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The current master's port, as the first sentinel that answers says
    /// (`SENTINEL GET-MASTER-ADDR-BY-NAME mymaster`).
    pub(crate) fn master_port(&self) -> u16 {
        self.sentinel_ports()
            .into_iter()
            .find_map(|port| master_addr(port).ok())
            .expect("a sentinel that knows the master")
    }

    /// `redis://127.0.0.1:P/` of the current master ([`RedisSentinel::master_port`]).
    pub(crate) fn master_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.master_port())
    }

    /// SIGKILL to the current master (a crash). Returns its port.
    pub(crate) fn kill_master(&mut self) -> u16 {
        let port = self.master_port();
        self.data
            .get_mut(&port)
            .unwrap_or_else(|| panic!("the master on {port} is not one of ours"))
            .kill();
        port
    }

    /// Awaits a new master: every sentinel answers `GET-MASTER-ADDR-BY-NAME` with one and
    /// the same port other than `old_port`, and the server there reports `role:master`.
    /// Returns its port.
    pub(crate) fn wait_for_new_master(
        &self,
        old_port: u16,
        timeout: Duration,
    ) -> Result<u16, String> {
        let ports = self.sentinel_ports();
        poll(timeout, POLL, "a new master", || {
            let mut new_port = None;
            for &sentinel in &ports {
                let port = master_addr(sentinel)?;
                if port == old_port {
                    return Err(format!("sentinel {sentinel} still names {old_port}"));
                }
                if new_port.is_some_and(|p| p != port) {
                    return Err(format!("sentinels disagree: {new_port:?} and {port}"));
                }
                new_port = Some(port);
            }
            let port = new_port.ok_or("no sentinel")?;
            let info = cli(port, &["INFO", "replication"])?;
            if info_field(&info, "role") == Some("master") {
                Ok(port)
            } else {
                Err(format!("{port} is not a master yet"))
            }
        })
    }
}

/// A sentinel on a free port watching the master on `master_port`, with a configuration
/// file of its own in `dir` (sentinels rewrite theirs).
fn start_sentinel(dir: &TempDir, master_port: u16) -> Result<RedisServer, String> {
    let port = free_port();
    let conf = dir.join(&format!("sentinel-{port}.conf"));
    let text = format!(
        "port {port}\n\
         bind 127.0.0.1\n\
         dir {dir}\n\
         logfile {log}\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
         sentinel failover-timeout {MASTER_NAME} 5000\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        dir = dir.path().display(),
        log = dir.file(&format!("sentinel-{port}.log")),
    );
    std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
    let args = [conf.display().to_string(), "--sentinel".to_owned()];
    RedisServer::spawn(&args, port, || server_pid(port))
}

/// `SENTINEL MASTER mymaster` of the sentinel on `port`, as field → value.
fn sentinel_master(port: u16) -> Result<HashMap<String, String>, String> {
    let reply = cli(port, &["SENTINEL", "MASTER", MASTER_NAME])?;
    let lines: Vec<&str> = reply.lines().collect();
    Ok(lines
        .chunks(2)
        .filter_map(|pair| match pair {
            [name, value] => Some(((*name).to_owned(), (*value).to_owned())),
            _ => None,
        })
        .collect())
}

/// The master's port as the sentinel on `port` names it.
fn master_addr(port: u16) -> Result<u16, String> {
    let reply = cli(port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME])?;
    reply
        .lines()
        .nth(1)
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("sentinel {port}: GET-MASTER-ADDR-BY-NAME {reply:?}"))
}
