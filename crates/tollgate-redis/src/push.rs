//! Push invalidation: the message published with every change, and the [`Hub`] that turns
//! the connection's RESP3 push frames into [`Invalidation`]s for the listeners.

use redis::{PushInfo, PushKind, Value};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
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

/// A registered listener, held weakly: see [`Hub::add_listener`].
type WeakListener = Weak<dyn Fn(Invalidation) + Send + Sync>;

#[derive(Default)]
struct HubState {
    /// Whether the current connection is subscribed to the channel right now.
    subscribed: bool,
    /// Whether it ever was: a subscription after that is a reconnect.
    was_subscribed: bool,
    /// The number of the current connection: frames from a connection that was replaced
    /// are ignored.
    connection: u64,
    listeners: Vec<WeakListener>,
}

impl HubState {
    /// Calls every live listener, and forgets the dead ones.
    fn notify(&mut self, event: &Invalidation) {
        self.listeners.retain(|listener| match listener.upgrade() {
            Some(listener) => {
                listener(event.clone());
                true
            }
            None => false,
        });
    }
}

/// The subscription's state and the listeners. Each connection manager hands every push
/// frame to [`Hub::on_push`], on its own task, in the order the frames arrived, with the
/// number of its connection.
pub(crate) struct Hub {
    channel: String,
    state: Mutex<HubState>,
    /// Wakes the task that keeps the connection up: when the subscription is lost, and when
    /// an operation timed out (so that it checks the connection at once).
    wake: Notify,
}

