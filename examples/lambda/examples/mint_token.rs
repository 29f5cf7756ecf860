//! Prints a token the function accepts, for trying it locally (`scripts/lambda-local.sh`).
//!
//! ```text
//! openssl genpkey -algorithm ed25519 -out key.pem
//! openssl pkey -in key.pem -pubout -out key.pub.pem     # TOLLGATE_PUBLIC_KEY_FILE of the function
//! cargo run -q -p tollgate-lambda-router --example mint_token -- key.pem alice user
//! cargo run -q -p tollgate-lambda-router --example mint_token -- key.pem admin user admin
//! ```
//!
//! Signs with kid `demo-1`, as the demo does, for `TOLLGATE_ISSUER`, `TOLLGATE_AUDIENCE`
//! and `TOLLGATE_ROLES_CLAIM` (the function's defaults when unset).

use tollgate::{Signer, SigningKey, TokenRequest};
use tollgate_lambda_router::LambdaConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(key), Some(subject)) = (args.next(), args.next()) else {
        return Err("usage: mint_token <ed25519-private-key.pem> <sub> [role…]".into());
    };
    let roles: Vec<String> = args.collect();
    let defaults = LambdaConfig::default();
    let setting = |name: &str, default: String| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
    };
    let signer = Signer::builder(SigningKey::ed25519_pem("demo-1", &std::fs::read(key)?)?)
        .issuer(setting("TOLLGATE_ISSUER", defaults.issuer))
        .audience(setting("TOLLGATE_AUDIENCE", defaults.audience))
        .roles_claim(setting("TOLLGATE_ROLES_CLAIM", defaults.roles_claim))
        .build()?;
    println!(
        "{}",
        signer
            .issue(&TokenRequest::new(subject).roles(roles))?
            .token
    );
    Ok(())
}
