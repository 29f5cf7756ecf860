//! Revocation through the `AuthLayer`: cases 37–39 of `docs/security-cases.md` (case 40, the
//! store failure policy, runs against a real Redis in `revocation_stores.rs`).

mod common;

use common::*;
use serde_json::json;
use tollgate::MemoryStore;
use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};

fn revoking_app(store: &CountingStore) -> App {
    App::new(layer().revocation(store.clone()))
}

/// The revocation view of `token`, as the layer computes it.
fn token_ref(token: &str) -> TokenRef {
    TokenRef::new(&verifier().build().unwrap().verify(token).unwrap())
}

async fn revoke(store: &CountingStore, token: &str) {
    let token = token_ref(token);
    store
        .revoke_token(
            &token.issuer,
            token.subject.as_deref(),
            &token.id,
            token.until,
        )
        .await
        .unwrap();
}

const REVOKED: (&str, &str) = ("token_revoked", "token revoked");

#[tokio::test]
async fn case_37_a_revoked_jti_is_refused_and_others_are_not() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    let revoked = token_with_claims(TestKey::Es, json!({ "jti": "j-1" }));
    let other = token_with_claims(TestKey::Es, json!({ "jti": "j-2" }));
    app.bearer(&revoked).await.assert_accepted();

    revoke(&store, &revoked).await;
    app.bearer(&revoked)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    app.bearer(&other).await.assert_accepted();
}

#[tokio::test]
async fn case_37_revocations_are_namespaced_by_issuer() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    let token = token_with_claims(TestKey::Es, json!({ "jti": "shared-id" }));
    store
        .revoke_token("https://another.issuer", None, "shared-id", now() + 600)
        .await
        .unwrap();
    app.bearer(&token).await.assert_accepted();
}

#[tokio::test]
async fn case_37_a_re_encoded_copy_of_a_revoked_token_is_still_refused() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    for token in [
        token_with_claims(TestKey::Es, json!({ "jti": "j-3" })),
        // Without `jti`, revocation keys on the hash of the decoded claim set.
        token(TestKey::Es, &claims_with(json!({ "sub": "no-jti" }))),
    ] {
        let copy = malleated(&token);
        assert_ne!(copy, token);
        // The copy is a genuinely valid token: an app without revocation accepts it.
        App::default_app().bearer(&copy).await.assert_accepted();

        revoke(&store, &token).await;
        app.bearer(&token)
            .await
            .assert_invalid_token(REVOKED.0, REVOKED.1);
        app.bearer(&copy)
            .await
            .assert_invalid_token(REVOKED.0, REVOKED.1);
    }
}

#[tokio::test]
async fn case_37_a_token_without_jti_is_named_by_its_decoded_claims() {
    let token = token(TestKey::Ed, &claims());
    let id = token_ref(&token).id;
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(
        !token.contains(&id[7..]),
        "the id must not be derived from the token text"
    );
    // The same claims signed again (Ed25519 is deterministic, so use another key) have the
    // same name: the id depends on the claims, not on the signature.
    let claims = serde_json::to_string(&claims()).unwrap();
    let a = forge_raw(
        TestKey::Es.header().to_string().as_bytes(),
        claims.as_bytes(),
        TestKey::Es,
    );
    let b = forge_raw(
        TestKey::Rs.header().to_string().as_bytes(),
        claims.as_bytes(),
        TestKey::Rs,
    );
    assert_eq!(token_ref(&a).id, token_ref(&b).id);
}

#[tokio::test]
async fn case_38_subject_cut_off() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    let cut_off = now();
    let before = token_with_claims(TestKey::Hs, json!({ "iat": cut_off - 1, "jti": "a" }));
    let at = token_with_claims(TestKey::Hs, json!({ "iat": cut_off, "jti": "b" }));
    let after = token_with_claims(TestKey::Hs, json!({ "iat": cut_off + 1, "jti": "c" }));
    let without_iat = token(
        TestKey::Hs,
        &without(claims_with(json!({ "jti": "d" })), &["iat"]),
    );
    let someone_else = token_with_claims(TestKey::Hs, json!({ "iat": cut_off - 1, "sub": "bob" }));

    store
        .revoke_subject(ISSUER, "alice", cut_off, cut_off + 3600)
        .await
        .unwrap();
    app.bearer(&before)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    app.bearer(&without_iat)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    app.bearer(&at).await.assert_accepted();
    app.bearer(&after).await.assert_accepted();
    app.bearer(&someone_else).await.assert_accepted();

    store.remove_subject(ISSUER, "alice").await.unwrap();
    app.bearer(&before).await.assert_accepted();
}

#[tokio::test]
async fn case_39_a_token_that_fails_verification_causes_no_lookup() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    let refused = [
        token(TestKey::Attacker, &claims()),
        token_with_claims(TestKey::Es, json!({ "exp": now() - 3600 })),
        token_with_claims(TestKey::Es, json!({ "aud": "someone-else" })),
        token_with_header(TestKey::Es, json!({ "alg": "none" })),
        "garbage".to_owned(),
    ];
    for token in &refused {
        let outcome = app.bearer(token).await;
        assert_eq!(outcome.status, http::StatusCode::UNAUTHORIZED);
        assert_eq!(outcome.runs, 0);
    }
    assert_eq!(
        store.lookups(),
        0,
        "a refused token must not reach the store"
    );

    app.bearer(&token(TestKey::Es, &claims()))
        .await
        .assert_accepted();
    assert_eq!(store.lookups(), 1, "one lookup per accepted request");
}

