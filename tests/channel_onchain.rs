//! On-chain resolution: our force close with its second-stage HTLC
//! transactions and delayed sweeps, the peer's current and next commitment,
//! revoked commitments (penalty and second-stage penalty). Every transaction
//! the channel hands out is run through the script interpreter
//! (libbitcoinconsensus) against its parent.
#![cfg(not(target_arch = "wasm32"))]

#[path = "channel_harness.rs"]
mod harness;

use bitcoin::consensus::{serialize, verify_script_with_flags};
use bitcoin::{OutPoint, ScriptBuf, Sequence, Transaction, Txid};
use harness::*;
use lnwasm::channel::{commitment_number, Action, Command, Event, Status};
use lnwasm::tx::{HtlcTxKind, Side};
use lnwasm::types::Msat;

/// P2SH | DERSIG | NULLDUMMY | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY | WITNESS.
const FLAGS: u32 = 1 | (1 << 2) | (1 << 4) | (1 << 9) | (1 << 10) | (1 << 11);

/// Every input of `tx` is a valid spend of its parent output.
fn verify(tx: &Transaction, parents: &[&Transaction]) {
    let bytes = serialize(tx);
    for (i, input) in tx.input.iter().enumerate() {
        let prev = parents
            .iter()
            .find(|p| p.compute_txid() == input.previous_output.txid)
            .and_then(|p| p.output.get(input.previous_output.vout as usize))
            .unwrap_or_else(|| panic!("input {i}: parent not given"));
        verify_script_with_flags(&prev.script_pubkey, i, prev.value, &bytes, FLAGS)
            .unwrap_or_else(|e| panic!("input {i} rejected: {e:?}"));
    }
}

fn value_in(tx: &Transaction, parents: &[&Transaction]) -> u64 {
    tx.input
        .iter()
        .map(|i| {
            parents
                .iter()
                .find(|p| p.compute_txid() == i.previous_output.txid)
                .unwrap()
                .output[i.previous_output.vout as usize]
                .value
                .to_sat()
        })
        .sum()
}

/// The fee is the feerate times the signed weight, give or take the
/// signature length estimate (73 bytes counted per signature).
fn check_fee(tx: &Transaction, parents: &[&Transaction], feerate: u64) {
    let fee = value_in(tx, parents) - tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>();
    let w = tx.weight().to_wu();
    let lo = w * feerate / 1000;
    let hi = (w + 3 * tx.input.len() as u64) * feerate / 1000;
    assert!(lo <= fee && fee <= hi, "fee {fee} for weight {w}");
}

/// Our wallet script (P2WPKH of the payment basepoint).
fn wallet_script(n: &Node) -> ScriptBuf {
    let pk = bitcoin::CompressedPublicKey(n.ch.keys().pubkeys().payment_basepoint.0);
    ScriptBuf::new_p2wpkh(&pk.wpubkey_hash())
}

fn outpoint(tx: &Transaction, vout: usize) -> OutPoint {
    OutPoint {
        txid: tx.compute_txid(),
        vout: vout as u32,
    }
}

/// Actions of one command, run through the node.
fn act(n: &mut Node, cmd: Command) -> Vec<Action> {
    let acts = n.ch.handle(cmd).unwrap();
    n.run(acts.clone(), None);
    acts
}

/// The node's own current commitment, signed: what it would broadcast.
fn signed_commitment(n: &Node) -> Transaction {
    let (_, tx) =
        n.ch.commitments()
            .unwrap()
            .signed_local_tx(n.ch.keys())
            .unwrap();
    tx
}

/// `tx`, seen on chain, spends the funding output.
fn funding_spent(n: &mut Node, tx: &Transaction) -> Vec<Action> {
    act(n, Command::FundingSpent { tx: tx.clone() })
}

fn txs_of(acts: &[Action]) -> Vec<Later> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Publish(t) => Some((t.clone(), 0, vec![])),
            Action::PublishLater {
                tx,
                height,
                confirmed,
            } => Some((tx.clone(), *height, confirmed.clone())),
            _ => None,
        })
        .collect()
}

fn watched(acts: &[Action]) -> Vec<OutPoint> {
    acts.iter()
        .filter_map(|a| match a {
            Action::WatchSpent { outpoint } => Some(*outpoint),
            _ => None,
        })
        .collect()
}

/// A's offered HTLC (10_000 sat, #1), B's offered HTLC (20_000 sat, #2),
/// both cross-signed.
fn pair_with_htlcs(anchors: bool) -> Pair {
    let mut p = open_pair(OpenOpts {
        anchors,
        ..OpenOpts::default()
    });
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.add(Side::Counterparty, Msat(20_000_000), 2).unwrap();
    p.sign(Side::Holder);
    p.sign(Side::Counterparty);
    p.check();
    p
}

