//! The decision core on its own: onions built here, channels described by
//! hand-made views, actions checked one by one.

use super::*;
use crate::onion::HopPayload;
use crate::onion::PaymentData;
use crate::wire::{OnionPacket, ONION_PACKET_LEN};

fn sk(i: u8) -> SecretKey {
    SecretKey::from_slice(&[i; 32]).unwrap()
}

fn pk(i: u8) -> PublicKey {
    PublicKey::from_secret_key(secp256k1::SECP256K1, &sk(i))
}

const IN: ChannelId = ChannelId([1; 32]);
const OUT: ChannelId = ChannelId([2; 32]);
const HEIGHT: u32 = 100;
const NOW: u64 = 1000;

fn views(usable: bool, outbound: u64) -> Vec<ChannelView> {
    vec![
        ChannelView {
            channel_id: IN,
            node_id: pk(1),
            scids: vec![ShortChannelId(10)],
            usable: true,
            outbound: Msat(0),
            received: vec![0, 1, 2, 3, 4],
        },
        ChannelView {
            channel_id: OUT,
            node_id: pk(3),
            scids: vec![ShortChannelId(20)],
            usable,
            outbound: Msat(outbound),
            received: vec![],
        },
    ]
}

fn node(i: u8) -> Payments {
    Payments::new(
        sk(i),
        PaymentConfig::new(crate::invoice::Network::Regtest),
        HEIGHT,
        NOW,
    )
}

fn hash() -> PaymentHash {
    PaymentPreimage([0x42; 32]).payment_hash()
}

/// An onion A → B(2) → C(3) and its secrets.
fn onion(b: HopPayload, c: HopPayload, h: PaymentHash) -> (OnionPacket, Vec<SharedSecret>) {
    let o = build_payment_onion(&sk(9), &[(pk(2), b), (pk(3), c)], &h).unwrap();
    (o.packet, o.shared_secrets)
}

fn final_payload(amt: u64, cltv: u32, secret: PaymentSecret, total: u64) -> HopPayload {
    HopPayload::receive(
        Msat(amt),
        cltv,
        Some(PaymentData {
            payment_secret: secret,
            total_msat: Msat(total),
        }),
        None,
    )
}

fn htlc(id: u64, amount: u64, cltv: u32, onion: OnionPacket, h: PaymentHash) -> PaymentInput {
    PaymentInput::HtlcReceived {
        channel_id: IN,
        htlc: HtlcAdd {
            id,
            amount: Msat(amount),
            payment_hash: h,
            cltv_expiry: cltv,
            onion,
        },
    }
}

/// The failure in a `FailHtlc` on `IN`, read with the sender's secrets.
fn failure(acts: &[PaymentAction], ss: &[SharedSecret]) -> (usize, FailureMessage) {
    let reason = acts
        .iter()
        .find_map(|a| match a {
            PaymentAction::Command {
                channel_id,
                command: Command::FailHtlc { reason, .. },
            } if *channel_id == IN => Some(reason.clone()),
            _ => None,
        })
        .expect("FailHtlc");
    let d = ErrorPacket(reason).decode(ss).unwrap();
    (d.hop_index, d.message.unwrap())
}

fn shape(acts: &[PaymentAction]) -> Vec<String> {
    acts.iter()
        .map(|a| match a {
            PaymentAction::Persist(r) => format!("persist {:02x}", r.key()[0]),
            PaymentAction::Delete(k) => format!("delete {:02x}", k[0]),
            PaymentAction::Command {
                channel_id,
                command,
            } => {
                let name = match command {
                    Command::AddHtlc { .. } => "add",
                    Command::FulfillHtlc { .. } => "fulfill",
                    Command::FailHtlc { .. } => "fail",
                    Command::FailMalformedHtlc { .. } => "malformed",
                    Command::Sign => "sign",
                    Command::ForceClose => "force_close",
                    _ => "other",
                };
                format!("{name} {}", channel_id.0[0])
            }
            PaymentAction::Event(_) => "event".into(),
        })
        .collect()
}

