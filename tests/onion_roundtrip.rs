//! BOLT 4 onion: long-route round trips, hostile packets, payload rules,
//! every failure code, and error attribution at every hop position.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnwasm::error::ErrorCode;
use lnwasm::onion::failure::{BADONION, NODE, PERM, UPDATE};
use lnwasm::onion::sphinx::{self, HOP_PAYLOADS_LEN};
use lnwasm::onion::{
    build_payment_onion, build_payment_onion_raw, peel_htlc, sha256_of_onion, BuildError,
    ErrorPacket, FailureMessage, HopPayload, HtlcFailure, IncomingHtlc, NextHop, PaymentData,
    PeelError, PeeledHtlc, SharedSecret, UnattributableError,
};
use lnwasm::types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};
use lnwasm::wire::{ExtraTlvs, OnionPacket, ONION_PACKET_LEN};

fn key(i: usize) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 0x11;
    b[31] = i as u8 + 1;
    b[30] = (i >> 8) as u8;
    SecretKey::from_slice(&b).unwrap()
}

fn public(s: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), s)
}

const HASH: PaymentHash = PaymentHash([0x42; 32]);

/// xorshift64*: deterministic bytes for fuzz-style tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
}

/// A route of `n` nodes: n-1 forwards over scid i+1, then a receive.
fn route(n: usize) -> (Vec<SecretKey>, Vec<(PublicKey, HopPayload)>) {
    let keys: Vec<SecretKey> = (0..n).map(key).collect();
    let mut hops = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let amt = Msat(1_000_000 - 1000 * i as u64);
        let cltv = 800_000 - 40 * i as u32;
        let p = if i + 1 < n {
            HopPayload::forward(ShortChannelId(i as u64 + 1), amt, cltv)
        } else {
            let mut p = HopPayload::receive(
                amt,
                cltv,
                Some(PaymentData {
                    payment_secret: PaymentSecret([0x33; 32]),
                    total_msat: Msat(5_000_000),
                }),
                Some(vec![1, 2, 3]),
            );
            p.custom = ExtraTlvs(vec![(65537, vec![0x77; 32])]);
            p
        };
        hops.push((public(k), p));
    }
    (keys, hops)
}

