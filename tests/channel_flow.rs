//! Opening, update cycles, fee updates and reconnection between two lnwasm channels.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Command, Event, Status};
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::Msat;

#[test]
fn open_anchors_and_static_remotekey() {
    for anchors in [true, false] {
        let p = open_pair(OpenOpts {
            anchors,
            ..Default::default()
        });
        let ct = p.a.ch.commitments().unwrap().channel_type();
        assert_eq!(ct.has_anchors(), anchors);
        assert_eq!(p.a.ch.channel_id(), p.b.ch.channel_id());
        p.check();
        assert!(p
            .a
            .events
            .iter()
            .any(|e| matches!(e, Event::ChannelReady { .. })));
        assert!(p
            .b
            .events
            .iter()
            .any(|e| matches!(e, Event::ChannelReady { .. })));
        // Funder's balance = funding - push; fundee's = push.
        let (l, r, h) = p.a.ch.balances().unwrap();
        assert_eq!((l, r, h), (Msat(800_000_000), Msat(200_000_000), Msat(0)));
    }
}

#[test]
fn zero_conf_with_alias() {
    let p = open_pair(OpenOpts {
        zero_conf: true,
        ..Default::default()
    });
    let f = p.a.ch.funded().unwrap();
    assert!(f.zero_conf);
    assert!(f.our_alias.is_some() && f.their_alias.is_some());
    assert_eq!(f.status, Status::Normal);
}

#[test]
fn many_update_cycles() {
    let mut p = open_pair(OpenOpts::default());
    let mut n = 0;
    for round in 0..20u64 {
        let side = if round % 2 == 0 {
            Side::Holder
        } else {
            Side::Counterparty
        };
        let id1 = p.add(side, Msat(1_000_000 + round * 1000), n).unwrap();
        n += 1;
        let id2 = p.add(side, Msat(2_000), n).unwrap(); // trimmed (dust)
        n += 1;
        p.sign(side);
        p.check();
        let (_, rx) = p.node(side);
        let received: Vec<u64> = rx
            .events
            .iter()
            .filter_map(|e| {
                if let Event::HtlcReceived(a) = e {
                    Some(a.id)
                } else {
                    None
                }
            })
            .collect();
        assert!(received.contains(&id1) && received.contains(&id2));
        // The receiver fulfills one and fails the other.
        rx.handle(Command::FulfillHtlc {
            id: id1,
            preimage: preimage(n - 2),
        })
        .unwrap();
        rx.handle(Command::FailHtlc {
            id: id2,
            reason: vec![1, 2, 3],
        })
        .unwrap();
        rx.handle(Command::Sign).unwrap();
        p.settle();
        p.check();
        let (tx, _) = p.node(side);
        assert!(tx.events.contains(&Event::HtlcFulfilled {
            id: id1,
            preimage: preimage(n - 2)
        }));
        assert!(tx.events.contains(&Event::HtlcFailed {
            id: id2,
            reason: vec![1, 2, 3]
        }));
        let (_, _, h) = p.a.ch.balances().unwrap();
        assert_eq!(h, Msat(0));
    }
    let (l, r, _) = p.a.ch.balances().unwrap();
    // A paid 10 HTLCs, B paid 10, each 1_000_000 + round*1000.
    let a_paid: u64 = (0..20)
        .filter(|r| r % 2 == 0)
        .map(|r| 1_000_000 + r * 1000)
        .sum();
    let b_paid: u64 = (0..20)
        .filter(|r| r % 2 == 1)
        .map(|r| 1_000_000 + r * 1000)
        .sum();
    assert_eq!(l.0, 800_000_000 - a_paid + b_paid);
    assert_eq!(r.0, 200_000_000 + a_paid - b_paid);
}

#[test]
fn concurrent_updates_from_both_sides() {
    let mut p = open_pair(OpenOpts::default());
    for i in 0..5 {
        p.add(Side::Holder, Msat(5_000_000), i).unwrap();
        p.add(Side::Counterparty, Msat(3_000_000), 100 + i).unwrap();
        // Both sign at once: the commitment_signed messages cross.
        p.a.handle(Command::Sign).unwrap();
        p.b.handle(Command::Sign).unwrap();
        p.settle();
        p.check();
    }
    let (_, _, h) = p.a.ch.balances().unwrap();
    assert_eq!(h, Msat(40_000_000));
}

#[test]
fn update_fee_flows_and_fundee_cannot_send_it() {
    let mut p = open_pair(OpenOpts::default());
    p.a.handle(Command::UpdateFee(FeeratePerKw(5000))).unwrap();
    p.sign(Side::Holder);
    p.check();
    assert_eq!(
        p.a.ch.commitments().unwrap().local_commit.spec.feerate,
        FeeratePerKw(5000)
    );
    assert_eq!(
        p.b.ch.commitments().unwrap().local_commit.spec.feerate,
        FeeratePerKw(5000)
    );
    assert_eq!(
        p.b.ch
            .handle(Command::UpdateFee(FeeratePerKw(3000)))
            .unwrap_err()
            .to_string(),
        "invalid state: only the funder sends update_fee"
    );
}

/// The feerate of both sides' current commitments.
fn feerates(p: &Pair) -> (u32, u32) {
    let f = |n: &harness::Node| n.ch.commitments().unwrap().local_commit.spec.feerate.0;
    (f(&p.a), f(&p.b))
}

/// What `n` sent since `before` messages, by name.
fn sent_since(n: &harness::Node, before: usize) -> Vec<&'static str> {
    n.sent[before..].iter().map(|m| m.name()).collect()
}

