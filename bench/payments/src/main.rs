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
        (p, 0u32, Vec::new())
    });
    let mut ldk = runs("ldk").then(|| {
        let mut l = LdkPair::open();
        l.run(warm);
        (l, 0u32, Vec::new())
    });
    for _ in 0..SLICES {
        if let Some((p, done, times)) = lnwasm.as_mut() {
            let start = Instant::now();
            *done += p.run(slice);
            times.push(start.elapsed());
        }
        if let Some((l, done, times)) = ldk.as_mut() {
            let start = Instant::now();
            *done += l.run(slice);
            times.push(start.elapsed());
        }
    }
    if let Some((p, done, times)) = lnwasm {
        report("lnwasm", done, slice, &times);
        eprintln!(
            "lnwasm stored channel record after {} payments: {} bytes",
            done + warm,
            p.record_bytes()
        );
    }
    if let Some((l, done, times)) = ldk {
        report("ldk", done, slice, &times);
        eprintln!(
            "LDK serialized channel monitor after {} payments: {} bytes",
            done + warm,
            l.monitor_bytes()
        );
        let ((ma, ua), (mb, ub)) = l.stored();
        eprintln!(
            "LDK persisted in memory: A {ma} monitor + {ua} updates, B {mb} monitor + {ub} updates"
        );
    }
}

/// Prints the result line and, on stderr, the rate of each slice (a rate
/// that falls from slice to slice means a cost that grows with history).
fn report(name: &str, done: u32, slice: u32, times: &[Duration]) {
    let secs = times.iter().sum::<Duration>().as_secs_f64();
    println!("{name} {done} {secs:.6} {:.1}", f64::from(done) / secs);
    let rates: Vec<String> = times
        .iter()
        .map(|t| format!("{:.0}", f64::from(slice) / t.as_secs_f64()))
        .collect();
    eprintln!(
        "{name} payments/s per slice of {slice}: {}",
        rates.join(" ")
    );
}
