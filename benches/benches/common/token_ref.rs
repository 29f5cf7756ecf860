//! The revocation view of one real, verified token, shared by the Redis benches.

use tollgate::revocation::TokenRef;
use tollgate::{Signer, SigningKey, TokenRequest, Verifier};

/// A freshly signed Ed25519 token of `alice` from `https://issuer.bench`, verified, as the
/// layer would hand it to a revocation store.
pub(crate) fn token_ref() -> TokenRef {
    let signer = Signer::builder(SigningKey::generate_ed25519("bench").unwrap())
        .issuer("https://issuer.bench")
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer("https://issuer.bench")
        .build()
        .unwrap();
    let verified = verifier
        .verify(&signer.issue(&TokenRequest::new("alice")).unwrap().token)
        .unwrap();
    TokenRef::new(&verified)
}