#[tokio::test]
async fn logout_through_the_helper_revokes_until_exp() {
    let store = MemoryStore::new();
    let token = token_with_claims(TestKey::Es, json!({ "jti": "logout" }));
    let verified = verifier().build().unwrap().verify(&token).unwrap();
    tollgate::revocation::revoke(&store, &verified)
        .await
        .unwrap();
    assert_eq!(
        store.check_now(&TokenRef::new(&verified)),
        Some(Status::TokenRevoked)
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn a_revoked_token_stays_refused_through_its_leeway() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    // Expired 30 s ago, still inside the default 60 s leeway: accepted until revoked.
    let exp = now() - 30;
    let token = token_with_claims(TestKey::Es, json!({ "jti": "late", "exp": exp }));
    app.bearer(&token).await.assert_accepted();
    assert_eq!(
        token_ref(&token).until,
        exp + 60,
        "kept as long as it is accepted"
    );

    revoke(&store, &token).await;
    app.bearer(&token)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
}

#[tokio::test]
async fn a_later_cut_off_is_never_weakened_by_an_earlier_one() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    let t = now();
    let token = token_with_claims(TestKey::Hs, json!({ "iat": t - 10, "jti": "cut" }));
    store
        .revoke_subject(ISSUER, "alice", t, t + 3600)
        .await
        .unwrap();
    store
        .revoke_subject(ISSUER, "alice", t - 100, t + 60)
        .await
        .unwrap();
    app.bearer(&token)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
}

/// A store whose lookups never finish, like a Redis that stopped answering.
#[derive(Debug, Default)]
struct Hanging;

impl RevocationStore for Hanging {
    fn revoke_token<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
        _: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::pending())
    }

    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::pending())
    }

    fn remove_token<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::pending())
    }

    fn remove_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::pending())
    }

    fn check<'a>(&'a self, _: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn cancelled_lookups_leave_nothing_behind() {
    let cache = tollgate::CachingStore::new(Hanging);
    for i in 0..200 {
        let token = token_ref(&token_with_claims(
            TestKey::Hs,
            json!({ "jti": format!("c-{i}") }),
        ));
        let lookup = cache.check(&token);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(1), lookup)
                .await
                .is_err()
        );
    }
    assert_eq!(
        cache.lookups_in_flight(),
        0,
        "dropped requests must not leak in-flight cells"
    );
}

/// A token may claim an `iat` in the future (the verifier does not validate `iat` unless
/// told to): it must not escape a cut-off that covers every token issued up to now.
#[tokio::test]
async fn a_future_iat_does_not_beat_a_subject_cut_off() {
    let store = CountingStore::default();
    let app = revoking_app(&store);
    let t = now();
    let forward_dated = token_with_claims(TestKey::Hs, json!({ "iat": t + 3600, "jti": "fut" }));
    // Within the leeway, a clock a little ahead is not treated as forward-dating.
    let slightly_ahead = token_with_claims(TestKey::Hs, json!({ "iat": t + 30, "jti": "ahead" }));
    app.bearer(&forward_dated).await.assert_accepted();

    store
        .revoke_subject(ISSUER, "alice", t + 1, t + 7200)
        .await
        .unwrap();
    app.bearer(&forward_dated)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    app.bearer(&slightly_ahead).await.assert_accepted();
}

/// The in-memory store answering only through the awaited `check`, as a remote store does:
/// a [`tollgate::CachingStore`] in front of it then answers repeats from its own cache.
#[derive(Debug, Clone, Default)]
struct Remote(MemoryStore);

impl RevocationStore for Remote {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_token(issuer, subject, id, until)
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_subject(issuer, subject, before, until)
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.remove_token(issuer, subject, id)
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.remove_subject(issuer, subject)
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        self.0.check(token)
    }
}

/// Two tokens with the same `jti` (providers and authorizer contexts that reuse a session
/// id) but another subject or `iat` must each get their own verdict from a cache in front of
/// the store: the answer depends on all of them, not on the id alone.
#[tokio::test]
async fn a_caching_store_keys_its_answers_on_subject_and_iat_too() {
    let t = now();
    let bob = token_with_claims(TestKey::Hs, json!({ "jti": "session-1", "sub": "bob" }));
    let alice = token_with_claims(TestKey::Hs, json!({ "jti": "session-1", "sub": "alice" }));
    let new = token_with_claims(
        TestKey::Hs,
        json!({ "jti": "session-2", "sub": "carol", "iat": t + 1 }),
    );
    let old = token_with_claims(
        TestKey::Hs,
        json!({ "jti": "session-2", "sub": "carol", "iat": t - 100 }),
    );
    let store = Remote::default();
    store
        .revoke_subject(ISSUER, "alice", t + 1, t + 7200)
        .await
        .unwrap();
    store
        .revoke_subject(ISSUER, "carol", t, t + 7200)
        .await
        .unwrap();
    let cache = tollgate::CachingStore::builder(store)
        .active_ttl(std::time::Duration::from_secs(60))
        .build();
    let app = App::new(layer().revocation(cache.clone()));
    // The first answer of each pair ("not revoked") is cached...
    app.bearer(&bob).await.assert_accepted();
    app.bearer(&new).await.assert_accepted();
    // ... and must not decide the token that shares its id.
    app.bearer(&alice)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    app.bearer(&old)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    // Repeats are answered from the cache, each with its own verdict.
    app.bearer(&bob).await.assert_accepted();
    app.bearer(&alice)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    assert_eq!(cache.cached_entries(), 4);

    // A logout of one of them (by id) forgets every cached answer for that id.
    tollgate::revocation::revoke(&cache, &verifier().build().unwrap().verify(&bob).unwrap())
        .await
        .unwrap();
    app.bearer(&bob)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
}