fn force_close_ours(anchors: bool) {
    let mut p = pair_with_htlcs(anchors);
    // A knows the preimage of B's HTLC (fulfill sent, not yet signed).
    p.a.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(2),
    })
    .unwrap();
    let delay =
        p.a.ch
            .commitments()
            .unwrap()
            .params
            .counterparty
            .to_self_delay;
    assert_eq!(delay, 144);
    let acts = act(&mut p.a, Command::ForceClose);
    assert!(matches!(acts[0], Action::Persist(_)));
    let txs = txs_of(&acts);
    assert_eq!(txs.len(), 6, "commitment, 2 HTLC txs, 3 delayed sweeps");
    let (commit, h0, c0) = &txs[0];
    assert_eq!((*h0, c0.len()), (0, 0), "commitment published now");
    assert!(matches!(acts[1], Action::Publish(_)));
    let ctxid = commit.compute_txid();
    assert_eq!(
        commit.input[0].previous_output,
        p.a.ch.commitments().unwrap().params.funding_outpoint
    );
    let c = p.a.ch.commitments().unwrap();
    assert_eq!(
        commitment_number(&c.params, commit),
        Some(c.local_commit.index)
    );
    let csv1: Vec<(Txid, u16)> = if anchors { vec![(ctxid, 1)] } else { vec![] };
    // Second stage, in the order of the HTLC signatures (output order).
    let mut timeout = None;
    let mut success = None;
    for (t, h, c) in &txs[1..3] {
        assert_eq!(t.input[0].previous_output.txid, ctxid);
        assert_eq!(t.input[0].witness.len(), 5);
        verify(t, &[commit]);
        if t.lock_time.to_consensus_u32() == 500 {
            assert_eq!((*h, c), (500, &csv1), "HTLC-timeout at its cltv_expiry");
            assert_eq!(
                t.output[0].value.to_sat(),
                if anchors {
                    10_000
                } else {
                    10_000 - 663 * 2500 / 1000
                }
            );
            timeout = Some(t.clone());
        } else {
            assert_eq!(t.lock_time.to_consensus_u32(), 0);
            assert_eq!((*h, c), (0, &csv1), "HTLC-success now");
            assert_eq!(t.input[0].witness.nth(3).unwrap(), preimage(2).0);
            assert_eq!(
                t.output[0].value.to_sat(),
                if anchors {
                    20_000
                } else {
                    20_000 - 703 * 2500 / 1000
                }
            );
            success = Some(t.clone());
        }
    }
    let (timeout, success) = (timeout.unwrap(), success.unwrap());
    // Delayed sweeps: to_local first, then the HTLC txs' outputs.
    let dest = wallet_script(&p.a);
    let (to_local, h, c) = &txs[3];
    assert_eq!((*h, c.clone()), (0, vec![(ctxid, delay)]));
    assert_eq!(to_local.input[0].sequence, Sequence(u32::from(delay)));
    assert_eq!(to_local.output.len(), 1);
    assert_eq!(to_local.output[0].script_pubkey, dest);
    verify(to_local, &[commit]);
    check_fee(to_local, &[commit], 1000);
    let local_value = commit.output[to_local.input[0].previous_output.vout as usize]
        .value
        .to_sat();
    let (a_bal, _, _) = p.a.ch.balances().unwrap();
    assert!(
        local_value < a_bal.0 / 1000,
        "to_local is A's balance minus the fee"
    );
    for (t, h, c) in &txs[4..] {
        let parent = if t.input[0].previous_output.txid == timeout.compute_txid() {
            &timeout
        } else {
            &success
        };
        assert_eq!(t.input[0].previous_output, outpoint(parent, 0));
        assert_eq!((*h, c.clone()), (0, vec![(parent.compute_txid(), delay)]));
        assert_eq!(t.output[0].script_pubkey, dest);
        verify(t, &[parent]);
        check_fee(t, &[parent], 1000);
    }
    // A watches the output of the HTLC it offered (B may claim it with the preimage).
    let w = watched(&acts);
    assert_eq!(w, vec![timeout.input[0].previous_output]);
    assert_eq!(p.a.ch.status(), Some(Status::Closing));
    assert!(p.a.events.contains(&Event::ForceClosed {
        txid: ctxid,
        ours: true
    }));
    // After a restart the same transactions come back, with the same conditions.
    p.a.reload();
    let again = p.a.ch.onchain_actions();
    assert_eq!(txs_of(&again), txs);
    assert_eq!(watched(&again), w);
    // Seen on chain: closed, nothing new.
    let acts = funding_spent(&mut p.a, commit);
    assert!(txs_of(&acts).is_empty());
    assert_eq!(p.a.ch.status(), Some(Status::Closed));

    // B claims A's HTLC on A's commitment with the preimage: A learns it.
    let b_before = p.b.published.len();
    let b_later = p.b.later.len();
    p.b.handle(Command::FundingSpent { tx: commit.clone() })
        .unwrap();
    p.b.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(1),
    })
    .unwrap();
    let claims: Vec<Transaction> = p.b.published[b_before..]
        .iter()
        .chain(p.b.later[b_later..].iter().map(|(t, _, _)| t))
        .filter(|t| {
            t.input
                .iter()
                .any(|i| i.previous_output == timeout.input[0].previous_output)
        })
        .cloned()
        .collect();
    assert_eq!(claims.len(), 1, "B claims A's HTLC with the preimage");
    verify(&claims[0], &[commit]);
    let acts = act(
        &mut p.a,
        Command::OutputSpent {
            tx: claims[0].clone(),
        },
    );
    assert!(acts.iter().any(|a| matches!(a,
        Action::Event(Event::HtlcFulfilled { id: 0, preimage: pr }) if *pr == preimage(1))));
}

