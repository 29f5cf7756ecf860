//! `tollgate-loadtest`: serves the load-test routes on `LOADTEST_ADDR` (default
//! `127.0.0.1:0`) and prints `listening on http://…` first; `tollgate-loadtest --mint N`
//! prints N valid RS256 tokens, one per line, and exits.

use std::io::{BufWriter, Write};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, n] = args.as_slice()
        && flag == "--mint"
    {
        let n: u64 = n.parse()?;
        let signer = tollgate_loadtest::signer()?;
        // RSA signing is slow (~1 ms): mint on every core.
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get() as u64);
        let chunks = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let signer = &signer;
                    scope.spawn(move || {
                        let mut chunk = String::new();
                        for i in (t..n).step_by(threads as usize) {
                            chunk.push_str(&tollgate_loadtest::mint(signer, i)?);
                            chunk.push('\n');
                        }
                        Ok::<_, tollgate::IssueError>(chunk)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("minting thread panicked"))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut out = BufWriter::new(std::io::stdout().lock());
        for chunk in chunks {
            out.write_all(chunk.as_bytes())?;
        }
        out.flush()?;
        return Ok(());
    }
    if !args.is_empty() {
        return Err("usage: tollgate-loadtest [--mint N]".into());
    }
    let addr = std::env::var("LOADTEST_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, tollgate_loadtest::app()?).await?;
    Ok(())
}
