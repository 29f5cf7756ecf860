//! A `redis-server` with authentication: a password on the `default` user
//! ([`RedisServer::with_password`]), or that plus a restricted ACL user
//! ([`RedisServer::with_acl_user`]), both given on the command line.
//!
//! `redis-server --user …` takes the `user` directive of `redis.conf`, but each word must be
//! its own argument: redis-server quotes every argument when it turns the command line into
//! configuration, so `--user "tollgate on >pw ~k:*"` is read as one user name and the
//! server exits ("Spaces not allowed in ACL usernames").

use super::{RedisServer, redis_cli};

/// A server whose `default` user needs [`AclRedis::admin_password`], with one more user
/// limited by ACL rules. Killed when dropped.
#[derive(Debug)]
pub(crate) struct AclRedis {
    /// The server (its `port`, `kill`, `signal`).
    pub(crate) server: RedisServer,
    user: String,
    password: String,
    admin_password: String,
}

impl RedisServer {
    /// A server on a free loopback port whose `default` user needs `password`
    /// (`--requirepass`); `redis://:PASSWORD@127.0.0.1:P/` connects.
    pub(crate) fn with_password(password: &str) -> Self {
        Self::start_with(&["--requirepass".to_owned(), password.to_owned()])
    }

    /// A server on a free loopback port with the user `user`, password `password` and ACL
    /// `rules` (whitespace-separated words of the `user` directive after the password,
    /// e.g. key patterns `~p:*`, channel patterns `&p:*`, commands `+get`, categories
    /// `+@read`; nothing is allowed unless a rule allows it). The `default` user needs a
    /// password of the harness's ([`AclRedis::admin_password`]), so an unauthenticated
    /// client is refused. Passwords go into URLs unescaped: use URL-safe ones.
    ///
    /// ```ignore
    /// // A user that may read and write keys and channels under `tollgate-test:` only,
    /// // with the commands listed, and nothing else (no FLUSHALL, no KEYS, no CONFIG).
    /// let redis = RedisServer::with_acl_user(
    ///     "tollgate",
    ///     "s3cret",
    ///     "~tollgate-test:* &tollgate-test:* +get +set +exists +del +publish +subscribe +ping",
    /// );
    /// let store = RedisStore::builder(redis.url()).connect().await?; // as `tollgate`
    /// assert!(redis.cli_as_user(&["FLUSHALL"]).is_err()); // NOPERM
    /// redis.cli_as_admin(&["CONFIG", "RESETSTAT"])?;      // the default user may
    /// ```
    ///
    /// The server runs `redis-server … --requirepass ADMIN --user tollgate on >s3cret
    /// ~tollgate-test:* &tollgate-test:* +get …` (each word its own argument).
    pub(crate) fn with_acl_user(user: &str, password: &str, rules: &str) -> AclRedis {
        let admin_password = format!("harness-admin-{}", std::process::id());
        let mut args = vec![
            "--requirepass".to_owned(),
            admin_password.clone(),
            "--user".to_owned(),
            user.to_owned(),
            "on".to_owned(),
            format!(">{password}"),
        ];
        args.extend(rules.split_whitespace().map(str::to_owned));
        AclRedis {
            server: Self::start_with(&args),
            user: user.to_owned(),
            password: password.to_owned(),
            admin_password,
        }
    }
}

impl AclRedis {
    /// The server's port.
    pub(crate) fn port(&self) -> u16 {
        self.server.port
    }

    /// `redis://USER:PASSWORD@127.0.0.1:P/`: a client authenticated as the ACL user.
    pub(crate) fn url(&self) -> String {
        format!(
            "redis://{}:{}@127.0.0.1:{}/",
            self.user, self.password, self.server.port
        )
    }

    /// `redis://127.0.0.1:P/`: a client that does not authenticate (refused: `NOAUTH`).
    pub(crate) fn anonymous_url(&self) -> String {
        self.server.url()
    }

    /// `redis://default:ADMIN@127.0.0.1:P/`: a client of the unrestricted `default` user.
    pub(crate) fn admin_url(&self) -> String {
        format!(
            "redis://default:{}@127.0.0.1:{}/",
            self.admin_password, self.server.port
        )
    }

    /// The ACL user's name.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// The ACL user's password.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }

    /// The `default` user's password.
    pub(crate) fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// `command` through `redis-cli`, authenticated as the ACL user (`Err` on `NOPERM`).
    pub(crate) fn cli_as_user(&self, command: &[&str]) -> Result<String, String> {
        redis_cli(
            self.server.port,
            &["--user", &self.user, "--pass", &self.password],
            command,
        )
    }

    /// `command` through `redis-cli`, authenticated as the `default` user.
    pub(crate) fn cli_as_admin(&self, command: &[&str]) -> Result<String, String> {
        redis_cli(self.server.port, &["--pass", &self.admin_password], command)
    }
}
