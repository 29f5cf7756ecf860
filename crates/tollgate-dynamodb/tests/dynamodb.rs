//! The DynamoDB store against a real DynamoDB-compatible server (dynalite) on loopback:
//! two instances on one table, racing cut-offs, expired and malformed items, an outage and
//! its recovery through the layer, bounded failures, the standard AWS configuration.
//!
//! The conformance suite every store passes is in the workspace's
//! `tests/tests/revocation_stores.rs` (`conformance_dynamodb`).

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate::revocation::{RevocationStore, Status, TokenRef};
use tollgate::{Algorithm, CachingStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{AuthLayer, StoreFailure};
use tollgate_dynamodb::aws_sdk_dynamodb::types::AttributeValue;
use tollgate_dynamodb::{CUTOFF, DynamoDbStore, PARTITION_KEY, UNTIL};
use tower::ServiceExt as _;

mod dynalite;
use dynalite::*;

const ISSUER: &str = "https://issuer.dynamodb.test";
const AUDIENCE: &str = "dynamodb-tests";
const SECRET: &[u8; 32] = b"dynamodb-store-tests-hs256-key!!";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Tokens {
    signer: Signer,
    verifier: Verifier,
}

impl Tokens {
    fn new() -> Self {
        let signer = Signer::builder(SigningKey::hmac("k1", SECRET, Algorithm::HS256).unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .ttl(Duration::from_secs(120))
            .build()
            .unwrap();
        let verifier = Verifier::builder()
            .keys(signer.verification_keys().unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap();
        Self { signer, verifier }
    }

    fn issue(&self, subject: &str) -> (String, TokenRef) {
        let issued = self.signer.issue(&TokenRequest::new(subject)).unwrap();
        let verified = self.verifier.verify(&issued.token).unwrap();
        (issued.token, TokenRef::new(&verified))
    }

    fn token(&self, subject: &str) -> TokenRef {
        self.issue(subject).1
    }
}

/// Writes `attributes` under `key` directly, as something other than the store would.
async fn put_raw(store: &DynamoDbStore, key: String, attributes: &[(&str, AttributeValue)]) {
    let mut item: HashMap<String, AttributeValue> = attributes
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    item.insert(PARTITION_KEY.to_owned(), AttributeValue::S(key));
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn app(store: &CachingStore<DynamoDbStore>, verifier: &Verifier) -> Router {
    Router::new().route("/", get(|| async { "ok" })).layer(
        AuthLayer::new(verifier.clone())
            .revocation(store.clone())
            .on_store_error(StoreFailure::FailClosed),
    )
}

async fn send(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_table() {
    let server = Dynalite::start();
    let a = fresh_store(&server.endpoint(), "shared").await;
    let b = second_store(&server.endpoint(), &a).await;
    let tokens = Tokens::new();
    let token = tokens.token("alice");
    let other = tokens.token("alice");
    assert_eq!(b.check(&token).await.unwrap(), Status::Active);

    a.revoke_token(
        &token.issuer,
        token.subject.as_deref(),
        &token.id,
        token.until,
    )
    .await
    .unwrap();
    assert_eq!(b.check(&token).await.unwrap(), Status::TokenRevoked);
    assert_eq!(b.check(&other).await.unwrap(), Status::Active);

    a.revoke_subject(ISSUER, "alice", now_secs() + 1, now_secs() + 600)
        .await
        .unwrap();
    assert_eq!(b.check(&other).await.unwrap(), Status::SubjectRevoked);
    b.remove_subject(ISSUER, "alice").await.unwrap();
    assert_eq!(a.check(&other).await.unwrap(), Status::Active);
}

/// Names containing the separator, and the same name as a token and a subject, never
/// share an item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_issuers_and_ids_never_collide() {
    let server = Dynalite::start();
    let store = fresh_store(&server.endpoint(), "collide").await;
    let tokens = Tokens::new();
    let base = tokens.token("mallory");
    let with = |issuer: &str, id: &str, subject: Option<&str>| {
        let mut token = base.clone();
        token.issuer = issuer.into();
        token.id = id.into();
        token.subject = subject.map(Into::into);
        token
    };
    let until = now_secs() + 600;
    store.revoke_token("a:1", None, "b", until).await.unwrap();
    assert_eq!(
        store.check(&with("a:1", "b", None)).await.unwrap(),
        Status::TokenRevoked
    );
    assert_eq!(
        store.check(&with("a", ":1b", None)).await.unwrap(),
        Status::Active
    );
    assert_eq!(
        store.check(&with("a:", "1b", None)).await.unwrap(),
        Status::Active
    );

    // A token whose id is a subject's name is not that subject's cut-off, nor the reverse.
    store
        .revoke_token(ISSUER, None, "carol", until)
        .await
        .unwrap();
    let carol = with(ISSUER, "another-id", Some("carol"));
    assert_eq!(store.check(&carol).await.unwrap(), Status::Active);
    store
        .revoke_subject(ISSUER, "dave", now_secs() + 1, until)
        .await
        .unwrap();
    assert_eq!(
        store
            .check(&with(ISSUER, "dave", Some("erin")))
            .await
            .unwrap(),
        Status::Active
    );
    assert_eq!(
        store.token_key("a:1", "b"),
        "t:3:a:1b",
        "the documented layout"
    );
    assert_eq!(store.subject_key("", "x"), "s:0:x");
}

/// Cut-offs written at once through two clients, in any order: the largest cut-off and
/// the latest `until` are what stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_cutoffs_keep_the_largest() {
    let server = Dynalite::start();
    let a = Arc::new(fresh_store(&server.endpoint(), "race").await);
    let b = Arc::new(second_store(&server.endpoint(), &a).await);
    let now = now_secs();
    for round in 0..5u64 {
        let subject = format!("sybil-{round}");
        let mut tasks = Vec::new();
        for i in 0..20u64 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let subject = subject.clone();
            // Cut-offs and retentions in an order that is not the order of their size.
            let before = now + (i * 7 + round) % 20;
            let until = now + 600 + (i * 11) % 20;
            tasks.push(tokio::spawn(async move {
                store
                    .revoke_subject(ISSUER, &subject, before, until)
                    .await
                    .unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let stored = a.read_subject(ISSUER, &subject).await.unwrap().unwrap();
        let largest = (0..20u64).map(|i| now + (i * 7 + round) % 20).max();
        let latest = (0..20u64).map(|i| now + 600 + (i * 11) % 20).max();
        assert_eq!(stored.cutoff, largest, "round {round}");
        assert_eq!(Some(stored.until), latest, "round {round}");
    }
}

/// DynamoDB deletes TTL-expired items days later: until then they are in the table, and
/// must count for nothing — not as revoked, and not as a floor for a new revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_items_are_ignored_and_never_resurrected() {
    let server = Dynalite::start();
    let store = fresh_store(&server.endpoint(), "expired").await;
    let tokens = Tokens::new();
    let token = tokens.token("grace");
    let past = now_secs() - 10;
    put_raw(
        &store,
        store.token_key(&token.issuer, &token.id),
        &[(UNTIL, n(past))],
    )
    .await;
    put_raw(
        &store,
        store.subject_key(ISSUER, "grace"),
        &[(UNTIL, n(past)), (CUTOFF, n(u64::from(u32::MAX)))],
    )
    .await;
    assert_eq!(store.check(&token).await.unwrap(), Status::Active);
    assert_eq!(store.read_subject(ISSUER, "grace").await.unwrap(), None);

    // A new, weaker cut-off replaces the expired one instead of keeping its larger value.
    let before = token.issued_at.unwrap();
    let until = now_secs() + 600;
    store
        .revoke_subject(ISSUER, "grace", before, until)
        .await
        .unwrap();
    let stored = store.read_subject(ISSUER, "grace").await.unwrap().unwrap();
    assert_eq!((stored.cutoff, stored.until), (Some(before), until));
    assert_eq!(
        store.check(&token).await.unwrap(),
        Status::Active,
        "iat == cut-off"
    );

    // A token revoked again after its old item expired is revoked until the new `until`.
    store
        .revoke_token(
            &token.issuer,
            token.subject.as_deref(),
            &token.id,
            token.until,
        )
        .await
        .unwrap();
    assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);
    let stored = store
        .read_token(&token.issuer, &token.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.until, token.until);
}

/// Which item of a token a malformed one stands for.
#[derive(Debug, Clone, Copy)]
enum Item {
    Token,
    Subject,
}

type Attributes = Vec<(&'static str, AttributeValue)>;

/// Items the store did not write (wrong types, missing attributes) are errors, never a
/// guess and never a panic; the layer then fails closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_items_are_store_errors() {
    let server = Dynalite::start();
    let store = fresh_store(&server.endpoint(), "malformed").await;
    let tokens = Tokens::new();
    let later = now_secs() + 600;
    use Item::{Subject, Token};
    let cases: [(&str, Item, Attributes); 8] = [
        (
            "until as a string",
            Token,
            vec![(UNTIL, AttributeValue::S(later.to_string()))],
        ),
        ("until missing", Token, vec![("other", n(1))]),
        (
            "until not an integer",
            Token,
            vec![(UNTIL, AttributeValue::N("1.5".into()))],
        ),
        (
            "until negative",
            Token,
            vec![(UNTIL, AttributeValue::N("-5".into()))],
        ),
        (
            "until a boolean",
            Token,
            vec![(UNTIL, AttributeValue::Bool(true))],
        ),
        (
            "cutoff as a string",
            Subject,
            vec![(UNTIL, n(later)), (CUTOFF, AttributeValue::S("x".into()))],
        ),
        ("cutoff missing", Subject, vec![(UNTIL, n(later))]),
        (
            "cutoff a list",
            Subject,
            vec![(UNTIL, n(later)), (CUTOFF, AttributeValue::L(vec![n(1)]))],
        ),
    ];
    for (i, (case, item, attributes)) in cases.into_iter().enumerate() {
        let subject = format!("heidi-{i}");
        let token = tokens.token(&subject);
        let key = match item {
            Subject => store.subject_key(ISSUER, &subject),
            Token => store.token_key(&token.issuer, &token.id),
        };
        put_raw(&store, key, &attributes).await;
        let error = store.check(&token).await.expect_err(case);
        eprintln!("{case}: {error}");
        assert!(error.to_string().contains("malformed"), "{case}: {error}");
    }

    // Through the layer: 503, not 200 and not a panic.
    let caching = CachingStore::new(store.clone());
    let (jwt, token) = tokens.issue("ivan");
    put_raw(
        &store,
        store.token_key(&token.issuer, &token.id),
        &[(UNTIL, AttributeValue::S("soon".into()))],
    )
    .await;
    assert_eq!(
        send(&app(&caching, &tokens.verifier), &jwt).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// The server dies while requests flow: lookups fail fast, the layer answers 503 (fail
/// closed); restarted on the same port, the store recovers by itself, and what was revoked
/// before the crash is still revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_fails_closed_and_recovers() {
    let dir = std::env::temp_dir().join(unique_table("outage-data"));
    let mut server = Dynalite::start_persistent(&dir);
    let endpoint = server.endpoint();
    let store = CachingStore::new(fresh_store(&endpoint, "outage").await);
    let tokens = Tokens::new();
    let app = app(&store, &tokens.verifier);
    let (revoked, revoked_ref) = tokens.issue("judy");
    store
        .revoke_token(
            &revoked_ref.issuer,
            revoked_ref.subject.as_deref(),
            &revoked_ref.id,
            revoked_ref.until,
        )
        .await
        .unwrap();
    for _ in 0..10 {
        assert_eq!(send(&app, &tokens.issue("judy").0).await, StatusCode::OK);
    }
    assert!(store.inner().ping().await.is_ok());

    server.kill();
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let start = Instant::now();
        assert!(
            store.check(&tokens.token("judy")).await.is_err(),
            "the server is down"
        );
        slowest = slowest.max(start.elapsed());
    }
    eprintln!("uncached check while dynalite is down: slowest {slowest:?}");
    assert!(slowest < Duration::from_millis(1_500), "{slowest:?}");
    assert_eq!(
        send(&app, &tokens.issue("judy").0).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(store.inner().ping().await.is_err());
    // "Revoked" is cached until the token expires: refused whatever the store says.
    assert_eq!(send(&app, &revoked).await, StatusCode::UNAUTHORIZED);

    let restarted = Instant::now();
    server.restart();
    eventually(
        Duration::from_secs(10),
        "the store recovers by itself",
        || {
            let store = store.clone();
            let token = tokens.token("judy");
            async move { store.check(&token).await.is_ok() }
        },
    )
    .await;
    eprintln!("recovered {:?} after the restart", restarted.elapsed());
    assert_eq!(send(&app, &tokens.issue("judy").0).await, StatusCode::OK);
    assert_eq!(
        store.inner().check(&revoked_ref).await.unwrap(),
        Status::TokenRevoked,
        "kept across the crash"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Nothing listening, and a listener that never answers: both fail within the bounds,
/// never seconds later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoints_fail_fast() {
    let tokens = Tokens::new();
    let token = tokens.token("kim");
    let closed_port = free_port();
    // Accepts connections (the kernel completes them) but never reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for port in [closed_port, silent_port] {
        let store = DynamoDbStore::builder("no-such-table")
            .client(client(&format!("http://127.0.0.1:{port}")))
            .build()
            .await;
        let start = Instant::now();
        let error = store.check(&token).await.expect_err("nothing answers");
        let took = start.elapsed();
        eprintln!("port {port}: failed after {took:?}: {error}");
        assert!(took < Duration::from_millis(1_500), "{took:?}");
        assert!(store.ping().await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_answers_for_a_table_and_fails_without_one() {
    let server = Dynalite::start();
    let store = fresh_store(&server.endpoint(), "ping").await;
    store.ping().await.unwrap();
    let missing = DynamoDbStore::builder("tollgate-no-such-table")
        .client(client(&server.endpoint()))
        .build()
        .await;
    let error = missing.ping().await.expect_err("no such table");
    assert!(error.to_string().contains("ResourceNotFound"), "{error}");
    let error = missing
        .check(&Tokens::new().token("leo"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("ResourceNotFound"), "{error}");
}

#[tokio::test]
async fn debug_shows_no_credentials() {
    let store = DynamoDbStore::builder("tollgate-revocations")
        .client(client("http://127.0.0.1:1"))
        .build()
        .await;
    for shown in [
        format!("{store:?}"),
        format!("{:?}", DynamoDbStore::builder("t")),
    ] {
        assert!(!shown.contains(SECRET_ACCESS_KEY), "{shown}");
        assert!(!shown.contains(ACCESS_KEY_ID), "{shown}");
    }
    assert!(format!("{store:?}").contains("tollgate-revocations"));
}

/// `from_env` takes the region, the credentials and the endpoint from the standard
/// variables (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`): run in a child
/// process of this test binary, since the environment is the process's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_env_reads_the_standard_configuration() {
    let server = Dynalite::start();
    let store = fresh_store(&server.endpoint(), "from-env").await;
    let tokens = Tokens::new();
    let token = tokens.token("mike");
    store
        .revoke_token(
            &token.issuer,
            token.subject.as_deref(),
            &token.id,
            token.until,
        )
        .await
        .unwrap();
    for variable in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "from_env_child",
                "--nocapture",
                "--include-ignored",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(variable, server.endpoint())
            .env("AWS_REGION", "eu-west-3")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("TOLLGATE_TEST_TABLE", store.table())
            .env("TOLLGATE_TEST_TOKEN_ID", &token.id)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{variable}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The child of `from_env_reads_the_standard_configuration`; does nothing on its own.
#[tokio::test]
#[ignore = "run by from_env_reads_the_standard_configuration"]
async fn from_env_child() {
    let Ok(table) = std::env::var("TOLLGATE_TEST_TABLE") else {
        return;
    };
    let store = DynamoDbStore::from_env(table).await;
    let shown = format!("{store:?}");
    assert!(shown.contains("eu-west-3"), "{shown}");
    assert!(!shown.contains(SECRET_ACCESS_KEY), "{shown}");
    store
        .ping()
        .await
        .expect("the endpoint from the environment");
    let mut token = Tokens::new().token("mike");
    token.id = std::env::var("TOLLGATE_TEST_TOKEN_ID").unwrap();
    assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);
}

/// Two instances, each with the `CachingStore` the services put in front (a "not revoked"
/// trusted for 1 s, no push): a logout through A is refused by B within that bound. The
/// measured delay is printed (`--nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_refused_by_another_within_the_cache_bound() {
    const BOUND: Duration = Duration::from_secs(1);
    let server = Dynalite::start();
    let a_table = fresh_store(&server.endpoint(), "staleness").await;
    let b_table = second_store(&server.endpoint(), &a_table).await;
    let a = CachingStore::builder(a_table).active_ttl(BOUND).build();
    let b = CachingStore::builder(b_table).active_ttl(BOUND).build();
    let tokens = Tokens::new();
    let (token, view) = tokens.issue("alice");
    let (app_a, app_b) = (app(&a, &tokens.verifier), app(&b, &tokens.verifier));
    assert_eq!(
        send(&app_b, &token).await,
        StatusCode::OK,
        "B caches: not revoked"
    );
    assert_eq!(send(&app_a, &token).await, StatusCode::OK);

    a.revoke_token(&view.issuer, view.subject.as_deref(), &view.id, view.until)
        .await
        .unwrap();
    let revoked = Instant::now();
    assert_eq!(
        send(&app_a, &token).await,
        StatusCode::UNAUTHORIZED,
        "A at once"
    );
    // B may answer from its cache until the bound has passed; then it must ask the table.
    let deadline = revoked + BOUND + Duration::from_millis(500);
    let refused_after = loop {
        if send(&app_b, &token).await == StatusCode::UNAUTHORIZED {
            break revoked.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "B still accepts the token after {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("B refused the revoked token {refused_after:?} after the logout on A");
}
