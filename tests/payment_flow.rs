//! The payment layer on three in-process nodes A → B → C: each a
//! `ChannelManager` and a `Payments` with their own stores, wired back to
//! back through their actions.

#[path = "payment_harness.rs"]
mod payment_harness;

use lnwasm::channel::{Command, Event, ManagerEvent, ManagerInput};
use lnwasm::error::ErrorCode;
use lnwasm::invoice::{self, Description, NewInvoice};
use lnwasm::onion::FailureMessage;
use lnwasm::payment::{
    invoice_secrets, InvoiceRequest, InvoiceStatus, OutgoingStatus, PayFailure, PaymentError,
    PaymentEvent, PaymentInput, Payments, Route, RouteFailure,
};
use lnwasm::types::{Msat, PaymentHash, ShortChannelId};
use lnwasm::wire::{Features, Message};
use secp256k1::PublicKey;

use payment_harness::*;

#[test]
fn a_pays_c_through_b() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc1);
    let h = hash_of(&inv);
    let (pre, secret) = invoice_secrets(&[0xc1; 32]);
    assert_eq!(pre.payment_hash(), h);
    assert_eq!(invoice::decode(&inv).unwrap().payment_secret(), &secret);
    // The invoice is stored before it is handed out.
    assert_eq!(w.net.nodes[C].pstore.len(), 1);

    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    // The payment record is stored before the add, with the HTLC's values.
    let o = w.net.nodes[A].p.outgoing(&h).unwrap().clone();
    let a = o.attempt.clone().unwrap();
    assert_eq!(a.amount, Msat(AMOUNT + FEE));
    assert_eq!(a.cltv_expiry, HEIGHT + 18 + 3 + 40);
    assert_eq!(a.fee, Msat(FEE));
    assert_eq!(a.channel_id, w.ab);
    assert_eq!(a.shared_secrets.len(), 2);
    w.net.settle_and_sign();

    assert_eq!(
        w.sent(h),
        vec![&PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: pre,
            amount: Msat(AMOUNT),
            fee: Msat(FEE),
            attempts: 1,
        }]
    );
    assert!(w.net.nodes[C]
        .events
        .contains(&PaymentEvent::PaymentReceived {
            payment_hash: h,
            amount: Msat(AMOUNT),
        }));
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardSettled {
            payment_hash: h,
            fee: Msat(FEE),
        }));
    // Balances, exact: A paid amount + fee, B earned the fee, C got the amount.
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[B].balance(w.ab),
        (
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[B].balance(w.bc),
        (
            Msat(900_000_000 - AMOUNT),
            Msat(100_000_000 + AMOUNT),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[C].balance(w.bc),
        (
            Msat(100_000_000 + AMOUNT),
            Msat(900_000_000 - AMOUNT),
            Msat(0)
        )
    );
    // B keeps the preimage of the forward; C its claim.
    let f = w.net.nodes[B].p.forwards();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].preimage, Some(pre));
    assert_eq!(f[0].in_amount, Msat(AMOUNT + FEE));
    assert_eq!(f[0].out_amount, Msat(AMOUNT));
    assert_eq!(f[0].in_cltv, HEIGHT + 61);
    assert_eq!(f[0].out_cltv, HEIGHT + 21);
    // Settled on both sides: B forgets the forward at the next block.
    assert_eq!(w.net.nodes[B].pstore.len(), 1);
    w.net.nodes[B].block(HEIGHT + 1);
    assert!(w.net.nodes[B].p.forwards().is_empty());
    assert!(w.net.nodes[B].pstore.is_empty());
    let claim = w.net.nodes[C].p.invoice(&h).unwrap().claim.clone().unwrap();
    assert_eq!(claim.amount, Msat(AMOUNT));
    assert_eq!(claim.htlcs, vec![(w.bc, 0, HEIGHT + 21)]);
    // What listInvoices and listPayments show: paid for good (expiry no
    // longer matters), and sent with its fee and start time.
    let invoices: Vec<_> = w.net.nodes[C].p.invoices().collect();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].expires_at(), NOW + 3600);
    for t in [NOW, NOW + 3600, u64::MAX] {
        assert_eq!(
            invoices[0].status(t),
            InvoiceStatus::Paid {
                amount: Msat(AMOUNT)
            }
        );
    }
    let sent: Vec<_> = w.net.nodes[A].p.outgoing_payments().collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].payment_hash, &sent[0].status, sent[0].created_at),
        (
            h,
            &OutgoingStatus::Succeeded {
                preimage: pre,
                fee: Msat(FEE)
            },
            Some(NOW)
        )
    );
    assert_eq!(w.net.nodes[B].p.invoices().count(), 0);

    // Never twice.
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPaid)
    );
    assert_eq!(w.sent(h).len(), 1);
}

