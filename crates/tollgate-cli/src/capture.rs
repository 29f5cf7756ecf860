//! Keeps the last warning tollgate logged about fetching a remote JWK Set, so that
//! `verify --jwks URL` can say in its one error line *why* no key could be loaded
//! (`RemoteKeys` reports fetch failures only through `tracing`). Nothing is printed.

use std::fmt;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

static LAST_FETCH_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Installs the capture as the global subscriber (once, at start).
pub(crate) fn install() {
    let subscriber = tracing_subscriber::registry().with(Capture);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The last remote-key fetch failure, e.g. `JWK Set fetch failed: server answered 404`.
pub(crate) fn last_fetch_error() -> Option<String> {
    LAST_FETCH_ERROR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

struct Capture;

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::WARN || !meta.target().starts_with("tollgate::remote") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = match fields.error {
            Some(error) => format!("{}: {error}", fields.message),
            None => fields.message,
        };
        *LAST_FETCH_ERROR.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    error: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = Some(format!("{value:?}")),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "error" => self.error = Some(value.to_owned()),
            _ => {}
        }
    }
}