/// B forwards `amt` at `out_cltv` over scid 20, receiving `in_amt` at `in_cltv`.
fn forward_case(
    scid: u64,
    in_amt: u64,
    in_cltv: u32,
    amt: u64,
    out_cltv: u32,
    views: &[ChannelView],
) -> (Vec<PaymentAction>, Vec<SharedSecret>) {
    let h = hash();
    let (o, ss) = onion(
        HopPayload::forward(ShortChannelId(scid), Msat(amt), out_cltv),
        final_payload(amt, out_cltv, PaymentSecret([5; 32]), amt),
        h,
    );
    let mut b = node(2);
    (b.handle(htlc(0, in_amt, in_cltv, o, h), views), ss)
}

#[test]
fn forward_policy_checks() {
    let ok = views(true, 10_000_000);
    let off = views(false, 10_000_000);
    let small = views(true, 999_999);
    let tcf = FailureMessage::TemporaryChannelFailure {
        channel_update: vec![],
    };
    // fee on 1_000_000: 1000 + 100 = 1100; delta 40; minimum 1000;
    // outgoing expiry in (112, 2116].
    type Case<'a> = (u64, u64, u32, u64, u32, &'a [ChannelView], FailureMessage);
    let cases: Vec<Case<'_>> = vec![
        (
            99,
            1_001_100,
            240,
            1_000_000,
            200,
            &ok,
            FailureMessage::UnknownNextPeer,
        ),
        (20, 1_001_100, 240, 1_000_000, 200, &off, tcf.clone()),
        (
            20,
            10_000,
            240,
            999,
            200,
            &ok,
            FailureMessage::AmountBelowMinimum {
                htlc_msat: Msat(999),
                channel_update: vec![],
            },
        ),
        (
            20,
            1_001_099,
            240,
            1_000_000,
            200,
            &ok,
            FailureMessage::FeeInsufficient {
                htlc_msat: Msat(1_001_099),
                channel_update: vec![],
            },
        ),
        (
            20,
            1_001_100,
            239,
            1_000_000,
            200,
            &ok,
            FailureMessage::IncorrectCltvExpiry {
                cltv_expiry: 239,
                channel_update: vec![],
            },
        ),
        (
            20,
            1_001_100,
            152,
            1_000_000,
            112,
            &ok,
            FailureMessage::ExpiryTooSoon {
                channel_update: vec![],
            },
        ),
        (
            20,
            1_001_100,
            2157,
            1_000_000,
            2117,
            &ok,
            FailureMessage::ExpiryTooFar,
        ),
        (20, 1_001_100, 240, 1_000_000, 200, &small, tcf),
    ];
    for (scid, in_amt, in_cltv, amt, out_cltv, v, want) in cases {
        let (acts, ss) = forward_case(scid, in_amt, in_cltv, amt, out_cltv, v);
        assert_eq!(failure(&acts, &ss), (0, want.clone()), "{want:?}");
        assert_eq!(shape(&acts), vec!["fail 1", "event", "sign 1"]);
    }
    // At every boundary: forwarded; the record is stored before the add.
    for (in_cltv, out_cltv) in [(153, 113), (2156, 2116)] {
        let (acts, _) = forward_case(
            20,
            1_001_100,
            in_cltv,
            1_000_000,
            out_cltv,
            &views(true, 1_000_000),
        );
        assert_eq!(shape(&acts), vec!["persist 03", "add 2", "event", "sign 2"]);
        match &acts[1] {
            PaymentAction::Command {
                command:
                    Command::AddHtlc {
                        amount,
                        cltv_expiry,
                        payment_hash,
                        ..
                    },
                ..
            } => {
                assert_eq!(*amount, Msat(1_000_000));
                assert_eq!(*cltv_expiry, out_cltv);
                assert_eq!(*payment_hash, hash());
            }
            other => panic!("{other:?}"),
        }
    }
}

/// B with one forward in flight (outgoing id 7); A's secrets.
fn forwarding() -> (Payments, Vec<SharedSecret>, OnionPacket) {
    let h = hash();
    let (o, ss) = onion(
        HopPayload::forward(ShortChannelId(20), Msat(1_000_000), 200),
        final_payload(1_000_000, 200, PaymentSecret([5; 32]), 1_000_000),
        h,
    );
    let mut b = node(2);
    let v = views(true, 10_000_000);
    let acts = b.handle(htlc(3, 1_001_100, 240, o.clone(), h), &v);
    let next = match &acts[1] {
        PaymentAction::Command {
            command: Command::AddHtlc { onion, .. },
            ..
        } => onion.clone(),
        other => panic!("{other:?}"),
    };
    b.handle(
        PaymentInput::HtlcOffered {
            channel_id: OUT,
            id: 7,
            payment_hash: h,
        },
        &v,
    );
    (b, ss, next)
}