#[test]
fn our_force_close_anchors() {
    force_close_ours(true);
}

#[test]
fn our_force_close_static_remotekey() {
    force_close_ours(false);
}

/// The peer's current commitment: to_remote, HTLCs it offered with the
/// preimage, HTLCs we offered after their expiry.
fn peer_current_commitment(anchors: bool) {
    let mut p = pair_with_htlcs(anchors);
    let b_commit = signed_commitment(&p.b);
    // A has fulfilled B's HTLC (not signed yet) when B's commitment confirms.
    p.a.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(2),
    })
    .unwrap();
    let acts = funding_spent(&mut p.a, &b_commit);
    let ctxid = b_commit.compute_txid();
    assert!(p.a.events.contains(&Event::ForceClosed {
        txid: ctxid,
        ours: false
    }));
    assert_eq!(p.a.ch.status(), Some(Status::Closed));
    let txs = txs_of(&acts);
    let dest = wallet_script(&p.a);
    let pk = p.a.ch.keys().pubkeys().payment_basepoint.0;
    let to_remote_spk = if anchors {
        ScriptBuf::new_p2wsh(&lnwasm::tx::script::to_remote_anchors_script(&pk).wscript_hash())
    } else {
        dest.clone()
    };
    let to_remote_vout = b_commit
        .output
        .iter()
        .position(|o| o.script_pubkey == to_remote_spk)
        .unwrap();
    let mut seen = 0;
    for (t, h, c) in &txs {
        assert_eq!(t.input.len(), 1);
        assert_eq!(t.input[0].previous_output.txid, ctxid);
        assert_eq!(t.output[0].script_pubkey, dest);
        verify(t, &[&b_commit]);
        check_fee(t, &[&b_commit], 1000);
        let csv1: Vec<(Txid, u16)> = if anchors { vec![(ctxid, 1)] } else { vec![] };
        let vout = t.input[0].previous_output.vout as usize;
        if vout == to_remote_vout {
            assert!(
                anchors,
                "static_remotekey: to_remote already pays our wallet"
            );
            assert_eq!((*h, c), (0, &csv1));
            seen |= 1;
        } else if b_commit.output[vout].value.to_sat() == 20_000 {
            // B offered it: spent with the preimage.
            assert_eq!((*h, c), (0, &csv1));
            assert_eq!(t.input[0].witness.nth(1).unwrap(), preimage(2).0);
            seen |= 2;
        } else {
            // A offered it: after its expiry.
            assert_eq!(b_commit.output[vout].value.to_sat(), 10_000);
            assert_eq!((*h, c), (500, &csv1));
            assert_eq!(t.lock_time.to_consensus_u32(), 500);
            seen |= 4;
        }
    }
    assert_eq!(seen, if anchors { 7 } else { 6 });
    assert_eq!(txs.len(), if anchors { 3 } else { 2 });
    if !anchors {
        assert_eq!(b_commit.output[to_remote_vout].script_pubkey, dest);
    }
    // A watches its offered HTLC.
    let w = watched(&acts);
    assert_eq!(w.len(), 1);
    assert_eq!(b_commit.output[w[0].vout as usize].value.to_sat(), 10_000);
}

#[test]
fn peer_current_commitment_anchors() {
    peer_current_commitment(true);
}

#[test]
fn peer_current_commitment_static_remotekey() {
    peer_current_commitment(false);
}

