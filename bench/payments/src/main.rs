//! Native run: `payments [N] [lnwasm|ldk]` makes N payments (default 2000)
//! with lnwasm and with LDK (or only the one named), and prints
//! `name payments seconds payments_per_second` lines that
//! `bench/payments.sh` turns into a table.
//!
//! The two are timed in interleaved slices (N/10 payments of one, then of
//! the other, ten times) so that a machine whose load changes during the
//! run slows both alike.

use std::time::{Duration, Instant};

use lnwasm_bench_payments::ldk::LdkPair;
use lnwasm_bench_payments::Pair;

const SLICES: u32 = 10;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N is a number"))
        .unwrap_or(2000);
    let only = std::env::args().nth(2);
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    // Even slices keep the direction alternating across slices.
    let slice = (n / SLICES).max(2) & !1;
    // Warm-up outside the timed part (first-use costs: tables, allocator).
    let warm = slice;

    let mut lnwasm = runs("lnwasm").then(|| {
        let mut p = Pair::open();
        p.run(warm);
        (p, 0u32, Duration::ZERO)
    });
    let mut ldk = runs("ldk").then(|| {
        let mut l = LdkPair::open();
        l.run(warm);
        (l, 0u32, Duration::ZERO)
    });
    for _ in 0..SLICES {
        if let Some((p, done, time)) = lnwasm.as_mut() {
            let start = Instant::now();
            *done += p.run(slice);
            *time += start.elapsed();
        }
        if let Some((l, done, time)) = ldk.as_mut() {
            let start = Instant::now();
            *done += l.run(slice);
            *time += start.elapsed();
        }
    }
    if let Some((_, done, time)) = lnwasm {
        report("lnwasm", done, time);
    }
    if let Some((l, done, time)) = ldk {
        report("ldk", done, time);
        let ((ma, ua), (mb, ub)) = l.stored();
        eprintln!(
            "LDK persisted in memory: A {ma} monitor + {ua} updates, B {mb} monitor + {ub} updates"
        );
    }
}

fn report(name: &str, done: u32, time: Duration) {
    let secs = time.as_secs_f64();
    println!("{name} {done} {secs:.6} {:.1}", f64::from(done) / secs);
}
