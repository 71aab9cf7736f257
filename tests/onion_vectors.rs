//! BOLT 4 test vectors, exact bytes: `bolt04-onion-test.json` (packet
//! construction and peeling), `bolt04-onion-error-test.json` and the
//! returned-error trace of the spec's test vector section (error creation,
//! wrapping, attribution), `bolt04-route-blinding-test.json` (blinded path
//! creation and unblinding) and `bolt04-blinded-payment-onion-test.json`
//! (an onion into a blinded route, peeled hop by hop).

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::collections::BTreeMap;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnwasm::onion::blinding::{self, EncryptedData};
use lnwasm::onion::sphinx::{self, HOP_PAYLOADS_LEN};
use lnwasm::onion::{
    build_payment_onion_raw, peel_htlc, ErrorPacket, FailureMessage, HopPayload, IncomingHtlc,
    KeyType, NextHop, PeeledHtlc,
};
use lnwasm::types::{Msat, PaymentHash, ShortChannelId};
use lnwasm::util::{from_hex, to_hex};
use lnwasm::wire::codec::decode_bigsize;
use lnwasm::wire::{ExtraTlvs, OnionPacket, ONION_PACKET_LEN};

const ONION_TEST: &str = include_str!("vectors/bolt04-onion-test.json");
const ERROR_TEST: &str = include_str!("vectors/bolt04-onion-error-test.json");
const BLINDING_TEST: &str = include_str!("vectors/bolt04-route-blinding-test.json");
const BLINDED_ONION_TEST: &str = include_str!("vectors/bolt04-blinded-payment-onion-test.json");
const NOTES: &str = include_str!("vectors/bolt04-test-vector-notes.md");

// ---------------------------------------------------------------------------
// A minimal JSON reader (objects, arrays, strings, numbers, literals): enough
// for the vector files, no dependency.

#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(#[allow(dead_code)] bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn parse(s: &str) -> Json {
        let b = s.as_bytes();
        let mut i = 0;
        let v = Self::value(b, &mut i);
        Self::ws(b, &mut i);
        assert_eq!(i, b.len(), "trailing JSON");
        v
    }
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn value(b: &[u8], i: &mut usize) -> Json {
        Self::ws(b, i);
        match b[*i] {
            b'{' => {
                *i += 1;
                let mut m = BTreeMap::new();
                loop {
                    Self::ws(b, i);
                    if b[*i] == b'}' {
                        *i += 1;
                        break;
                    }
                    let k = match Self::value(b, i) {
                        Json::Str(s) => s,
                        o => panic!("key {o:?}"),
                    };
                    Self::ws(b, i);
                    assert_eq!(b[*i], b':');
                    *i += 1;
                    let v = Self::value(b, i);
                    m.insert(k, v);
                    Self::ws(b, i);
                    if b[*i] == b',' {
                        *i += 1;
                    }
                }
                Json::Obj(m)
            }
            b'[' => {
                *i += 1;
                let mut a = Vec::new();
                loop {
                    Self::ws(b, i);
                    if b[*i] == b']' {
                        *i += 1;
                        break;
                    }
                    a.push(Self::value(b, i));
                    Self::ws(b, i);
                    if b[*i] == b',' {
                        *i += 1;
                    }
                }
                Json::Arr(a)
            }
            b'"' => {
                *i += 1;
                let start = *i;
                while b[*i] != b'"' {
                    assert_ne!(b[*i], b'\\', "escapes not needed by the vectors");
                    *i += 1;
                }
                let s = std::str::from_utf8(&b[start..*i]).unwrap().to_string();
                *i += 1;
                Json::Str(s)
            }
            b't' => {
                *i += 4;
                Json::Bool(true)
            }
            b'f' => {
                *i += 5;
                Json::Bool(false)
            }
            b'n' => {
                *i += 4;
                Json::Null
            }
            _ => {
                let start = *i;
                while *i < b.len() && (b[*i] == b'-' || b[*i] == b'.' || b[*i].is_ascii_digit()) {
                    *i += 1;
                }
                Json::Num(std::str::from_utf8(&b[start..*i]).unwrap().parse().unwrap())
            }
        }
    }
    fn get(&self, k: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(k).unwrap_or_else(|| panic!("no key {k}")),
            _ => panic!("not an object looking for {k}"),
        }
    }
    fn opt(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(k),
            _ => None,
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            o => panic!("not an array: {o:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            o => panic!("not a string: {o:?}"),
        }
    }
    fn num(&self) -> u64 {
        match self {
            Json::Num(n) => *n as u64,
            o => panic!("not a number: {o:?}"),
        }
    }
    fn hex(&self) -> Vec<u8> {
        from_hex(self.str()).expect("hex")
    }
    fn secret(&self) -> SecretKey {
        SecretKey::from_slice(&self.hex()).unwrap()
    }
    fn pubkey(&self) -> PublicKey {
        PublicKey::from_slice(&self.hex()).unwrap()
    }
    fn b32(&self) -> [u8; 32] {
        self.hex().try_into().unwrap()
    }
}

