//! Where the command's output goes, and in which shape: text for people or JSON for
//! scripts (`--json`), chosen once in `main` and handed to every command as an [`Output`].
//!
//! Results go to stdout; warnings, notes and the one error line to stderr. A closed
//! stdout (`tollgate … | head -1`) is not worth a panic: the rest of the output is dropped.

use serde_json::{Value, json};
use std::io::Write as _;

/// The shape of the output: text, or JSON with `--json` (errors and warnings too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// Lines for people.
    Text,
    /// JSON for scripts: one document on stdout, `{"warning": …}` lines on stderr.
    Json,
}

impl Output {
    /// `Json` when `--json` was given.
    pub(crate) fn new(json: bool) -> Self {
        if json { Self::Json } else { Self::Text }
    }

    /// Whether the results are printed as JSON.
    pub(crate) fn is_json(self) -> bool {
        self == Self::Json
    }

    /// A warning on stderr.
    pub(crate) fn warn(self, message: &str) {
        self.stderr("warning", message);
    }

    /// A note on stderr (something not checked, say).
    pub(crate) fn note(self, message: &str) {
        self.stderr("note", message);
    }

    /// The one error line on stderr.
    pub(crate) fn error(self, message: &str) {
        self.stderr("error", message);
    }

    fn stderr(self, what: &str, message: &str) {
        match self {
            Self::Json => eprintln!("{}", json!({ what: message })),
            Self::Text => eprintln!("{what}: {message}"),
        }
    }
}

/// Writes one line on stdout, without the panic of `println!` on a closed stdout.
pub(crate) fn line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `println!` without the panic on a closed stdout: [`line()`] of the formatted text.
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}
pub(crate) use say;

/// `value` as pretty-printed JSON on stdout.
pub(crate) fn print_json(value: &Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}
