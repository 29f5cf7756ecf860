//! `RemoteKeys::last_error`: why the most recent JWK Set fetch failed, against a minimal
//! key server on 127.0.0.1 (and a port nothing listens on).

#![cfg(feature = "remote")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tollgate::remote::{FetchError, RemoteKeys};

const JWKS: &str = include_str!("fixtures/ed25519-jwks.json");

/// A server answering every request with `status` (the JWK Set with 200, else no body);
/// its URL and the status to change.
async fn key_server(status: u16) -> (String, Arc<AtomicU16>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let status = Arc::new(AtomicU16::new(status));
    let answer = Arc::clone(&status);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let status = answer.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = if status == 200 { JWKS } else { "" };
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, status)
}

/// Waits (at most 5 s) until `keys` reports a fetch error.
async fn first_error(keys: &RemoteKeys) -> Arc<FetchError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(error) = keys.last_error() {
            return error;
        }
        assert!(Instant::now() < deadline, "no fetch error within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_refused_answer_is_the_last_error_until_a_fetch_succeeds() {
    let (url, status) = key_server(404).await;
    let keys = RemoteKeys::jwks(&url).build().unwrap();
    let error = first_error(&keys).await;
    assert!(matches!(*error, FetchError::Status(404)), "{error:?}");
    assert_eq!(error.to_string(), "server answered 404");
    assert!(keys.current().is_none());
    assert!(format!("{keys:?}").contains("server answered 404"));

    status.store(200, Ordering::SeqCst);
    assert!(
        keys.refresh_for_unknown_kid().await,
        "the refetch loads keys"
    );
    assert!(keys.current().is_some_and(|set| set.len() == 1));
    assert!(keys.last_error().is_none(), "a successful fetch clears it");
}

#[tokio::test]
async fn a_provider_out_of_reach_is_an_http_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let keys = RemoteKeys::jwks(format!("http://127.0.0.1:{port}/jwks.json"))
        .build()
        .unwrap();
    let error = first_error(&keys).await;
    assert!(matches!(*error, FetchError::Http(_)), "{error:?}");
    assert!(error.to_string().starts_with("request failed: "), "{error}");
    assert!(!keys.wait_until_loaded(Duration::from_millis(10)).await);
}

#[tokio::test]
async fn no_error_after_a_successful_first_fetch() {
    let (url, _) = key_server(200).await;
    let keys = RemoteKeys::jwks(&url).build().unwrap();
    assert!(keys.wait_until_loaded(Duration::from_secs(5)).await);
    assert!(keys.last_error().is_none());
}
