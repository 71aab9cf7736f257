//! The payment layer when the outgoing channel of a forward goes on chain:
//! three in-process nodes A → B → C (each a `ChannelManager` and a
//! `Payments`), a hand-fed chain, and C going silent while it holds the
//! HTLC. B closes B–C at the HTLC's expiry; either its timeout confirms and
//! B fails A's HTLC back before A's own expiry, or C claims the HTLC on
//! chain with the preimage and B fulfils A's HTLC with it.
#![cfg(not(target_arch = "wasm32"))]

#[path = "payment_harness.rs"]
mod payment_harness;

use bitcoin::Transaction;
use lnwasm::channel::{Event, ManagerEvent, HTLC_RESOLUTION_DEPTH};
use lnwasm::invoice::{self, Description};
use lnwasm::onion::FailureMessage;
use lnwasm::payment::{
    invoice_secrets, InvoiceRequest, PayFailure, PayParams, PaymentEvent, Route, RouteFailure,
    RouteHop, OUTGOING_GRACE_BLOCKS,
};
use lnwasm::types::{Msat, PaymentHash};

use payment_harness::*;

/// The HTLC B offers C: height + min_final_cltv_expiry_delta (18) + 3.
const OUT_CLTV: u32 = HEIGHT + 18 + 3;
/// The HTLC A offers B: 40 blocks more (B's delta).
const IN_CLTV: u32 = OUT_CLTV + 40;

impl World {
    /// C issues an invoice, A pays it through B; the HTLCs are committed
    /// on both channels and C keeps its HTLC (its owner is away, or its
    /// fulfill is lost). Returns the payment hash.
    fn pay_and_let_c_hold(&mut self) -> PaymentHash {
        let inv = self.net.nodes[C].invoice(AMOUNT, 3600, 0xc1);
        self.pay(&inv, vec![self.route()], 20_000).unwrap();
        self.net.settle();
        hash_of(&inv)
    }

    /// B's HTLC to C is committed on both sides; C is then cut off.
    fn c_goes_silent(&mut self) {
        let htlcs = self.net.nodes[B].m.pending_htlcs();
        assert!(htlcs.iter().any(|(ch, _, a, _)| *ch == self.bc
            && a.amount == Msat(AMOUNT)
            && a.cltv_expiry == OUT_CLTV));
        self.net.disconnect(B, C);
    }

    /// Blocks up to B's force close of B–C: OUT_CLTV + OUTGOING_GRACE_BLOCKS.
    /// Returns B's commitment and its HTLC-timeout.
    fn b_closes_bc(&mut self) -> (Transaction, Transaction) {
        let close_at = OUT_CLTV + OUTGOING_GRACE_BLOCKS;
        let before = self.net.nodes[B].published.len();
        for h in HEIGHT + 1..close_at {
            self.net.block(&[A, B], h);
        }
        assert_eq!(self.net.nodes[B].published.len(), before, "no close yet");
        self.net.block(&[A, B], close_at);
        let h = self.net.nodes[C].p.invoice(&hash_c()).unwrap().payment_hash;
        assert!(self.net.nodes[B]
            .events
            .contains(&PaymentEvent::HtlcTimedOut {
                channel_id: self.bc,
                payment_hash: h,
            }));
        let funding = self.net.nodes[B]
            .m
            .channel(&self.bc)
            .unwrap()
            .commitments()
            .unwrap()
            .params
            .funding_outpoint;
        let commit = self.net.nodes[B]
            .published
            .iter()
            .find(|t| t.input[0].previous_output == funding)
            .cloned()
            .expect("B's commitment");
        let timeout = self.net.nodes[B]
            .published
            .iter()
            .find(|t| {
                t.input[0].previous_output.txid == commit.compute_txid()
                    && t.lock_time.to_consensus_u32() == OUT_CLTV
            })
            .cloned()
            .expect("B's HTLC-timeout");
        // B follows the commitment and the HTLC-timeout, and watches the
        // HTLC output (C may claim it with the preimage).
        let b = &self.net.nodes[B];
        assert!(b.confirm_watches.contains(&commit.compute_txid()));
        assert!(b.confirm_watches.contains(&timeout.compute_txid()));
        assert!(b.spent_watches.contains(&timeout.input[0].previous_output));
        (commit, timeout)
    }
}

fn hash_c() -> PaymentHash {
    invoice_secrets(&[0xc1; 32]).0.payment_hash()
}

