//! Cooperative close (`shutdown`, `closing_signed`). Force close and
//! commitments seen on chain are in `channel_onchain.rs`.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Action, Command, Event, Status};
use lnwasm::error::ErrorCode;
use lnwasm::store::{Batch, MemoryStore, Store};
use lnwasm::tx::{ClosingSpec, ClosingTx, ClosingVariant, FeeratePerKw, Side};
use lnwasm::types::{Msat, Sat};
use lnwasm::wire::{ClosingFeeRange, ClosingSigned, ExtraTlvs, Message};

#[test]
fn mutual_close_with_pending_htlc_settled_first() {
    let mut p = open_pair(OpenOpts::default());
    let id = p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.sign(Side::Holder);
    // B starts the close while the HTLC is pending.
    p.b.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    })
    .unwrap();
    p.settle();
    assert_eq!(p.a.ch.status(), Some(Status::ShuttingDown));
    // New HTLCs are refused, settlement still works.
    assert!(p.add(Side::Holder, Msat(1_000_000), 2).is_err());
    p.b.handle(Command::FulfillHtlc {
        id,
        preimage: preimage(1),
    })
    .unwrap();
    p.b.handle(Command::Sign).unwrap();
    p.settle();
    for n in [&p.a, &p.b] {
        assert_eq!(
            n.ch.status(),
            Some(Status::Closing),
            "{}",
            n.ch.state_name()
        );
        assert!(n
            .events
            .iter()
            .any(|e| matches!(e, Event::MutualClose { .. })));
    }
    let ta = p.a.published.last().unwrap();
    let tb = p.b.published.last().unwrap();
    assert_eq!(ta, tb, "both publish the same closing tx");
    assert_eq!(
        ta.input[0].previous_output,
        p.a.ch.commitments().unwrap().params.funding_outpoint
    );
    // The closing tx pays B its 210_000 sat; A pays the fee.
    let total: u64 = ta.output.iter().map(|o| o.value.to_sat()).sum();
    assert!(ta.output.iter().any(|o| o.value.to_sat() == 210_000));
    assert!(total < 1_000_000);
    // Seen on chain: closed.
    p.a.handle(Command::FundingSpent { tx: ta.clone() })
        .unwrap();
    assert_eq!(p.a.ch.status(), Some(Status::Closed));
}

#[test]
fn close_refused_with_unsigned_updates_and_bad_upfront_script() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    let e =
        p.a.ch
            .handle(Command::Close {
                script: None,
                feerate: FeeratePerKw(1000),
            })
            .unwrap_err();
    assert_eq!(lnwasm::error::ErrorCode::code(&e), "INVALID_CHANNEL_STATE");
    p.sign(Side::Holder);
    let e =
        p.a.ch
            .handle(Command::Close {
                script: Some(bitcoin::ScriptBuf::from_bytes(vec![0x51])),
                feerate: FeeratePerKw(1000),
            })
            .unwrap_err();
    assert_eq!(
        lnwasm::error::ErrorCode::code(&e),
        "INVALID_SHUTDOWN_SCRIPT"
    );
}

/// BOLT 2: the closing fee is the funder's money, so the fundee has no
/// maximum: a funder paying far above the fundee's estimate is accepted
/// as proposed (found against LDK, whose funder fee follows its own estimator).
#[test]
fn fundee_accepts_a_closing_fee_above_its_estimate() {
    let mut p = open_pair(OpenOpts::default());
    p.b.handle(Command::FeeEstimate(FeeratePerKw(1000)))
        .unwrap();
    p.a.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(5000),
    })
    .unwrap();
    p.settle();
    let Some(lnwasm::wire::Message::ClosingSigned(first)) =
        p.a.sent
            .iter()
            .find(|m| matches!(m, lnwasm::wire::Message::ClosingSigned(_)))
            .cloned()
    else {
        panic!("funder sent closing_signed")
    };
    for n in [&p.a, &p.b] {
        assert_eq!(n.ch.status(), Some(Status::Closing), "{:?}", n.events);
        assert!(!n
            .events
            .iter()
            .any(|e| matches!(e, Event::PeerViolation(_))));
    }
    let ta = p.a.published.last().unwrap();
    assert_eq!(ta, p.b.published.last().unwrap());
    let total: u64 = ta.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(
        1_000_000 - total,
        first.fee.0,
        "the funder's first proposal"
    );
}

