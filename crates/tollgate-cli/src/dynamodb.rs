//! Revocations in DynamoDB, through the same [`DynamoDbStore`] the services use, and the
//! `dynamodb create-table` command.

use crate::error::CliError;
use crate::output::Output;
use crate::redis::Stored;
use tollgate_dynamodb::{DynamoDbStore, StoredRevocation};

/// A store on `table`, configured from the standard AWS variables as a service's is.
pub(crate) async fn connect(table: &str) -> DynamoDbStore {
    DynamoDbStore::from_env(table).await
}

/// `what` as `revocations` shows it: the cut-off (or `1` for a token) and its `until`.
fn stored(what: Option<StoredRevocation>) -> Option<Stored> {
    what.map(|r| Stored {
        value: r.cutoff.map_or_else(|| "1".to_owned(), |c| c.to_string()),
        expires_at: Some(r.until),
    })
}

/// The subject's cut-off and the token's revocation, in that order, as asked for.
pub(crate) async fn read(
    store: &DynamoDbStore,
    issuer: &str,
    subject: Option<&str>,
    jti: Option<&str>,
) -> Result<Vec<Option<Stored>>, CliError> {
    let failed = |e: &dyn std::error::Error| {
        CliError::caused(format!("DynamoDB table {:?}", store.table()), e)
    };
    let mut out = Vec::new();
    if let Some(subject) = subject {
        let found = store.read_subject(issuer, subject).await;
        out.push(stored(found.map_err(|e| failed(&e))?));
    }
    if let Some(jti) = jti {
        let found = store.read_token(issuer, jti).await;
        out.push(stored(found.map_err(|e| failed(&e))?));
    }
    Ok(out)
}

/// `tollgate dynamodb create-table`: the table, then TTL on `until`.
pub(crate) async fn create_table(output: Output, table: &str) -> Result<Vec<String>, CliError> {
    let store = connect(table).await;
    store
        .create_table()
        .await
        .map_err(|e| CliError::caused(format!("creating DynamoDB table {table:?}"), &e))?;
    let mut lines = vec![format!(
        "created DynamoDB table {table:?} (on-demand, partition key {:?})",
        tollgate_dynamodb::PARTITION_KEY
    )];
    match store.enable_ttl().await {
        Ok(()) => lines.push(format!(
            "TTL enabled on {:?}: DynamoDB deletes expired revocations (within days; they \
             count for nothing from their `until` on)",
            tollgate_dynamodb::UNTIL
        )),
        // dynalite and some other local servers do not implement UpdateTimeToLive.
        Err(error) => output.warn(&format!(
            "TTL not enabled ({error}): expired revocations are still ignored, but stay in \
             the table until TTL is enabled on {:?}",
            tollgate_dynamodb::UNTIL
        )),
    }
    Ok(lines)
}
