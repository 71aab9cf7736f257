//! Randomised sequences of adds, fulfills, fails, fee updates, partial
//! deliveries, disconnects and crashes (before and after persisting)
//! between two lnwasm channels. After every step: balances + HTLCs =
//! capacity on both sides and every signature on each side's commitment
//! verifies; at the end both sides converge and agree on both commitments.
//!
//! `CHANNEL_PROP_CASES` sets the number of sequences (default 200 in release
//! builds, 25 in debug builds to keep CI time modest).

#[path = "channel_harness.rs"]
mod harness;

use std::collections::HashMap;

use harness::*;
use lnwasm::channel::{Command, Event, HtlcDir, Link};
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::Msat;
use lnwasm::wire::Message;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn side(r: &mut Rng) -> Side {
    if r.below(2) == 0 {
        Side::Holder
    } else {
        Side::Counterparty
    }
}

fn crash_node(p: &mut Pair, s: Side, crash: Crash) {
    let (x, y) = p.node(s);
    let cmd = match y.outbox.pop_front() {
        Some(m) => Command::Message(m),
        None => Command::Sign,
    };
    if *x.ch.link() == Link::Online {
        if let Ok(acts) = x.ch.handle(cmd) {
            x.run(acts, Some(crash));
        }
    }
    x.reload();
    p.disconnect();
    p.reconnect();
}

fn no_violations(p: &Pair) {
    for n in [&p.a, &p.b] {
        assert!(
            !n.events
                .iter()
                .any(|e| matches!(e, Event::PeerViolation(_) | Event::PeerError { .. })),
            "{:?}",
            n.events
                .iter()
                .filter(|e| matches!(e, Event::PeerViolation(_) | Event::PeerError { .. }))
                .collect::<Vec<_>>()
        );
        assert!(!n
            .sent
            .iter()
            .any(|m| matches!(m, Message::Error(_) | Message::Warning(_))));
        assert_eq!(
            n.published.len(),
            usize::from(std::ptr::eq(n, &p.a)),
            "only the funding tx is ever published"
        );
    }
}

fn run_case(seed: u64, steps: usize) {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let anchors = r.below(2) == 0;
    let mut p = open_pair(OpenOpts {
        anchors,
        ..Default::default()
    });
    let mut preimages: HashMap<(bool, u64), u64> = HashMap::new();
    let mut n = 0u64;
    for _ in 0..steps {
        let online = *p.a.ch.link() == Link::Online && *p.b.ch.link() == Link::Online;
        match r.below(12) {
            0..=2 if online => {
                let s = side(&mut r);
                let amount = Msat(if r.below(3) == 0 {
                    1_000 + r.below(500_000)
                } else {
                    1_000_000 + r.below(30_000_000)
                });
                n += 1;
                if let Ok(id) = p.add(s, amount, n) {
                    preimages.insert((s == Side::Holder, id), n);
                }
            }
            3 | 4 => {
                // The receiver settles one of its cross-signed incoming HTLCs.
                let s = side(&mut r);
                let fulfill = r.below(3) != 0;
                let (x, _) = p.node(s);
                let c = x.ch.commitments().unwrap();
                let incoming: Vec<u64> = c
                    .local_commit
                    .spec
                    .htlcs
                    .iter()
                    .filter(|h| h.dir == HtlcDir::Received)
                    .map(|h| h.add.id)
                    .collect();
                if incoming.is_empty() {
                    continue;
                }
                let id = incoming[r.below(incoming.len() as u64) as usize];
                let cmd = if fulfill {
                    let k = preimages[&(s != Side::Holder, id)];
                    Command::FulfillHtlc {
                        id,
                        preimage: preimage(k),
                    }
                } else {
                    Command::FailHtlc {
                        id,
                        reason: vec![0x42; 4],
                    }
                };
                let _ = x.handle(cmd);
            }
            5 => {
                let rate = FeeratePerKw(253 + r.below(8000) as u32);
                let _ = p.a.handle(Command::UpdateFee(rate));
            }
            6 | 7 => {
                let s = side(&mut r);
                let (x, _) = p.node(s);
                x.handle(Command::Sign).unwrap();
            }
            8 | 9 => {
                // Deliver a few messages one way only.
                let s = side(&mut r);
                let k = r.below(4);
                let (x, y) = p.node(s);
                for _ in 0..k {
                    if let Some(m) = x.outbox.pop_front() {
                        y.handle(Command::Message(m)).unwrap();
                    }
                }
            }
            10 => {
                p.disconnect();
                p.reconnect();
            }
            11 => {
                let s = side(&mut r);
                let crash = if r.below(2) == 0 {
                    Crash::BeforePersist
                } else {
                    Crash::AfterPersist
                };
                crash_node(&mut p, s, crash);
            }
            _ => {}
        }
        for node in [&p.a, &p.b] {
            let (l, rr, h) = node.ch.balances().unwrap();
            assert_eq!(l.0 + rr.0 + h.0, p.capacity.0 * 1000, "seed {seed}");
            verify_local(&node.ch);
        }
    }
    // Converge: deliver everything, sign until nothing is pending.
    if *p.a.ch.link() != Link::Online || *p.b.ch.link() != Link::Online {
        p.disconnect();
        p.reconnect();
    }
    for _ in 0..10 {
        p.settle();
        p.a.handle(Command::Sign).unwrap();
        p.b.handle(Command::Sign).unwrap();
        p.settle();
    }
    p.check();
    no_violations(&p);
    let ca = p.a.ch.commitments().unwrap();
    let cb = p.b.ch.commitments().unwrap();
    assert_eq!(ca.local_commit.index, cb.remote_commit.index, "seed {seed}");
    assert_eq!(cb.local_commit.index, ca.remote_commit.index, "seed {seed}");
    // A record round-trips through the codec.
    let rec = p.a.ch.record().unwrap();
    let back = lnwasm::channel::Channel::restore(&rec, &p.a.wallet, config()).unwrap();
    assert_eq!(back.commitments().unwrap().local_commit, ca.local_commit);
}