#[test]
fn forward_fulfilled_backwards_after_the_preimage_is_stored() {
    let (mut b, _, _) = forwarding();
    let v = views(true, 10_000_000);
    // A wrong preimage, or another HTLC id, is ignored.
    let wrong = b.handle(
        PaymentInput::HtlcFulfilled {
            channel_id: OUT,
            id: 7,
            preimage: PaymentPreimage([1; 32]),
        },
        &v,
    );
    assert!(wrong.is_empty());
    let pre = PaymentPreimage([0x42; 32]);
    let other = b.handle(
        PaymentInput::HtlcFulfilled {
            channel_id: OUT,
            id: 8,
            preimage: pre,
        },
        &v,
    );
    assert!(other.is_empty());
    let acts = b.handle(
        PaymentInput::HtlcFulfilled {
            channel_id: OUT,
            id: 7,
            preimage: pre,
        },
        &v,
    );
    assert_eq!(
        shape(&acts),
        vec!["persist 03", "fulfill 1", "event", "sign 1"]
    );
    match &acts[0] {
        PaymentAction::Persist(PaymentRecord::Forward(f)) => {
            assert_eq!(f.preimage, Some(pre));
            assert_eq!((f.in_channel, f.in_id), (IN, 3));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &acts[1],
        PaymentAction::Command { command: Command::FulfillHtlc { id: 3, preimage }, .. } if *preimage == pre
    ));
    match &acts[2] {
        PaymentAction::Event(e) => assert_eq!(
            *e,
            PaymentEvent::ForwardSettled {
                payment_hash: hash(),
                fee: Msat(1100)
            }
        ),
        other => panic!("{other:?}"),
    }
    // Only once.
    let again = b.handle(
        PaymentInput::HtlcFulfilled {
            channel_id: OUT,
            id: 7,
            preimage: pre,
        },
        &v,
    );
    assert!(again.is_empty());
}