#[test]
fn peer_next_commitment_and_late_preimage() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Counterparty, Msat(20_000_000), 2).unwrap();
    p.sign(Side::Counterparty);
    // A adds an HTLC and signs; B gets the signature, but A never sees B's
    // revocation: B's newest commitment is A's "next" one.
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.a.handle(Command::Sign).unwrap();
    deliver(&mut p.a, &mut p.b);
    p.b.outbox.clear();
    let b_commit = signed_commitment(&p.b);
    assert_ne!(
        b_commit.compute_txid(),
        p.a.ch.commitments().unwrap().remote_commit.txid
    );
    let acts = funding_spent(&mut p.a, &b_commit);
    let txs = txs_of(&acts);
    // to_remote (anchors) and the timeout claim of A's new HTLC.
    assert_eq!(txs.len(), 2);
    for (t, _, _) in &txs {
        verify(t, &[&b_commit]);
    }
    assert!(txs.iter().any(|(t, h, _)| *h == 500
        && b_commit.output[t.input[0].previous_output.vout as usize]
            .value
            .to_sat()
            == 10_000));
    // A learns the preimage of B's HTLC afterwards: claimed on chain.
    let acts = act(
        &mut p.a,
        Command::FulfillHtlc {
            id: 0,
            preimage: preimage(2),
        },
    );
    let txs = txs_of(&acts);
    assert_eq!(txs.len(), 1);
    let (t, h, c) = &txs[0];
    assert_eq!((*h, c.clone()), (0, vec![(b_commit.compute_txid(), 1)]));
    assert_eq!(
        b_commit.output[t.input[0].previous_output.vout as usize]
            .value
            .to_sat(),
        20_000
    );
    verify(t, &[&b_commit]);
    // A wrong preimage is refused, the channel unchanged.
    let e =
        p.a.ch
            .handle(Command::FulfillHtlc {
                id: 0,
                preimage: preimage(3),
            })
            .unwrap_err();
    assert_eq!(lnwasm::error::ErrorCode::code(&e), "INVALID_PREIMAGE");
    // The same fulfill again adds nothing.
    let acts = act(
        &mut p.a,
        Command::FulfillHtlc {
            id: 0,
            preimage: preimage(2),
        },
    );
    assert!(txs_of(&acts).is_empty());
}

/// B's commitment with both HTLCs, which B then revokes; returns it with
/// B's HTLC-timeout and HTLC-success transactions of it.
fn revoked_setup(anchors: bool) -> (Pair, Transaction, Transaction, Transaction) {
    let mut p = pair_with_htlcs(anchors);
    let c = p.b.ch.commitments().unwrap().clone();
    let keys = p.b.ch.keys().clone();
    let (ctx, old) = c.signed_local_tx(&keys).unwrap();
    let htlc_key = keys.htlc_key(&ctx.keys().per_commitment_point).unwrap();
    let mut timeout = None;
    let mut success = None;
    for (h, sig) in ctx
        .htlc_txs()
        .unwrap()
        .iter()
        .zip(&c.local_commit.htlc_sigs)
    {
        let ours = h.sign_as_broadcaster(&htlc_key).unwrap();
        match h.kind() {
            HtlcTxKind::Timeout => timeout = Some(h.finalize(sig, &ours, None).unwrap()),
            HtlcTxKind::Success => {
                success = Some(h.finalize(sig, &ours, Some(&preimage(1).0)).unwrap())
            }
        }
    }
    // Both HTLCs settle: B's commitment above is revoked.
    p.a.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(2),
    })
    .unwrap();
    p.b.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(1),
    })
    .unwrap();
    p.sign(Side::Holder);
    p.sign(Side::Counterparty);
    p.check();
    assert!(p.a.ch.commitments().unwrap().remote_commit.index > ctx.commitment_number());
    (p, old, timeout.unwrap(), success.unwrap())
}

