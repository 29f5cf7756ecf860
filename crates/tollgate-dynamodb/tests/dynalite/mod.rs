//! A real DynamoDB-compatible server for tests: `dynalite` (from npm, installed under
//! `tests/dynamodb/` by `npm ci --prefix tests/dynamodb`), run with Node on a free loopback
//! port, killed when dropped. Every test makes its own table.
//!
//! Used by this crate's tests and by the workspace's `tests/tests/revocation_stores.rs`.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_dynamodb::DynamoDbStore;
use tollgate_dynamodb::aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use tollgate_dynamodb::aws_sdk_dynamodb::{Client, Config};

pub const HOW_TO_GET_DYNALITE: &str = "these tests need dynalite and Node.js (20 or later): \
     run `npm ci --prefix tests/dynamodb` in the workspace (`.ci/run` does)";

/// The static credentials the tests sign with: dynalite checks that requests are signed,
/// not by whom.
pub const ACCESS_KEY_ID: &str = "AKIDTOLLGATETEST";
pub const SECRET_ACCESS_KEY: &str = "tollgate-test-secret-key-not-a-real-one";

/// A dynalite this test started, killed when dropped.
pub struct Dynalite {
    child: Option<Child>,
    pub port: u16,
    /// Its LevelDB directory, when it keeps its tables across a restart.
    path: Option<PathBuf>,
}

impl Dynalite {
    /// An in-memory server on a free loopback port.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A server on a free loopback port that keeps its tables in `dir` (LevelDB), so that
    /// a [`restart`](Self::restart) finds them again.
    pub fn start_persistent(dir: &Path) -> Self {
        Self::start_with(Some(dir.to_owned()))
    }

    fn start_with(path: Option<PathBuf>) -> Self {
        let mut last_error = String::new();
        for _ in 0..5 {
            match Self::start_on(free_port(), path.clone()) {
                Ok(server) => return server,
                // Another process took the port between our probe and the server's bind.
                Err(error) => last_error = error,
            }
        }
        panic!("could not start dynalite: {last_error}");
    }

    /// A server on `port`, once it says it listens.
    pub fn start_on(port: u16, path: Option<PathBuf>) -> Result<Self, String> {
        let mut command = Command::new("node");
        command
            .arg(cli())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            // Tables are active at once: tests do not wait for what AWS takes seconds for.
            .args([
                "--createTableMs",
                "0",
                "--deleteTableMs",
                "0",
                "--updateTableMs",
                "0",
            ]);
        if let Some(path) = &path {
            command.arg("--path").arg(path);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run node ({e}); {HOW_TO_GET_DYNALITE}"));
        // dynalite prints one line once it listens; a port in use makes it exit instead.
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let mut server = Self {
            child: Some(child),
            port,
            path,
        };
        match receiver.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("listening") => Ok(server),
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let mut stderr = String::new();
                if let Some(mut child) = server.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                    if let Some(mut err) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
                    }
                }
                Err(format!("dynalite on port {port} did not start: {stderr}"))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "dynalite on port {port} did not listen within 20 s"
            )),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no goodbye to the clients, like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port (and the same LevelDB directory, if any).
    pub fn restart(&mut self) {
        self.kill();
        let server = Self::start_on(self.port, self.path.clone())
            .unwrap_or_else(|e| panic!("dynalite restarts on its port: {e}"));
        *self = server;
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        self.kill();
    }
}

/// dynalite's `cli.js`, found from this package up to the workspace's `tests/dynamodb/`.
fn cli() -> PathBuf {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("tests/dynamodb/node_modules/dynalite/cli.js"))
        .find(|cli| cli.is_file())
        .unwrap_or_else(|| panic!("dynalite is not installed; {HOW_TO_GET_DYNALITE}"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// An SDK client for `endpoint`, with static test credentials.
pub fn client(endpoint: &str) -> Client {
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "tollgate-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// A table name no other test (or run) shares.
pub fn unique_table(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("tollgate-{test}-{}-{nanos}-{n}", std::process::id())
}

/// A store on a fresh table of `server`'s.
pub async fn fresh_store(endpoint: &str, test: &str) -> DynamoDbStore {
    let store = DynamoDbStore::builder(unique_table(test))
        .client(client(endpoint))
        .build()
        .await;
    store
        .create_table()
        .await
        .unwrap_or_else(|e| panic!("creating a table on {endpoint}: {e}"));
    store
}

/// Another store on the same table as `store`, through its own client.
pub async fn second_store(endpoint: &str, store: &DynamoDbStore) -> DynamoDbStore {
    DynamoDbStore::builder(store.table())
        .client(client(endpoint))
        .build()
        .await
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
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