/// Closing fee at 1000 sat/kw: the closing transaction with two P2WPKH
/// outputs weighs 452 (unsigned) + 222 (2-of-2 witness) = 674.
const FEE_1000: u64 = 674;

/// A (funder) starts a close at 1000 sat/kw; B's fee estimate is
/// `b_estimate`. Returns with both shutdowns exchanged and A's first
/// `closing_signed` still queued in A's outbox.
fn negotiating(b_estimate: u32) -> Pair {
    let mut p = open_pair(OpenOpts::default());
    p.b.handle(Command::FeeEstimate(FeeratePerKw(b_estimate)))
        .unwrap();
    p.a.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    })
    .unwrap();
    deliver(&mut p.a, &mut p.b); // shutdown
    deliver(&mut p.b, &mut p.a); // shutdown
    assert_eq!(p.a.ch.status(), Some(Status::Negotiating));
    assert_eq!(p.b.ch.status(), Some(Status::Negotiating));
    p
}

fn closing_signed(m: &Message) -> &ClosingSigned {
    match m {
        Message::ClosingSigned(c) => c,
        m => panic!("closing_signed expected, got {m:?}"),
    }
}

fn range(min: u64, max: u64) -> Option<ClosingFeeRange> {
    Some(ClosingFeeRange {
        min_fee: Sat(min),
        max_fee: Sat(max),
    })
}

/// B's `closing_signed` at `fee`, validly signed.
fn b_signs(p: &Pair, fee: u64, fee_range: Option<ClosingFeeRange>) -> Message {
    let f = p.b.ch.funded().unwrap();
    let s = &f.c.local_commit.spec;
    let tx = ClosingTx::build(
        &f.c.params,
        &ClosingSpec {
            holder: (s.to_local, f.local_shutdown.clone()),
            counterparty: (s.to_remote, f.remote_shutdown.clone()),
            fee: Sat(fee),
            fee_payer: f.c.params.opener,
            dust_limit: f.c.params.holder.dust_limit,
            variant: ClosingVariant::Legacy,
        },
    )
    .unwrap();
    Message::ClosingSigned(ClosingSigned {
        channel_id: f.c.channel_id,
        fee: Sat(fee),
        signature: tx.sign(p.b.ch.keys().funding_secret()).unwrap(),
        fee_range,
        extra_tlvs: ExtraTlvs::default(),
    })
}

/// Both published the same closing transaction paying B 200_000 sat and
/// A the rest minus `fee`.
fn closed_with_fee(p: &Pair, fee: u64) {
    for n in [&p.a, &p.b] {
        assert_eq!(n.ch.status(), Some(Status::Closing));
    }
    let ta = p.a.published.last().unwrap();
    assert_eq!(ta, p.b.published.last().unwrap());
    let mut values: Vec<u64> = ta.output.iter().map(|o| o.value.to_sat()).collect();
    values.sort();
    assert_eq!(values, vec![200_000, 800_000 - fee]);
    assert!(p.a.events.contains(&Event::MutualClose {
        txid: ta.compute_txid()
    }));
}