#[test]
fn random_sequences_converge() {
    let cases: u64 = std::env::var("CHANNEL_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 25 } else { 200 });
    for seed in 0..cases {
        run_case(seed, 40);
    }
}

/// Crash at every step of one full update cycle, before and after persisting.
#[test]
fn crash_at_every_step_of_an_update_cycle() {
    for crash in [Crash::BeforePersist, Crash::AfterPersist] {
        for stop_at in 0..12 {
            let mut p = open_pair(OpenOpts::default());
            let id = p.add(Side::Holder, Msat(20_000_000), 1).unwrap();
            p.a.handle(Command::Sign).unwrap();
            // Deliver step by step; at step `stop_at` the receiver crashes instead.
            let mut step = 0;
            let mut crashed = false;
            'outer: for _ in 0..50 {
                for s in [Side::Holder, Side::Counterparty] {
                    let (x, y) = p.node(s);
                    if let Some(m) = x.outbox.pop_front() {
                        if step == stop_at {
                            let acts = y.ch.handle(Command::Message(m)).unwrap();
                            y.run(acts, Some(crash));
                            y.reload();
                            crashed = true;
                            break 'outer;
                        }
                        y.handle(Command::Message(m)).unwrap();
                        step += 1;
                    }
                }
            }
            if crashed {
                p.disconnect();
                p.reconnect();
            }
            p.settle();
            p.check();
            // Then the HTLC is fulfilled, with another crash of B right after persisting it.
            let acts =
                p.b.ch
                    .handle(Command::FulfillHtlc {
                        id,
                        preimage: preimage(1),
                    })
                    .unwrap();
            p.b.run(acts, Some(crash));
            p.b.reload();
            p.disconnect();
            p.reconnect();
            if crash == Crash::BeforePersist {
                p.b.handle(Command::FulfillHtlc {
                    id,
                    preimage: preimage(1),
                })
                .unwrap();
            }
            p.b.handle(Command::Sign).unwrap();
            p.settle();
            p.check();
            no_violations(&p);
            let (l, r, h) = p.a.ch.balances().unwrap();
            assert_eq!(
                (l, r, h),
                (Msat(780_000_000), Msat(220_000_000), Msat(0)),
                "crash {crash:?} at {stop_at}"
            );
        }
    }
}
