//! Cooperative close, force close, and reactions to commitments seen on chain.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Command, Event, Status};
use lnwasm::store::{Batch, MemoryStore, Store};
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::Msat;

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
fn force_close_publishes_commitment_and_htlc_timeouts() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.add(Side::Holder, Msat(20_000_000), 2).unwrap();
    p.sign(Side::Holder);
    let before = p.a.published.len();
    p.a.handle(Command::ForceClose).unwrap();
    let txs = &p.a.published[before..];
    assert_eq!(txs.len(), 3, "commitment + 2 HTLC-timeout");
    let commit = &txs[0];
    let ctxid = commit.compute_txid();
    for h in &txs[1..] {
        assert_eq!(h.input[0].previous_output.txid, ctxid);
        assert_eq!(h.input[0].witness.len(), 5);
    }
    assert_eq!(p.a.ch.state_name(), "CLOSING");
    // B sees A's commitment (its view of A's current one): sweeps its to_remote.
    let b_before = p.b.published.len();
    p.b.handle(Command::FundingSpent { tx: commit.clone() })
        .unwrap();
    assert!(p.b.events.contains(&Event::ForceClosed {
        txid: ctxid,
        ours: false
    }));
    let sweep = &p.b.published[b_before];
    assert_eq!(sweep.input[0].previous_output.txid, ctxid);
}

#[test]
fn revoked_commitment_gets_the_penalty_tx() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Counterparty, Msat(30_000_000), 1).unwrap();
    p.sign(Side::Counterparty);
    // B's current commitment now, which it will later revoke.
    let (_, old) =
        p.b.ch
            .commitments()
            .unwrap()
            .signed_local_tx(p.b.ch.keys())
            .unwrap();
    p.b.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(1),
    })
    .unwrap_err(); // B offered it: cannot fulfill
    p.a.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(1),
    })
    .unwrap();
    p.sign(Side::Holder);
    p.check();
    // B cheats with its revoked commitment.
    let before = p.a.published.len();
    p.a.handle(Command::FundingSpent { tx: old.clone() })
        .unwrap();
    let ev =
        p.a.events
            .iter()
            .find(|e| matches!(e, Event::RevokedCommitmentSeen { .. }))
            .expect("revoked commitment recognised");
    let penalty = &p.a.published[before];
    if let Event::RevokedCommitmentSeen {
        penalty_txid,
        commitment_number,
    } = ev
    {
        assert_eq!(*penalty_txid, penalty.compute_txid());
        assert_eq!(*commitment_number, 1);
    }
    // Every output of the revoked commitment except the anchors is taken.
    let old_txid = old.compute_txid();
    let taken: Vec<u32> = penalty
        .input
        .iter()
        .map(|i| {
            assert_eq!(i.previous_output.txid, old_txid);
            i.previous_output.vout
        })
        .collect();
    let non_anchor = old
        .output
        .iter()
        .filter(|o| o.value.to_sat() != 330)
        .count();
    assert_eq!(taken.len(), non_anchor);
    let value_in: u64 = taken
        .iter()
        .map(|v| old.output[*v as usize].value.to_sat())
        .sum();
    assert!(penalty.output[0].value.to_sat() > value_in - 10_000);
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
        p.b.handle(Command::FundingSpent { tx: theirs.clone() })
            .unwrap();
        assert_eq!(p.b.ch.status(), Some(Status::Closed));
        assert_eq!(p.b.published.len(), before + 1, "one sweep");
        let sweep = p.b.published.last().unwrap();
        let op = sweep.input[0].previous_output;
        assert_eq!(op.txid, theirs.compute_txid());
        // B's 200_000 sat (the push) on A's commitment, less the sweep's fee.
        assert_eq!(theirs.output[op.vout as usize].value.to_sat(), 200_000);
        assert!(sweep.output[0].value.to_sat() < 200_000);
        assert!(sweep.output[0].value.to_sat() > 199_000);
        assert_eq!(
            sweep.input[0].sequence.0,
            if anchors { 1 } else { 0xffff_fffd }
        );
    }
}
