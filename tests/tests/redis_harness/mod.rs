//! A real Redis for tests: `REDIS_URL` if set, else a `redis-server` of the test's own
//! (from `PATH`) on a free loopback port, killed when dropped. Every test uses its own key
//! prefix and never flushes anything.
//!
//! Submodules start other deployments, all on 127.0.0.1 and killed when dropped: [`acl`]
//! (a server with an ACL user and a password), [`tls`] (a TLS-only server and its test PKI),
//! [`cluster`] (three masters and three replicas) and [`sentinel`] (a master, a replica and
//! three sentinels). Their admin queries go through `redis-cli` ([`cli`], [`redis_cli`]), and
//! their waits poll with deadlines ([`poll`]), never a fixed sleep.

#![allow(dead_code)]

pub(crate) mod acl;
pub(crate) mod cluster;
pub(crate) mod sentinel;
pub(crate) mod tls;

use std::future::Future;
use std::io::{ErrorKind as IoErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_redis::RedisStore;

pub(crate) const HOW_TO_GET_REDIS: &str = "these tests need Redis 6.2 or later: set \
     REDIS_URL=redis://host:port/ to use a running server, or put redis-server on PATH \
     (Debian/Ubuntu: `apt-get install redis-server`; elsewhere the `redis` Docker image)";

// ---------------------------------------------------------------------------------------
// Redis harness
// ---------------------------------------------------------------------------------------

/// A `redis-server` this test started, killed when dropped.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Option<Child>,
    pub(crate) port: u16,
}