fn public(s: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), s)
}

/// Strips the BigSize length prefix the vectors include in each payload.
fn strip_len(framed: &[u8]) -> Vec<u8> {
    let (len, n) = decode_bigsize(framed).unwrap();
    assert_eq!(framed.len(), n + len as usize, "payload length prefix");
    framed[n..].to_vec()
}

fn packet(bytes: &[u8]) -> OnionPacket {
    let mut b = Box::new([0u8; ONION_PACKET_LEN]);
    b.copy_from_slice(bytes);
    OnionPacket(b)
}

// ---------------------------------------------------------------------------

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn onion_test_construct_and_peel() {
    let v = Json::parse(ONION_TEST);
    let g = v.get("generate");
    let session = g.get("session_key").secret();
    let ad = g.get("associated_data").hex();
    let hops: Vec<(PublicKey, Vec<u8>)> = g
        .get("hops")
        .arr()
        .iter()
        .map(|h| (h.get("pubkey").pubkey(), strip_len(&h.get("payload").hex())))
        .collect();
    let raw: Vec<(PublicKey, &[u8])> = hops.iter().map(|(k, p)| (*k, p.as_slice())).collect();
    let built = sphinx::construct_packet(&session, &raw, &ad, HOP_PAYLOADS_LEN).unwrap();
    let expected = v.get("onion").hex();
    assert_eq!(expected.len(), ONION_PACKET_LEN);
    assert_eq!(to_hex(&built.packet), to_hex(&expected));

    // The payment-level builder gives the same bytes with the payment hash as
    // associated data.
    let ph = PaymentHash(ad.clone().try_into().unwrap());
    let po = build_payment_onion_raw(&session, &raw, &ph).unwrap();
    assert_eq!(&po.packet.0[..], &expected[..]);
    assert_eq!(po.shared_secrets, built.shared_secrets);

    // Peel at each hop with its private key.
    let keys = v.get("decode").arr();
    assert_eq!(keys.len(), hops.len());
    let mut cur = expected;
    for (i, k) in keys.iter().enumerate() {
        let sk = k.secret();
        assert_eq!(public(&sk), hops[i].0);
        let p = sphinx::peel_packet(&sk, &cur, &ad).unwrap();
        assert_eq!(p.payload, hops[i].1, "payload of hop {i}");
        assert_eq!(p.shared_secret, built.shared_secrets[i]);
        match p.next {
            Some(n) => {
                assert!(i + 1 < hops.len(), "hop {i} should be final");
                assert_eq!(n.len(), ONION_PACKET_LEN);
                cur = n;
            }
            None => assert_eq!(i + 1, hops.len(), "hop {i} is not final"),
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn onion_test_payloads_decode() {
    // The vector payloads are valid payment payloads: 4 intermediate hops and
    // a final hop with payment_data and a custom odd record.
    let v = Json::parse(ONION_TEST);
    let hops = v.get("generate").get("hops").arr();
    for (i, h) in hops.iter().enumerate() {
        let raw = strip_len(&h.get("payload").hex());
        let p = HopPayload::decode(&raw).unwrap();
        assert_eq!(p.encode().unwrap(), raw, "re-encode hop {i}");
        if i < 4 {
            assert_eq!(p.short_channel_id, Some(ShortChannelId(i as u64 + 1)));
        }
    }
    let first = HopPayload::decode(&strip_len(&hops[0].get("payload").hex())).unwrap();
    assert_eq!(first.amt_to_forward, Some(Msat(15000)));
    assert_eq!(first.outgoing_cltv_value, Some(1500));
    let last = HopPayload::decode(&strip_len(&hops[4].get("payload").hex())).unwrap();
    assert_eq!(last.amt_to_forward, Some(Msat(10000)));
    assert_eq!(last.outgoing_cltv_value, Some(1000));
    let pd = last.payment_data.unwrap();
    assert_eq!(
        to_hex(&pd.payment_secret.0),
        "24a33562c54507a9334e79f0dc4f17d407e6d7c61f0e2f3d0d38599502f61704"
    );
    assert_eq!(pd.total_msat, Msat(10000));
    assert_eq!(last.custom.0.len(), 1);
    assert_eq!(last.custom.0[0].0, 301);
    assert_eq!(last.custom.0[0].1, vec![0x2a; 224]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn onion_error_test_vector() {
    let v = Json::parse(ERROR_TEST);
    let g = v.get("generate");
    let session = g.get("session_key").secret();
    let hops = g.get("hops").arr();
    let node_ids: Vec<PublicKey> = hops.iter().map(|h| h.get("pubkey").pubkey()).collect();
    let secrets: Vec<_> = sphinx::route_secrets(&session, &node_ids)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    for (i, h) in hops.iter().enumerate() {
        assert_eq!(h.get("version").num(), 0);
        assert_eq!(secrets[i].0, h.get("hop_shared_secret").b32(), "ss {i}");
        assert_eq!(
            secrets[i].key(KeyType::Ammag),
            h.get("ammag_key").b32(),
            "ammag {i}"
        );
        if let Some(um) = h.opt("um_key") {
            assert_eq!(secrets[i].key(KeyType::Um), um.b32());
        }
    }
    let failure = g.get("failure_message").hex();
    let msg = FailureMessage::decode(&failure).unwrap();
    assert_eq!(msg, FailureMessage::TemporaryNodeFailure);
    assert_eq!(msg.encode(), failure);

    // The erring node (hops[4]).
    let plain = ErrorPacket::unobfuscated(&secrets[4], &failure, 256);
    assert_eq!(to_hex(&plain[32..]), hops[4].get("payload").str());
    let mut pkt = ErrorPacket::create(&secrets[4], &msg);
    assert_eq!(pkt.0.len(), 32 + 2 + 2 + 2 + 254);
    // Each earlier hop wraps it.
    for i in (0..4).rev() {
        pkt = pkt.wrap(&secrets[i]);
    }
    assert_eq!(to_hex(&pkt.0), v.get("errorpacket").str());

    let d = pkt.decode(&secrets).unwrap();
    assert_eq!(d.hop_index, 4);
    assert_eq!(d.raw, failure);
    assert_eq!(d.message, Some(FailureMessage::TemporaryNodeFailure));
}

/// The value after `key` + one of `=`/`:` on the next line that has it,
/// starting at `from` in the notes.
fn notes_value<'a>(text: &'a str, key: &str, from: usize) -> (&'a str, usize) {
    let at = from + text[from..].find(key).unwrap_or_else(|| panic!("no {key}"));
    let rest = &text[at + key.len()..];
    let rest = rest.trim_start_matches([' ', '=', ':']);
    let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
    (rest[..end].trim(), at + key.len())
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn spec_returning_errors_trace() {
    // BOLT 4 "Test Vector / Returning Errors": same route and session key as
    // the onion test; node 4 returns incorrect_or_unknown_payment_details
    // with a 300-byte TLV extension, padded to 1024 bytes. Only the legacy
    // error packet is checked here (not attribution_data).
    let v = Json::parse(ERROR_TEST);
    let g = v.get("generate");
    let session = g.get("session_key").secret();
    let node_ids: Vec<PublicKey> = g
        .get("hops")
        .arr()
        .iter()
        .map(|h| h.get("pubkey").pubkey())
        .collect();
    let secrets: Vec<_> = sphinx::route_secrets(&session, &node_ids)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect();

    let msg = FailureMessage::IncorrectOrUnknownPaymentDetails {
        htlc_msat: Msat(100),
        height: 800000,
    };
    let tlvs = ExtraTlvs(vec![(34001, vec![128u8; 300])]);
    let encoded = msg.encode_with_tlvs(&tlvs);
    // The trace's "encoded_failure_message" runs on into pad_len and pad.
    let (expected_msg, pos) = notes_value(NOTES, "encoded_failure_message", 0);
    let mut padded = encoded.clone();
    padded.extend_from_slice(&704u16.to_be_bytes());
    padded.extend_from_slice(&[0u8; 704]);
    assert_eq!(to_hex(&padded), expected_msg);
    assert_eq!(
        FailureMessage::decode_with_tlvs(&encoded).unwrap(),
        (msg.clone(), tlvs)
    );

    let (ss4, pos) = notes_value(NOTES, "shared_secret", pos);
    assert_eq!(to_hex(&secrets[4].0), ss4);
    let (payload, pos) = notes_value(NOTES, "payload", pos);
    let (um, pos) = notes_value(NOTES, "um_key", pos);
    assert_eq!(to_hex(&secrets[4].key(KeyType::Um)), um);
    let (raw, mut pos) = notes_value(NOTES, "raw_error_packet", pos);
    let plain = ErrorPacket::unobfuscated(&secrets[4], &encoded, 1024);
    assert_eq!(to_hex(&plain[32..]), payload);
    assert_eq!(to_hex(&plain), raw);

    let mut pkt = ErrorPacket::create_raw(&secrets[4], &encoded, 1024);
    for node in (0..5).rev() {
        if node < 4 {
            pkt = pkt.wrap(&secrets[node]);
        }
        let (ss, p) = notes_value(NOTES, "shared_secret", pos);
        assert_eq!(to_hex(&secrets[node].0), ss, "node {node}");
        let (ammag, p) = notes_value(NOTES, "ammag_key", p);
        assert_eq!(to_hex(&secrets[node].key(KeyType::Ammag)), ammag);
        let (stream, p) = notes_value(NOTES, "stream", p);
        let mut zero = vec![0u8; stream.len() / 2];
        lnwasm::onion::crypto::apply_stream(&secrets[node].key(KeyType::Ammag), &mut zero);
        assert_eq!(to_hex(&zero), stream);
        let (expected, p) = notes_value(NOTES, &format!("error packet for node {node}"), p);
        assert_eq!(to_hex(&pkt.0), expected, "error packet at node {node}");
        pos = p;
    }
    let d = pkt.decode(&secrets).unwrap();
    assert_eq!(d.hop_index, 4);
    assert_eq!(d.message, Some(msg));
}

fn encrypted_data_matches(j: &Json, d: &EncryptedData) {
    // Compare the fields given in the JSON "tlvs" objects with the decode.
    if let Some(s) = j.opt("short_channel_id") {
        assert_eq!(d.short_channel_id, Some(s.str().parse().unwrap()));
    }
    if let Some(p) = j.opt("padding") {
        assert_eq!(d.padding, Some(p.hex().len()));
    }
    if let Some(p) = j.opt("path_id") {
        assert_eq!(d.path_id.as_deref(), Some(&p.hex()[..]));
    }
    if let Some(k) = j.opt("next_path_key_override") {
        assert_eq!(d.next_path_key_override, Some(k.pubkey()));
    }
    if let Some(r) = j.opt("payment_relay") {
        let got = d.payment_relay.unwrap();
        assert_eq!(
            u64::from(got.cltv_expiry_delta),
            r.get("cltv_expiry_delta").num()
        );
        assert_eq!(
            u64::from(got.fee_proportional_millionths),
            r.get("fee_proportional_millionths").num()
        );
        assert_eq!(
            u64::from(got.fee_base_msat),
            r.opt("fee_base_msat").map_or(0, |f| f.num())
        );
    }
    if let Some(c) = j.opt("payment_constraints") {
        let got = d.payment_constraints.unwrap();
        assert_eq!(
            u64::from(got.max_cltv_expiry),
            c.get("max_cltv_expiry").num()
        );
        assert_eq!(got.htlc_minimum_msat.0, c.get("htlc_minimum_msat").num());
    }
    if j.opt("allowed_features").is_some() {
        assert!(d.allowed_features.is_some());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn route_blinding_vectors() {
    let v = Json::parse(BLINDING_TEST);
    let gh = v.get("generate").get("hops").arr();
    // Two paths, each from its own session key: Bob -> Carol and Dave -> Eve.
    let mut all = Vec::new();
    let mut firsts = Vec::new();
    let mut i = 0;
    while i < gh.len() {
        let session = gh[i].get("session_key").secret();
        let mut j = i + 1;
        while j < gh.len() && gh[j].opt("session_key").is_none() {
            j += 1;
        }
        let plain: Vec<(PublicKey, Vec<u8>)> = gh[i..j]
            .iter()
            .map(|h| (h.get("node_id").pubkey(), h.get("encoded_tlvs").hex()))
            .collect();
        let raw: Vec<(PublicKey, &[u8])> = plain.iter().map(|(k, p)| (*k, p.as_slice())).collect();
        let path = blinding::create_blinded_path(&session, &raw).unwrap();
        assert_eq!(path.introduction_node, plain[0].0);
        assert_eq!(path.first_path_key, gh[i].get("path_key").pubkey());
        firsts.push(path.first_path_key);
        all.extend(path.hops);
        i = j;
    }
    for (h, (g, r)) in all
        .iter()
        .zip(gh.iter().zip(v.get("route").get("hops").arr()))
    {
        assert_eq!(h.blinded_node_id, g.get("blinded_node_id").pubkey());
        assert_eq!(h.blinded_node_id, r.get("blinded_node_id").pubkey());
        assert_eq!(to_hex(&h.encrypted_data), g.get("encrypted_data").str());
        assert_eq!(to_hex(&h.encrypted_data), r.get("encrypted_data").str());
        let encoded = g.get("encoded_tlvs").hex();
        let d = EncryptedData::decode(&encoded).unwrap();
        encrypted_data_matches(g.get("tlvs"), &d);
        // Unknown odd records are kept, so re-encoding is exact.
        assert_eq!(d.encode().unwrap(), encoded);
        // path_privkey is the key whose public key is path_key.
        assert_eq!(
            public(&g.get("path_privkey").secret()),
            g.get("path_key").pubkey()
        );
    }
    assert_eq!(firsts[0], v.get("route").get("first_path_key").pubkey());
    assert_eq!(all.len(), 4);

    // Unblinding at each hop.
    let uh = v.get("unblind").get("hops").arr();
    let mut path_key = uh[0].get("path_key").pubkey();
    for (i, u) in uh.iter().enumerate() {
        let sk = u.get("node_privkey").secret();
        assert_eq!(u.get("path_key").pubkey(), path_key, "path key at {i}");
        let bsk = blinding::blinded_node_secret(&sk, &path_key).unwrap();
        assert_eq!(bsk.secret_bytes(), u.get("blinded_privkey").b32());
        assert_eq!(public(&bsk), all[i].blinded_node_id);
        let hop = blinding::decrypt_hop(&sk, &path_key, &all[i].encrypted_data).unwrap();
        assert_eq!(hop.shared_secret.0, gh[i].get("shared_secret").b32());
        assert_eq!(hop.shared_secret.key(KeyType::Rho), gh[i].get("rho").b32());
        assert_eq!(to_hex(&hop.plaintext), u.get("decrypted_data").str());
        assert_eq!(hop.next_path_key, u.get("next_path_key").pubkey());
        match u.opt("next_path_key_override") {
            Some(o) => {
                assert_eq!(hop.data.next_path_key_override, Some(o.pubkey()));
                assert_eq!(hop.effective_next_path_key(), o.pubkey());
            }
            None => assert_eq!(hop.data.next_path_key_override, None),
        }
        path_key = hop.effective_next_path_key();
    }
    // A flipped bit in encrypted_data fails authentication.
    let sk = uh[0].get("node_privkey").secret();
    let mut bad = all[0].encrypted_data.clone();
    bad[3] ^= 1;
    assert_eq!(
        blinding::decrypt_hop(&sk, &firsts[0], &bad).unwrap_err(),
        blinding::BlindingError::Decrypt
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn blinded_payment_onion_vectors() {
    let v = Json::parse(BLINDED_ONION_TEST);
    let g = v.get("generate");
    let session = g.get("session_key").secret();
    let ph = PaymentHash(g.get("associated_data").b32());
    let route = g.get("full_route").get("hops").arr();
    let payloads: Vec<(PublicKey, Vec<u8>)> = route
        .iter()
        .map(|h| (h.get("pubkey").pubkey(), strip_len(&h.get("payload").hex())))
        .collect();
    let raw: Vec<(PublicKey, &[u8])> = payloads.iter().map(|(k, p)| (*k, p.as_slice())).collect();
    let onion = build_payment_onion_raw(&session, &raw, &ph).unwrap();
    assert_eq!(to_hex(&onion.packet.0[..]), g.get("onion").str());

    // The blinded route in the payloads is the one given.
    let br = g.get("blinded_route");
    for (i, h) in br.get("hops").arr().iter().enumerate() {
        // The introduction node is addressed by its real id, the others by
        // their blinded ids.
        let expect = if i == 0 {
            br.get("first_node_id").pubkey()
        } else {
            h.get("blinded_node_id").pubkey()
        };
        assert_eq!(payloads[i + 1].0, expect);
        let p = HopPayload::decode(&payloads[i + 1].1).unwrap();
        assert_eq!(
            p.encrypted_recipient_data.as_deref(),
            Some(&h.get("encrypted_data").hex()[..])
        );
        assert_eq!(p.encode().unwrap(), payloads[i + 1].1);
    }

    // Peel hop by hop as each node would, amounts flowing from Alice's payload.
    let dh = v.get("decrypt").get("hops").arr();
    let alice = HopPayload::decode(&payloads[0].1).unwrap();
    let mut amount = Msat(0);
    let mut cltv = 0;
    let mut path_key: Option<PublicKey> = None;
    let mut cur = packet(&dh[0].get("onion").hex());
    assert_eq!(cur, onion.packet);
    for (i, d) in dh.iter().enumerate() {
        let sk = d.get("node_privkey").secret();
        assert_eq!(to_hex(&cur.0[..]), d.get("onion").str(), "onion at hop {i}");
        if i == 0 {
            // Alice is the sender's first hop; give her what her payload wants
            // plus nothing (she charges no fee in this vector).
            amount = alice.amt_to_forward.unwrap();
            cltv = alice.outgoing_cltv_value.unwrap();
        }
        let htlc = IncomingHtlc {
            onion: &cur,
            payment_hash: ph,
            amount,
            cltv_expiry: cltv,
            path_key,
        };
        let peeled = peel_htlc(&sk, &htlc).unwrap_or_else(|e| panic!("hop {i}: {e}"));
        match peeled {
            PeeledHtlc::Forward(f) => {
                assert!(i + 1 < dh.len());
                assert_eq!(f.shared_secret, onion.shared_secrets[i]);
                match d.opt("next_path_key") {
                    Some(k) => assert_eq!(f.next_path_key, Some(k.pubkey()), "hop {i}"),
                    None => assert_eq!(f.next_path_key, None),
                }
                if i == 0 {
                    assert_eq!(f.next_hop, NextHop::Channel("0x0x10".parse().unwrap()));
                } else {
                    let expect: ShortChannelId = format!("0x0x{i}").parse().unwrap();
                    assert_eq!(f.next_hop, NextHop::Channel(expect));
                }
                path_key = f.next_path_key;
                amount = f.amt_to_forward;
                cltv = f.outgoing_cltv_value;
                cur = f.next_onion;
            }
            PeeledHtlc::Receive(r) => {
                assert_eq!(i, dh.len() - 1);
                assert!(r.blinded);
                assert_eq!(r.amt_to_forward, Msat(g.get("final_amount_msat").num()));
                assert_eq!(u64::from(r.outgoing_cltv_value), g.get("final_cltv").num());
                assert_eq!(r.total_msat, Msat(150000));
                assert_eq!(
                    to_hex(r.path_id.as_deref().unwrap()),
                    "c9cf92f45ade68345bc20ae672e2012f4af487ed4415"
                );
                assert!(amount >= r.amt_to_forward);
                assert!(cltv >= r.outgoing_cltv_value);
                // Eve's derived next path key (unused, but in the vector).
                let p = HopPayload::decode(&payloads[4].1).unwrap();
                let hop = blinding::decrypt_hop(
                    &sk,
                    &path_key.unwrap(),
                    p.encrypted_recipient_data.as_deref().unwrap(),
                )
                .unwrap();
                assert_eq!(hop.next_path_key, d.get("next_path_key").pubkey());
            }
        }
    }
    // The amounts Bob, Carol and Dave computed from payment_relay.
    assert_eq!(amount, Msat(100000));
    assert_eq!(cltv, 749000);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn blinded_payment_onion_sender_side() {
    // The sender builds every payload itself from the blinded route and its
    // pay info, and gets the vector's payloads and onion byte for byte.
    use lnwasm::onion::blinding::{BlindedHop, BlindedPath, BlindedPayInfo, PaymentRelay};
    use lnwasm::onion::build_payment_onion;
    let v = Json::parse(BLINDED_ONION_TEST);
    let g = v.get("generate");
    let route = g.get("full_route").get("hops").arr();

    // Pay info aggregated from the relays inside the encrypted data.
    let relays: Vec<PaymentRelay> = route[1..4]
        .iter()
        .map(|h| {
            let r = h
                .get("tlvs")
                .get("encrypted_recipient_data")
                .get("payment_relay");
            PaymentRelay {
                cltv_expiry_delta: r.get("cltv_expiry_delta").num() as u16,
                fee_proportional_millionths: r.get("fee_proportional_millionths").num() as u32,
                fee_base_msat: r.opt("fee_base_msat").map_or(0, |f| f.num()) as u32,
            }
        })
        .collect();
    let info = BlindedPayInfo::aggregate(&relays, 0).unwrap();
    let bp = g.get("blinded_payinfo");
    assert_eq!(
        info,
        BlindedPayInfo {
            fee_base_msat: bp.get("fee_base_msat").num() as u32,
            fee_proportional_millionths: bp.get("fee_proportional_millionths").num() as u32,
            cltv_expiry_delta: bp.get("cltv_expiry_delta").num() as u16,
        }
    );

    let br = g.get("blinded_route");
    let path = BlindedPath {
        introduction_node: br.get("first_node_id").pubkey(),
        first_path_key: br.get("first_path_key").pubkey(),
        hops: br
            .get("hops")
            .arr()
            .iter()
            .map(|h| BlindedHop {
                blinded_node_id: h.get("blinded_node_id").pubkey(),
                encrypted_data: h.get("encrypted_data").hex(),
            })
            .collect(),
    };
    let amount = Msat(g.get("final_amount_msat").num());
    let final_cltv = g.get("final_cltv").num() as u32;
    let alice_tlvs = route[0].get("tlvs");
    let total = Msat(route[4].get("tlvs").get("total_amount_msat").num());
    let mut hops = vec![(
        route[0].get("pubkey").pubkey(),
        HopPayload::forward(
            alice_tlvs.get("outgoing_channel_id").str().parse().unwrap(),
            Msat(amount.0 + info.fee(amount).unwrap().0),
            final_cltv + u32::from(info.cltv_expiry_delta),
        ),
    )];
    hops.extend(blinding::blinded_path_payloads(
        &path, amount, final_cltv, total,
    ));
    assert_eq!(
        hops[0].1.amt_to_forward,
        Some(Msat(alice_tlvs.get("amt_to_forward").num()))
    );
    for (h, r) in hops.iter().zip(route) {
        assert_eq!(h.0, r.get("pubkey").pubkey());
        assert_eq!(
            h.1.encode().unwrap(),
            strip_len(&r.get("payload").hex()),
            "payload for {}",
            r.get("alias").str()
        );
    }
    let ph = PaymentHash(g.get("associated_data").b32());
    let onion = build_payment_onion(&g.get("session_key").secret(), &hops, &ph).unwrap();
    assert_eq!(to_hex(&onion.packet.0[..]), g.get("onion").str());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn blinded_hop_constraints_enforced() {
    use lnwasm::onion::{HtlcFailure, PeelError};
    let v = Json::parse(BLINDED_ONION_TEST);
    let ph = PaymentHash(v.get("generate").get("associated_data").b32());
    let dh = v.get("decrypt").get("hops").arr();
    // Bob (introduction node): payment_constraints are max_cltv_expiry
    // 750150 and htlc_minimum_msat 50.
    let bob = dh[1].get("node_privkey").secret();
    let onion = packet(&dh[1].get("onion").hex());
    let ok = IncomingHtlc {
        onion: &onion,
        payment_hash: ph,
        amount: Msat(110125),
        cltv_expiry: 749150,
        path_key: None,
    };
    assert!(peel_htlc(&bob, &ok).is_ok());
    for (amount, cltv) in [(49, 749150), (110125, 750151)] {
        let h = IncomingHtlc {
            amount: Msat(amount),
            cltv_expiry: cltv,
            ..ok
        };
        let e = peel_htlc(&bob, &h).unwrap_err();
        assert!(matches!(e, PeelError::InvalidBlinding { .. }), "{e:?}");
        // The introduction node fails with an error packet...
        assert!(matches!(
            e.htlc_failure(&onion, false),
            HtlcFailure::Fail { .. }
        ));
    }
    // An amount below Bob's base fee cannot be forwarded.
    let h = IncomingHtlc {
        amount: Msat(9_999),
        ..ok
    };
    assert!(matches!(
        peel_htlc(&bob, &h).unwrap_err(),
        PeelError::InvalidBlinding { .. }
    ));

    // Carol (inside the route, path_key from update_add_htlc): a wrong path
    // key gives a different blinded key, hence a bad HMAC, reported as a
    // malformed invalid_onion_blinding.
    let carol = dh[2].get("node_privkey").secret();
    let onion = packet(&dh[2].get("onion").hex());
    let good_key = dh[1].get("next_path_key").pubkey();
    let h = IncomingHtlc {
        onion: &onion,
        payment_hash: ph,
        amount: Msat(100125),
        cltv_expiry: 749100,
        path_key: Some(good_key),
    };
    assert!(peel_htlc(&carol, &h).is_ok());
    let h = IncomingHtlc {
        path_key: Some(dh[2].get("next_path_key").pubkey()),
        ..h
    };
    let e = peel_htlc(&carol, &h).unwrap_err();
    assert_eq!(e, PeelError::InvalidHmac);
    match e.htlc_failure(&onion, true) {
        HtlcFailure::Malformed { failure_code, .. } => assert_eq!(failure_code, 0xc018),
        other => panic!("{other:?}"),
    }
    // Without the path key Carol cannot read her onion at all.
    let h = IncomingHtlc {
        path_key: None,
        ..h
    };
    assert_eq!(peel_htlc(&carol, &h).unwrap_err(), PeelError::InvalidHmac);
}
