//! Push invalidation: the message published with every change, and the [`Hub`] that turns
//! the connection's RESP3 push frames into [`Invalidation`]s for the listeners.

use redis::{PushInfo, PushKind, Value};
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tollgate::revocation::{Invalidation, InvalidationListener};

/// What is published on the channel with every revocation and removal. Unknown fields are
/// ignored, so a later version may add some.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Message {
    Token { iss: String, id: String },
    Subject { iss: String, sub: String },
}

impl Message {
    pub(crate) fn token(issuer: &str, id: &str) -> Self {
        Message::Token {
            iss: issuer.to_owned(),
            id: id.to_owned(),
        }
    }

    pub(crate) fn subject(issuer: &str, subject: &str) -> Self {
        Message::Subject {
            iss: issuer.to_owned(),
            sub: subject.to_owned(),
        }
    }

    pub(crate) fn encode(&self) -> String {
        // Two strings in a tagged enum: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn into_invalidation(self) -> Invalidation {
        match self {
            Message::Token { iss, id } => Invalidation::Token { issuer: iss, id },
            Message::Subject { iss, sub } => Invalidation::Subject {
                issuer: iss,
                subject: sub,
            },
        }
    }
}

#[derive(Default)]
struct HubState {
    /// Whether the connection is subscribed to the channel right now.
    subscribed: bool,
    listeners: Vec<InvalidationListener>,
}

/// The subscription's state and the listeners. The connection manager hands every push
/// frame to [`Hub::on_push`], on its own task, in the order the frames arrived.
pub(crate) struct Hub {
    channel: String,
    state: Mutex<HubState>,
    /// Woken when the subscription is lost, so that the resubscribing task can sleep while
    /// it is up.
    lost: Notify,
}

impl Hub {
    pub(crate) fn new(channel: String) -> Self {
        Self {
            channel,
            state: Mutex::new(HubState::default()),
            lost: Notify::new(),
        }
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        // A panicking listener must not take the push channel down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_subscribed(&self) -> bool {
        self.state().subscribed
    }

    /// Resolves once the subscription has been lost (at once if it was lost since the last
    /// call).
    pub(crate) async fn lost(&self) {
        self.lost.notified().await;
    }

    /// Registers `listener`, and tells it at once if the subscription is already up.
    ///
    /// Listeners are called with the state lock held, so a listener registered concurrently
    /// with a change sees `Connected` and `Disconnected` in their real order.
    pub(crate) fn add_listener(&self, listener: InvalidationListener) {
        let mut state = self.state();
        if state.subscribed {
            listener(Invalidation::Connected);
        }
        state.listeners.push(listener);
    }

    pub(crate) fn on_push(&self, push: PushInfo) {
        let on_channel = push.data.first().and_then(bytes) == Some(self.channel.as_bytes());
        match push.kind {
            PushKind::Message if on_channel => self.on_message(push.data.get(1).and_then(bytes)),
            PushKind::Subscribe if on_channel => self.set_subscribed(true),
            PushKind::Unsubscribe if on_channel => self.set_subscribed(false),
            PushKind::Disconnection => self.set_subscribed(false),
            _ => {}
        }
    }

    fn on_message(&self, payload: Option<&[u8]>) {
        match payload.map(serde_json::from_slice::<Message>) {
            Some(Ok(message)) => self.notify(message.into_invalidation()),
            _ => {
                // A change was announced that this version cannot read (a newer peer, or
                // something else publishing here): treat it as a gap in the stream, so that
                // caches drop every "not revoked" answer it could have changed.
                tracing::warn!(
                    target: "tollgate_redis",
                    channel = %self.channel,
                    "unreadable invalidation message; treating it as a gap in the stream"
                );
                let state = self.state();
                if state.subscribed {
                    for listener in &state.listeners {
                        listener(Invalidation::Disconnected);
                        listener(Invalidation::Connected);
                    }
                }
            }
        }
    }

    /// The connection stopped answering without being closed: the subscription may be gone
    /// too, so count it as lost until a `SUBSCRIBE` is confirmed again.
    pub(crate) fn suspect(&self) {
        self.set_subscribed(false);
    }

    fn set_subscribed(&self, subscribed: bool) {
        let mut state = self.state();
        if state.subscribed == subscribed {
            return;
        }
        state.subscribed = subscribed;
        let event = if subscribed {
            tracing::info!(target: "tollgate_redis", channel = %self.channel, "invalidation channel subscribed");
            Invalidation::Connected
        } else {
            tracing::warn!(target: "tollgate_redis", channel = %self.channel, "invalidation channel lost; resubscribing");
            self.lost.notify_one();
            Invalidation::Disconnected
        };
        for listener in &state.listeners {
            listener(event.clone());
        }
    }

    fn notify(&self, event: Invalidation) {
        for listener in &self.state().listeners {
            listener(event.clone());
        }
    }
}

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn recording_hub() -> (Hub, Arc<Mutex<Vec<Invalidation>>>) {
        let hub = Hub::new("p:revocations".into());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        hub.add_listener(Arc::new(move |event| sink.lock().unwrap().push(event)));
        (hub, seen)
    }

    fn push(kind: PushKind, data: &[&[u8]]) -> PushInfo {
        PushInfo {
            kind,
            data: data.iter().map(|d| Value::BulkString(d.to_vec())).collect(),
        }
    }

    #[test]
    fn messages_round_trip() {
        let (hub, seen) = recording_hub();
        hub.on_push(push(PushKind::Subscribe, &[b"p:revocations"]));
        let token = Message::token("https://iss", "j1").encode();
        let subject = Message::subject("https://iss", "alice").encode();
        hub.on_push(push(
            PushKind::Message,
            &[b"p:revocations", token.as_bytes()],
        ));
        hub.on_push(push(PushKind::Message, &[b"other", token.as_bytes()]));
        hub.on_push(push(
            PushKind::Message,
            &[b"p:revocations", subject.as_bytes()],
        ));
        hub.on_push(PushInfo {
            kind: PushKind::Disconnection,
            data: vec![],
        });
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Invalidation::Connected,
                Invalidation::Token {
                    issuer: "https://iss".into(),
                    id: "j1".into()
                },
                Invalidation::Subject {
                    issuer: "https://iss".into(),
                    subject: "alice".into()
                },
                Invalidation::Disconnected,
            ]
        );
    }

    #[test]
    fn an_unreadable_message_is_a_gap() {
        let (hub, seen) = recording_hub();
        hub.on_push(push(PushKind::Subscribe, &[b"p:revocations"]));
        hub.on_push(push(PushKind::Message, &[b"p:revocations", b"{not json"]));
        hub.on_push(push(
            PushKind::Message,
            &[b"p:revocations", br#"{"kind":"x"}"#],
        ));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Invalidation::Connected,
                Invalidation::Disconnected,
                Invalidation::Connected,
                Invalidation::Disconnected,
                Invalidation::Connected,
            ]
        );
    }

    #[test]
    fn a_late_listener_learns_the_subscription_is_up() {
        let (hub, _) = recording_hub();
        hub.on_push(push(PushKind::Subscribe, &[b"p:revocations"]));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        hub.add_listener(Arc::new(move |event| sink.lock().unwrap().push(event)));
        assert_eq!(*seen.lock().unwrap(), [Invalidation::Connected]);
    }
}