fn route_failure(hop_index: usize, node_id: PublicKey, m: FailureMessage) -> PayFailure {
    PayFailure::Route(RouteFailure {
        hop_index,
        node_id,
        code: m.code(),
        message: Some(m),
    })
}

#[test]
fn unknown_payment_hash() {
    let mut w = world();
    // Signed by C, but C never stored it.
    let mut other = Payments::new(w.net.nodes[C].secret, pconfig(), HEIGHT, NOW);
    let (inv, _) = other
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Direct("x".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0xdd; 32],
        )
        .unwrap();
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    let h = hash_of(&inv);
    assert_eq!(
        w.final_failure(h),
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT),
                height: HEIGHT
            }
        )
    );
    assert_eq!(
        FailureMessage::IncorrectOrUnknownPaymentDetails {
            htlc_msat: Msat(0),
            height: 0
        }
        .code(),
        0x400f
    );
    w.assert_initial_balances();
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardFailed { payment_hash: h }));
    assert!(w.net.nodes[B].p.forwards().is_empty());
}

#[test]
fn amount_below_invoice() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc2);
    // A forged copy asking for half, same hash and secret, signed by C's key.
    let d = invoice::decode(&inv).unwrap();
    let mut features = Features::empty();
    features.set_required(lnwasm::wire::features::Feature::PaymentSecret);
    let forged = NewInvoice {
        network: invoice::Network::Regtest,
        amount: Some(Msat(AMOUNT / 2)),
        timestamp: NOW,
        payment_hash: *d.payment_hash(),
        payment_secret: *d.payment_secret(),
        description: Description::Direct("coffee".into()),
        include_payee_node_id: false,
        expiry: Some(3600),
        min_final_cltv_expiry_delta: Some(18),
        fallbacks: vec![],
        route_hints: vec![],
        features,
        metadata: None,
    }
    .sign(&w.net.nodes[C].secret, &[])
    .unwrap();
    w.pay(&forged, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(*d.payment_hash()),
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT / 2),
                height: HEIGHT
            }
        )
    );
    assert!(w.net.nodes[C]
        .events
        .contains(&PaymentEvent::ReceiveFailed {
            payment_hash: *d.payment_hash(),
            code: 0x400f
        }));
    w.assert_initial_balances();
}

#[test]
fn expired_invoice() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 60, 0xc3);
    // C's clock is past the expiry; A's is not (it would refuse to pay).
    w.net.nodes[C].tick(NOW + 60);
    let failure = w.pay_until_failed(&inv, vec![w.route()], 20_000);
    assert_eq!(
        failure,
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT),
                height: HEIGHT
            }
        )
    );
    w.assert_initial_balances();
    // Listed as expired from its expiry on, open before; the failed
    // payment is listed as failed.
    let listed = w.net.nodes[C].p.invoice(&hash_of(&inv)).unwrap().clone();
    assert_eq!(listed.status(NOW + 59), InvoiceStatus::Open);
    assert_eq!(listed.status(NOW + 60), InvoiceStatus::Expired);
    let sent = w.net.nodes[A].p.outgoing(&hash_of(&inv)).unwrap();
    assert_eq!(sent.status, OutgoingStatus::Failed);
    // A refuses an invoice it sees expired.
    w.net.nodes[A].tick(NOW + 60);
    let inv2 = w.net.nodes[C].invoice(AMOUNT, 60, 0xc4);
    w.net.nodes[A].tick(NOW + 120);
    assert_eq!(
        w.pay(&inv2, vec![w.route()], 20_000),
        Err(PaymentError::InvoiceExpired)
    );
}

#[test]
fn too_little_cltv_at_the_payee() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc5);
    // C is 4 blocks ahead of A (its payment layer only), one more than
    // A's margin.
    w.net.nodes[C].payment_input(PaymentInput::BlockConnected { height: HEIGHT + 4 });
    let failure = w.pay_until_failed(&inv, vec![w.route()], 20_000);
    // 103 + 18 + 3 < 107 + 18.
    assert_eq!(
        failure,
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT),
                height: HEIGHT + 4
            }
        )
    );
    w.assert_initial_balances();
}

#[test]
fn insufficient_capacity_b_to_c() {
    let mut w = world();
    // B can offer 900 000 000 - 10 000 000 (reserve) on B→C.
    let amount = 890_000_001;
    let inv = w.net.nodes[C].invoice(amount, 3600, 0xc6);
    let failure = w.pay_until_failed(&inv, vec![w.route()], 200_000);
    assert_eq!(
        failure,
        route_failure(
            0,
            w.id(B),
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardRefused {
            payment_hash: hash_of(&inv),
            in_channel: w.ab,
            code: 0x1007
        }));
    w.assert_initial_balances();
}