fn revoked(anchors: bool) {
    let (mut p, old, b_timeout, b_success) = revoked_setup(anchors);
    let acts = funding_spent(&mut p.a, &old);
    let txs = txs_of(&acts);
    // The penalty, and under anchors our to_remote after its 1-block CSV.
    assert_eq!(txs.len(), if anchors { 2 } else { 1 });
    if anchors {
        let (t, h, c) = &txs[1];
        assert_eq!((*h, c.clone()), (0, vec![(old.compute_txid(), 1)]));
        assert_eq!(t.input.len(), 1);
        verify(t, &[&old]);
    }
    let (pen, h, c) = &txs[0];
    assert_eq!((*h, c.len()), (0, 0), "published at once");
    verify(pen, &[&old]);
    check_fee(pen, &[&old], 1000);
    assert_eq!(pen.output.len(), 1);
    assert_eq!(pen.output[0].script_pubkey, wallet_script(&p.a));
    let n = commitment_number(&p.a.ch.commitments().unwrap().params, &old).unwrap();
    assert!(p.a.events.contains(&Event::RevokedCommitmentSeen {
        commitment_number: n,
        penalty_txid: pen.compute_txid(),
    }));
    // to_local and both HTLCs: every output but the anchors and our to_remote.
    let mut taken: Vec<u32> = pen.input.iter().map(|i| i.previous_output.vout).collect();
    taken.sort();
    let pk = p.a.ch.keys().pubkeys().payment_basepoint.0;
    let to_remote_spk = if anchors {
        ScriptBuf::new_p2wsh(&lnwasm::tx::script::to_remote_anchors_script(&pk).wscript_hash())
    } else {
        wallet_script(&p.a)
    };
    let expect: Vec<u32> = (0..old.output.len() as u32)
        .filter(|v| {
            let o = &old.output[*v as usize];
            o.value.to_sat() != 330 && o.script_pubkey != to_remote_spk
        })
        .collect();
    assert_eq!(taken, expect);
    assert_eq!(expect.len(), 3);
    // Both HTLC outputs are watched.
    let mut w = watched(&acts);
    w.sort();
    let mut htlc_outs = vec![
        b_timeout.input[0].previous_output,
        b_success.input[0].previous_output,
    ];
    htlc_outs.sort();
    assert_eq!(w, htlc_outs);

    // B gets its HTLC-timeout in first: A takes its output with the
    // revocation key and re-issues the penalty without that input.
    verify(&b_timeout, &[&old]);
    let acts = act(
        &mut p.a,
        Command::OutputSpent {
            tx: b_timeout.clone(),
        },
    );
    let txs = txs_of(&acts);
    assert_eq!(txs.len(), 2);
    let (second, h, c) = &txs[0];
    assert_eq!((*h, c.len()), (0, 0));
    assert_eq!(second.input.len(), 1);
    assert_eq!(second.input[0].previous_output, outpoint(&b_timeout, 0));
    assert_eq!(second.input[0].witness.nth(1).unwrap(), [1u8]);
    verify(second, &[&b_timeout]);
    check_fee(second, &[&b_timeout], 1000);
    let (pen2, _, _) = &txs[1];
    assert_eq!(pen2.input.len(), 2);
    assert!(pen2
        .input
        .iter()
        .all(|i| i.previous_output != b_timeout.input[0].previous_output));
    verify(pen2, &[&old]);
    // The replaced penalty reported as spending a watched output: ours, ignored.
    let acts = act(&mut p.a, Command::OutputSpent { tx: pen.clone() });
    assert!(acts.is_empty(), "{acts:?}");
    // Then its HTLC-success: one more second-stage penalty, and the last
    // penalty keeps only to_local.
    let acts = act(
        &mut p.a,
        Command::OutputSpent {
            tx: b_success.clone(),
        },
    );
    let txs = txs_of(&acts);
    assert_eq!(txs.len(), 2);
    verify(&txs[0].0, &[&b_success]);
    assert_eq!(txs[0].0.input[0].previous_output, outpoint(&b_success, 0));
    assert_eq!(txs[1].0.input.len(), 1);
    verify(&txs[1].0, &[&old]);
    // The penalties are kept for rebroadcast, the replaced one is not.
    let kept: Vec<Txid> = txs_of(&p.a.ch.onchain_actions())
        .iter()
        .map(|(t, _, _)| t.compute_txid())
        .collect();
    assert!(!kept.contains(&pen.compute_txid()));
    assert!(!kept.contains(&pen2.compute_txid()));
    assert!(kept.contains(&txs[1].0.compute_txid()));
    assert!(kept.contains(&second.compute_txid()));
}

#[test]
fn revoked_commitment_penalty_and_second_stage_anchors() {
    revoked(true);
}

#[test]
fn revoked_commitment_penalty_and_second_stage_static_remotekey() {
    revoked(false);
}

#[test]
fn after_data_loss_the_peers_unknown_commitment_pays_our_to_remote() {
    let mut p = open_pair(OpenOpts::default());
    let old = p.a.store.clone();
    for i in 0..2 {
        p.add(Side::Holder, Msat(1_000_000), i).unwrap();
        p.sign(Side::Holder);
    }
    p.a.store = old;
    p.a.reload();
    p.disconnect();
    p.a.handle(Command::Connected).unwrap();
    p.b.handle(Command::Connected).unwrap();
    deliver(&mut p.b, &mut p.a);
    assert_eq!(p.a.ch.state_name(), "WAITING_FOR_REMOTE_CLOSE");
    // B closes with a commitment A has never seen.
    let b_commit = signed_commitment(&p.b);
    let acts = funding_spent(&mut p.a, &b_commit);
    let txs = txs_of(&acts);
    assert_eq!(txs.len(), 1, "our to_remote, found by its script");
    let (t, h, c) = &txs[0];
    assert_eq!((*h, c.clone()), (0, vec![(b_commit.compute_txid(), 1)]));
    verify(t, &[&b_commit]);
    check_fee(t, &[&b_commit], 1000);
    let pk = p.a.ch.keys().pubkeys().payment_basepoint.0;
    let spk =
        ScriptBuf::new_p2wsh(&lnwasm::tx::script::to_remote_anchors_script(&pk).wscript_hash());
    assert_eq!(
        b_commit.output[t.input[0].previous_output.vout as usize].script_pubkey,
        spk
    );
    assert!(p.a.events.contains(&Event::ForceClosed {
        txid: b_commit.compute_txid(),
        ours: false
    }));
}

