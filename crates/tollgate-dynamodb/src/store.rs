//! [`DynamoDbStore`] and its builder.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};
use tollgate::now_secs;
use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};

/// The table's partition key (a string): which revocation an item is, see
/// [`DynamoDbStore::token_key`] and [`DynamoDbStore::subject_key`].
pub const PARTITION_KEY: &str = "pk";
/// Until when an item counts (a number, seconds since the epoch): the table's TTL attribute.
/// An item whose `until` has passed is ignored, whether or not DynamoDB has deleted it yet.
pub const UNTIL: &str = "until";
/// A subject's cut-off (a number, seconds since the epoch): its tokens issued before it are
/// revoked. Token items have none.
pub const CUTOFF: &str = "cutoff";

/// How long connecting to DynamoDB may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one attempt of a call may take by default (connecting included).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long one call may take by default, its retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
/// How many attempts a call gets by default (the first one included).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 2;

/// How many times a lookup asks again for keys that `BatchGetItem` left unprocessed (it
/// does so when throttled), while within the operation timeout.
const UNPROCESSED_RETRIES: u32 = 2;
/// The pause before asking again for unprocessed keys, doubled each time.
const UNPROCESSED_BACKOFF: Duration = Duration::from_millis(20);
/// The key [`RevocationStore::ping`] reads: no revocation has it (theirs start with `t:` or
/// `s:`).
const PING_KEY: &str = "ping";

/// Which of the two revocations an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One token, by its revocation id.
    Token,
    /// A subject's cut-off.
    Subject,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Token => "t",
            Kind::Subject => "s",
        }
    }
}

/// Revocations kept in one DynamoDB table, shared by every instance of a service. See the
/// [crate docs](crate) for the table's design.
///
/// Clones share one SDK client (its connection pool and credentials cache).
#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    settings: Settings,
}

/// What the builder sets and the store keeps.
#[derive(Debug, Clone)]
struct Settings {
    table: String,
    consistent_read: bool,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    operation_timeout: Duration,
    max_attempts: u32,
}