#[test]
fn b_fee_policy_violated() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc7);
    // A believes B charges 1000 msat + 99 ppm: one msat short.
    let r = w.route_with(1000, 99, 40, w.scid_bc);
    let failure = w.pay_until_failed(&inv, vec![r], 20_000);
    assert_eq!(
        failure,
        route_failure(
            0,
            w.id(B),
            FailureMessage::FeeInsufficient {
                htlc_msat: Msat(AMOUNT + FEE - 100),
                channel_update: vec![]
            }
        )
    );
    w.assert_initial_balances();
}

#[test]
fn b_cltv_delta_violated() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc8);
    let r = w.route_with(1000, 100, 39, w.scid_bc);
    let failure = w.pay_until_failed(&inv, vec![r], 20_000);
    assert_eq!(
        failure,
        route_failure(
            0,
            w.id(B),
            FailureMessage::IncorrectCltvExpiry {
                cltv_expiry: HEIGHT + 18 + 3 + 39,
                channel_update: vec![]
            }
        )
    );
    w.assert_initial_balances();
}

#[test]
fn b_offline() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc9);
    // C unreachable from B: B answers temporary_channel_failure.
    w.net.disconnect(B, C);
    let failure = w.pay_until_failed(&inv, vec![w.route()], 20_000);
    assert_eq!(
        failure,
        route_failure(
            0,
            w.id(B),
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    // B itself unreachable: nothing is sent, nothing is stored.
    let inv2 = w.net.nodes[C].invoice(AMOUNT, 3600, 0xca);
    w.net.disconnect(A, B);
    assert_eq!(
        w.pay(&inv2, vec![w.route()], 20_000),
        Err(PaymentError::NoUsableRoute)
    );
    assert!(w.net.nodes[A].p.outgoing(&hash_of(&inv2)).is_none());
    assert_eq!(PaymentError::NoUsableRoute.code(), "NO_USABLE_ROUTE");
}

#[test]
fn retry_on_second_route() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcb);
    let h = hash_of(&inv);
    let bogus = ShortChannelId::new(999, 9, 9).unwrap();
    let first = w.route_with(1000, 100, 40, bogus);
    // A route over the failed channel is skipped; an over-budget one too.
    let same_bad = w.route_with(2000, 100, 40, bogus);
    let too_dear = w.route_with(30_000, 100, 40, w.scid_bc);
    w.pay(&inv, vec![first, same_bad, too_dear, w.route()], 20_000)
        .unwrap();
    w.net.settle_and_sign();
    assert!(w.a_events().contains(&PaymentEvent::AttemptFailed {
        payment_hash: h,
        failure: RouteFailure {
            hop_index: 0,
            node_id: w.id(B),
            code: 0x400a,
            message: Some(FailureMessage::UnknownNextPeer),
        }
    }));
    let (pre, _) = invoice_secrets(&[0xcb; 32]);
    assert_eq!(
        w.sent(h),
        vec![&PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: pre,
            amount: Msat(AMOUNT),
            fee: Msat(FEE),
            attempts: 2,
        }]
    );
    let o = w.net.nodes[A].p.outgoing(&h).unwrap();
    assert_eq!(o.tried, vec![0, 3]);
    assert_eq!(o.excluded_channels, vec![bogus]);
    assert_eq!(
        w.net.nodes[A].balance(w.ab).0,
        Msat(1_800_000_000 - AMOUNT - FEE)
    );
}

#[test]
fn final_failure_is_not_retried() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcc);
    w.net.nodes[C].tick(NOW + 3600);
    w.pay(&inv, vec![w.route(), w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    let h = hash_of(&inv);
    assert!(matches!(
        w.final_failure(h),
        PayFailure::Route(RouteFailure {
            hop_index: 1,
            code: 0x400f,
            ..
        })
    ));
    assert_eq!(w.net.nodes[A].p.outgoing(&h).unwrap().attempts, 1);
    assert!(!w
        .a_events()
        .iter()
        .any(|e| matches!(e, PaymentEvent::AttemptFailed { .. })));
}

#[test]
fn pending_payment_is_not_paid_again() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcd);
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPending)
    );
    w.net.settle_and_sign();
    assert_eq!(w.sent(hash_of(&inv)).len(), 1);
    assert_eq!(
        w.net.nodes[A].balance(w.ab).0,
        Msat(1_800_000_000 - AMOUNT - FEE)
    );
}