#[test]
fn preimage_learnt_after_our_force_close() {
    let mut p = pair_with_htlcs(true);
    let acts = act(&mut p.a, Command::ForceClose);
    let commit = txs_of(&acts)[0].0.clone();
    // Only the HTLC-timeout: the preimage of B's HTLC is unknown.
    assert_eq!(
        txs_of(&acts)
            .iter()
            .filter(
                |(t, _, _)| t.input[0].previous_output.txid == commit.compute_txid()
                    && t.input[0].witness.len() == 5
            )
            .count(),
        1
    );
    let acts = act(
        &mut p.a,
        Command::FulfillHtlc {
            id: 0,
            preimage: preimage(2),
        },
    );
    assert!(matches!(acts[0], Action::Persist(_)));
    let txs = txs_of(&acts);
    assert_eq!(txs.len(), 2, "HTLC-success and the sweep of its output");
    let (success, h, c) = &txs[0];
    assert_eq!((*h, c.clone()), (0, vec![(commit.compute_txid(), 1)]));
    assert_eq!(success.input[0].witness.nth(3).unwrap(), preimage(2).0);
    verify(success, &[&commit]);
    let (sweep, _, c) = &txs[1];
    assert_eq!(c.clone(), vec![(success.compute_txid(), 144)]);
    verify(sweep, &[success]);
    // Kept for rebroadcast.
    let again = txs_of(&p.a.ch.onchain_actions());
    assert!(again.iter().any(|(t, _, _)| t == success));
    assert!(again.iter().any(|(t, _, _)| t == sweep));
}

#[test]
fn a_mutual_close_we_did_not_record_is_recognised() {
    let mut p = open_pair(OpenOpts::default());
    p.a.handle(Command::Close {
        script: None,
        feerate: lnwasm::tx::FeeratePerKw(1000),
    })
    .unwrap();
    deliver(&mut p.a, &mut p.b);
    deliver(&mut p.b, &mut p.a);
    deliver(&mut p.a, &mut p.b);
    // B agreed and published; A never gets B's last closing_signed.
    let closing = p.b.published.last().unwrap().clone();
    p.a.outbox.clear();
    p.b.outbox.clear();
    assert_eq!(p.a.ch.status(), Some(Status::Negotiating));
    let acts = funding_spent(&mut p.a, &closing);
    assert!(txs_of(&acts).is_empty());
    assert!(p.a.events.contains(&Event::MutualClose {
        txid: closing.compute_txid()
    }));
    assert_eq!(p.a.ch.status(), Some(Status::Closed));
}

// ----- outcome of our HTLCs on chain -----

/// The `HtlcFailedOnChain` ids among `acts`.
fn failed_on_chain(acts: &[Action]) -> Vec<u64> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Event(Event::HtlcFailedOnChain { id }) => Some(*id),
            _ => None,
        })
        .collect()
}

fn confirm_watches(acts: &[Action]) -> Vec<Txid> {
    acts.iter()
        .filter_map(|a| match a {
            Action::WatchConfirmed { txid } => Some(*txid),
            _ => None,
        })
        .collect()
}

fn block(n: &mut Node, height: u32) -> Vec<Action> {
    act(n, Command::BlockConnected { height })
}

fn confirmed(n: &mut Node, tx: &Transaction, height: u32) -> Vec<Action> {
    act(
        n,
        Command::TxConfirmed {
            txid: tx.compute_txid(),
            height,
        },
    )
}

#[test]
fn our_htlc_timeout_six_blocks_deep_fails_the_htlc_once() {
    assert_eq!(lnwasm::channel::HTLC_RESOLUTION_DEPTH, 6);
    let mut p = pair_with_htlcs(true);
    let acts = act(&mut p.a, Command::ForceClose);
    let txs = txs_of(&acts);
    let commit = txs[0].0.clone();
    let timeout = txs
        .iter()
        .find(|(t, h, _)| *h == 500 && t.input[0].previous_output.txid == commit.compute_txid())
        .map(|(t, _, _)| t.clone())
        .expect("HTLC-timeout");
    // The commitment and the HTLC-timeout (the only transaction of ours
    // spending a commitment output: B's HTLC has no preimage, to_local is
    // swept from the commitment after 144 blocks) are followed.
    let w = confirm_watches(&acts);
    assert_eq!(w[0], commit.compute_txid());
    assert!(w.contains(&timeout.compute_txid()));
    funding_spent(&mut p.a, &commit);
    // The commitment confirms: A's HTLC has an output, nothing is decided.
    assert!(failed_on_chain(&confirmed(&mut p.a, &commit, 400)).is_empty());
    for h in 401..=520 {
        if h == 500 {
            assert!(failed_on_chain(&confirmed(&mut p.a, &timeout, 500)).is_empty());
        }
        let acts = block(&mut p.a, h);
        if h < 505 {
            assert!(failed_on_chain(&acts).is_empty(), "height {h}");
            assert!(acts.is_empty(), "nothing persisted at {h}");
        } else if h == 505 {
            // 500..=505: six confirmations.
            assert!(matches!(acts[0], Action::Persist(_)));
            assert_eq!(failed_on_chain(&acts), vec![0]);
        } else {
            assert!(acts.is_empty(), "reported once ({h})");
        }
    }
    // After a restart: not reported again, nothing left to follow.
    p.a.reload();
    assert!(confirm_watches(&p.a.ch.onchain_actions()).is_empty());
    assert_eq!(p.a.ch.funded().unwrap().onchain.resolved, vec![0]);
    assert!(block(&mut p.a, 521).is_empty());
    let acts = confirmed(&mut p.a, &timeout, 500);
    assert!(failed_on_chain(&acts).is_empty());
}