#[test]
fn fee_range_agreed_in_two_messages() {
    let mut p = negotiating(1000);
    let m = closing_signed(p.a.outbox.front().unwrap()).clone();
    assert_eq!(m.fee, Sat(FEE_1000));
    assert_eq!(m.fee_range, range(FEE_1000 / 2, FEE_1000 * 2));
    deliver(&mut p.a, &mut p.b);
    // B's preferred fee is in the overlap: it answers with the same fee and publishes.
    let r = closing_signed(p.b.outbox.front().unwrap()).clone();
    assert_eq!(r.fee, Sat(FEE_1000));
    // The non-funder's range reaches up to what the funder can pay.
    assert_eq!(r.fee_range, range(FEE_1000 / 2, 800_000));
    deliver(&mut p.b, &mut p.a);
    assert!(p.a.outbox.is_empty(), "A does not answer an agreed fee");
    closed_with_fee(&p, FEE_1000);
}

#[test]
fn fee_range_agreed_in_three_messages() {
    // B wants 3000 sat/kw: 2022 sat, range [1011, 800_000] (the non-funder's
    // maximum is the funder's balance); the overlap with A's [337, 1348] is
    // [1011, 1348], A's 674 is outside it: B proposes 1348, A accepts it.
    let mut p = negotiating(3000);
    deliver(&mut p.a, &mut p.b);
    let r = closing_signed(p.b.outbox.front().unwrap()).clone();
    assert_eq!(r.fee, Sat(1348));
    assert_eq!(r.fee_range, range(1011, 800_000));
    assert_eq!(p.b.ch.status(), Some(Status::Negotiating));
    deliver(&mut p.b, &mut p.a);
    let a2 = closing_signed(p.a.outbox.front().unwrap()).clone();
    assert_eq!(a2.fee, Sat(1348));
    deliver(&mut p.a, &mut p.b);
    assert!(p.b.outbox.is_empty());
    closed_with_fee(&p, 1348);
}

#[test]
fn disjoint_fee_ranges_warn_then_reconnection_restarts_the_negotiation() {
    // B wants 10_000 sat/kw: range [3370, 800_000], disjoint from [337, 1348].
    let mut p = negotiating(10_000);
    let before = p.b.ch.update_number();
    let m = p.a.outbox.pop_front().unwrap();
    let acts = p.b.ch.handle(Command::Message(m)).unwrap();
    let Action::Send(Message::Warning(w)) = &acts[0] else {
        panic!("{acts:?}")
    };
    assert_eq!(w.text(), "closing fee ranges do not overlap");
    assert!(
        matches!(&acts[1], Action::Event(Event::PeerViolation(e)) if e.code() == "CLOSING_FEE_RANGES_DISJOINT")
    );
    assert!(matches!(acts[2], Action::Disconnect));
    assert_eq!(acts.len(), 3);
    assert_eq!(p.b.ch.status(), Some(Status::Negotiating));
    assert_eq!(p.b.ch.update_number(), before);
    // Fees came down; on reconnection both resend shutdown (and channel_ready:
    // no commitment was ever updated) and A proposes again.
    p.disconnect();
    p.b.handle(Command::FeeEstimate(FeeratePerKw(1000)))
        .unwrap();
    p.a.sent.clear();
    p.b.sent.clear();
    p.reconnect();
    let kinds = |n: &Node| -> Vec<&'static str> {
        n.sent
            .iter()
            .map(|m| match m {
                Message::ChannelReestablish(_) => "channel_reestablish",
                Message::ChannelReady(_) => "channel_ready",
                Message::Shutdown(_) => "shutdown",
                Message::ClosingSigned(_) => "closing_signed",
                _ => "other",
            })
            .collect()
    };
    assert_eq!(
        kinds(&p.a),
        vec![
            "channel_reestablish",
            "channel_ready",
            "shutdown",
            "closing_signed"
        ]
    );
    assert_eq!(
        kinds(&p.b),
        vec![
            "channel_reestablish",
            "channel_ready",
            "shutdown",
            "closing_signed"
        ]
    );
    assert!(!p
        .a
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerViolation(_))));
    closed_with_fee(&p, FEE_1000);
}

