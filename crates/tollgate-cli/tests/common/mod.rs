//! Copied from `tests/tests/redis_harness/mod.rs` (the project's Redis harness), less its
//! `RedisStore` helpers; then helpers to run the `tollgate` binary.
//!
//! A real Redis for tests: `REDIS_URL` if set, else a `redis-server` of the test's own
//! (from `PATH`) on a free loopback port, killed when dropped. Every test uses its own key
//! prefix and never flushes anything.

#![allow(dead_code)]

use std::io::{ErrorKind as IoErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const HOW_TO_GET_REDIS: &str = "these tests need Redis 6.2 or later: set \
     REDIS_URL=redis://host:port/ to use a running server, or put redis-server on PATH \
     (Debian/Ubuntu: `apt-get install redis-server`; elsewhere the `redis` Docker image)";

// ---------------------------------------------------------------------------------------
// Redis harness
// ---------------------------------------------------------------------------------------

/// A `redis-server` this test started, killed when dropped.
pub(crate) struct RedisServer {
    child: Option<Child>,
    pub(crate) port: u16,
}

impl RedisServer {
    /// A server on a free loopback port.
    pub(crate) fn start() -> Self {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::start_on(port) {
                Ok(server) => return server,
                // Another process took the port between our probe and the server's bind.
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// A server on `port`, once it answers (polled, with its own pid).
    pub(crate) fn start_on(port: u16) -> Result<Self, String> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
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
        let pid = server.child.as_ref().map(Child::id);
        loop {
            // Our server, not another test's that holds the port (ours then exits).
            if server_pid(port).is_some() && server_pid(port) == pid {
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
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
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

// ---------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------

/// What one run of `tollgate` gave.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts exit `code`, showing everything on failure.
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit status:\n{self:#?}");
        self
    }

    /// stdout as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:#?}"))
    }
}

/// Runs `tollgate args…` in `dir` with `stdin`, without any TOLLGATE_* variable of the
/// environment that runs the tests.
pub(crate) fn tollgate_in(dir: &std::path::Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("TOLLGATE_REDIS_URL")
        .env_remove("TOLLGATE_ISSUER")
        .env_remove("TOLLGATE_SIGNING_KEY_FILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tollgate binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("tollgate finishes");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}