#[test]
fn timeout_with_a_fee_input_added_is_followed_through_its_spend() {
    // Under anchors the driver adds a fee input to the zero-fee
    // HTLC-timeout: its txid changes; the reported spend is followed.
    let mut p = pair_with_htlcs(true);
    let acts = act(&mut p.a, Command::ForceClose);
    let txs = txs_of(&acts);
    let commit = txs[0].0.clone();
    let mut bumped = txs
        .iter()
        .find(|(_, h, _)| *h == 500)
        .map(|(t, _, _)| t.clone())
        .unwrap();
    bumped.input.push(bitcoin::TxIn {
        previous_output: OutPoint {
            txid: Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
            vout: 7,
        },
        ..Default::default()
    });
    funding_spent(&mut p.a, &commit);
    confirmed(&mut p.a, &commit, 480);
    let acts = act(&mut p.a, Command::OutputSpent { tx: bumped.clone() });
    assert!(matches!(acts[0], Action::Persist(_)));
    assert_eq!(confirm_watches(&acts), vec![bumped.compute_txid()]);
    assert!(failed_on_chain(&acts).is_empty());
    // Remembered across a restart, with its watch.
    p.a.reload();
    assert!(confirm_watches(&p.a.ch.onchain_actions()).contains(&bumped.compute_txid()));
    confirmed(&mut p.a, &bumped, 502);
    assert!(failed_on_chain(&block(&mut p.a, 506)).is_empty());
    assert_eq!(failed_on_chain(&block(&mut p.a, 507)), vec![0]);
}

#[test]
fn htlcs_without_an_output_fail_once_the_commitment_is_six_deep() {
    let mut p = open_pair(OpenOpts::default());
    // A dust HTLC (trimmed), one cross-signed, and one only proposed.
    let dust = p.add(Side::Holder, Msat(200_000), 1).unwrap();
    let real = p.add(Side::Holder, Msat(10_000_000), 2).unwrap();
    p.sign(Side::Holder);
    let unsigned = p.add(Side::Holder, Msat(5_000_000), 3).unwrap();
    assert_eq!((dust, real, unsigned), (0, 1, 2));
    let acts = act(&mut p.a, Command::ForceClose);
    let commit = txs_of(&acts)[0].0.clone();
    // One HTLC output only (plus to_local, to_remote and two anchors).
    assert_eq!(commit.output.len(), 5);
    funding_spent(&mut p.a, &commit);
    assert!(failed_on_chain(&confirmed(&mut p.a, &commit, 300)).is_empty());
    assert!(failed_on_chain(&block(&mut p.a, 304)).is_empty());
    let acts = block(&mut p.a, 305);
    assert_eq!(failed_on_chain(&acts), vec![0, 2]);
    // The one with an output waits for its timeout.
    assert!(failed_on_chain(&block(&mut p.a, 600)).is_empty());
}

#[test]
fn peers_commitment_our_timeout_claim_fails_the_htlc_and_a_preimage_wins() {
    let mut p = pair_with_htlcs(true);
    // A second HTLC from A, that B will claim with its preimage.
    p.add(Side::Holder, Msat(11_000_000), 4).unwrap();
    p.sign(Side::Holder);
    let b_commit = signed_commitment(&p.b);
    let acts = funding_spent(&mut p.a, &b_commit);
    let claims: Vec<Transaction> = txs_of(&acts)
        .into_iter()
        .filter(|(_, h, _)| *h == 500)
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(claims.len(), 2, "both of A's HTLCs claimed after expiry");
    let w = confirm_watches(&acts);
    assert_eq!(w[0], b_commit.compute_txid());
    for c in &claims {
        assert!(w.contains(&c.compute_txid()));
    }
    confirmed(&mut p.a, &b_commit, 450);
    // B claims the 11_000 sat HTLC (id 1) with the preimage.
    p.b.handle(Command::FundingSpent {
        tx: b_commit.clone(),
    })
    .unwrap();
    let before = p.b.published.len();
    p.b.handle(Command::FulfillHtlc {
        id: 1,
        preimage: preimage(4),
    })
    .unwrap();
    let b_claim = p.b.published[before..]
        .iter()
        .chain(p.b.later.iter().map(|(t, _, _)| t))
        .find(|t| {
            t.input[0].previous_output.txid == b_commit.compute_txid()
                && t.input[0].witness.nth(3) == Some(&preimage(4).0[..])
        })
        .cloned()
        .expect("B's HTLC-success");
    verify(&b_claim, &[&b_commit]);
    let acts = act(
        &mut p.a,
        Command::OutputSpent {
            tx: b_claim.clone(),
        },
    );
    assert!(acts.iter().any(|a| matches!(a,
        Action::Event(Event::HtlcFulfilled { id: 1, preimage: pr }) if *pr == preimage(4))));
    // The same spend again: nothing new.
    let acts = act(
        &mut p.a,
        Command::OutputSpent {
            tx: b_claim.clone(),
        },
    );
    assert!(acts.is_empty(), "{} actions", acts.len());
    // A's claim of id 0 confirms at 500: failed six blocks later; id 1
    // (fulfilled) never fails.
    let claim0 = claims
        .iter()
        .find(|t| {
            b_commit.output[t.input[0].previous_output.vout as usize]
                .value
                .to_sat()
                == 10_000
        })
        .unwrap();
    confirmed(&mut p.a, claim0, 500);
    assert!(failed_on_chain(&block(&mut p.a, 504)).is_empty());
    assert_eq!(failed_on_chain(&block(&mut p.a, 505)), vec![0]);
    assert!(block(&mut p.a, 700).is_empty());
}

