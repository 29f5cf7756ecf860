//! `tollgate dynamodb create-table`, `revoke` and `revocations` against a DynamoDB table
//! (dynalite on loopback, through the standard AWS variables), seen by the library's store.

#[path = "../../tollgate-dynamodb/tests/dynalite/mod.rs"]
mod dynalite;

use dynalite::{ACCESS_KEY_ID, Dynalite, SECRET_ACCESS_KEY, client, unique_table};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate_dynamodb::DynamoDbStore;

const ISS: &str = "https://auth.example";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `tollgate args…` with the AWS variables pointing at `endpoint`, and `extra` variables.
fn tollgate(endpoint: &str, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .envs(extra.iter().copied())
        .output()
        .expect("the tollgate binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn create_table_revoke_and_show_in_dynamodb() {
    let server = Dynalite::start();
    let endpoint = server.endpoint();
    let table = unique_table("cli");
    let with_table = [("TOLLGATE_DYNAMODB_TABLE", table.as_str())];

    let created = tollgate(&endpoint, &["dynamodb", "create-table"], &with_table);
    assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);
    assert!(
        created.stdout.contains("created DynamoDB table"),
        "{}",
        created.stdout
    );
    // dynalite has no UpdateTimeToLive: said, not fatal.
    assert!(
        created.stderr.contains("TTL not enabled"),
        "{}",
        created.stderr
    );

    let exp = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300)
        .to_string();
    let revoked = tollgate(
        &endpoint,
        &[
            "revoke", "--iss", ISS, "--jti", "jti-1", "--no-sub", "--exp", &exp,
        ],
        &with_table,
    );
    assert_eq!(revoked.code, 0, "{}{}", revoked.stdout, revoked.stderr);
    assert!(
        revoked.stdout.contains("this DynamoDB table"),
        "{}",
        revoked.stdout
    );
    let revoked = tollgate(
        &endpoint,
        &["revoke", "--iss", ISS, "--sub", "alice"],
        &with_table,
    );
    assert_eq!(revoked.code, 0, "{}{}", revoked.stdout, revoked.stderr);

    // The services' store sees both.
    let store = DynamoDbStore::builder(table.as_str())
        .client(client(&endpoint))
        .build()
        .await;
    assert!(store.read_token(ISS, "jti-1").await.unwrap().is_some());
    let cutoff = store.read_subject(ISS, "alice").await.unwrap().unwrap();
    assert!(cutoff.cutoff.is_some());

    let shown = tollgate(
        &endpoint,
        &[
            "revocations",
            "--iss",
            ISS,
            "--sub",
            "alice",
            "--jti",
            "jti-1",
        ],
        &with_table,
    );
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("every token issued before"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("revoked; kept until"),
        "{}",
        shown.stdout
    );
    let none = tollgate(
        &endpoint,
        &["revocations", "--iss", ISS, "--sub", "bob"],
        &with_table,
    );
    assert!(none.stdout.contains("no revocation"), "{}", none.stdout);

    // Both stores named: a clear error, nothing written.
    let both = tollgate(
        &endpoint,
        &["revoke", "--iss", ISS, "--sub", "carol"],
        &[
            ("TOLLGATE_DYNAMODB_TABLE", table.as_str()),
            ("TOLLGATE_REDIS_URL", "redis://127.0.0.1:1/"),
        ],
    );
    assert_eq!(both.code, 2, "{}{}", both.stdout, both.stderr);
    assert!(both.stderr.contains("choose one"), "{}", both.stderr);
    assert_eq!(store.read_subject(ISS, "carol").await.unwrap(), None);
}