#[test]
fn reconnection_in_the_middle_of_a_negotiation() {
    let mut p = negotiating(3000);
    deliver(&mut p.a, &mut p.b);
    // B's counter-proposal (1348) is lost.
    p.disconnect();
    let (sent_a, recv_a) =
        p.a.ch
            .funded()
            .unwrap()
            .negotiation
            .as_ref()
            .map(|n| (n.last_sent, n.last_received))
            .unwrap();
    assert_eq!((sent_a, recv_a), (Some(Sat(FEE_1000)), None));
    p.reconnect();
    closed_with_fee(&p, 1348);
    // After a crash the record restores the agreed close.
    p.a.reload();
    assert_eq!(p.a.ch.status(), Some(Status::Closing));
}

#[test]
fn funder_fails_the_channel_on_a_fee_outside_the_overlap() {
    let mut p = negotiating(1000);
    p.a.outbox.clear(); // A proposed 674 in [337, 1348]
    let m = b_signs(&p, 2000, range(1000, 3000));
    let acts = p.a.ch.handle(Command::Message(m)).unwrap();
    assert!(matches!(acts[0], Action::Persist(_)));
    let Action::Send(Message::Error(e)) = &acts[1] else {
        panic!("{acts:?}")
    };
    assert_eq!(e.text(), "closing fee out of range");
    assert!(
        matches!(&acts[2], Action::Event(Event::PeerViolation(e)) if e.code() == "CLOSING_FEE_OUT_OF_RANGE")
    );
    assert!(matches!(acts[3], Action::Publish(_)), "our commitment");
    assert_eq!(p.a.ch.state_name(), "CLOSING");
    // A fee in the overlap is accepted: answered with the same fee.
    let mut p = negotiating(1000);
    p.a.outbox.clear();
    let m = b_signs(&p, 1200, range(1000, 3000));
    p.a.handle(Command::Message(m)).unwrap();
    let r = closing_signed(p.a.outbox.front().unwrap());
    assert_eq!(r.fee, Sat(1200));
    assert_eq!(p.a.ch.status(), Some(Status::Closing));
}

#[test]
fn fundee_fails_the_channel_when_the_funder_changes_an_agreed_fee() {
    // B proposed 1348; A answering 1000 (inside both ranges, but not B's fee) is a violation.
    let mut p = negotiating(3000);
    deliver(&mut p.a, &mut p.b);
    p.b.outbox.clear();
    // A's closing_signed at 1000, forged with A's key.
    let f = p.a.ch.funded().unwrap();
    let s = &f.c.local_commit.spec;
    let tx = ClosingTx::build(
        &f.c.params,
        &ClosingSpec {
            holder: (s.to_local, f.local_shutdown.clone()),
            counterparty: (s.to_remote, f.remote_shutdown.clone()),
            fee: Sat(1000),
            fee_payer: f.c.params.opener,
            dust_limit: f.c.params.holder.dust_limit,
            variant: ClosingVariant::Legacy,
        },
    )
    .unwrap();
    let m = Message::ClosingSigned(ClosingSigned {
        channel_id: f.c.channel_id,
        fee: Sat(1000),
        signature: tx.sign(p.a.ch.keys().funding_secret()).unwrap(),
        fee_range: range(337, 1348),
        extra_tlvs: ExtraTlvs::default(),
    });
    let acts = p.b.ch.handle(Command::Message(m)).unwrap();
    assert!(
        matches!(&acts[2], Action::Event(Event::PeerViolation(e)) if e.code() == "CLOSING_FEE_OUT_OF_RANGE")
    );
    assert_eq!(p.b.ch.state_name(), "CLOSING");
}