#[test]
fn payee_crash_after_claim_fulfils_after_restart() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xce);
    let h = hash_of(&inv);
    w.net.nodes[C].crash = CrashAt::ClaimPersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert!(w.net.nodes[C].crashed);
    assert!(w.sent(h).is_empty());
    // The HTLC is still in flight on both channels.
    assert_eq!(w.net.nodes[B].balance(w.bc).2, Msat(AMOUNT));
    assert_eq!(w.net.nodes[A].balance(w.ab).2, Msat(AMOUNT + FEE));

    w.net.disconnect(B, C);
    w.net.nodes[C].restart();
    w.net.connect(B, C);
    w.net.settle_and_sign();
    let (pre, _) = invoice_secrets(&[0xce; 32]);
    assert_eq!(
        w.sent(h),
        vec![&PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: pre,
            amount: Msat(AMOUNT),
            fee: Msat(FEE),
            attempts: 1,
        }]
    );
    assert_eq!(
        w.net.nodes[C].balance(w.bc),
        (
            Msat(100_000_000 + AMOUNT),
            Msat(900_000_000 - AMOUNT),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
}

#[test]
fn payer_crash_mid_payment_is_not_paid_twice() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcf);
    let h = hash_of(&inv);
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    // The add and its signature reach B; A dies before anything comes back.
    while w.net.step(A) {}
    w.net.nodes[A].crashed = true;
    w.net.settle();
    w.net.disconnect(A, B);
    w.net.nodes[A].restart();
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPending)
    );
    w.net.connect(A, B);
    w.net.settle_and_sign();
    assert_eq!(w.sent(h).len(), 1);
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPaid)
    );
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
    assert_eq!(w.net.nodes[C].balance(w.bc).0, Msat(100_000_000 + AMOUNT));
}

#[test]
fn payer_crash_before_the_add_reports_not_sent() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd0);
    let h = hash_of(&inv);
    w.net.nodes[A].crash = CrashAt::PaymentPersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    assert!(w.net.nodes[A].crashed);
    w.net.disconnect(A, B);
    w.net.nodes[A].restart();
    assert!(w.a_events().contains(&PaymentEvent::PaymentFailed {
        payment_hash: h,
        failure: PayFailure::NotSent
    }));
    w.net.connect(A, B);
    w.net.settle_and_sign();
    w.assert_initial_balances();
    // Nothing left: it may be paid now, once.
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(w.sent(h).len(), 1);
}

#[test]
fn malformed_downstream_reported_by_b_as_invalid_onion_hmac() {
    let mut w = world();
    // An invoice of a node X that is not C: B forwards over B→C, and C
    // cannot read a layer encrypted to X.
    let x = wallet(9);
    let mut xp = Payments::new(x.node_secret().unwrap(), pconfig(), HEIGHT, NOW);
    let (inv, _) = xp
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Direct("x".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0xee; 32],
        )
        .unwrap();
    let mut r = w.route();
    r.hops[1].node_id = x.node_id().unwrap();
    w.pay(&inv, vec![r], 20_000).unwrap();
    w.net.settle_and_sign();
    let to_c = w.net.nodes[B]
        .sent
        .iter()
        .find_map(|(to, m)| match m {
            Message::UpdateAddHtlc(a) if *to == w.id(C) => Some(a.onion_routing_packet.clone()),
            _ => None,
        })
        .expect("B forwarded");
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::InvalidOnionHmac {
                sha256_of_onion: lnwasm::onion::sha256_of_onion(&to_c)
            }
        )
    );
    // C answered update_fail_malformed_htlc.
    assert!(w.net.nodes[C].sent.iter().any(|(_, m)| matches!(
        m,
        Message::UpdateFailMalformedHtlc(f) if f.failure_code == 0xc005
    )));
    w.assert_initial_balances();
}

#[test]
fn malformed_incoming_onion_answered_with_fail_malformed() {
    let mut w = world();
    let h = PaymentHash([3; 32]);
    let zero = lnwasm::wire::OnionPacket(Box::new([0u8; lnwasm::wire::ONION_PACKET_LEN]));
    let ab = w.ab;
    let acts = w.net.nodes[A]
        .m
        .handle(ManagerInput::Command {
            channel_id: ab,
            command: Command::AddHtlc {
                amount: Msat(5_000_000),
                payment_hash: h,
                cltv_expiry: 200,
                onion: zero.clone(),
            },
        })
        .unwrap();
    w.net.nodes[A].run_manager(acts);
    w.net.settle_and_sign();
    let sent = w.net.nodes[B]
        .sent
        .iter()
        .find_map(|(_, m)| match m {
            Message::UpdateFailMalformedHtlc(f) => Some(f.clone()),
            _ => None,
        })
        .expect("fail_malformed");
    assert_eq!(sent.failure_code, 0xc006);
    assert_eq!(sent.sha256_of_onion, lnwasm::onion::sha256_of_onion(&zero));
    assert!(w.net.nodes[A].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { event: Event::HtlcFailedMalformed { id: 0, failure_code: 0xc006, sha256_of_onion }, .. }
            if *sha256_of_onion == lnwasm::onion::sha256_of_onion(&zero)
    )));
    w.assert_initial_balances();
}