#[test]
fn fulfilled_forward_pruned_or_claimed_on_chain() {
    let (mut b, _, _) = forwarding();
    let v = views(true, 10_000_000);
    let pre = PaymentPreimage([0x42; 32]);
    b.handle(
        PaymentInput::HtlcFulfilled {
            channel_id: OUT,
            id: 7,
            preimage: pre,
        },
        &v,
    );
    let mut b2 = b.clone();
    // Incoming HTLC 3 (expiry 240) still on our commitment.
    assert!(b
        .handle(PaymentInput::BlockConnected { height: 227 }, &v)
        .is_empty());
    let acts = b.handle(PaymentInput::BlockConnected { height: 228 }, &v);
    assert_eq!(shape(&acts), vec!["force_close 1", "event"]);
    match &acts[1] {
        PaymentAction::Event(e) => assert_eq!(
            *e,
            PaymentEvent::FulfilledHtlcUnsettled {
                channel_id: IN,
                payment_hash: hash()
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(b
        .handle(PaymentInput::BlockConnected { height: 229 }, &v)
        .is_empty());
    // Removed from our commitment: forgotten.
    let mut gone = v.clone();
    gone[0].received.clear();
    let acts = b2.handle(PaymentInput::BlockConnected { height: 101 }, &gone);
    assert_eq!(shape(&acts), vec!["delete 03"]);
    assert!(b2.forwards().is_empty());
}

#[test]
fn claimed_invoice_htlc_claimed_on_chain_near_expiry() {
    let v = views(true, 0);
    let (mut c, h, secret) = payee();
    let (o, _) = to_c(final_payload(1_000_000, 130, secret, 1_000_000), h);
    let acts = c.handle(htlc(2, 1_000_000, 130, o, h), &v);
    assert_eq!(
        shape(&acts),
        vec!["persist 01", "fulfill 1", "event", "sign 1"]
    );
    assert!(c
        .handle(PaymentInput::BlockConnected { height: 117 }, &v)
        .is_empty());
    let acts = c.handle(PaymentInput::BlockConnected { height: 118 }, &v);
    assert_eq!(shape(&acts), vec!["force_close 1", "event"]);
}

#[test]
fn forward_failed_backwards_wrapped() {
    let (mut b, ss, _) = forwarding();
    let v = views(true, 10_000_000);
    // C's own failure, created with the secret it shares with A.
    let m = FailureMessage::IncorrectOrUnknownPaymentDetails {
        htlc_msat: Msat(1_000_000),
        height: 100,
    };
    let packet = ErrorPacket::create(&ss[1], &m);
    let acts = b.handle(
        PaymentInput::HtlcFailed {
            channel_id: OUT,
            id: 7,
            reason: packet.0,
        },
        &v,
    );
    assert_eq!(shape(&acts), vec!["delete 03", "fail 1", "event", "sign 1"]);
    assert_eq!(failure(&acts, &ss), (1, m));
    assert!(b.forwards().is_empty());
}

#[test]
fn downstream_malformed_becomes_our_invalid_onion_failure() {
    let (mut b, ss, next) = forwarding();
    let v = views(true, 10_000_000);
    let acts = b.handle(
        PaymentInput::HtlcFailedMalformed {
            channel_id: OUT,
            id: 7,
            failure_code: 0xc005,
            sha256_of_onion: sha256_of_onion(&next),
        },
        &v,
    );
    assert_eq!(
        failure(&acts, &ss),
        (
            0,
            FailureMessage::InvalidOnionHmac {
                sha256_of_onion: sha256_of_onion(&next)
            }
        )
    );
}

#[test]
fn stuck_outgoing_htlc_closes_its_channel_once() {
    let (mut b, _, _) = forwarding();
    let v = views(true, 10_000_000);
    assert!(b
        .handle(PaymentInput::BlockConnected { height: 202 }, &v)
        .is_empty());
    let acts = b.handle(PaymentInput::BlockConnected { height: 203 }, &v);
    assert_eq!(shape(&acts), vec!["force_close 2", "event"]);
    match &acts[1] {
        PaymentAction::Event(e) => assert_eq!(
            *e,
            PaymentEvent::HtlcTimedOut {
                channel_id: OUT,
                payment_hash: hash()
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(b
        .handle(PaymentInput::BlockConnected { height: 204 }, &v)
        .is_empty());
}

#[test]
fn malformed_incoming_onion() {
    let mut b = node(2);
    let zero = OnionPacket(Box::new([0u8; ONION_PACKET_LEN]));
    let acts = b.handle(htlc(4, 1000, 200, zero.clone(), hash()), &views(true, 0));
    assert_eq!(shape(&acts), vec!["malformed 1", "sign 1"]);
    match &acts[0] {
        PaymentAction::Command {
            command:
                Command::FailMalformedHtlc {
                    id,
                    sha256_of_onion: sha,
                    failure_code,
                },
            ..
        } => {
            assert_eq!(*id, 4);
            assert_eq!(*failure_code, 0xc006);
            assert_eq!(*sha, sha256_of_onion(&zero));
        }
        other => panic!("{other:?}"),
    }
}

/// C with an invoice of 1_000_000 msat (min_final 18, expiry 3600).
fn payee() -> (Payments, PaymentHash, PaymentSecret) {
    let mut c = node(3);
    let (_, acts) = c
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(1_000_000)),
                description: Description::Direct("t".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0x11; 32],
        )
        .unwrap();
    assert_eq!(shape(&acts), vec!["persist 01"]);
    let (pre, secret) = invoice_secrets(&[0x11; 32]);
    (c, pre.payment_hash(), secret)
}

/// The onion of a final hop for C alone.
fn to_c(p: HopPayload, h: PaymentHash) -> (OnionPacket, Vec<SharedSecret>) {
    let o = build_payment_onion(&sk(9), &[(pk(3), p)], &h).unwrap();
    (o.packet, o.shared_secrets)
}

#[test]
fn final_hop_checks() {
    let v = views(true, 0);
    let details = |amt: u64| FailureMessage::IncorrectOrUnknownPaymentDetails {
        htlc_msat: Msat(amt),
        height: HEIGHT,
    };
    let (_, h, secret) = payee();
    let cases: Vec<(HopPayload, u64, u32, PaymentHash, FailureMessage)> = vec![
        (
            final_payload(1_000_000, 130, secret, 1_000_000),
            1_000_000,
            129,
            h,
            FailureMessage::FinalIncorrectCltvExpiry { cltv_expiry: 129 },
        ),
        (
            final_payload(1_000_000, 130, secret, 1_000_000),
            999_999,
            130,
            h,
            FailureMessage::FinalIncorrectHtlcAmount {
                incoming_htlc_amt: Msat(999_999),
            },
        ),
        (
            final_payload(1_000_000, 130, PaymentSecret([6; 32]), 1_000_000),
            1_000_000,
            130,
            h,
            details(1_000_000),
        ),
        (
            final_payload(999_999, 130, secret, 999_999),
            999_999,
            130,
            h,
            details(999_999),
        ),
        (
            final_payload(2_000_001, 130, secret, 2_000_001),
            2_000_001,
            130,
            h,
            details(2_000_001),
        ),
        (
            final_payload(1_000_000, 117, secret, 1_000_000),
            1_000_000,
            117,
            h,
            details(1_000_000),
        ),
        (
            final_payload(1_000_000, 130, secret, 1_000_000),
            1_000_000,
            130,
            hash(),
            details(1_000_000),
        ),
        (
            HopPayload::receive(Msat(1_000_000), 130, None, None),
            1_000_000,
            130,
            h,
            details(1_000_000),
        ),
    ];
    for (p, amt, cltv, hh, want) in cases {
        let (mut c, _, _) = payee();
        let (o, ss) = to_c(p, hh);
        let acts = c.handle(htlc(0, amt, cltv, o, hh), &v);
        assert_eq!(failure(&acts, &ss), (0, want.clone()), "{want:?}");
        assert!(c.invoice(&h).unwrap().claim.is_none());
    }
    // An expired invoice.
    let (mut c, _, _) = payee();
    c.handle(PaymentInput::Tick { now: NOW + 3600 }, &v);
    let (o, ss) = to_c(final_payload(1_000_000, 118, secret, 1_000_000), h);
    let acts = c.handle(htlc(0, 1_000_000, 118, o, h), &v);
    assert_eq!(failure(&acts, &ss), (0, details(1_000_000)));
}

#[test]
fn multi_part_claimed_once_after_the_claim_is_stored() {
    let v = views(true, 0);
    let (mut c, h, secret) = payee();
    let (o1, _) = to_c(final_payload(400_000, 118, secret, 1_000_000), h);
    assert!(c.handle(htlc(0, 400_000, 118, o1, h), &v).is_empty());
    let (o2, _) = to_c(final_payload(600_000, 118, secret, 1_000_000), h);
    let acts = c.handle(htlc(1, 600_000, 118, o2, h), &v);
    assert_eq!(
        shape(&acts),
        vec!["persist 01", "fulfill 1", "fulfill 1", "event", "sign 1"]
    );
    let claim = c.invoice(&h).unwrap().claim.clone().unwrap();
    assert_eq!(claim.amount, Msat(1_000_000));
    assert_eq!(claim.htlcs, vec![(IN, 0, 118), (IN, 1, 118)]);
    match &acts[3] {
        PaymentAction::Event(e) => assert_eq!(
            *e,
            PaymentEvent::PaymentReceived {
                payment_hash: h,
                amount: Msat(1_000_000)
            }
        ),
        other => panic!("{other:?}"),
    }
    // Paid: a later HTLC for it is refused.
    let (o3, ss) = to_c(final_payload(1_000_000, 118, secret, 1_000_000), h);
    let acts = c.handle(htlc(2, 1_000_000, 118, o3, h), &v);
    assert_eq!(
        failure(&acts, &ss),
        (
            0,
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(1_000_000),
                height: HEIGHT
            }
        )
    );
}

#[test]
fn mpp_timeout() {
    let v = views(true, 0);
    let (mut c, h, secret) = payee();
    let (o1, ss) = to_c(final_payload(400_000, 118, secret, 1_000_000), h);
    assert!(c.handle(htlc(0, 400_000, 118, o1, h), &v).is_empty());
    // A part with another total is refused.
    let (o2, ss2) = to_c(final_payload(400_000, 118, secret, 1_100_000), h);
    let acts = c.handle(htlc(1, 400_000, 118, o2, h), &v);
    assert_eq!(failure(&acts, &ss2).1.code(), 0x400f);
    assert!(c
        .handle(PaymentInput::Tick { now: NOW + 59 }, &v)
        .is_empty());
    let acts = c.handle(PaymentInput::Tick { now: NOW + 60 }, &v);
    assert_eq!(shape(&acts), vec!["fail 1", "event", "sign 1"]);
    assert_eq!(failure(&acts, &ss), (0, FailureMessage::MppTimeout));
    assert_eq!(FailureMessage::MppTimeout.code(), 23);
}

#[test]
fn records_round_trip_and_reject_corruption() {
    let (c, h, _) = payee();
    let mut inv = c.invoice(&h).unwrap().clone();
    inv.claim = Some(Claim {
        amount: Msat(5),
        htlcs: vec![(IN, 1, 5), (OUT, 2, 6)],
    });
    let (b, _, _) = forwarding();
    let fwd = b.forwards()[0].clone();
    let out = OutgoingRecord {
        payment_hash: h,
        payee: pk(3),
        amount: Msat(1_000_000),
        payment_secret: PaymentSecret([5; 32]),
        min_final_cltv_expiry_delta: 18,
        max_fee: Msat(20),
        deadline: 1060,
        entropy: [7; 32],
        routes: vec![Route {
            hops: vec![RouteHop {
                node_id: pk(2),
                short_channel_id: ShortChannelId(10),
                fee_base_msat: 1,
                fee_proportional_millionths: 2,
                cltv_expiry_delta: 3,
            }],
        }],
        tried: vec![0],
        excluded_nodes: vec![pk(4)],
        excluded_channels: vec![ShortChannelId(99)],
        attempts: 1,
        attempt: Some(AttemptRecord {
            route_index: 0,
            channel_id: IN,
            amount: Msat(1_000_000),
            cltv_expiry: 118,
            fee: Msat(0),
            shared_secrets: vec![SharedSecret([8; 32])],
        }),
        status: OutgoingStatus::Succeeded {
            preimage: PaymentPreimage([9; 32]),
            fee: Msat(0),
        },
        created_at: Some(1000),
    };
    // A version 1 record (no created_at) is read; written again, it stays
    // without one.
    let mut v1 = PaymentRecord::Outgoing(out.clone()).encode();
    v1[0] = 1;
    v1.truncate(v1.len() - 9);
    let old = PaymentRecord::decode(&v1).unwrap();
    let PaymentRecord::Outgoing(o) = &old else {
        panic!("{old:?}")
    };
    assert_eq!(o.created_at, None);
    assert_eq!(
        *o,
        OutgoingRecord {
            created_at: None,
            ..out.clone()
        }
    );
    assert_eq!(PaymentRecord::decode(&old.encode()).unwrap(), old);
    // Versions 0 and 3 are unknown.
    for v in [0, 3] {
        let mut b = PaymentRecord::Outgoing(out.clone()).encode();
        b[0] = v;
        assert!(PaymentRecord::decode(&b).is_err(), "version {v}");
    }
    for r in [
        PaymentRecord::Invoice(inv),
        PaymentRecord::Forward(fwd),
        PaymentRecord::Outgoing(out),
    ] {
        let bytes = r.encode();
        assert_eq!(PaymentRecord::decode(&bytes).unwrap(), r);
        for n in 0..bytes.len() {
            assert!(PaymentRecord::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PaymentRecord::decode(&longer).is_err());
    }
    // A count far beyond the record is refused before allocating.
    let mut evil = vec![1u8, 1];
    evil.extend_from_slice(&[0; 96]);
    evil.push(0);
    evil.extend_from_slice(&[0; 20]);
    evil.push(1);
    evil.extend_from_slice(&[0; 8]);
    evil.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(PaymentRecord::decode(&evil).is_err());
}

#[test]
fn refused_outgoing_add_fails_back() {
    let (acts, ss) = forward_case(20, 1_001_100, 240, 1_000_000, 200, &views(true, 10_000_000));
    assert_eq!(shape(&acts), vec!["persist 03", "add 2", "event", "sign 2"]);
    // Rebuild the same state and refuse the add.
    let h = hash();
    let (o, ss2) = onion(
        HopPayload::forward(ShortChannelId(20), Msat(1_000_000), 200),
        final_payload(1_000_000, 200, PaymentSecret([5; 32]), 1_000_000),
        h,
    );
    assert_eq!(ss, ss2);
    let mut b = node(2);
    let v = views(true, 10_000_000);
    b.handle(htlc(0, 1_001_100, 240, o, h), &v);
    let acts = b.handle(
        PaymentInput::AddRefused {
            channel_id: OUT,
            payment_hash: h,
        },
        &v,
    );
    assert_eq!(shape(&acts), vec!["delete 03", "fail 1", "sign 1"]);
    assert_eq!(
        failure(&acts, &ss),
        (
            0,
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    assert!(b.forwards().is_empty());
}

#[test]
fn held_part_near_its_expiry_is_failed() {
    let v = views(true, 0);
    let (mut c, h, secret) = payee();
    let (o1, ss) = to_c(final_payload(400_000, 130, secret, 1_000_000), h);
    assert!(c.handle(htlc(0, 400_000, 130, o1, h), &v).is_empty());
    assert!(c
        .handle(PaymentInput::BlockConnected { height: 126 }, &v)
        .is_empty());
    let acts = c.handle(PaymentInput::BlockConnected { height: 127 }, &v);
    assert_eq!(shape(&acts), vec!["fail 1", "event", "sign 1"]);
    assert_eq!(
        failure(&acts, &ss),
        (
            0,
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(400_000),
                height: 127
            }
        )
    );
}

#[test]
fn refused_first_hop_tries_the_next_route() {
    // A (1) pays C (3) over one of two direct channels (scids 10 and 20).
    let v = vec![
        ChannelView {
            channel_id: IN,
            node_id: pk(3),
            scids: vec![ShortChannelId(10)],
            usable: true,
            outbound: Msat(10_000_000),
            received: vec![],
        },
        ChannelView {
            channel_id: OUT,
            node_id: pk(3),
            scids: vec![ShortChannelId(20)],
            usable: true,
            outbound: Msat(10_000_000),
            received: vec![],
        },
    ];
    let direct = |scid: u64| Route {
        hops: vec![RouteHop {
            node_id: pk(3),
            short_channel_id: ShortChannelId(scid),
            fee_base_msat: 0,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 0,
        }],
    };
    let (mut c, _, _) = payee();
    let (inv, _) = c
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(1_000_000)),
                description: Description::Direct("d".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0x22; 32],
        )
        .unwrap();
    let inv = crate::invoice::decode(&inv).unwrap();
    let h = *inv.payment_hash();
    let mut a = node(1);
    let p = PayParams {
        max_fee: Msat(0),
        timeout_secs: 60,
        amount: None,
    };
    let acts = a
        .pay_invoice(&inv, p, vec![direct(10), direct(20)], &v, &[1; 32])
        .unwrap();
    assert_eq!(shape(&acts), vec!["persist 02", "add 1", "sign 1"]);
    match &acts[1] {
        PaymentAction::Command {
            command:
                Command::AddHtlc {
                    amount,
                    cltv_expiry,
                    ..
                },
            ..
        } => {
            assert_eq!(*amount, Msat(1_000_000));
            assert_eq!(*cltv_expiry, HEIGHT + 18 + 3);
        }
        other => panic!("{other:?}"),
    }
    let acts = a.handle(
        PaymentInput::AddRefused {
            channel_id: IN,
            payment_hash: h,
        },
        &v,
    );
    assert_eq!(shape(&acts), vec!["persist 02", "add 2", "sign 2"]);
    let acts = a.handle(
        PaymentInput::AddRefused {
            channel_id: OUT,
            payment_hash: h,
        },
        &v,
    );
    assert_eq!(shape(&acts), vec!["persist 02", "event"]);
    match &acts[1] {
        PaymentAction::Event(e) => assert_eq!(
            *e,
            PaymentEvent::PaymentFailed {
                payment_hash: h,
                failure: PayFailure::NoUsableRoute
            }
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.outgoing(&h).unwrap().status, OutgoingStatus::Failed);
    // A failed payment may be tried again.
    assert!(a
        .pay_invoice(&inv, p, vec![direct(10)], &v, &[2; 32])
        .is_ok());
    assert_eq!(
        a.pay_invoice(&inv, p, vec![direct(10)], &v, &[3; 32])
            .unwrap_err(),
        PaymentError::AlreadyPending
    );
}

#[test]
fn forward_failed_on_chain_fails_upstream_with_permanent_channel_failure() {
    let (mut b, ss, _) = forwarding();
    let v = views(true, 10_000_000);
    // Another id on the closed channel: not ours.
    assert!(b
        .handle(
            PaymentInput::HtlcFailedOnChain {
                channel_id: OUT,
                id: 8
            },
            &v
        )
        .is_empty());
    let acts = b.handle(
        PaymentInput::HtlcFailedOnChain {
            channel_id: OUT,
            id: 7,
        },
        &v,
    );
    assert_eq!(shape(&acts), vec!["delete 03", "fail 1", "event", "sign 1"]);
    assert_eq!(
        failure(&acts, &ss),
        (0, FailureMessage::PermanentChannelFailure)
    );
    assert!(matches!(
        &acts[1],
        PaymentAction::Command {
            command: Command::FailHtlc { id: 3, .. },
            ..
        }
    ));
    assert!(matches!(
        &acts[2],
        PaymentAction::Event(PaymentEvent::ForwardFailed { payment_hash }) if *payment_hash == hash()
    ));
    assert!(b.forwards().is_empty());
    // Reported again: nothing.
    assert!(b
        .handle(
            PaymentInput::HtlcFailedOnChain {
                channel_id: OUT,
                id: 7
            },
            &v
        )
        .is_empty());
}

#[test]
fn forward_failed_on_chain_after_its_preimage_is_not_failed_upstream() {
    let (mut b, _, _) = forwarding();
    let v = views(true, 10_000_000);
    let pre = PaymentPreimage([0x42; 32]);
    let acts = b.handle(
        PaymentInput::HtlcFulfilled {
            channel_id: OUT,
            id: 7,
            preimage: pre,
        },
        &v,
    );
    assert_eq!(shape(&acts)[1], "fulfill 1");
    assert!(b
        .handle(
            PaymentInput::HtlcFailedOnChain {
                channel_id: OUT,
                id: 7
            },
            &v
        )
        .is_empty());
    assert_eq!(b.forwards().len(), 1);
    assert_eq!(b.forwards()[0].preimage, Some(pre));
}

#[test]
fn payment_failed_on_chain_is_final() {
    let v = vec![ChannelView {
        channel_id: IN,
        node_id: pk(3),
        scids: vec![ShortChannelId(10)],
        usable: true,
        outbound: Msat(10_000_000),
        received: vec![],
    }];
    let direct = |scid: u64| Route {
        hops: vec![RouteHop {
            node_id: pk(3),
            short_channel_id: ShortChannelId(scid),
            fee_base_msat: 0,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 0,
        }],
    };
    let (mut c, _, _) = payee();
    let (inv, _) = c
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(1_000_000)),
                description: Description::Direct("d".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0x23; 32],
        )
        .unwrap();
    let inv = crate::invoice::decode(&inv).unwrap();
    let h = *inv.payment_hash();
    let mut a = node(1);
    let p = PayParams {
        max_fee: Msat(0),
        timeout_secs: 600,
        amount: None,
    };
    // Two routes: the on-chain failure is final all the same.
    a.pay_invoice(&inv, p, vec![direct(10), direct(10)], &v, &[1; 32])
        .unwrap();
    a.handle(
        PaymentInput::HtlcOffered {
            channel_id: IN,
            id: 4,
            payment_hash: h,
        },
        &v,
    );
    assert!(a
        .handle(
            PaymentInput::HtlcFailedOnChain {
                channel_id: OUT,
                id: 4
            },
            &v
        )
        .is_empty());
    let acts = a.handle(
        PaymentInput::HtlcFailedOnChain {
            channel_id: IN,
            id: 4,
        },
        &v,
    );
    assert_eq!(shape(&acts), vec!["persist 02", "event"]);
    assert!(matches!(
        &acts[1],
        PaymentAction::Event(PaymentEvent::PaymentFailed {
            payment_hash,
            failure: PayFailure::OnChain,
        }) if *payment_hash == h
    ));
    assert_eq!(a.outgoing(&h).unwrap().status, OutgoingStatus::Failed);
}