#[test]
fn legacy_negotiation_without_fee_range() {
    // B proposes 1500 without a range: A counters strictly between its
    // 674 and 1500: 1087; B's 1200 is then between and acceptable.
    let mut p = negotiating(1000);
    p.a.outbox.clear();
    p.a.handle(Command::Message(b_signs(&p, 1500, None)))
        .unwrap();
    let r = closing_signed(&p.a.outbox.pop_front().unwrap()).clone();
    assert_eq!(r.fee, Sat(1087));
    assert_eq!(p.a.ch.status(), Some(Status::Negotiating));
    p.a.handle(Command::Message(b_signs(&p, 1200, None)))
        .unwrap();
    let r = closing_signed(&p.a.outbox.pop_front().unwrap()).clone();
    assert_eq!(r.fee, Sat(1200));
    assert_eq!(p.a.ch.status(), Some(Status::Closing));
    let ta = p.a.published.last().unwrap();
    assert_eq!(
        ta.output.iter().map(|o| o.value.to_sat()).sum::<u64>(),
        1_000_000 - 1200
    );

    // Not strictly between the last two fees: warning, disconnect, unchanged.
    let mut p = negotiating(1000);
    p.a.outbox.clear();
    p.a.handle(Command::Message(b_signs(&p, 1500, None)))
        .unwrap();
    p.a.outbox.clear();
    let before = p.a.ch.update_number();
    let acts =
        p.a.ch
            .handle(Command::Message(b_signs(&p, 1500, None)))
            .unwrap();
    let Action::Send(Message::Warning(w)) = &acts[0] else {
        panic!("{acts:?}")
    };
    assert_eq!(w.text(), "closing fee out of range");
    assert!(acts.iter().any(|a| matches!(a, Action::Disconnect)));
    assert_eq!(p.a.ch.update_number(), before);
    assert_eq!(p.a.ch.status(), Some(Status::Negotiating));
}

#[test]
fn invalid_closing_signature_fails_the_channel() {
    let mut p = negotiating(1000);
    p.a.outbox.clear();
    let Message::ClosingSigned(mut m) = b_signs(&p, 900, range(400, 1000)) else {
        unreachable!()
    };
    m.fee = Sat(901);
    let acts =
        p.a.ch
            .handle(Command::Message(Message::ClosingSigned(m)))
            .unwrap();
    assert!(
        matches!(&acts[2], Action::Event(Event::PeerViolation(e)) if e.code() == "INVALID_COMMITMENT_SIGNATURE")
    );
    assert_eq!(p.a.ch.state_name(), "CLOSING");
}

/// BOLT 2: a disconnection in the middle of the fee negotiation restarts
/// it: both sides send `shutdown` again (not a violation) and the funder
/// proposes again (found against LDK).
#[test]
fn closing_negotiation_restarts_after_reconnection() {
    let mut p = open_pair(OpenOpts::default());
    p.a.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    })
    .unwrap();
    deliver(&mut p.a, &mut p.b); // shutdown
    deliver(&mut p.b, &mut p.a); // shutdown; A answers with closing_signed
    assert_eq!(p.a.ch.status(), Some(Status::Negotiating));
    assert_eq!(p.b.ch.status(), Some(Status::Negotiating));
    p.disconnect(); // A's closing_signed is lost
    let sent = p.a.sent.len();
    p.reconnect();
    // channel_reestablish, (channel_ready: still at commitment 0), shutdown,
    // closing_signed.
    let kinds: Vec<u16> = p.a.sent[sent..].iter().map(|m| m.msg_type()).collect();
    assert_eq!(&kinds[..4], &[136, 36, 38, 39]);
    for n in [&p.a, &p.b] {
        assert_eq!(n.ch.status(), Some(Status::Closing), "{:?}", n.events);
        assert!(!n
            .events
            .iter()
            .any(|e| matches!(e, Event::PeerViolation(_))));
    }
    assert_eq!(p.a.published.last(), p.b.published.last());
}