impl fmt::Debug for DynamoDbStore {
    /// The table, region, endpoint and timeouts; never the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.client.config();
        f.debug_struct("DynamoDbStore")
            .field("table", &self.settings.table)
            .field("region", &config.region().map(|r| r.as_ref()))
            .field("consistent_read", &self.settings.consistent_read)
            .field("attempt_timeout", &self.settings.attempt_timeout)
            .field("operation_timeout", &self.settings.operation_timeout)
            .field("max_attempts", &self.settings.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DynamoDbStore`]; see [`DynamoDbStore::builder`].
#[must_use]
pub struct DynamoDbStoreBuilder {
    settings: Settings,
    client: Option<Client>,
}

impl fmt::Debug for DynamoDbStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbStoreBuilder")
            .field("settings", &self.settings)
            .field("client", &self.client.as_ref().map(|_| "given"))
            .finish()
    }
}

impl DynamoDbStoreBuilder {
    /// Whether lookups read strongly consistent (default `true`): a revocation is then seen
    /// by the next lookup anywhere. Eventually consistent reads cost half and may miss a
    /// revocation made in about the last second.
    ///
    /// # Security
    ///
    /// With `false`, a token revoked a moment ago can still pass a lookup, on top of the
    /// cache's staleness bound.
    pub fn consistent_read(mut self, consistent: bool) -> Self {
        self.settings.consistent_read = consistent;
        self
    }

    /// The SDK client to use (its region, credentials, endpoint and HTTP client) instead of
    /// one made from the standard AWS configuration. The store's timeouts and retry bound
    /// are applied to it.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// How long connecting to DynamoDB may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long one attempt of a call may take (default 500 ms).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.settings.attempt_timeout = timeout;
        self
    }

    /// How long one call may take, its retries included (default 1 s). With an unanswered
    /// lookup the layer applies its store-failure policy, so keep this short.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.settings.operation_timeout = timeout;
        self
    }

    /// How many attempts a call gets, the first one included (default 2, at least 1).
    /// Throttled and failed calls are retried by the SDK's standard retry strategy.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = attempts.max(1);
        self
    }

    /// The store. Without a [`client`](Self::client), loads the standard AWS configuration
    /// (see [`DynamoDbStore::from_env`]). Sends nothing to DynamoDB: call
    /// [`ping`](RevocationStore::ping) to know that the table can be read.
    pub async fn build(self) -> DynamoDbStore {
        let settings = self.settings;
        let client = match self.client {
            Some(client) => client,
            None => Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await),
        };
        let config = client
            .config()
            .to_builder()
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.connect_timeout)
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .operation_timeout(settings.operation_timeout)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(Duration::from_millis(25))
                    .with_max_backoff(Duration::from_millis(100)),
            )
            .build();
        DynamoDbStore {
            client: Client::from_conf(config),
            settings,
        }
    }
}

/// A revocation as stored, read by [`DynamoDbStore::read_token`] or
/// [`DynamoDbStore::read_subject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRevocation {
    /// Until when it counts (seconds since the epoch).
    pub until: u64,
    /// A subject's cut-off (seconds since the epoch); `None` for a token.
    pub cutoff: Option<u64>,
}

impl DynamoDbStore {
    /// A builder for a store on `table`.
    pub fn builder(table: impl Into<String>) -> DynamoDbStoreBuilder {
        DynamoDbStoreBuilder {
            settings: Settings {
                table: table.into(),
                consistent_read: true,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
            },
            client: None,
        }
    }

    /// A store on `table` with the defaults, configured from the standard AWS sources:
    /// region, credentials and endpoint from the environment (`AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`…, `AWS_PROFILE`, `AWS_ENDPOINT_URL_DYNAMODB` or
    /// `AWS_ENDPOINT_URL`), the shared config files, SSO, web identity, or the ECS or EC2
    /// instance role.
    pub async fn from_env(table: impl Into<String>) -> DynamoDbStore {
        Self::builder(table).build().await
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.settings.table
    }

    /// Whether lookups read strongly consistent.
    pub fn consistent_read(&self) -> bool {
        self.settings.consistent_read
    }

    /// The SDK client, with the store's timeouts and retry bound.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The partition key of a token's revocation: `t:{issuer length}:{issuer}{id}`. The
    /// issuer is length-prefixed, so no issuer/id split collides with another.
    pub fn token_key(&self, issuer: &str, id: &str) -> String {
        key(Kind::Token, issuer, id)
    }

    /// The partition key of a subject's cut-off: `s:{issuer length}:{issuer}{subject}`.
    pub fn subject_key(&self, issuer: &str, subject: &str) -> String {
        key(Kind::Subject, issuer, subject)
    }

    /// The token's revocation as stored (strongly consistent read): `None` when there is
    /// none, or only one whose `until` has passed.
    pub async fn read_token(
        &self,
        issuer: &str,
        id: &str,
    ) -> Result<Option<StoredRevocation>, StoreError> {
        self.read(self.token_key(issuer, id), Kind::Token).await
    }

    /// The subject's cut-off as stored (strongly consistent read): `None` when there is
    /// none, or only one whose `until` has passed.
    pub async fn read_subject(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<StoredRevocation>, StoreError> {
        self.read(self.subject_key(issuer, subject), Kind::Subject)
            .await
    }

    async fn read(&self, key: String, kind: Kind) -> Result<Option<StoredRevocation>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.settings.table)
            .key(PARTITION_KEY, AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("reading a revocation from DynamoDB", e))?;
        match output.item() {
            Some(item) => parse_item(item, kind, now_secs()),
            None => Ok(None),
        }
    }

    /// Creates the table (on-demand capacity, partition key [`PARTITION_KEY`]) and waits
    /// until it is active; for development and tests. In production, create it with the
    /// command in the README, and enable TTL on [`UNTIL`].
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let table = &self.settings.table;
        let build = |e| StoreError::new("describing the DynamoDB table", e);
        self.client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| self.error("creating the DynamoDB table", e))?;
        // Creating takes seconds on AWS; a development command can wait that long.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| self.error("waiting for the DynamoDB table", e))?;
            let status = described.table().and_then(|t| t.table_status());
            if status == Some(&TableStatus::Active) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StoreError::msg(format!(
                    "DynamoDB table {table:?} is not active after 60 s ({status:?})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Enables TTL on [`UNTIL`], so that DynamoDB deletes expired items (within days; the
    /// store ignores them from their `until` on either way).
    pub async fn enable_ttl(&self) -> Result<(), StoreError> {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(UNTIL)
            .build()
            .map_err(|e| StoreError::new("enabling TTL on the DynamoDB table", e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.settings.table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| self.error("enabling TTL on the DynamoDB table", e))?;
        Ok(())
    }

    /// A [`StoreError`] for a failed call, naming the table and DynamoDB's error code.
    fn error<E, R>(&self, what: &str, error: SdkError<E, R>) -> StoreError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let detail = match error.code() {
            Some(code) => code.to_owned(),
            None => DisplayErrorContext(&error).to_string(),
        };
        StoreError::new(
            format!("{what} (table {:?}): {detail}", self.settings.table),
            error,
        )
    }

    /// Sets `update` on the item under `key` if `condition` holds; a failed condition means
    /// that what is stored is already at least as strong, which is success.
    async fn update_if(
        &self,
        key: String,
        update: &str,
        condition: &str,
        values: &[(&str, u64)],
        what: &'static str,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key(PARTITION_KEY, AttributeValue::S(key))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#until", UNTIL);
        if update.contains("#cutoff") || condition.contains("#cutoff") {
            request = request.expression_attribute_names("#cutoff", CUTOFF);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(*name, number(*value));
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(self.error(what, e)),
        }
    }

    async fn put_token(&self, key: String, until: u64) -> Result<(), StoreError> {
        if until <= now_secs() {
            return Ok(());
        }
        // The later `until` wins; an item whose `until` has passed is older than any new one.
        self.update_if(
            key,
            "SET #until = :until",
            "attribute_not_exists(#until) OR #until < :until",
            &[(":until", until)],
            "revoking a token in DynamoDB",
        )
        .await
        .map(drop)
    }

    async fn put_subject(&self, key: String, before: u64, until: u64) -> Result<(), StoreError> {
        let now = now_secs();
        if until <= now {
            return Ok(());
        }
        let what = "revoking a subject's tokens in DynamoDB";
        // Usually one call: no cut-off (or only an expired one, which must not come back), or
        // one that the new one is at least as strong as on both counts.
        let replaced = self
            .update_if(
                key.clone(),
                "SET #cutoff = :before, #until = :until",
                "attribute_not_exists(#until) OR #until <= :now \
                 OR (#cutoff <= :before AND #until <= :until)",
                &[(":before", before), (":until", until), (":now", now)],
                what,
            )
            .await?;
        if replaced {
            return Ok(());
        }
        // A live cut-off stronger on one count: raise each attribute on its own, never lower
        // it. Both conditions hold against the item as it was live at `now`, so they commute
        // with any concurrent call.
        self.update_if(
            key.clone(),
            "SET #cutoff = :before",
            "#until > :now AND #cutoff < :before",
            &[(":before", before), (":now", now)],
            what,
        )
        .await?;
        self.update_if(
            key,
            "SET #until = :until",
            "#until > :now AND #until < :until",
            &[(":until", until), (":now", now)],
            what,
        )
        .await
        .map(drop)
    }

    async fn delete(&self, key: String, what: &'static str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.settings.table)
            .key(PARTITION_KEY, AttributeValue::S(key))
            .send()
            .await
            .map_err(|e| self.error(what, e))?;
        Ok(())
    }

    async fn lookup(&self, token: &TokenRef) -> Result<Status, StoreError> {
        let what = "looking up a revocation in DynamoDB";
        let token_key = self.token_key(&token.issuer, &token.id);
        let subject_key = token
            .subject
            .as_deref()
            .map(|subject| self.subject_key(&token.issuer, subject));
        let mut pending: Vec<HashMap<String, AttributeValue>> =
            [Some(&token_key), subject_key.as_ref()]
                .into_iter()
                .flatten()
                .map(|k| HashMap::from([(PARTITION_KEY.to_owned(), AttributeValue::S(k.clone()))]))
                .collect();
        let started = Instant::now();
        let mut items = Vec::new();
        let mut retries = 0;
        loop {
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(self.settings.consistent_read)
                .projection_expression("#pk, #until, #cutoff")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#until", UNTIL)
                .expression_attribute_names("#cutoff", CUTOFF)
                .build()
                .map_err(|e| StoreError::new(what, e))?;
            let mut output = self
                .client
                .batch_get_item()
                .request_items(&self.settings.table, keys)
                .send()
                .await
                .map_err(|e| self.error(what, e))?;
            if let Some(found) = output
                .responses
                .as_mut()
                .and_then(|r| r.remove(&self.settings.table))
            {
                items.extend(found);
            }
            pending = output
                .unprocessed_keys
                .as_mut()
                .and_then(|u| u.remove(&self.settings.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if retries == UNPROCESSED_RETRIES
                || started.elapsed() >= self.settings.operation_timeout
            {
                return Err(StoreError::msg(format!(
                    "{what} (table {:?}): {} of the keys left unprocessed (throttled)",
                    self.settings.table,
                    pending.len()
                )));
            }
            tokio::time::sleep(UNPROCESSED_BACKOFF * 2u32.pow(retries)).await;
            retries += 1;
        }

        let now = now_secs();
        let mut token_revoked = false;
        let mut cutoff = None;
        for item in &items {
            let key = string(item, PARTITION_KEY)?;
            if key == token_key {
                token_revoked = parse_item(item, Kind::Token, now)?.is_some();
            } else if subject_key.as_deref() == Some(key) {
                cutoff = parse_item(item, Kind::Subject, now)?.and_then(|r| r.cutoff);
            } else {
                return Err(StoreError::msg(format!(
                    "{what}: DynamoDB answered with an item not asked for ({key:?})"
                )));
            }
        }
        Ok(Status::from_lookup(token, token_revoked, cutoff))
    }
}

/// `{kind}:{issuer length}:{issuer}{name}`.
fn key(kind: Kind, issuer: &str, name: &str) -> String {
    format!("{}:{}:{issuer}{name}", kind.tag(), issuer.len())
}

/// The revocation an item holds, `None` if its `until` has passed (DynamoDB deletes expired
/// items only within days). An item without the attributes its kind needs, or with one of
/// another type, is an error: the store cannot tell whether it revokes.
fn parse_item(
    item: &HashMap<String, AttributeValue>,
    kind: Kind,
    now: u64,
) -> Result<Option<StoredRevocation>, StoreError> {
    let until = integer(item, UNTIL)?;
    if until <= now {
        return Ok(None);
    }
    let cutoff = match kind {
        Kind::Token => None,
        Kind::Subject => Some(integer(item, CUTOFF)?),
    };
    Ok(Some(StoredRevocation { until, cutoff }))
}

fn string<'a>(
    item: &'a HashMap<String, AttributeValue>,
    name: &str,
) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        other => Err(malformed(item, name, "a string", other)),
    }
}

fn integer(item: &HashMap<String, AttributeValue>, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| malformed(item, name, "seconds since the epoch", item.get(name))),
        other => Err(malformed(item, name, "a number", other)),
    }
}