#[test]
fn paid_over_the_invoice_route_hint() {
    let mut w = world();
    let hint = vec![invoice::RouteHintHop {
        node_id: w.id(B),
        short_channel_id: w.scid_bc,
        fee_base_msat: 1000,
        fee_proportional_millionths: 100,
        cltv_expiry_delta: 40,
    }];
    let (inv, acts) = w.net.nodes[C]
        .p
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Hash([0xab; 32]),
                expiry_secs: 600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![hint.clone()],
            },
            &[0xd1; 32],
        )
        .unwrap();
    w.net.nodes[C].run_payment(acts);
    let d = invoice::decode(&inv).unwrap();
    assert_eq!(d.route_hints(), std::slice::from_ref(&hint));
    assert_eq!(d.expiry_seconds(), 600);
    assert_eq!(d.min_final_cltv_expiry_delta(), 18);
    assert_eq!(d.description(), &Description::Hash([0xab; 32]));
    assert_eq!(d.payee(), &w.id(C));
    assert_eq!(d.timestamp(), NOW);
    let r = Route::from_hint(w.scid_ab, &d.route_hints()[0], *d.payee());
    assert_eq!(r, w.route());
    w.pay(&inv, vec![r], FEE).unwrap();
    w.net.settle_and_sign();
    assert_eq!(w.sent(*d.payment_hash()).len(), 1);
    assert_eq!(w.net.nodes[C].balance(w.bc).0, Msat(100_000_000 + AMOUNT));
}

#[test]
fn fee_budget_too_small_is_refused_before_sending() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd2);
    assert_eq!(
        w.pay(&inv, vec![w.route()], FEE - 1),
        Err(PaymentError::NoUsableRoute)
    );
    assert!(w.net.nodes[A].p.outgoing(&hash_of(&inv)).is_none());
}

#[test]
fn forwarder_crash_before_the_outgoing_add_fails_back() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd3);
    w.net.nodes[B].crash = CrashAt::ForwardPersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert!(w.net.nodes[B].crashed);
    w.net.disconnect(A, B);
    w.net.disconnect(B, C);
    w.net.nodes[B].restart();
    w.net.connect(A, B);
    w.net.connect(B, C);
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    assert!(w.net.nodes[B].pstore.is_empty());
    w.assert_initial_balances();
}

#[test]
fn forwarder_crash_after_the_preimage_fulfils_upstream_after_restart() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd4);
    let h = hash_of(&inv);
    w.net.nodes[B].crash = CrashAt::PreimagePersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert!(w.net.nodes[B].crashed);
    assert!(w.sent(h).is_empty());
    w.net.disconnect(A, B);
    w.net.disconnect(B, C);
    w.net.nodes[B].restart();
    w.net.connect(A, B);
    w.net.connect(B, C);
    w.net.settle_and_sign();
    assert_eq!(w.sent(h).len(), 1);
    assert_eq!(
        w.net.nodes[B].balance(w.ab),
        (
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[B].balance(w.bc),
        (
            Msat(900_000_000 - AMOUNT),
            Msat(100_000_000 + AMOUNT),
            Msat(0)
        )
    );
}

#[test]
fn payee_up_to_three_blocks_ahead_still_accepts() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd5);
    w.net.nodes[C].payment_input(PaymentInput::BlockConnected { height: HEIGHT + 3 });
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(w.sent(hash_of(&inv)).len(), 1);
}

#[test]
fn no_retry_after_the_payment_timeout() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd6);
    let bogus = ShortChannelId::new(999, 9, 9).unwrap();
    let first = w.route_with(1000, 100, 40, bogus);
    w.pay(&inv, vec![first, w.route()], 20_000).unwrap();
    // timeout_secs is 60: the failure comes back too late for a retry.
    w.net.nodes[A].tick(NOW + 60);
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(0, w.id(B), FailureMessage::UnknownNextPeer)
    );
    assert_eq!(
        w.net.nodes[A].p.outgoing(&hash_of(&inv)).unwrap().attempts,
        1
    );
    w.assert_initial_balances();
}
