//! A DynamoDB [`RevocationStore`](tollgate::RevocationStore) for tollgate: revocations
//! shared by every instance of a service, in one table, with no server of your own to run.
//!
//! [`DynamoDbStore`] keeps revocations in a DynamoDB table through the official AWS SDK.
//! DynamoDB cannot push changes, so put a [`tollgate::CachingStore`] in front of it with a
//! short bound on "not revoked" answers ([`CachingStoreBuilder::active_ttl`], 1 s by
//! default): a revocation made on one instance is refused everywhere within that bound,
//! and each instance reads the table at most once per token per bound.
//!
//! [`CachingStoreBuilder::active_ttl`]: tollgate::revocation::CachingStoreBuilder::active_ttl
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use tollgate::{Algorithm, CachingStore, Key, RevocationStore, Verifier};
//! use tollgate_dynamodb::DynamoDbStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .key(Key::hmac(b"a 32-byte secret for HS256 tokens", Algorithm::HS256)?)
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .build()?;
//! // Region, credentials and endpoint from the standard AWS configuration.
//! let table = DynamoDbStore::from_env("tollgate-revocations").await;
//! table.ping().await?;
//! // No push: "not revoked" is trusted for 1 s, the worst-case staleness of a revocation.
//! let store = CachingStore::builder(table)
//!     .active_ttl(Duration::from_secs(1))
//!     .build();
//! // Hand `store.clone()` to `tollgate_axum::AuthLayer::revocation`.
//!
//! // Elsewhere, e.g. in a logout handler: every instance refuses the token within 1 s.
//! store.revoke_token("https://auth.example", Some("alice"), "the token's jti", 1_900_000_000).await?;
//! # Ok(()) }
//! ```
//!
//! # The table
//!
//! One table, on-demand capacity, with:
//!
//! | attribute | type | what it is |
//! |---|---|---|
//! | `pk` ([`PARTITION_KEY`]) | string, partition key | `t:{len(issuer)}:{issuer}{id}` for a token, `s:{len(issuer)}:{issuer}{subject}` for a subject's cut-off |
//! | `until` ([`UNTIL`]) | number, the table's TTL attribute | until when the item counts, seconds since the epoch: the token's `exp` plus the leeway, or the cut-off's retention |
//! | `cutoff` ([`CUTOFF`]) | number | subject items only: tokens issued before it (`iat < cutoff`) are revoked |
//!
//! The issuer is length-prefixed, so no two (issuer, kind, name) triples share a key,
//! whatever `:` the names contain. Create it with
//!
//! ```text
//! aws dynamodb create-table --table-name tollgate-revocations \
//!     --attribute-definitions AttributeName=pk,AttributeType=S \
//!     --key-schema AttributeName=pk,KeyType=HASH --billing-mode PAY_PER_REQUEST
//! aws dynamodb update-time-to-live --table-name tollgate-revocations \
//!     --time-to-live-specification Enabled=true,AttributeName=until
//! ```
//!
//! or, for development, `tollgate dynamodb create-table --table NAME`. The store needs
//! `dynamodb:GetItem`, `BatchGetItem`, `PutItem`, `UpdateItem`, `DeleteItem` and
//! `DescribeTable` on that table only (the README has the IAM policy).
//!
//! # How it works
//!
//! - **Lookups**: one `BatchGetItem` of the token's and the subject's items per
//!   [`check`](tollgate::RevocationStore::check), one round trip, strongly consistent by
//!   default ([`DynamoDbStoreBuilder::consistent_read`]). Keys left unprocessed (DynamoDB
//!   does so when throttled) are asked for again twice at most, within the operation
//!   timeout, and are an error after that.
//! - **Expiry**: DynamoDB deletes TTL-expired items lazily, within days. The store ignores
//!   an item whose `until` has passed from that second on, never counting it as revoked,
//!   and a new revocation replaces it instead of building on it.
//! - **Writes never weaken a revocation**: conditional `UpdateItem`s, never a read then a
//!   write. A token's `until` is set only if the stored one is earlier; a subject's cut-off
//!   and `until` are each raised, never lowered (one call when the new cut-off is at least
//!   as strong on both counts, which is the usual case; three at most otherwise). A failed
//!   condition means the stored revocation is already as strong, and is success.
//! - **Outages**: every call is bounded (connect 1 s, one attempt 500 ms, the call 1 s,
//!   2 attempts; see the builder), after which it fails with a
//!   [`StoreError`](tollgate::revocation::StoreError) and the layer applies its
//!   store-failure policy (fail closed: 503). Throttling is retried by the SDK within that
//!   bound, then is an error too. The SDK reconnects by itself when DynamoDB is back.
//! - **Malformed items** (an attribute missing or of another type, written by something
//!   else) are a [`StoreError`](tollgate::revocation::StoreError): the store cannot tell
//!   whether they revoke, so it does not guess.
//! - **Readiness**: [`ping`](tollgate::RevocationStore::ping) is an eventually consistent
//!   `GetItem` of a key no revocation has (half a read request unit).
//!
//! # Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws_lc_rs` | yes | crypto through aws-lc-rs (see the `tollgate` crate) |
//! | `rust_crypto` | no | crypto through the pure-Rust RustCrypto crates |
//!
//! The SDK itself always uses its default HTTPS client: hyper and rustls, no OpenSSL.

mod store;

pub use store::{
    CUTOFF, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_OPERATION_TIMEOUT, DynamoDbStore, DynamoDbStoreBuilder, PARTITION_KEY,
    StoredRevocation, UNTIL,
};

/// The `aws-config` crate the store loads the standard AWS configuration with.
pub use aws_config;
/// The `aws-sdk-dynamodb` crate this store is built on, for naming its types (a
/// [`Client`](aws_sdk_dynamodb::Client) for [`DynamoDbStoreBuilder::client`]) without a
/// version mismatch.
pub use aws_sdk_dynamodb;