fn incoming(onion: &OnionPacket) -> IncomingHtlc<'_> {
    IncomingHtlc {
        onion,
        payment_hash: HASH,
        amount: Msat(2_000_000),
        cltv_expiry: 900_000,
        path_key: None,
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn twenty_hops_round_trip() {
    let (keys, hops) = route(20);
    let onion = build_payment_onion(&key(999), &hops, &HASH).unwrap();
    assert_eq!(onion.shared_secrets.len(), 20);
    let mut cur = onion.packet.clone();
    for (i, k) in keys.iter().enumerate() {
        match peel_htlc(k, &incoming(&cur)).unwrap() {
            PeeledHtlc::Forward(f) => {
                assert!(i < 19, "hop {i}");
                assert_eq!(f.shared_secret, onion.shared_secrets[i]);
                assert_eq!(f.next_hop, NextHop::Channel(ShortChannelId(i as u64 + 1)));
                assert_eq!(Some(f.amt_to_forward), hops[i].1.amt_to_forward);
                assert_eq!(Some(f.outgoing_cltv_value), hops[i].1.outgoing_cltv_value);
                assert_eq!(f.next_path_key, None);
                assert_ne!(f.next_onion, cur);
                cur = f.next_onion;
            }
            PeeledHtlc::Receive(r) => {
                assert_eq!(i, 19);
                assert_eq!(r.shared_secret, onion.shared_secrets[19]);
                assert_eq!(r.amt_to_forward, Msat(1_000_000 - 19_000));
                assert_eq!(r.outgoing_cltv_value, 800_000 - 19 * 40);
                assert_eq!(r.total_msat, Msat(5_000_000));
                assert_eq!(
                    r.payment_data.unwrap().payment_secret,
                    PaymentSecret([0x33; 32])
                );
                assert_eq!(r.payment_metadata, Some(vec![1, 2, 3]));
                assert_eq!(r.custom.0, vec![(65537, vec![0x77; 32])]);
                assert!(!r.blinded);
                assert_eq!(r.path_id, None);
            }
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn single_hop_and_size_limits() {
    let (keys, hops) = route(1);
    let onion = build_payment_onion(&key(500), &hops, &HASH).unwrap();
    assert!(matches!(
        peel_htlc(&keys[0], &incoming(&onion.packet)).unwrap(),
        PeeledHtlc::Receive(_)
    ));
    assert_eq!(
        build_payment_onion(&key(500), &[], &HASH).unwrap_err(),
        BuildError::NoHops
    );
    // Payloads that fill exactly 1300 bytes fit; one byte more does not.
    let n = key(1);
    let exact = vec![0x01u8; HOP_PAYLOADS_LEN - 3 - 32]; // bigsize(1265) is 3 bytes
    assert!(build_payment_onion_raw(&key(2), &[(public(&n), &exact)], &HASH).is_ok());
    let over = vec![0x01u8; HOP_PAYLOADS_LEN - 3 - 32 + 1];
    let e = build_payment_onion_raw(&key(2), &[(public(&n), &over)], &HASH).unwrap_err();
    assert_eq!(
        e,
        BuildError::PayloadsTooLarge {
            needed: 1301,
            available: 1300
        }
    );
    assert_eq!(e.code(), "ONION_PAYLOADS_TOO_LARGE");
    // A custom record reusing a known type is refused.
    let mut p = HopPayload::forward(ShortChannelId(1), Msat(1), 1);
    p.custom = ExtraTlvs(vec![(2, vec![1])]);
    assert_eq!(
        build_payment_onion(&key(2), &[(public(&n), p)], &HASH).unwrap_err(),
        BuildError::InvalidPayload { hop: 0 }
    );
}

fn malformed(e: &PeelError, onion: &OnionPacket) -> (u16, [u8; 32]) {
    match e.htlc_failure(onion, false) {
        HtlcFailure::Malformed {
            failure_code,
            sha256_of_onion,
        } => (failure_code, sha256_of_onion),
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn hostile_packets() {
    let (keys, hops) = route(3);
    let onion = build_payment_onion(&key(77), &hops, &HASH).unwrap().packet;
    let k = &keys[0];

    // Bad version.
    let mut p = onion.clone();
    p.0[0] = 1;
    let e = peel_htlc(k, &incoming(&p)).unwrap_err();
    assert_eq!(e, PeelError::InvalidVersion(1));
    assert_eq!(e.code(), "ONION_BAD_VERSION");
    let (code, sha) = malformed(&e, &p);
    assert_eq!(code, BADONION | PERM | 4);
    assert_eq!(sha, sha256_of_onion(&p));
    assert_ne!(sha, sha256_of_onion(&onion));

    // Bad public keys: wrong prefix, x not on the curve.
    for bad in [[0x04u8; 33], [0x02u8; 33], {
        let mut b = [0xffu8; 33];
        b[0] = 0x03;
        b
    }] {
        let mut p = onion.clone();
        p.0[1..34].copy_from_slice(&bad);
        let e = peel_htlc(k, &incoming(&p)).unwrap_err();
        if e == PeelError::InvalidKey {
            assert_eq!(malformed(&e, &p).0, BADONION | PERM | 6);
        } else {
            // 0x02 02..02 happens to be a valid x: then the HMAC fails.
            assert_eq!(e, PeelError::InvalidHmac);
        }
    }
    let mut p = onion.clone();
    p.0[1] = 0x04;
    assert_eq!(
        peel_htlc(k, &incoming(&p)).unwrap_err(),
        PeelError::InvalidKey
    );

    // Every single bit flip in the hop payloads or HMAC fails the HMAC
    // (sampled positions to keep the test fast).
    for pos in (34..ONION_PACKET_LEN)
        .step_by(37)
        .chain([ONION_PACKET_LEN - 1])
    {
        for bit in [0u8, 7] {
            let mut p = onion.clone();
            p.0[pos] ^= 1 << bit;
            let e = peel_htlc(k, &incoming(&p)).unwrap_err();
            assert_eq!(e, PeelError::InvalidHmac, "byte {pos} bit {bit}");
            assert_eq!(malformed(&e, &p).0, BADONION | PERM | 5);
        }
    }
    // Flipped public key bits: invalid key or wrong HMAC, never accepted.
    for pos in 2..34 {
        let mut p = onion.clone();
        p.0[pos] ^= 0x10;
        let e = peel_htlc(k, &incoming(&p)).unwrap_err();
        assert!(matches!(e, PeelError::InvalidKey | PeelError::InvalidHmac));
    }
    // Wrong payment hash or wrong node key.
    let mut h = incoming(&onion);
    h.payment_hash = PaymentHash([0x43; 32]);
    assert_eq!(peel_htlc(k, &h).unwrap_err(), PeelError::InvalidHmac);
    assert_eq!(
        peel_htlc(&keys[1], &incoming(&onion)).unwrap_err(),
        PeelError::InvalidHmac
    );
    // Inside a blinded route every error is a malformed invalid_onion_blinding.
    let e = PeelError::InvalidHmac;
    assert_eq!(
        e.htlc_failure(&onion, true),
        HtlcFailure::Malformed {
            failure_code: BADONION | PERM | 24,
            sha256_of_onion: sha256_of_onion(&onion)
        }
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn truncated_and_random_packets_never_panic() {
    let (keys, hops) = route(2);
    let onion = build_payment_onion(&key(5), &hops, &HASH).unwrap().packet;
    for len in (0..ONION_PACKET_LEN).step_by(7).chain([65, 66, 67, 1365]) {
        let r = sphinx::peel_packet(&keys[0], &onion.0[..len], &HASH.0);
        assert!(r.is_err(), "len {len}");
        if len <= 66 {
            assert_eq!(r.unwrap_err(), PeelError::InvalidLength(len));
        }
    }
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..200 {
        let mut b = Box::new([0u8; ONION_PACKET_LEN]);
        rng.fill(&mut b[..]);
        if i % 2 == 0 {
            b[0] = 0;
            // A valid point half of the time.
            b[1..34].copy_from_slice(&public(&key(i)).serialize());
        }
        let p = OnionPacket(b);
        assert!(peel_htlc(&keys[0], &incoming(&p)).is_err());
        let e = peel_htlc(&keys[0], &incoming(&p)).unwrap_err();
        let _ = e.htlc_failure(&p, false);
        // Random payload and failure bytes decode to errors, not panics.
        let _ = HopPayload::decode(&p.0[..(i * 7) % 300]);
        let _ = FailureMessage::decode(&p.0[..i % 80]);
        let _ = ErrorPacket(p.0[..(i * 13) % 400].to_vec()).decode(&[SharedSecret([1; 32])]);
    }
}

/// Builds a 2-hop onion whose hop `bad` carries the given raw payload.
fn onion_with_payload(
    raw: &[u8],
    bad_is_final: bool,
) -> (Vec<SecretKey>, OnionPacket, Vec<SharedSecret>) {
    let keys = vec![key(1), key(2)];
    let fwd = HopPayload::forward(ShortChannelId(9), Msat(1000), 100)
        .encode()
        .unwrap();
    let hops: Vec<(PublicKey, &[u8])> = if bad_is_final {
        vec![(public(&keys[0]), &fwd), (public(&keys[1]), raw)]
    } else {
        vec![(public(&keys[0]), raw), (public(&keys[1]), &fwd)]
    };
    let o = build_payment_onion_raw(&key(3), &hops, &HASH).unwrap();
    (keys, o.packet, o.shared_secrets)
}

fn payload_error(raw: &[u8], at_final: bool) -> (u64, u16) {
    let (keys, onion, secrets) = onion_with_payload(raw, at_final);
    let mut cur = onion;
    if at_final {
        match peel_htlc(&keys[0], &incoming(&cur)).unwrap() {
            PeeledHtlc::Forward(f) => cur = f.next_onion,
            _ => panic!(),
        }
    }
    let k = if at_final { &keys[1] } else { &keys[0] };
    let e = peel_htlc(k, &incoming(&cur)).unwrap_err();
    assert_eq!(e.code(), "ONION_BAD_PAYLOAD");
    // The failure goes back in an error packet that the sender attributes.
    let f = e.htlc_failure(&cur, false);
    let pkt = f.error_packet().unwrap();
    let pkt = if at_final { pkt.wrap(&secrets[0]) } else { pkt };
    let d = pkt.decode(&secrets).unwrap();
    assert_eq!(d.hop_index, usize::from(at_final));
    match (e, d.message.unwrap()) {
        (
            PeelError::InvalidPayload { typ, offset, .. },
            FailureMessage::InvalidOnionPayload {
                typ: t2,
                offset: o2,
            },
        ) => {
            assert_eq!((typ, offset), (t2, o2));
            (typ, offset)
        }
        other => panic!("{other:?}"),
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn payload_validation() {
    // Offsets count from the start of the payload TLV stream (after its
    // BigSize length).
    // Unknown even type 100 after amt (3 bytes) and cltv (3 bytes) and scid (10).
    let mut p = HopPayload::forward(ShortChannelId(5), Msat(0x100), 0x200)
        .encode()
        .unwrap();
    let scid_end = p.len();
    p.extend_from_slice(&[100, 1, 0]);
    assert_eq!(payload_error(&p, false), (100, scid_end as u16));
    // Unknown odd type is fine.
    let mut ok = HopPayload::forward(ShortChannelId(5), Msat(0x100), 0x200)
        .encode()
        .unwrap();
    ok.extend_from_slice(&[101, 1, 0]);
    let (keys, onion, _) = onion_with_payload(&ok, false);
    assert!(peel_htlc(&keys[0], &incoming(&onion)).is_ok());

    // Intermediate without short_channel_id / without amount / without cltv.
    let mut p = HopPayload::forward(ShortChannelId(5), Msat(1), 1);
    p.short_channel_id = None;
    // Not final (a next hop follows), so the missing scid is the fault.
    assert_eq!(payload_error(&p.encode().unwrap(), false), (6, 0));
    let mut p = HopPayload::forward(ShortChannelId(5), Msat(1), 1);
    p.amt_to_forward = None;
    assert_eq!(payload_error(&p.encode().unwrap(), false), (2, 0));
    let mut p = HopPayload::forward(ShortChannelId(5), Msat(1), 1);
    p.outgoing_cltv_value = None;
    assert_eq!(payload_error(&p.encode().unwrap(), true), (4, 0));
    // payment_data at an intermediate hop.
    let mut p = HopPayload::forward(ShortChannelId(5), Msat(1), 1);
    p.payment_data = Some(PaymentData {
        payment_secret: PaymentSecret([1; 32]),
        total_msat: Msat(1),
    });
    let enc = p.encode().unwrap();
    assert_eq!(payload_error(&enc, false), (8, 3 + 3 + 10));
    // Final hop with a short_channel_id.
    let p = HopPayload::forward(ShortChannelId(5), Msat(1), 1);
    assert_eq!(payload_error(&p.encode().unwrap(), true), (6, 3 + 3));
    // Non-minimal tu64 amount: type 2 at offset 0.
    assert_eq!(payload_error(&[2, 2, 0, 1, 4, 1, 1], true), (2, 0));
    // Types out of order.
    assert_eq!(payload_error(&[4, 1, 1, 2, 1, 1], true), (2, 3));
    // Length running past the end.
    assert_eq!(payload_error(&[2, 9, 1, 4, 1, 1], true), (2, 0));
    // A length of 0 (the retired legacy payload) or 1.
    assert_eq!(payload_error(&[], true), (0, 0));
    assert_eq!(payload_error(&[0], true), (0, 0));

    // Direct validation API.
    let p = HopPayload::receive(Msat(1), 2, None, None);
    assert!(p.validate(true, false).is_ok());
    assert_eq!(p.validate(false, false).unwrap_err().typ, 6);
    // A path_key in update_add_htlc but no encrypted_recipient_data.
    assert_eq!(p.validate(true, true).unwrap_err().typ, 10);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn blinded_errors_become_invalid_onion_blinding() {
    // A payload with current_path_key but undecryptable data, at an
    // introduction node: update_fail_htlc with invalid_onion_blinding.
    let k = key(1);
    let p = HopPayload {
        encrypted_recipient_data: Some(vec![0; 40]),
        current_path_key: Some(public(&key(9))),
        ..HopPayload::default()
    };
    let raw = p.encode().unwrap();
    let fwd = HopPayload::forward(ShortChannelId(9), Msat(1000), 100)
        .encode()
        .unwrap();
    let o = build_payment_onion_raw(
        &key(3),
        &[(public(&k), &raw), (public(&key(2)), &fwd)],
        &HASH,
    )
    .unwrap();
    let e = peel_htlc(&k, &incoming(&o.packet)).unwrap_err();
    assert!(matches!(e, PeelError::InvalidBlinding { .. }));
    assert_eq!(e.code(), "ONION_BAD_BLINDING");
    match e.htlc_failure(&o.packet, false) {
        HtlcFailure::Fail { message, .. } => assert_eq!(
            message,
            FailureMessage::InvalidOnionBlinding {
                sha256_of_onion: sha256_of_onion(&o.packet)
            }
        ),
        other => panic!("{other:?}"),
    }
    let d = e
        .htlc_failure(&o.packet, false)
        .error_packet()
        .unwrap()
        .decode(&o.shared_secrets)
        .unwrap();
    assert_eq!(d.hop_index, 0);
    assert_eq!(d.message.unwrap().code(), BADONION | PERM | 24);
}

fn all_failures() -> Vec<(FailureMessage, u16)> {
    use FailureMessage::*;
    let cu = vec![1, 2, 3, 4];
    vec![
        (InvalidRealm, 0x4001),
        (TemporaryNodeFailure, 0x2002),
        (PermanentNodeFailure, 0x6002),
        (RequiredNodeFeatureMissing, 0x6003),
        (
            InvalidOnionVersion {
                sha256_of_onion: [4; 32],
            },
            0xc004,
        ),
        (
            InvalidOnionHmac {
                sha256_of_onion: [5; 32],
            },
            0xc005,
        ),
        (
            InvalidOnionKey {
                sha256_of_onion: [6; 32],
            },
            0xc006,
        ),
        (
            TemporaryChannelFailure {
                channel_update: cu.clone(),
            },
            0x1007,
        ),
        (PermanentChannelFailure, 0x4008),
        (RequiredChannelFeatureMissing, 0x4009),
        (UnknownNextPeer, 0x400a),
        (
            AmountBelowMinimum {
                htlc_msat: Msat(11),
                channel_update: cu.clone(),
            },
            0x100b,
        ),
        (
            FeeInsufficient {
                htlc_msat: Msat(12),
                channel_update: vec![],
            },
            0x100c,
        ),
        (
            IncorrectCltvExpiry {
                cltv_expiry: 13,
                channel_update: cu.clone(),
            },
            0x100d,
        ),
        (
            ExpiryTooSoon {
                channel_update: cu.clone(),
            },
            0x100e,
        ),
        (
            IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(15),
                height: 800_000,
            },
            0x400f,
        ),
        (FinalIncorrectCltvExpiry { cltv_expiry: 18 }, 0x0012),
        (
            FinalIncorrectHtlcAmount {
                incoming_htlc_amt: Msat(19),
            },
            0x0013,
        ),
        (
            ChannelDisabled {
                disabled_flags: 0,
                channel_update: cu.clone(),
            },
            0x1014,
        ),
        (ExpiryTooFar, 0x0015),
        (
            InvalidOnionPayload {
                typ: 65537,
                offset: 20,
            },
            0x4016,
        ),
        (MppTimeout, 0x0017),
        (
            InvalidOnionBlinding {
                sha256_of_onion: [24; 32],
            },
            0xc018,
        ),
        (
            Unknown {
                code: 0x2099,
                data: vec![9, 9],
            },
            0x2099,
        ),
    ]
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn failure_messages_encode_decode() {
    for (m, code) in all_failures() {
        assert_eq!(m.code(), code, "{m:?}");
        let enc = m.encode();
        assert_eq!(u16::from_be_bytes([enc[0], enc[1]]), code);
        assert_eq!(FailureMessage::decode(&enc).unwrap(), m);
        // With a TLV extension.
        let tlvs = ExtraTlvs(vec![(1, vec![7]), (33, vec![])]);
        let enc2 = m.encode_with_tlvs(&tlvs);
        if !matches!(m, FailureMessage::Unknown { .. }) {
            assert_eq!(
                FailureMessage::decode_with_tlvs(&enc2).unwrap(),
                (m.clone(), tlvs)
            );
            // Every strict prefix that cuts a fixed field is refused.
            for cut in 0..enc.len() {
                let r = FailureMessage::decode(&enc[..cut]);
                if let Ok(got) = r {
                    // Only possible when the cut lands exactly on the end of
                    // the fields (a shorter valid message doesn't exist).
                    panic!("prefix {cut} of {m:?} decoded as {got:?}");
                }
            }
        }
        assert_eq!(m.is_permanent(), code & PERM != 0);
        assert_eq!(m.is_node(), code & NODE != 0);
        assert_eq!(
            m.channel_update_bytes().is_some(),
            code & UPDATE != 0 && code != 0x2099
        );
    }
    // Exact bytes of a few.
    assert_eq!(
        FailureMessage::InvalidOnionPayload {
            typ: 65537,
            offset: 20
        }
        .encode(),
        vec![0x40, 0x16, 0xfe, 0, 1, 0, 1, 0, 0x14]
    );
    assert_eq!(
        FailureMessage::ChannelDisabled {
            disabled_flags: 0,
            channel_update: vec![0xaa]
        }
        .encode(),
        vec![0x10, 0x14, 0, 0, 0, 1, 0xaa]
    );
    // An unknown even TLV in the extension is refused.
    let mut bad = FailureMessage::TemporaryNodeFailure.encode();
    bad.extend_from_slice(&[2, 0]);
    assert!(FailureMessage::decode(&bad).is_err());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn failure_attributed_at_every_hop() {
    for n in [1usize, 2, 5, 20] {
        let (keys, hops) = route(n);
        let onion = build_payment_onion(&key(600 + n), &hops, &HASH).unwrap();
        // Every node peels to learn its shared secret, as forwarding would.
        let mut node_secrets = Vec::new();
        let mut cur = onion.packet.clone();
        for k in &keys {
            match peel_htlc(k, &incoming(&cur)).unwrap() {
                PeeledHtlc::Forward(f) => {
                    node_secrets.push(f.shared_secret);
                    cur = f.next_onion;
                }
                PeeledHtlc::Receive(r) => node_secrets.push(r.shared_secret),
            }
        }
        assert_eq!(node_secrets, onion.shared_secrets);
        let failures = all_failures();
        for fail_at in 0..n {
            let msg = failures[(fail_at * 5 + n) % failures.len()].0.clone();
            let mut pkt = ErrorPacket::create(&node_secrets[fail_at], &msg);
            assert_eq!(pkt.0.len(), 32 + 4 + 256.max(msg.encode().len()));
            for back in (0..fail_at).rev() {
                pkt = pkt.wrap(&node_secrets[back]);
            }
            let d = pkt.decode(&onion.shared_secrets).unwrap();
            assert_eq!(d.hop_index, fail_at, "route {n}, failing hop {fail_at}");
            assert_eq!(d.message, Some(msg.clone()));
            assert_eq!(d.raw, msg.encode());
            // A corrupted packet is not attributed to anyone... unless the
            // flipped bit lands in the padding of a layer whose HMAC still
            // matches, which it cannot: the HMAC covers everything.
            let mut bad = pkt.clone();
            let l = bad.0.len();
            bad.0[l / 2] ^= 1;
            assert_eq!(
                bad.decode(&onion.shared_secrets).unwrap_err(),
                UnattributableError
            );
            // Decoding with the wrong route attributes nothing.
            let other = build_payment_onion(&key(700 + n), &hops, &HASH).unwrap();
            assert!(pkt.decode(&other.shared_secrets).is_err());
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn channel_update_in_failure() {
    use bitcoin::constants::ChainHash;
    use bitcoin::secp256k1::Message;
    use lnwasm::wire::{ChannelUpdate, WireMessage};
    let secp = Secp256k1::new();
    let sig = secp.sign_ecdsa(&Message::from_digest([7; 32]), &key(1));
    let upd = ChannelUpdate {
        signature: sig,
        chain_hash: ChainHash::BITCOIN,
        short_channel_id: ShortChannelId(0x0102030405060708),
        timestamp: 1,
        message_flags: 1,
        channel_flags: 0,
        cltv_expiry_delta: 40,
        htlc_minimum: Msat(1),
        fee_base_msat: 1000,
        fee_proportional_millionths: 1,
        htlc_maximum: Msat(1_000_000),
        excess_data: vec![],
    };
    let with_type = upd.encode().unwrap();
    for raw in [with_type.clone(), with_type[2..].to_vec()] {
        let m = FailureMessage::TemporaryChannelFailure {
            channel_update: raw,
        };
        let d = FailureMessage::decode(&m.encode()).unwrap();
        assert_eq!(d.channel_update(), Some(upd.clone()));
    }
    let m = FailureMessage::ExpiryTooSoon {
        channel_update: vec![],
    };
    assert_eq!(m.channel_update(), None);
}
