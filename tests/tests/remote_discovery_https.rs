//! OIDC discovery over HTTPS: an issuer discovered over `https` must publish its keys over
//! `https` too. The provider is a server of the test's own on 127.0.0.1 speaking real TLS,
//! with a certificate from a CA the test makes at run time and the client is told to trust.

mod common;

use axum::Router;
use axum::routing::get;
use common::{AUDIENCE, App};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tollgate::remote::RemoteKeys;
use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::AuthLayer;

/// A CA and a certificate it issued for 127.0.0.1.
struct TestPki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn test_pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    TestPki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// A listener on 127.0.0.1 (port 0) and its address, to build the router knowing its base.
async fn bind() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Serves `router` over TLS on `listener` until the test ends.
fn serve_https(pki: &TestPki, listener: tokio::net::TcpListener, router: Router) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert.clone()],
            PrivateKeyDer::Pkcs8(pki.key.clone_key()),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
                    .await;
            });
        }
    });
}

/// Serves `router` over plain HTTP on `listener` until the test ends.
fn serve_http(listener: tokio::net::TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
}

/// A provider's routes: the discovery document of `issuer` naming `jwks_uri`, and the JWK
/// Set of `signer` at `/jwks.json`, whose requests are counted in `hits`.
fn provider(issuer: &str, jwks_uri: &str, signer: &Signer, hits: Arc<AtomicUsize>) -> Router {
    let document = json!({ "issuer": issuer, "jwks_uri": jwks_uri });
    let jwks = json!({ "keys": [signer.key().public_jwk().unwrap()] });
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        )
        .route(
            "/jwks.json",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        )
}

fn signer(kid: &str, issuer: &str) -> Signer {
    Signer::builder(SigningKey::generate_ed25519(kid).unwrap())
        .issuer(issuer)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// Discovers `issuer` with a client that trusts the test CA; the keys and the layer's router.
fn discover(pki: &TestPki, issuer: &str) -> (RemoteKeys, App) {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let keys = RemoteKeys::discover(issuer)
        .client(client)
        .timeout(Duration::from_secs(2))
        .cooldown(Duration::from_millis(200))
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .remote_keys(keys.clone())
        .issuer(issuer)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    (keys, App::new(AuthLayer::new(verifier)))
}

/// The same provider once with its key set behind `https` (loads), and once with its
/// discovery document, fetched over `https`, naming a plain-HTTP key set (refused: anyone on
/// the path could swap those keys).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_issuer_naming_an_http_jwks_uri_is_refused() {
    let pki = test_pki();

    // Control: discovery and key set over https.
    let (listener, addr) = bind().await;
    let issuer = format!("https://{addr}");
    let good = signer("https-1", &issuer);
    let hits = Arc::new(AtomicUsize::new(0));
    let jwks_uri = format!("{issuer}/jwks.json");
    serve_https(
        &pki,
        listener,
        provider(&issuer, &jwks_uri, &good, hits.clone()),
    );
    let (keys, app) = discover(&pki, &issuer);
    assert!(
        keys.wait_until_loaded(Duration::from_secs(5)).await,
        "keys over https did not load"
    );
    let token = good.issue(&TokenRequest::new("alice")).unwrap().token;
    app.bearer(&token).await.assert_accepted();
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // The downgrade: the https discovery document names an http key set.
    let (https_listener, https_addr) = bind().await;
    let (http_listener, http_addr) = bind().await;
    let issuer = format!("https://{https_addr}");
    let downgraded = signer("downgraded-1", &issuer);
    let jwks_uri = format!("http://{http_addr}/jwks.json");
    let https_hits = Arc::new(AtomicUsize::new(0));
    let http_hits = Arc::new(AtomicUsize::new(0));
    serve_https(
        &pki,
        https_listener,
        provider(&issuer, &jwks_uri, &downgraded, https_hits.clone()),
    );
    serve_http(
        http_listener,
        provider(&issuer, &jwks_uri, &downgraded, http_hits.clone()),
    );
    let (keys, app) = discover(&pki, &issuer);
    assert!(
        !keys.wait_until_loaded(Duration::from_millis(500)).await,
        "keys named over plain HTTP were loaded"
    );
    // The token cannot be judged (503), and the http key set was never asked.
    let token = downgraded.issue(&TokenRequest::new("alice")).unwrap().token;
    let outcome = app.bearer(&token).await;
    assert_eq!(
        outcome.status,
        http::StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        outcome.body
    );
    assert_eq!(outcome.json()["code"], "keys_unavailable");
    assert_eq!(
        http_hits.load(Ordering::SeqCst),
        0,
        "the http jwks_uri was fetched"
    );
    assert!(keys.fetch_count() >= 1, "no fetch was tried");
    assert!(keys.current().is_none());
}
