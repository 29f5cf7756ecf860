//! `tollgate revoke` and `revocations` against Redis as it is deployed, configured by the
//! same `TOLLGATE_REDIS_*` variables as the services: TLS with a private CA, and a Redis
//! Cluster. Real servers on loopback, started by the test.

mod common;
use common::redis_harness::cluster::RedisCluster;
use common::redis_harness::tls::TlsRedis;
use common::{Run, tollgate_with_env, unique_prefix};

const ISS: &str = "https://auth.example";

fn tollgate(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    tollgate_with_env(dir.path(), args, "", env)
}

/// Revokes alice's tokens through `env`, then reads the cut-off back the same way.
fn revoke_and_show(env: &[(&str, &str)]) {
    let revoked = tollgate(&["revoke", "--json", "--iss", ISS, "--sub", "alice"], env).expect(0);
    let before = revoked.json()["before"].as_u64().expect("a cut-off");
    let shown = tollgate(
        &["revocations", "--json", "--iss", ISS, "--sub", "alice"],
        env,
    )
    .expect(0);
    assert_eq!(
        shown.json()["subject"]["revoked_before"],
        before,
        "{shown:#?}"
    );
}

#[test]
fn over_tls_with_the_ca_from_the_environment() {
    let tls = TlsRedis::start();
    let url = tls.url();
    let ca = tls.ca_pem_path().display().to_string();
    let prefix = unique_prefix("cli-tls");
    revoke_and_show(&[
        ("TOLLGATE_REDIS_URL", &url),
        ("TOLLGATE_REDIS_CA_FILE", &ca),
        ("TOLLGATE_REDIS_KEY_PREFIX", &prefix),
    ]);
    // Without the CA, the system's roots do not know the server: one line, exit 2.
    let failed = tollgate(
        &["revoke", "--iss", ISS, "--sub", "alice"],
        &[("TOLLGATE_REDIS_URL", &url)],
    )
    .expect(2);
    assert!(failed.stderr.contains("certificate"), "{failed:#?}");
}

#[test]
fn on_a_cluster_from_the_environment() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls().join(",");
    let prefix = unique_prefix("cli-cluster");
    revoke_and_show(&[
        ("TOLLGATE_REDIS_URL", &urls),
        ("TOLLGATE_REDIS_MODE", "cluster"),
        ("TOLLGATE_REDIS_KEY_PREFIX", &prefix),
    ]);
}