#[test]
fn fee_update_policy() {
    use lnwasm::channel::fee_update_target;
    let t = |c, e| fee_update_target(FeeratePerKw(c), FeeratePerKw(e)).map(|f| f.0);
    assert_eq!(t(2500, 2500), None);
    assert_eq!(t(2500, 2749), None);
    assert_eq!(t(2500, 2750), Some(2750));
    assert_eq!(t(2500, 1250), None);
    assert_eq!(t(2500, 1249), Some(1249));
    assert_eq!(t(u32::MAX, u32::MAX), None);
    assert_eq!(t(253, u32::MAX), Some(u32::MAX));
}

/// A's fee estimate becomes `estimate`: A sends nothing, or (`moves`)
/// update_fee and its signature at once, after which both sides'
/// commitments are at `estimate`.
fn estimate_to(p: &mut Pair, estimate: u32, moves: bool) {
    let (before, rates) = (p.a.sent.len(), feerates(p));
    p.a.handle(Command::FeeEstimate(FeeratePerKw(estimate)))
        .unwrap();
    if !moves {
        assert!(sent_since(&p.a, before).is_empty());
        assert_eq!(feerates(p), rates);
        return;
    }
    assert_eq!(
        sent_since(&p.a, before),
        ["update_fee", "commitment_signed"]
    );
    p.settle();
    p.check();
    assert_eq!(feerates(p), (estimate, estimate));
}

#[test]
fn the_funder_follows_the_fee_estimate() {
    for anchors in [true, false] {
        let mut p = open_pair(OpenOpts {
            anchors,
            ..OpenOpts::default()
        });
        assert_eq!(feerates(&p), (2500, 2500));
        // The fundee never sends update_fee, whatever its estimate.
        let before = p.b.sent.len();
        p.b.handle(Command::FeeEstimate(FeeratePerKw(9000)))
            .unwrap();
        p.b.handle(Command::Tick { now: 1 }).unwrap();
        assert!(sent_since(&p.b, before).is_empty());
        p.b.handle(Command::FeeEstimate(FeeratePerKw(2500)))
            .unwrap();

        // Up from 10% over; down once below half.
        estimate_to(&mut p, 2749, false);
        estimate_to(&mut p, 2750, true);
        estimate_to(&mut p, 1375, false);
        estimate_to(&mut p, 1374, true);

        // While a signature round is under way the update waits for the
        // revocation, then goes out signed at once.
        p.add(Side::Holder, Msat(5_000_000), 1).unwrap();
        p.a.handle(Command::Sign).unwrap();
        let before = p.a.sent.len();
        estimate_to(&mut p, 2000, false);
        // B revokes and signs; its revoke_and_ack lets A update the fee and
        // sign, then A revokes for B's commitment_signed.
        harness::deliver(&mut p.a, &mut p.b);
        harness::deliver(&mut p.b, &mut p.a);
        assert_eq!(
            sent_since(&p.a, before),
            ["update_fee", "commitment_signed", "revoke_and_ack"]
        );
        p.settle();
        p.check();
        assert_eq!(feerates(&p), (2000, 2000));

        // Offline: nothing; after the reconnection: the update.
        p.disconnect();
        estimate_to(&mut p, 3000, false);
        p.reconnect();
        p.check();
        assert_eq!(feerates(&p), (3000, 3000));

        // A fee the funder cannot pay: no update and no error, now or on a
        // tick.
        estimate_to(&mut p, 50_000_000, false);
        let before = p.a.sent.len();
        p.a.handle(Command::Tick { now: 3 }).unwrap();
        assert!(sent_since(&p.a, before).is_empty());
    }
}

#[test]
fn reestablish_without_loss_is_quiet() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.sign(Side::Holder);
    p.disconnect();
    let before = p.a.sent.len();
    p.reconnect();
    // Only channel_reestablish went out from A.
    assert_eq!(p.a.sent.len(), before + 1);
    p.check();
}

#[test]
fn reestablish_retransmits_lost_commitment_signed_and_updates() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.a.handle(Command::Sign).unwrap();
    // update_add_htlc and commitment_signed are lost in transit.
    p.disconnect();
    p.reconnect();
    p.check();
    let (_, _, h) = p.b.ch.balances().unwrap();
    assert_eq!(h, Msat(10_000_000));
}

#[test]
fn reestablish_retransmits_lost_revoke_and_ack() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.a.handle(Command::Sign).unwrap();
    harness::deliver(&mut p.a, &mut p.b); // B gets add + commit, answers revoke + commit
    p.disconnect(); // both of B's answers are lost
    p.reconnect();
    p.check();
    let (_, _, h) = p.a.ch.balances().unwrap();
    assert_eq!(h, Msat(10_000_000));
    assert!(p
        .b
        .events
        .iter()
        .any(|e| matches!(e, Event::HtlcReceived(_))));
}

#[test]
fn unsigned_updates_survive_disconnection() {
    let mut p = open_pair(OpenOpts::default());
    let id = p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.sign(Side::Holder);
    // B fulfills, the message is lost, then B reconnects and sends it again.
    p.b.handle(Command::FulfillHtlc {
        id,
        preimage: preimage(1),
    })
    .unwrap();
    p.disconnect();
    p.reconnect();
    p.sign(Side::Counterparty);
    p.check();
    assert!(p.a.events.contains(&Event::HtlcFulfilled {
        id,
        preimage: preimage(1)
    }));
    let (_, _, h) = p.a.ch.balances().unwrap();
    assert_eq!(h, Msat(0));
}
