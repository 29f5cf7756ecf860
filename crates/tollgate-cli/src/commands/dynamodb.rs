//! `tollgate dynamodb create-table`.

use crate::error::CliError;
use crate::output::{Output, say};

/// Creates the revocation table `table` and enables TTL on it, saying what was done.
pub(crate) fn create_table(output: Output, table: &str) -> Result<u8, CliError> {
    let lines = super::runtime()?.block_on(crate::dynamodb::create_table(output, table))?;
    for line in lines {
        say!("{line}");
    }
    Ok(0)
}
