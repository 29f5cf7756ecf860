//! The project's Redis harness, shared with the `tests/` crate (included by path, not
//! copied), then helpers to run the `tollgate` binary.

#![allow(dead_code)]

#[path = "../../../../tests/tests/redis_harness/mod.rs"]
pub(crate) mod redis_harness;

pub(crate) use redis_harness::*;
use std::io::Write as _;
use std::process::{Command, Stdio};

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
    tollgate_with_env(dir, args, stdin, &[])
}

/// [`tollgate_in`] with the variables `env` set.
pub(crate) fn tollgate_with_env(
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TOLLGATE_REDIS_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env_remove("TOLLGATE_REDIS_URL")
        .env_remove("TOLLGATE_DYNAMODB_TABLE")
        .env_remove("TOLLGATE_ISSUER")
        .env_remove("TOLLGATE_SIGNING_KEY_FILE")
        .envs(env.iter().copied())
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
