//! Writes the seed corpora into `fuzz/seeds/<target>/`:
//! `cargo run --example make_seeds` (from `fuzz/`, plain stable, no fuzzing flags).
//!
//! The tokens are valid at `tollgate_fuzz::NOW`, which the targets verify at, so the
//! committed seeds never expire. ECDSA signatures are randomized: rerunning rewrites them.

use std::fs;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let verify = root.join("verify_token");
    for (name, token) in tollgate_fuzz::seed_tokens() {
        write(&verify, &name, token.as_bytes());
    }
    for (name, bytes) in tollgate_fuzz::signed_mode_seeds() {
        write(&verify, &name, &bytes);
    }
    let jwks = root.join("jwks_parse");
    for (name, text) in tollgate_fuzz::seed_jwks() {
        write(&jwks, &name, text.as_bytes());
    }
    // Sanity: the strict seeds are accepted by the strict verifier.
    let fx = tollgate_fuzz::fixture();
    for (name, token) in tollgate_fuzz::seed_tokens() {
        let strict = fx.strict.verify_at(&token, tollgate_fuzz::NOW);
        let lenient = fx.lenient.verify_at(&token, tollgate_fuzz::NOW);
        let multi = fx.multi.verify_at(&token, tollgate_fuzz::NOW);
        println!(
            "{name:16} strict={:<24} lenient={:<24} multi={}",
            verdict(&strict),
            verdict(&lenient),
            verdict(&multi)
        );
    }
    println!("wrote {}", root.display());
}

fn verdict<T>(r: &Result<T, tollgate::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.kind().code().into(),
    }
}