impl RedisServer {
    /// A server on a free loopback port.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server on a free loopback port, with `args` appended to the harness's own
    /// (`--port P --bind 127.0.0.1 --save "" --appendonly no`), e.g. `--requirepass` or an
    /// ACL `--user` (see [`RedisServer::with_acl_user`]). Each word of a directive is its own
    /// argument: `redis-server` quotes every argument, so one `"tollgate on >pw ~k:*"` would
    /// be read as a single (invalid) user name.
    pub(crate) fn start_with(args: &[String]) -> Self {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::start_on_with(port, args) {
                Ok(server) => return server,
                // Another process took the port between our probe and the server's bind.
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// A server on `port`, once it answers (polled, with its own pid).
    pub(crate) fn start_on(port: u16) -> Result<Self, String> {
        Self::start_on_with(port, &[])
    }

    /// A server on `port` with `args` appended to the harness's own, once it answers
    /// (polled, with its own pid). With `--requirepass PW` among `args` the probe
    /// authenticates as `default` with `PW`.
    pub(crate) fn start_on_with(port: u16, args: &[String]) -> Result<Self, String> {
        let mut all: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .iter()
            .chain(&["--save", "", "--appendonly", "no"])
            .map(|s| (*s).to_owned())
            .collect();
        all.extend_from_slice(args);
        let password = args
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|i| args.get(i + 1))
            .cloned();
        Self::spawn(&all, port, || match &password {
            Some(password) => server_pid_as(port, Some(("default", password))),
            None => server_pid(port),
        })
    }

    /// `redis-server ARGS` (exactly these: a sentinel's `CONF --sentinel`, a TLS server's
    /// options), returned once `pid_on_port` (polled every 5 ms, 10 s at most) reports the
    /// pid of this very process: a server of another test that holds the port makes ours
    /// exit, which is an `Err` (try another port).
    pub(crate) fn spawn(
        args: &[String],
        port: u16,
        mut pid_on_port: impl FnMut() -> Option<u32>,
    ) -> Result<Self, String> {
        let child = Command::new("redis-server")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == IoErrorKind::NotFound => {
                panic!("redis-server is not on PATH; {HOW_TO_GET_REDIS}")
            }
            Err(e) => panic!("could not run redis-server ({e}); {HOW_TO_GET_REDIS}"),
        };
        let mut server = Self {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = server.pid();
        loop {
            // Our server, not another test's that holds the port (ours then exits).
            if pid.is_some() && pid_on_port() == pid {
                return Ok(server);
            }
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                server.child = None;
                return Err(format!("redis-server on port {port} exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server on port {port} did not answer PING in 10 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The server process's id, unless it was killed.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive (not killed, not exited).
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGSTOP or SIGCONT: a server that stops answering without closing its connections,
    /// like one behind a network partition.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// SIGKILL: no goodbye to the clients, like a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The pid of the Redis answering on `port`, if one does.
pub(crate) fn server_pid(port: u16) -> Option<u32> {
    server_pid_as(port, None)
}

/// The pid of the Redis answering on `port`, if one does, authenticating first as
/// `(user, password)` if given.
pub(crate) fn server_pid_as(port: u16, auth: Option<(&str, &str)>) -> Option<u32> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    if let Some((user, password)) = auth {
        stream
            .write_all(&resp_command(&["AUTH", user, password]))
            .ok()?;
    }
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        reply.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(rest) = text.split("process_id:").nth(1)
            && let Some((pid, _)) = rest.split_once("\r\n")
        {
            return pid.parse().ok();
        }
        if reply.len() > 64 * 1024 {
            return None;
        }
    }
}

/// `words` as a RESP array of bulk strings (safe for any bytes, unlike an inline command).
fn resp_command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(word.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Where a test's Redis is: `REDIS_URL`, or a server of its own.
pub(crate) struct TestRedis {
    pub(crate) url: String,
    _server: Option<RedisServer>,
}

pub(crate) fn redis() -> TestRedis {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => TestRedis { url, _server: None },
        _ => {
            let server = RedisServer::start();
            TestRedis {
                url: server.url(),
                _server: Some(server),
            }
        }
    }
}

/// A key prefix no other test (or run) shares.
pub(crate) fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("tollgate-test:{test}:{}:{nanos}:", std::process::id())
}

pub(crate) async fn redis_store(url: &str, test: &str) -> RedisStore {
    RedisStore::builder(url)
        .key_prefix(unique_prefix(test))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}; {HOW_TO_GET_REDIS}"))
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
pub(crate) async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Helpers of the submodules: redis-cli, polling, temporary directories
// ---------------------------------------------------------------------------------------

/// How long one `redis-cli` call may take before it is killed (a stopped or partitioned
/// server would never answer, and redis-cli 7.0 has no timeout option).
pub(crate) const CLI_TIMEOUT: Duration = Duration::from_secs(5);

/// `redis-cli -e --no-auth-warning -h 127.0.0.1 -p PORT OPTIONS... COMMAND...`: the raw
/// reply (stdout, trailing newlines trimmed), or an `Err` with what went wrong if it could
/// not connect, the reply was an error (`-e`) or it took longer than [`CLI_TIMEOUT`].
/// `options` are connection options such as `--tls`, `--cacert F`, `--user U --pass P`.
///
/// Raw output (the default when stdout is not a terminal): one line per element of an
/// array, `INFO` text as sent (`\r\n` line ends), integers as digits.
pub(crate) fn redis_cli(port: u16, options: &[&str], command: &[&str]) -> Result<String, String> {
    let mut child = Command::new("redis-cli")
        .args([
            "-e",
            "--no-auth-warning",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(options)
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run redis-cli ({e}); {HOW_TO_GET_REDIS}"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    // Read both pipes while waiting, so a long reply cannot block the child on a full pipe.
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "redis-cli -p {port} {} took more than {CLI_TIMEOUT:?}",
                    command.join(" ")
                ));
            }
            Err(e) => return Err(format!("waiting for redis-cli: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if status.success() {
        Ok(out.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        Err(format!(
            "redis-cli -p {port} {}: {status}: {}{}",
            command.join(" "),
            out.trim(),
            err.trim()
        ))
    }
}

/// [`redis_cli`] without connection options: a plain, unauthenticated command.
pub(crate) fn cli(port: u16, command: &[&str]) -> Result<String, String> {
    redis_cli(port, &[], command)
}

/// The value of `field` in `INFO` text (`field:value` lines), if present.
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.trim_end_matches('\r')
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
    })
}

/// Calls `attempt` every `interval` until it returns `Ok`, for at most `limit`; the `Err`
/// of the last attempt (why it is not there yet) is in the error, prefixed by `what`.
pub(crate) fn poll<T>(
    limit: Duration,
    interval: Duration,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(why) if Instant::now() >= deadline => {
                return Err(format!("not within {limit:?}: {what}; last: {why}"));
            }
            Err(_) => std::thread::sleep(interval),
        }
    }
}

/// A free loopback port `P` whose cluster bus port `P + 10000` is free too.
pub(crate) fn free_port_with_bus() -> u16 {
    loop {
        let port = free_port();
        if port <= u16::MAX - 10_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// A directory of its own under [`std::env::temp_dir`], removed (with its contents) when
/// dropped, unless the thread is panicking: then it is kept, and its path printed, so that
/// the servers' logs in it can be read.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new, empty directory named `tollgate-LABEL-PID-N-NANOS`.
    pub(crate) fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "tollgate-{label}-{}-{n}-{nanos}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Self { path },
                Err(e) if e.kind() == IoErrorKind::AlreadyExists => continue,
                Err(e) => panic!("creating {}: {e}", path.display()),
            }
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `name` in the directory.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `name` in the directory, as a string (for a server argument).
    pub(crate) fn file(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} (the test failed)", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