fn malformed(
    item: &HashMap<String, AttributeValue>,
    name: &str,
    expected: &str,
    found: Option<&AttributeValue>,
) -> StoreError {
    let key = match item.get(PARTITION_KEY) {
        Some(AttributeValue::S(s)) => s.as_str(),
        _ => "?",
    };
    let found = match found {
        None => "nothing".to_owned(),
        Some(AttributeValue::N(n)) => format!("the number {n}"),
        Some(other) => format!("{other:?}"),
    };
    StoreError::msg(format!(
        "malformed revocation in DynamoDB under {PARTITION_KEY} {key:?}: {name} should be \
         {expected}, found {found}"
    ))
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

impl RevocationStore for DynamoDbStore {
    /// A token's item is named by issuer and id: `subject` is not needed (one lookup is one
    /// `BatchGetItem` whatever the keys).
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        _subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.put_token(self.token_key(issuer, id), until))
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.put_subject(self.subject_key(issuer, subject), before, until))
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        _subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(
            self.token_key(issuer, id),
            "removing a token's revocation from DynamoDB",
        ))
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(
            self.subject_key(issuer, subject),
            "removing a subject's cut-off from DynamoDB",
        ))
    }

    /// One `BatchGetItem` of the token's and the subject's items.
    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        Box::pin(self.lookup(token))
    }

    /// An eventually consistent `GetItem` of a key no revocation has: the table exists,
    /// can be read with these credentials, and answers within the timeouts.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .get_item()
                .table_name(&self.settings.table)
                .key(PARTITION_KEY, AttributeValue::S(PING_KEY.to_owned()))
                .projection_expression("#pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .send()
                .await
                .map_err(|e| self.error("pinging DynamoDB", e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn keys_are_unambiguous() {
        assert_eq!(key(Kind::Token, "iss", "id"), "t:3:issid");
        assert_eq!(key(Kind::Subject, "", "x"), "s:0:x");
        assert_ne!(key(Kind::Token, "ab", "c"), key(Kind::Token, "a", "bc"));
        assert_ne!(key(Kind::Token, "a", "b"), key(Kind::Subject, "a", "b"));
        // The separator inside names changes nothing: the issuer's length decides.
        assert_ne!(key(Kind::Token, "a:1", "b"), key(Kind::Token, "a", ":1b"));
        assert_ne!(PING_KEY, key(Kind::Token, "", "ping"));
    }

    #[test]
    fn items_parse_strictly() {
        let live = 2_000_000_000;
        let now = 1_900_000_000;
        let token = item(&[(UNTIL, number(live))]);
        assert_eq!(
            parse_item(&token, Kind::Token, now).unwrap(),
            Some(StoredRevocation {
                until: live,
                cutoff: None
            })
        );
        assert_eq!(parse_item(&token, Kind::Token, live).unwrap(), None);
        let subject = item(&[(UNTIL, number(live)), (CUTOFF, number(5))]);
        assert_eq!(
            parse_item(&subject, Kind::Subject, now)
                .unwrap()
                .unwrap()
                .cutoff,
            Some(5)
        );
        for bad in [
            item(&[(UNTIL, AttributeValue::S(live.to_string()))]),
            item(&[(UNTIL, AttributeValue::N("1.5e9".into()))]),
            item(&[(UNTIL, AttributeValue::N("-1".into()))]),
            item(&[]),
        ] {
            assert!(parse_item(&bad, Kind::Token, now).is_err(), "{bad:?}");
        }
        let no_cutoff = item(&[(UNTIL, number(live))]);
        assert!(parse_item(&no_cutoff, Kind::Subject, now).is_err());
        // Expired: ignored, whatever else it holds.
        assert_eq!(
            parse_item(&no_cutoff, Kind::Subject, live + 1).unwrap(),
            None
        );
    }
}