impl Hub {
    pub(crate) fn new(channel: String) -> Self {
        Self {
            channel,
            state: Mutex::new(HubState::default()),
            wake: Notify::new(),
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

    /// The number of live listeners.
    pub(crate) fn listener_count(&self) -> usize {
        self.state()
            .listeners
            .iter()
            .filter(|listener| listener.strong_count() > 0)
            .count()
    }

    /// Resolves once the subscription has been lost or [`Hub::wake_keeper`] was called (at
    /// once if either happened since the last call).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Asks the task that keeps the connection up to check it now.
    pub(crate) fn wake_keeper(&self) {
        self.wake.notify_one();
    }

    /// Registers `listener`, and tells it at once if the subscription is already up.
    ///
    /// The hub holds it weakly: whoever registers it keeps it alive (each [`RedisStore`]
    /// value holds those registered through it), and it is forgotten once it is dropped, so
    /// that stores and caches that come and go leave nothing behind. Dead listeners are
    /// pruned here and whenever listeners are called.
    ///
    /// Listeners are called with the state lock held, so a listener registered concurrently
    /// with a change sees `Connected` and `Disconnected` in their real order.
    ///
    /// [`RedisStore`]: crate::RedisStore
    pub(crate) fn add_listener(&self, listener: &InvalidationListener) {
        let mut state = self.state();
        if state.subscribed {
            listener(Invalidation::Connected);
        }
        state
            .listeners
            .retain(|listener| listener.strong_count() > 0);
        state.listeners.push(Arc::downgrade(listener));
    }

    /// A push frame from connection number `connection`.
    pub(crate) fn on_push(&self, connection: u64, push: PushInfo) {
        let on_channel = push.data.first().and_then(bytes) == Some(self.channel.as_bytes());
        let mut state = self.state();
        if state.connection != connection {
            // A connection that was replaced: its subscription no longer counts.
            return;
        }
        // Sharded pub/sub (a cluster) has its own kinds of the same frames. A cluster
        // connection reports each node's disconnection: any of them counts as a loss until
        // the store's next subscription is confirmed.
        match push.kind {
            PushKind::Message | PushKind::SMessage if on_channel => {
                self.on_message(&mut state, push.data.get(1).and_then(bytes));
            }
            PushKind::Subscribe | PushKind::SSubscribe if on_channel => {
                self.set_subscribed(&mut state, true);
            }
            PushKind::Unsubscribe | PushKind::SUnsubscribe if on_channel => {
                self.set_subscribed(&mut state, false);
            }
            PushKind::Disconnection => self.set_subscribed(&mut state, false),
            _ => {}
        }
    }

    fn on_message(&self, state: &mut HubState, payload: Option<&[u8]>) {
        match payload.map(serde_json::from_slice::<Message>) {
            Some(Ok(message)) => state.notify(&message.into_invalidation()),
            _ => {
                // A change was announced that this version cannot read (a newer peer, or
                // something else publishing here): treat it as a gap in the stream, so that
                // caches drop every "not revoked" answer it could have changed.
                tracing::warn!(
                    target: "tollgate_redis",
                    channel = %self.channel,
                    "unreadable invalidation message; treating it as a gap in the stream"
                );
                if state.subscribed {
                    state.notify(&Invalidation::Disconnected);
                    state.notify(&Invalidation::Connected);
                }
            }
        }
    }

    /// The connection stopped answering without being closed: the subscription may be gone
    /// too, so count it as lost until a `SUBSCRIBE` is confirmed again.
    pub(crate) fn suspect(&self) {
        self.set_subscribed(&mut self.state(), false);
    }

    /// From now on only connection number `connection` counts; it is not subscribed yet.
    pub(crate) fn switch_to(&self, connection: u64) {
        let mut state = self.state();
        state.connection = connection;
        self.set_subscribed(&mut state, false);
    }

    fn set_subscribed(&self, state: &mut HubState, subscribed: bool) {
        if state.subscribed == subscribed {
            return;
        }
        state.subscribed = subscribed;
        let event = if subscribed {
            tracing::info!(target: "tollgate_redis", channel = %self.channel, "invalidation channel subscribed");
            if std::mem::replace(&mut state.was_subscribed, true) {
                #[cfg(feature = "metrics")]
                metrics::counter!(tollgate::telemetry::REVOCATION_PUSH_RECONNECTS).increment(1);
            }
            Invalidation::Connected
        } else {
            tracing::warn!(target: "tollgate_redis", channel = %self.channel, "invalidation channel lost; resubscribing");
            self.wake.notify_one();
            Invalidation::Disconnected
        };
        state.notify(&event);
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

    type Seen = Arc<Mutex<Vec<Invalidation>>>;

    /// A listener that records what it hears; the hub holds it only weakly, so the caller
    /// keeps it.
    fn recorder() -> (InvalidationListener, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let listener: InvalidationListener =
            Arc::new(move |event| sink.lock().unwrap().push(event));
        (listener, seen)
    }

    fn recording_hub() -> (Hub, InvalidationListener, Seen) {
        let hub = Hub::new("p:revocations".into());
        let (listener, seen) = recorder();
        hub.add_listener(&listener);
        (hub, listener, seen)
    }

    fn push(kind: PushKind, data: &[&[u8]]) -> PushInfo {
        PushInfo {
            kind,
            data: data.iter().map(|d| Value::BulkString(d.to_vec())).collect(),
        }
    }

    fn subscribed() -> PushInfo {
        push(PushKind::Subscribe, &[b"p:revocations"])
    }

    #[test]
    fn messages_round_trip() {
        let (hub, _listener, seen) = recording_hub();
        hub.on_push(0, subscribed());
        let token = Message::token("https://iss", "j1").encode();
        let subject = Message::subject("https://iss", "alice").encode();
        hub.on_push(
            0,
            push(PushKind::Message, &[b"p:revocations", token.as_bytes()]),
        );
        hub.on_push(0, push(PushKind::Message, &[b"other", token.as_bytes()]));
        hub.on_push(
            0,
            push(PushKind::Message, &[b"p:revocations", subject.as_bytes()]),
        );
        hub.on_push(
            0,
            PushInfo {
                kind: PushKind::Disconnection,
                data: vec![],
            },
        );
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
        let (hub, _listener, seen) = recording_hub();
        hub.on_push(0, subscribed());
        hub.on_push(
            0,
            push(PushKind::Message, &[b"p:revocations", b"{not json"]),
        );
        hub.on_push(
            0,
            push(PushKind::Message, &[b"p:revocations", br#"{"kind":"x"}"#]),
        );
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
        let (hub, _listener, _) = recording_hub();
        hub.on_push(0, subscribed());
        let (late, seen) = recorder();
        hub.add_listener(&late);
        assert_eq!(*seen.lock().unwrap(), [Invalidation::Connected]);
    }

    /// Once the connection is replaced, the old one's frames (its messages, its
    /// subscription, its disconnection) no longer count.
    #[test]
    fn frames_of_a_replaced_connection_are_ignored() {
        let (hub, _listener, seen) = recording_hub();
        hub.on_push(0, subscribed());
        hub.switch_to(1);
        assert!(!hub.is_subscribed());
        let token = Message::token("https://iss", "j1").encode();
        hub.on_push(
            0,
            push(PushKind::Message, &[b"p:revocations", token.as_bytes()]),
        );
        hub.on_push(0, subscribed());
        assert!(!hub.is_subscribed(), "the old connection's subscription");
        hub.on_push(1, subscribed());
        hub.on_push(
            0,
            PushInfo {
                kind: PushKind::Disconnection,
                data: vec![],
            },
        );
        assert!(hub.is_subscribed(), "the old connection's disconnection");
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Invalidation::Connected,
                Invalidation::Disconnected,
                Invalidation::Connected,
            ]
        );
    }

    /// Dropped listeners are forgotten: neither called nor kept.
    #[test]
    fn dropped_listeners_are_pruned() {
        let (hub, _kept, seen) = recording_hub();
        for _ in 0..10 {
            let (listener, _) = recorder();
            hub.add_listener(&listener);
        }
        // The last one registered is still in the list until listeners are next called.
        assert_eq!(hub.listener_count(), 1);
        assert_eq!(hub.state().listeners.len(), 2);
        hub.on_push(0, subscribed());
        assert_eq!(hub.state().listeners.len(), 1);
        assert_eq!(*seen.lock().unwrap(), [Invalidation::Connected]);

        // Dropped while the hub holds it: pruned on the next registration too.
        let (dropped, _) = recorder();
        hub.add_listener(&dropped);
        drop(dropped);
        let (another, _) = recorder();
        hub.add_listener(&another);
        assert_eq!(hub.state().listeners.len(), 2);
        assert_eq!(hub.listener_count(), 2);
    }
}