fn a_failure(w: &World, h: PaymentHash) -> Option<PayFailure> {
    w.net.nodes[A].events.iter().find_map(|e| match e {
        PaymentEvent::PaymentFailed {
            payment_hash,
            failure,
        } if *payment_hash == h => Some(failure.clone()),
        _ => None,
    })
}

fn b_failed_upstream(w: &World) -> bool {
    w.net.nodes[B]
        .events
        .iter()
        .any(|e| matches!(e, PaymentEvent::ForwardFailed { .. }))
}

fn timeout_confirms_and_b_fails_back(restart_b: bool) {
    let mut w = world();
    w.net.nodes[C].payments_off = true;
    let h = w.pay_and_let_c_hold();
    assert_eq!(h, hash_c());
    w.c_goes_silent();
    let (commit, timeout) = w.b_closes_bc();
    let commit_height = OUT_CLTV + OUTGOING_GRACE_BLOCKS + 1;
    w.net.mine(&[B], &commit, commit_height);
    w.net.block(&[A, B], commit_height);
    if restart_b {
        w.net.nodes[B].restart();
        // The close's watches are registered again.
        let b = &w.net.nodes[B];
        assert!(b.confirm_watches.contains(&commit.compute_txid()));
        assert!(b.confirm_watches.contains(&timeout.compute_txid()));
        assert!(b.spent_watches.contains(&timeout.input[0].previous_output));
        // B's channels come back offline: A and B reconnect.
        w.net.disconnect(A, B);
        w.net.connect(A, B);
        w.net.settle();
    }
    // The HTLC-timeout (nLockTime OUT_CLTV, one confirmation of the
    // commitment under anchors) confirms in the next block.
    let timeout_height = commit_height + 1;
    w.net.mine(&[B], &timeout, timeout_height);
    let resolved = timeout_height + HTLC_RESOLUTION_DEPTH - 1;
    for height in timeout_height..resolved {
        w.net.block(&[A, B], height);
        assert!(!b_failed_upstream(&w), "not yet at {height}");
        assert_eq!(a_failure(&w, h), None);
    }
    w.net.block(&[A, B], resolved);
    assert!(w.net.nodes[B].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { channel_id, event: Event::HtlcFailedOnChain { id: 0 }, .. }
            if *channel_id == w.bc
    )));
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardFailed { payment_hash: h }));
    // A's HTLC failed back well before its expiry (and before A would
    // close A–B for it): B's own permanent_channel_failure reaches A.
    assert!(resolved + OUTGOING_GRACE_BLOCKS < IN_CLTV);
    assert_eq!(
        a_failure(&w, h),
        Some(PayFailure::Route(RouteFailure {
            hop_index: 0,
            node_id: w.net.nodes[B].id,
            code: 0x4000 | 8,
            message: Some(FailureMessage::PermanentChannelFailure),
        }))
    );
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (Msat(1_800_000_000), Msat(200_000_000), Msat(0))
    );
    assert_eq!(
        w.net.nodes[A].m.channel_info(&w.ab).unwrap().state,
        "NORMAL"
    );
    assert!(w.net.nodes[B].p.forwards().is_empty());
    // Nothing more: later blocks change nothing.
    let before = (w.net.nodes[A].events.len(), w.net.nodes[B].events.len());
    for height in resolved + 1..IN_CLTV + 10 {
        w.net.block(&[A, B], height);
    }
    assert_eq!(
        (w.net.nodes[A].events.len(), w.net.nodes[B].events.len()),
        before
    );
}

#[test]
fn timeout_on_chain_fails_the_forward_back_before_the_incoming_expiry() {
    timeout_confirms_and_b_fails_back(false);
}

#[test]
fn timeout_on_chain_fails_the_forward_back_after_a_restart_of_b() {
    timeout_confirms_and_b_fails_back(true);
}

