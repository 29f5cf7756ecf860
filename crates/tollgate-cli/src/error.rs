//! The one error type of the command: a message for one line of stderr, and an exit code.

use std::error::Error as StdError;
use std::fmt;

/// Exit code when `verify` refuses the token (or it is revoked).
pub(crate) const EXIT_REFUSED: u8 = 1;
/// Exit code for everything else that went wrong: bad arguments, an unreadable file, an
/// unusable key, Redis or a JWK Set URL out of reach. Also what clap uses for usage errors.
pub(crate) const EXIT_ERROR: u8 = 2;

/// What went wrong, in one line. Never holds a token.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) message: String,
    pub(crate) exit: u8,
}

impl CliError {
    /// The user asked for something that cannot work (a bad value, a wrong file).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit: EXIT_ERROR,
        }
    }

    /// `context`, then `error` and its causes.
    pub(crate) fn caused(context: impl fmt::Display, error: &dyn StdError) -> Self {
        Self::usage(format!("{context}: {}", chain(error)))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `error` and its sources, `: `-separated, on one line; a source whose text the previous
/// message already contains is left out.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    one_line(&text)
}

/// `text` with line breaks replaced by spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        assert_ne!(EXIT_REFUSED, EXIT_ERROR);
    }
}
