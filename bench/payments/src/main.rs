//! Native run: `payments [N]` makes N payments (default 2000) with lnwasm,
//! then with LDK, and prints `name payments seconds payments_per_second`
//! lines that `bench/payments.sh` turns into a table.

use std::time::Instant;

use lnwasm_bench_payments::ldk::LdkPair;
use lnwasm_bench_payments::Pair;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N is a number"))
        .unwrap_or(2000);
    // Warm-up outside the timed part (first-use costs: tables, allocator).
    let warm = (n / 10).max(2) & !1;

    let mut p = Pair::open();
    p.run(warm);
    let start = Instant::now();
    let done = p.run(n);
    report("lnwasm", done, start.elapsed().as_secs_f64());

    let mut l = LdkPair::open();
    l.run(warm);
    let start = Instant::now();
    let done = l.run(n);
    report("ldk", done, start.elapsed().as_secs_f64());
    let ((ma, ua), (mb, ub)) = l.stored();
    eprintln!("ldk persisted: A {ma} monitor(s) + {ua} updates, B {mb} monitor(s) + {ub} updates");
}

fn report(name: &str, done: u32, secs: f64) {
    println!("{name} {done} {secs:.6} {:.1}", f64::from(done) / secs);
}
