//! Heap allocations per verification and per request, per algorithm.
//!
//! ```text
//! cargo bench -p tollgate-benches --bench allocations
//! ```
//!
//! dhat's global allocator counts every heap block; each figure is the number of blocks
//! allocated (and their bytes) over many iterations, divided by the iteration count. Requests run on a current-thread runtime, so nothing else allocates
//! meanwhile; "layer" is a request through `AuthLayer` minus a request through the same
//! router without it (the baseline's own allocations are printed too).

mod common;

use std::hint::black_box;
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: dhat::Alloc = dhat::Alloc;

/// Blocks and bytes allocated so far (dhat's running totals).
struct Snapshot {
    allocations: u64,
    bytes: u64,
}

fn snapshot() -> Snapshot {
    let stats = dhat::HeapStats::get();
    Snapshot {
        allocations: stats.total_blocks,
        bytes: stats.total_bytes,
    }
}

const ITERATIONS: u64 = 1_000;

/// Allocations and bytes per call of `f`, after a warm-up.
fn per_call(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..100 {
        f();
    }
    let before = snapshot();
    for _ in 0..ITERATIONS {
        f();
    }
    let after = snapshot();
    let n = ITERATIONS as f64;
    (
        (after.allocations - before.allocations) as f64 / n,
        (after.bytes - before.bytes) as f64 / n,
    )
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{:<6} {:>16} {:>16} {:>16} {:>16} {:>16} {:>18} {:>18} {:>22} {:>18}",
        "alg",
        "floor",
        "floor_typed",
        "verifier",
        "check",
        "no-auth request",
        "layer (request)",
        "+ revocation",
        "+ revocation + role",
        "token cache hit"
    );
    for case in common::cases() {
        let floor = per_call(|| {
            black_box(case.floor().unwrap());
        });
        let floor_typed = per_call(|| {
            black_box(case.floor_typed().unwrap());
        });
        let verifier = per_call(|| {
            black_box(case.verifier.verify(black_box(&case.token)).unwrap());
        });
        let check = per_call(|| {
            black_box(case.verifier.check(black_box(&case.token)).unwrap());
        });
        let request = |router: axum::Router| {
            per_call(|| {
                let response = rt.block_on(router.clone().oneshot(case.request())).unwrap();
                assert_eq!(response.status(), 200);
                black_box(response);
            })
        };
        let no_auth = request(common::router_no_auth());
        let layer = request(case.router());
        let revocation = request(case.router_revocation());
        let role = request(case.router_revocation_role());
        let cached = request(case.router_token_cache());
        let show = |(a, b): (f64, f64)| format!("{a:.1} ({b:.0} B)");
        let minus = |(a, b): (f64, f64)| format!("{:.1} ({:.0} B)", a - no_auth.0, b - no_auth.1);
        println!(
            "{:<6} {:>16} {:>16} {:>16} {:>16} {:>16} {:>18} {:>18} {:>22} {:>18}",
            case.name,
            show(floor),
            show(floor_typed),
            show(verifier),
            show(check),
            show(no_auth),
            minus(layer),
            minus(revocation),
            minus(role),
            minus(cached)
        );
    }
}