#[test]
fn preimage_claimed_on_chain_by_c_fulfils_upstream() {
    let mut w = world();
    // C fulfils, but its update_fulfill_htlc (and everything after) is lost.
    w.net.nodes[C].lose_after_fulfill = true;
    let h = w.pay_and_let_c_hold();
    assert!(w.net.nodes[C].muted, "C fulfilled");
    w.c_goes_silent();
    let (commit, timeout) = w.b_closes_bc();
    let commit_height = OUT_CLTV + OUTGOING_GRACE_BLOCKS + 1;
    // C sees B's commitment: it claims the HTLC with the preimage.
    w.net.nodes[C].muted = false;
    let c_before = w.net.nodes[C].published.len();
    w.net.mine(&[B, C], &commit, commit_height);
    w.net.block(&[A, B], commit_height);
    let (preimage, _) = invoice_secrets(&[0xc1; 32]);
    let htlc_out = timeout.input[0].previous_output;
    let claim = w.net.nodes[C].published[c_before..]
        .iter()
        .find(|t| t.input.iter().any(|i| i.previous_output == htlc_out))
        .cloned()
        .expect("C's preimage claim");
    assert!(claim.input[0].witness.iter().any(|x| x == preimage.0));
    // The claim confirms before B's timeout could: B learns the preimage.
    w.net.mine(&[B], &claim, commit_height + 1);
    assert!(w.net.nodes[B].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { channel_id, event: Event::HtlcFulfilled { id: 0, preimage: p }, .. }
            if *channel_id == w.bc && *p == preimage
    )));
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardSettled {
            payment_hash: h,
            fee: Msat(FEE),
        }));
    assert!(w.net.nodes[A].events.iter().any(|e| matches!(
        e,
        PaymentEvent::PaymentSent { payment_hash, preimage: p, amount, fee, .. }
            if *payment_hash == h && *p == preimage && *amount == Msat(AMOUNT) && *fee == Msat(FEE)
    )));
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
    // Later blocks never fail it.
    for height in commit_height + 1..IN_CLTV + 10 {
        w.net.block(&[A, B], height);
    }
    assert!(!b_failed_upstream(&w));
    assert!(!w.net.nodes[B].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel {
            event: Event::HtlcFailedOnChain { .. },
            ..
        }
    )));
    assert_eq!(a_failure(&w, h), None);
}

#[test]
fn own_payment_timed_out_on_chain_fails_for_good() {
    // A pays B's invoice directly; B's owner is then away (B holds the
    // HTLC) and B goes silent.
    let mut w = world();
    let (s, acts) = w.net.nodes[B]
        .p
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Direct("tea".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0xb1; 32],
        )
        .unwrap();
    w.net.nodes[B].run_payment(acts);
    w.net.nodes[B].payments_off = true;
    let inv = invoice::decode(&s).unwrap();
    let route = Route {
        hops: vec![RouteHop {
            node_id: w.net.nodes[B].id,
            short_channel_id: w.scid_ab,
            fee_base_msat: 0,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 0,
        }],
    };
    let v = w.net.nodes[A].views();
    let acts = w.net.nodes[A]
        .p
        .pay_invoice(
            &inv,
            PayParams {
                max_fee: Msat(0),
                timeout_secs: 60,
                amount: None,
            },
            vec![route],
            &v,
            &[0x77; 32],
        )
        .unwrap();
    w.net.nodes[A].run_payment(acts);
    w.net.settle();
    let h = *inv.payment_hash();
    assert!(w.net.nodes[B]
        .m
        .pending_htlcs()
        .iter()
        .any(|(ch, _, a, _)| *ch == w.ab && a.payment_hash == h));
    w.net.disconnect(A, B);
    let close_at = OUT_CLTV + OUTGOING_GRACE_BLOCKS;
    let before = w.net.nodes[A].published.len();
    for height in HEIGHT + 1..=close_at {
        w.net.block(&[A], height);
    }
    assert!(w.net.nodes[A].events.contains(&PaymentEvent::HtlcTimedOut {
        channel_id: w.ab,
        payment_hash: h,
    }));
    let new: Vec<Transaction> = w.net.nodes[A].published[before..].to_vec();
    let commit = new[0].clone();
    let timeout = new
        .iter()
        .find(|t| {
            t.input[0].previous_output.txid == commit.compute_txid()
                && t.lock_time.to_consensus_u32() == OUT_CLTV
        })
        .cloned()
        .expect("A's HTLC-timeout");
    w.net.mine(&[A], &commit, close_at + 1);
    w.net.mine(&[A], &timeout, close_at + 2);
    let resolved = close_at + 2 + HTLC_RESOLUTION_DEPTH - 1;
    for height in close_at + 1..resolved {
        w.net.block(&[A], height);
        assert_eq!(a_failure(&w, h), None, "not yet at {height}");
    }
    w.net.block(&[A], resolved);
    assert_eq!(a_failure(&w, h), Some(PayFailure::OnChain));
    assert_eq!(
        w.net.nodes[A].p.outgoing(&h).unwrap().status,
        lnwasm::payment::OutgoingStatus::Failed
    );
}