#[test]
fn an_htlc_the_peer_fulfilled_off_chain_is_never_failed_on_chain() {
    let mut p = pair_with_htlcs(true);
    // B fulfils A's HTLC; A sees the update (and the preimage), nothing signed.
    p.b.handle(Command::FulfillHtlc {
        id: 0,
        preimage: preimage(1),
    })
    .unwrap();
    deliver(&mut p.b, &mut p.a);
    assert!(p.a.events.contains(&Event::HtlcFulfilled {
        id: 0,
        preimage: preimage(1)
    }));
    let acts = act(&mut p.a, Command::ForceClose);
    assert!(
        confirm_watches(&acts).is_empty(),
        "no HTLC of ours to settle"
    );
    let commit = txs_of(&acts)[0].0.clone();
    let timeout = txs_of(&acts)
        .into_iter()
        .find(|(_, h, _)| *h == 500)
        .unwrap()
        .0;
    funding_spent(&mut p.a, &commit);
    confirmed(&mut p.a, &commit, 400);
    confirmed(&mut p.a, &timeout, 500);
    assert!(failed_on_chain(&block(&mut p.a, 600)).is_empty());
}

#[test]
fn revoked_commitment_penalty_six_deep_fails_our_htlc() {
    // B publishes a revoked commitment with A's HTLC on it: the penalty
    // takes the HTLC output, and its depth settles the HTLC.
    let mut p = pair_with_htlcs(false);
    let old = signed_commitment(&p.b);
    // A fee update makes that commitment revoked; A's HTLC stays pending.
    p.a.handle(Command::UpdateFee(lnwasm::tx::FeeratePerKw(3000)))
        .unwrap();
    p.sign(Side::Holder);
    p.sign(Side::Counterparty);
    assert!(p
        .a
        .ch
        .commitments()
        .unwrap()
        .revoked
        .iter()
        .any(|r| r.txid == old.compute_txid()));
    let acts = funding_spent(&mut p.a, &old);
    let pen = txs_of(&acts)[0].0.clone();
    assert!(confirm_watches(&acts).contains(&pen.compute_txid()));
    confirmed(&mut p.a, &old, 200);
    confirmed(&mut p.a, &pen, 201);
    assert!(failed_on_chain(&block(&mut p.a, 205)).is_empty());
    assert_eq!(failed_on_chain(&block(&mut p.a, 206)), vec![0]);
}

#[test]
fn version_1_and_2_records_still_load() {
    let p = pair_with_htlcs(true);
    let mut rec = p.a.ch.record().unwrap();
    assert_eq!(rec.data[4], 3);
    // Version 2 did not count sealed chunks of revoked commitments at the
    // end (all were inline; here there are none).
    assert_eq!(rec.data[rec.data.len() - 4..], [0u8; 4]);
    rec.data.truncate(rec.data.len() - 4);
    rec.data[4] = 2;
    let ch = lnwasm::channel::Channel::restore(&rec, &p.a.wallet, harness::config()).unwrap();
    assert_eq!(ch.funded(), p.a.ch.funded());
    // Version 1 had no on-chain state (three empty lists at the end).
    assert_eq!(rec.data[rec.data.len() - 12..], [0u8; 12]);
    rec.data.truncate(rec.data.len() - 12);
    rec.data[4] = 1;
    let ch = lnwasm::channel::Channel::restore(&rec, &p.a.wallet, harness::config()).unwrap();
    assert_eq!(ch.funded(), p.a.ch.funded());
}

#[test]
fn force_close_after_the_peers_commitment_confirmed_changes_nothing() {
    let mut p = pair_with_htlcs(true);
    let b_commit = signed_commitment(&p.b);
    funding_spent(&mut p.a, &b_commit);
    let before = p.a.ch.funded().unwrap().clone();
    let n = p.a.ch.update_number();
    let acts = act(&mut p.a, Command::ForceClose);
    assert!(acts.is_empty(), "{} actions", acts.len());
    assert_eq!(p.a.ch.funded().unwrap(), &before);
    assert_eq!(p.a.ch.update_number(), n);
    assert_eq!(
        p.a.ch.funded().unwrap().closing_txs[0].compute_txid(),
        b_commit.compute_txid()
    );
}