/// The fundee agreed and published, but its last `closing_signed` was lost:
/// after reconnection the funder negotiates again, and the fundee answers
/// with the transaction it already published instead of failing the
/// channel (found against LDK).
#[test]
fn closing_completes_after_the_fundees_last_closing_signed_is_lost() {
    let mut p = open_pair(OpenOpts::default());
    p.a.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    })
    .unwrap();
    deliver(&mut p.a, &mut p.b); // shutdown
    deliver(&mut p.b, &mut p.a); // shutdown; A sends closing_signed
    deliver(&mut p.a, &mut p.b); // B agrees and publishes
    assert_eq!(p.b.ch.status(), Some(Status::Closing));
    let published = p.b.published.last().unwrap().clone();
    p.disconnect(); // B's closing_signed is lost
    assert_eq!(p.a.ch.status(), Some(Status::Negotiating));
    p.reconnect();
    for n in [&p.a, &p.b] {
        assert_eq!(n.ch.status(), Some(Status::Closing), "{:?}", n.events);
        assert!(!n
            .events
            .iter()
            .any(|e| matches!(e, Event::PeerViolation(_))));
        assert_eq!(n.published.last(), Some(&published));
    }
    assert_eq!(
        p.b.published
            .iter()
            .filter(|t| t.compute_txid() == published.compute_txid())
            .count(),
        1,
        "published once"
    );
}

/// Restored from an old backup, a node does not know the peer's current
/// commitment when it appears on chain; with option_static_remotekey its
/// output there still pays its payment basepoint, and it is swept.
#[test]
fn unknown_peer_commitment_after_data_loss_is_swept() {
    for anchors in [false, true] {
        let mut p = open_pair(OpenOpts {
            anchors,
            ..Default::default()
        });
        let backup = p.b.store.get(&p.b.ch.channel_id()).unwrap().unwrap();
        for i in 0..3 {
            p.add(Side::Holder, Msat(5_000_000), i).unwrap();
            p.sign(Side::Holder);
        }
        // The backup replaces B's store and channel.
        p.b.store = MemoryStore::new();
        p.b.store.apply(Batch::new().put(backup.clone())).unwrap();
        p.b.ch = lnwasm::channel::Channel::restore(&backup, &p.b.wallet, config()).unwrap();
        let first = p.a.published.len();
        p.a.handle(Command::ForceClose).unwrap();
        // A's commitment (then its HTLC-timeout transactions).
        let theirs = p.a.published[first].clone();
        assert_eq!(
            theirs.input[0].previous_output.txid,
            p.funding_tx.compute_txid()
        );
        let before = p.b.published.len();
        let later = p.b.later.len();
        p.b.handle(Command::FundingSpent { tx: theirs.clone() })
            .unwrap();
        assert_eq!(p.b.ch.status(), Some(Status::Closed));
        assert_eq!(p.b.published.len(), before, "nothing to publish at once");
        let b_script = bitcoin::ScriptBuf::new_p2wpkh(
            &bitcoin::CompressedPublicKey(p.b.ch.keys().pubkeys().payment_basepoint.0)
                .wpubkey_hash(),
        );
        if !anchors {
            // B's 200_000 sat (the push) already pay its own P2WPKH.
            assert_eq!(p.b.later.len(), later, "nothing to sweep");
            assert!(theirs
                .output
                .iter()
                .any(|o| o.script_pubkey == b_script && o.value.to_sat() == 200_000));
            continue;
        }
        assert_eq!(p.b.later.len(), later + 1, "one sweep after its CSV");
        let sweep = &p.b.later[later].0;
        let op = sweep.input[0].previous_output;
        assert_eq!(op.txid, theirs.compute_txid());
        // B's 200_000 sat (the push) on A's commitment, less the sweep's fee.
        assert_eq!(theirs.output[op.vout as usize].value.to_sat(), 200_000);
        assert!(sweep.output[0].value.to_sat() < 200_000);
        assert!(sweep.output[0].value.to_sat() > 199_000);
        assert_eq!(sweep.output[0].script_pubkey, b_script);
        assert_eq!(sweep.input[0].sequence.0, 1);
    }
}
