//! Round trips for every BOLT 1/2/7 message, the message-level unknown
//! even/odd rules, ping/pong rules, and hostile input (every truncation,
//! byte mutations, oversized length prefixes).

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa::Signature, Message as SecpMessage, PublicKey, Secp256k1, SecretKey};
use bitcoin::{ScriptBuf, Txid};
use lnwasm::error::ErrorCode;
use lnwasm::keys::{
    ChannelPublicKeys, DelayedPaymentBasepoint, FundingPubkey, HtlcBasepoint, PaymentBasepoint,
    PerCommitmentPoint, PerCommitmentSecret, RevocationBasepoint,
};
use lnwasm::types::{Msat, PaymentHash, Sat, ShortChannelId};
use lnwasm::wire::*;

fn key(i: u8) -> SecretKey {
    SecretKey::from_slice(&[i; 32]).unwrap()
}
fn point(i: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &key(i))
}
fn sig(i: u8) -> Signature {
    Secp256k1::new().sign_ecdsa(&SecpMessage::from_digest([i; 32]), &key(i))
}
fn cid(i: u8) -> ChannelId {
    ChannelId([i; 32])
}
fn txid(i: u8) -> Txid {
    Txid::from_byte_array([i; 32])
}
fn chan_keys(base: u8) -> ChannelPublicKeys {
    ChannelPublicKeys {
        funding_pubkey: FundingPubkey(point(base)),
        revocation_basepoint: RevocationBasepoint(point(base + 1)),
        payment_basepoint: PaymentBasepoint(point(base + 2)),
        delayed_payment_basepoint: DelayedPaymentBasepoint(point(base + 3)),
        htlc_basepoint: HtlcBasepoint(point(base + 4)),
    }
}
fn extra() -> ExtraTlvs {
    ExtraTlvs(vec![(1001, vec![1, 2, 3]), (70_001, vec![])])
}
fn scid(b: u32, t: u32, o: u16) -> ShortChannelId {
    ShortChannelId::new(b, t, o).unwrap()
}

/// One instance of every message, with every optional field set, and a
/// second one with none of them.
fn samples() -> Vec<Message> {
    let mut channel_type = Features::empty();
    channel_type.set_required(Feature::StaticRemoteKey).set_required(Feature::AnchorsZeroFeeHtlcTx);
    let mut onion = Box::new([0u8; ONION_PACKET_LEN]);
    for (i, b) in onion.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    let open = OpenChannel {
        chain_hash: ChainHash::BITCOIN,
        temporary_channel_id: cid(1),
        funding: Sat(1_000_000),
        push: Msat(5_000),
        dust_limit: Sat(354),
        max_htlc_value_in_flight: Msat(990_000_000),
        channel_reserve: Sat(10_000),
        htlc_minimum: Msat(1),
        feerate_per_kw: 253,
        to_self_delay: 144,
        max_accepted_htlcs: 483,
        keys: chan_keys(10),
        first_per_commitment_point: PerCommitmentPoint(point(20)),
        channel_flags: 1,
        upfront_shutdown_script: Some(ScriptBuf::from_bytes(vec![0x00, 0x14, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7])),
        channel_type: Some(channel_type.clone()),
        extra_tlvs: extra(),
    };
    let accept = AcceptChannel {
        temporary_channel_id: cid(1),
        dust_limit: Sat(546),
        max_htlc_value_in_flight: Msat(u64::MAX),
        channel_reserve: Sat(10_000),
        htlc_minimum: Msat(1000),
        minimum_depth: 3,
        to_self_delay: 720,
        max_accepted_htlcs: 30,
        keys: chan_keys(30),
        first_per_commitment_point: PerCommitmentPoint(point(40)),
        upfront_shutdown_script: Some(ScriptBuf::new()),
        channel_type: Some(channel_type),
        extra_tlvs: extra(),
    };
    let node_ann = NodeAnnouncement {
        signature: sig(3),
        features: lnwasm_init_features(),
        timestamp: 1_700_000_000,
        node_id: point(4),
        rgb_color: [1, 2, 3],
        alias: NodeAlias(*b"lnwasm test node\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        addresses: vec![
            NetAddress::Ipv4 { addr: [203, 0, 113, 7], port: 9735 },
            NetAddress::Ipv6 { addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], port: 9735 },
            NetAddress::TorV3 { ed25519_pubkey: [9; 32], checksum: 0x1234, version: 3, port: 9735 },
            NetAddress::Hostname { host: "node.example.com".into(), port: 9736 },
            NetAddress::Unknown(vec![42, 1, 2, 3]),
        ],
        excess_data: vec![0xaa, 0xbb],
    };
    let full: Vec<Message> = vec![
        Init {
            global_features: Features::from_bits(&[1]),
            features: lnwasm_init_features(),
            networks: Some(vec![ChainHash::BITCOIN, ChainHash::REGTEST]),
            remote_addr: Some(NetAddress::Ipv4 { addr: [127, 0, 0, 1], port: 9735 }),
            extra_tlvs: extra(),
        }
        .into(),
        ErrorMessage::new(cid(9), "something bad").into(),
        WarningMessage::new(ChannelId::ALL, "careful").into(),
        Ping::new(10, 20).into(),
        Pong { ignored: vec![0; 10] }.into(),
        open.into(),
        accept.into(),
        FundingCreated { temporary_channel_id: cid(1), funding_txid: txid(2), funding_output_index: 1, signature: sig(1) }.into(),
        FundingSigned { channel_id: cid(3), signature: sig(2) }.into(),
        ChannelReady {
            channel_id: cid(3),
            second_per_commitment_point: PerCommitmentPoint(point(5)),
            short_channel_id_alias: Some(scid(16_000_000, 1, 2)),
            extra_tlvs: extra(),
        }
        .into(),
        Shutdown { channel_id: cid(3), scriptpubkey: ScriptBuf::from_bytes(vec![0x51, 0x20, 1, 2]) }.into(),
        ClosingSigned {
            channel_id: cid(3),
            fee: Sat(1000),
            signature: sig(4),
            fee_range: Some(ClosingFeeRange { min_fee: Sat(500), max_fee: Sat(2000) }),
            extra_tlvs: extra(),
        }
        .into(),
        UpdateAddHtlc {
            channel_id: cid(3),
            id: 7,
            amount: Msat(123_456),
            payment_hash: PaymentHash([5; 32]),
            cltv_expiry: 800_000,
            onion_routing_packet: OnionPacket(onion.clone()),
            blinding_point: Some(point(6)),
            extra_tlvs: extra(),
        }
        .into(),
        UpdateFulfillHtlc { channel_id: cid(3), id: 7, payment_preimage: PaymentPreimage([8; 32]), extra_tlvs: extra() }.into(),
        UpdateFailHtlc { channel_id: cid(3), id: 8, reason: vec![3; 292], extra_tlvs: extra() }.into(),
        UpdateFailMalformedHtlc { channel_id: cid(3), id: 9, sha256_of_onion: [4; 32], failure_code: 0x8000 | 0x4000 | 5 }.into(),
        CommitmentSigned {
            channel_id: cid(3),
            signature: sig(5),
            htlc_signatures: vec![sig(6), sig(7), sig(8)],
            funding_txid: Some(txid(9)),
            extra_tlvs: extra(),
        }
        .into(),
        RevokeAndAck {
            channel_id: cid(3),
            per_commitment_secret: PerCommitmentSecret([0x33; 32]),
            next_per_commitment_point: PerCommitmentPoint(point(7)),
        }
        .into(),
        UpdateFee { channel_id: cid(3), feerate_per_kw: 2500 }.into(),
        ChannelReestablish {
            channel_id: cid(3),
            next_commitment_number: 42,
            next_revocation_number: 41,
            your_last_per_commitment_secret: PerCommitmentSecret([0x44; 32]),
            my_current_per_commitment_point: PerCommitmentPoint(point(8)),
            next_funding: Some(FundingRetransmit { txid: txid(10), retransmit_flags: 1 }),
            my_current_funding_locked: Some(FundingRetransmit { txid: txid(11), retransmit_flags: 0 }),
            extra_tlvs: extra(),
        }
        .into(),
        ChannelAnnouncement {
            node_signature_1: sig(1),
            node_signature_2: sig(2),
            bitcoin_signature_1: sig(3),
            bitcoin_signature_2: sig(4),
            features: Features::from_bits(&[101]),
            chain_hash: ChainHash::BITCOIN,
            short_channel_id: scid(800_000, 1234, 1),
            node_id_1: point(1),
            node_id_2: point(2),
            bitcoin_key_1: point(3),
            bitcoin_key_2: point(4),
            excess_data: vec![1, 2, 3],
        }
        .into(),
        node_ann.into(),
        ChannelUpdate {
            signature: sig(9),
            chain_hash: ChainHash::TESTNET4,
            short_channel_id: scid(800_000, 1234, 1),
            timestamp: 1_700_000_001,
            message_flags: 1,
            channel_flags: 3,
            cltv_expiry_delta: 144,
            htlc_minimum: Msat(1000),
            fee_base_msat: 1000,
            fee_proportional_millionths: 100,
            htlc_maximum: Msat(990_000_000),
            excess_data: vec![9],
        }
        .into(),
        AnnouncementSignatures {
            channel_id: cid(3),
            short_channel_id: scid(800_000, 1234, 1),
            node_signature: sig(10),
            bitcoin_signature: sig(11),
        }
        .into(),
        QueryShortChannelIds {
            chain_hash: ChainHash::BITCOIN,
            short_channel_ids: EncodedList::Uncompressed(vec![scid(1, 2, 3), scid(4, 5, 6)]),
            query_flags: Some(EncodedList::Uncompressed(vec![QueryFlags(1), QueryFlags(300)])),
            extra_tlvs: extra(),
        }
        .into(),
        ReplyShortChannelIdsEnd { chain_hash: ChainHash::BITCOIN, full_information: true }.into(),
        QueryChannelRange {
            chain_hash: ChainHash::BITCOIN,
            first_blocknum: 700_000,
            number_of_blocks: 10_000,
            query_option: Some(QUERY_OPTION_WANT_TIMESTAMPS | QUERY_OPTION_WANT_CHECKSUMS),
            extra_tlvs: extra(),
        }
        .into(),
        ReplyChannelRange {
            chain_hash: ChainHash::BITCOIN,
            first_blocknum: 700_000,
            number_of_blocks: 10_000,
            sync_complete: true,
            short_channel_ids: EncodedList::Uncompressed(vec![scid(700_001, 2, 3), scid(700_002, 5, 6)]),
            timestamps: Some(EncodedList::Uncompressed(vec![
                UpdateTimestamps { node_1: 1, node_2: 2 },
                UpdateTimestamps { node_1: 3, node_2: 4 },
            ])),
            checksums: Some(vec![UpdateChecksums { node_1: 5, node_2: 6 }, UpdateChecksums { node_1: 7, node_2: 8 }]),
            extra_tlvs: extra(),
        }
        .into(),
        GossipTimestampFilter { chain_hash: ChainHash::BITCOIN, first_timestamp: 1_600_000_000, timestamp_range: u32::MAX }.into(),
        Message::Unknown { msg_type: 32_769, payload: vec![1, 2, 3] },
    ];
    full
}

/// The same messages with every optional part stripped.
fn bare(m: &Message) -> Message {
    let mut m = m.clone();
    match &mut m {
        Message::Init(x) => {
            x.global_features = Features::empty();
            x.networks = None;
            x.remote_addr = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::OpenChannel(x) => {
            x.upfront_shutdown_script = None;
            x.channel_type = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::AcceptChannel(x) => {
            x.upfront_shutdown_script = None;
            x.channel_type = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::ChannelReady(x) => {
            x.short_channel_id_alias = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::ClosingSigned(x) => {
            x.fee_range = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::UpdateAddHtlc(x) => {
            x.blinding_point = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::UpdateFulfillHtlc(x) => x.extra_tlvs = ExtraTlvs::default(),
        Message::UpdateFailHtlc(x) => x.extra_tlvs = ExtraTlvs::default(),
        Message::CommitmentSigned(x) => {
            x.funding_txid = None;
            x.htlc_signatures.clear();
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::ChannelReestablish(x) => {
            x.next_funding = None;
            x.my_current_funding_locked = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::ChannelAnnouncement(x) => {
            x.features = Features::empty();
            x.excess_data.clear();
        }
        Message::NodeAnnouncement(x) => {
            x.addresses.clear();
            x.excess_data.clear();
        }
        Message::ChannelUpdate(x) => x.excess_data.clear(),
        Message::QueryShortChannelIds(x) => {
            x.query_flags = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::QueryChannelRange(x) => {
            x.query_option = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::ReplyChannelRange(x) => {
            x.timestamps = None;
            x.checksums = None;
            x.extra_tlvs = ExtraTlvs::default();
        }
        Message::Ping(x) => x.ignored.clear(),
        Message::Pong(x) => x.ignored.clear(),
        _ => {}
    }
    m
}

fn all_samples() -> Vec<Message> {
    let full = samples();
    let mut all: Vec<Message> = full.iter().map(bare).collect();
    all.extend(full);
    all
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_message_round_trips() {
    let all = all_samples();
    let mut types: Vec<u16> = all.iter().map(Message::msg_type).collect();
    types.sort();
    types.dedup();
    // 29 BOLT 1/2/7 messages plus the unknown odd sample.
    assert_eq!(types.len(), 30);
    for m in &all {
        let bytes = m.encode().unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        assert_eq!(peek_type(&bytes), Some(m.msg_type()));
        let back = Message::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        assert_eq!(&back, m, "{}", m.name());
        assert_eq!(back.encode().unwrap(), bytes, "{}", m.name());
        if m.msg_type() < 32768 {
            assert_eq!(message_name(m.msg_type()), Some(m.name()));
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn typed_decode_checks_type() {
    let bytes = Ping::new(1, 1).encode().unwrap();
    assert!(Ping::decode(&bytes).is_ok());
    assert_eq!(Pong::decode(&bytes).unwrap_err().code(), "INVALID_VALUE");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_truncation_fails_or_is_a_shorter_valid_message() {
    for m in all_samples() {
        if matches!(m, Message::Unknown { .. }) {
            continue; // opaque payload: any prefix is a valid unknown message
        }
        let bytes = m.encode().unwrap();
        let min_len = bare(&m).encode().unwrap().len();
        for n in 0..bytes.len() {
            match Message::decode(&bytes[..n]) {
                Err(_) => {}
                Ok(d) => {
                    // Only a cut at a TLV record boundary or inside trailing
                    // data can still parse, and then it re-encodes to exactly the prefix.
                    assert!(n >= min_len, "{} truncated to {n} (< {min_len}) decoded", m.name());
                    assert_eq!(d.encode().unwrap(), &bytes[..n], "{} at {n}", m.name());
                }
            }
        }
    }
}

/// xorshift PRNG: deterministic pseudo-random mutations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn mutated_messages_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for m in all_samples() {
        let bytes = m.encode().unwrap();
        for _ in 0..150 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % b.len();
                b[i] = rng.next() as u8;
            }
            if rng.next() % 4 == 0 {
                let cut = (rng.next() as usize) % b.len();
                b.truncate(cut);
            }
            if let Ok(d) = Message::decode(&b) {
                // Whatever decodes must encode again.
                d.encode().unwrap();
            }
        }
    }
    // Pure garbage under every known type.
    for t in [1u16, 16, 17, 18, 19, 32, 33, 34, 35, 36, 38, 39, 128, 130, 131, 132, 133, 134, 135, 136, 256, 257, 258, 259, 261, 262, 263, 264, 265] {
        for len in [0usize, 1, 2, 7, 33, 64, 65, 200, 1500] {
            let mut b = t.to_be_bytes().to_vec();
            b.extend((0..len).map(|_| rng.next() as u8));
            let _ = Message::decode(&b);
            b.iter_mut().skip(2).for_each(|x| *x = 0xff);
            let _ = Message::decode(&b);
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unknown_messages_even_and_odd() {
    // 0x0021 is accept_channel (33): truncated, so an error rather than Unknown.
    assert!(matches!(Message::decode(&[0x00, 0x21, 1, 2]), Err(WireError::ShortRead)));
    assert_eq!(
        Message::decode(&[0x80, 0x01, 9]),
        Ok(Message::Unknown { msg_type: 0x8001, payload: vec![9] })
    );
    let err = Message::decode(&[0x80, 0x00, 9]).unwrap_err();
    assert_eq!(err, WireError::UnknownEvenMessage(0x8000));
    assert_eq!(err.code(), "UNKNOWN_EVEN_MESSAGE");
    // Known to the spec but not modelled here (open_channel2 = 64): even, so refused.
    assert_eq!(Message::decode(&[0, 64]), Err(WireError::UnknownEvenMessage(64)));
    // peer_storage (7) is odd: ignored.
    assert!(matches!(Message::decode(&[0, 7, 0, 0]), Ok(Message::Unknown { msg_type: 7, .. })));
    assert_eq!(Message::decode(&[0]), Err(WireError::ShortRead));
    assert_eq!(Message::decode(&[]), Err(WireError::ShortRead));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unknown_even_tlv_in_message_is_refused() {
    let m = ChannelReady {
        channel_id: cid(1),
        second_per_commitment_point: PerCommitmentPoint(point(1)),
        short_channel_id_alias: None,
        extra_tlvs: ExtraTlvs::default(),
    };
    let mut bytes = m.encode().unwrap();
    let base = bytes.len();
    bytes.extend_from_slice(&[0x03, 0x01, 0xaa]); // odd: kept
    let d = ChannelReady::decode(&bytes).unwrap();
    assert_eq!(d.extra_tlvs, ExtraTlvs(vec![(3, vec![0xaa])]));
    bytes.truncate(base);
    bytes.extend_from_slice(&[0x02, 0x01, 0xaa]); // even: refused
    assert_eq!(ChannelReady::decode(&bytes), Err(WireError::UnknownEvenTlv(2)));
    // Bad length for a known record.
    bytes.truncate(base);
    bytes.extend_from_slice(&[0x01, 0x07, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(ChannelReady::decode(&bytes), Err(WireError::InvalidLength));
    // Out of order records.
    bytes.truncate(base);
    bytes.extend_from_slice(&[0x05, 0x00, 0x03, 0x00]);
    assert_eq!(ChannelReady::decode(&bytes), Err(WireError::TlvNotAscending(3)));
    // A duplicate between typed fields and extra TLVs cannot be encoded.
    let mut dup = m.clone();
    dup.short_channel_id_alias = Some(ShortChannelId(1));
    dup.extra_tlvs = ExtraTlvs(vec![(1, vec![0; 8])]);
    assert_eq!(dup.encode(), Err(WireError::TlvDuplicate(1)));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn huge_length_prefixes_fail_early() {
    // pong claiming 65535 bytes with 10 present.
    let mut b = vec![0, 19, 0xff, 0xff];
    b.extend([0u8; 10]);
    assert_eq!(Message::decode(&b), Err(WireError::ShortRead));
    // commitment_signed claiming 65535 HTLC signatures.
    let cs = CommitmentSigned {
        channel_id: cid(1),
        signature: sig(1),
        htlc_signatures: vec![],
        funding_txid: None,
        extra_tlvs: ExtraTlvs::default(),
    };
    let mut b = cs.encode().unwrap();
    let n = b.len();
    b[n - 2] = 0xff;
    b[n - 1] = 0xff;
    b.extend([0u8; 64]);
    assert_eq!(Message::decode(&b), Err(WireError::ShortRead));
    // A TLV record claiming 2^64-1 bytes.
    let mut b = Init::new(Features::empty()).encode().unwrap();
    b.extend([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(Message::decode(&b), Err(WireError::ShortRead));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn encode_limits() {
    let e = ErrorMessage { channel_id: cid(0), data: vec![b'x'; 70_000] };
    assert_eq!(Message::from(e).encode(), Err(WireError::FieldTooLong));
    let p = Pong { ignored: vec![0; 65_535] };
    assert_eq!(p.encode(), Err(WireError::MessageTooLong));
    let p = Pong { ignored: vec![0; 65_531] };
    assert_eq!(p.encode().unwrap().len(), 65_535);
    let n = NodeAnnouncement {
        signature: sig(1),
        features: Features::empty(),
        timestamp: 0,
        node_id: point(1),
        rgb_color: [0; 3],
        alias: NodeAlias([0; 32]),
        addresses: vec![NetAddress::Hostname { host: "é".into(), port: 1 }],
        excess_data: vec![],
    };
    assert_eq!(n.encode().unwrap_err().code(), "INVALID_VALUE");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn ping_pong_rules() {
    let ping = Ping::new(65531, 0);
    assert!(ping.expects_pong());
    let pong = respond_to_ping(&ping).unwrap();
    assert_eq!(pong.ignored.len(), 65531);
    assert!(pong.ignored.iter().all(|&b| b == 0));
    assert!(pong.answers(&ping));
    assert!(!Pong { ignored: vec![0; 3] }.answers(&ping));
    for n in [65532u16, 65533, 65535] {
        let ping = Ping::new(n, 0);
        assert!(!ping.expects_pong());
        assert_eq!(respond_to_ping(&ping), None);
        assert!(!Pong { ignored: vec![0; usize::from(n)] }.answers(&ping));
    }
    let ping = Ping::new(0, 100);
    assert_eq!(respond_to_ping(&ping), Some(Pong { ignored: vec![] }));
    // A decoded ping with random padding is still answered with zeros.
    let mut b = vec![0, 18, 0, 4, 0, 3, 0xde, 0xad, 0xbe];
    let Ok(Message::Ping(p)) = Message::decode(&b) else { panic!() };
    assert_eq!(respond_to_ping(&p).unwrap().encode().unwrap(), vec![0, 19, 0, 4, 0, 0, 0, 0]);
    b.truncate(8);
    assert!(Message::decode(&b).is_err());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn error_and_warning_text() {
    let e = ErrorMessage { channel_id: ChannelId::ALL, data: b"bad\x1b[31m thing\n\xff".to_vec() };
    assert_eq!(e.text(), "bad[31m thing\u{fffd}");
    assert!(e.channel_id.is_all());
    let w = WarningMessage::new(cid(1), "hi");
    assert_eq!(w.encode().unwrap()[..2], [0, 1]);
    assert_eq!(w.text(), "hi");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn ids_and_addresses() {
    // BOLT 2: channel_id = funding_txid XOR funding_output_index (big-endian, last two bytes).
    let id = ChannelId::from_funding_outpoint(&txid(0), 0x0102);
    let mut want = [0u8; 32];
    want[30] = 1;
    want[31] = 2;
    assert_eq!(id, ChannelId(want));
    assert_eq!(PaymentPreimage([0; 32]).payment_hash().to_string(), "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
    assert_eq!(NetAddress::Ipv4 { addr: [1, 2, 3, 4], port: 9735 }.to_string(), "1.2.3.4:9735");
    assert_eq!(
        NetAddress::Ipv6 { addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], port: 1 }.to_string(),
        "[2001:db8::1]:1"
    );
    let onion = NetAddress::TorV3 { ed25519_pubkey: [0; 32], checksum: 0, version: 3, port: 9735 }.to_string();
    assert_eq!(onion.len(), 56 + ".onion:9735".len());
    assert!(onion.ends_with("ad.onion:9735"));
    assert_eq!(NodeAlias(*b"alice\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").to_string(), "alice");
    assert_eq!(scid(539268, 845, 1).to_string(), "539268x845x1");
    // An unknown address type stops parsing and keeps the rest.
    assert_eq!(
        NetAddress::read_list(&[1, 1, 2, 3, 4, 0x26, 0x07, 9, 9, 9]).unwrap(),
        vec![NetAddress::Ipv4 { addr: [1, 2, 3, 4], port: 9735 }, NetAddress::Unknown(vec![9, 9, 9])]
    );
    // A known type that does not fit is an error.
    assert_eq!(NetAddress::read_list(&[1, 1, 2, 3]), Err(WireError::ShortRead));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn gossip_helpers() {
    let m = samples().into_iter().find(|m| m.msg_type() == 258).unwrap();
    let Message::ChannelUpdate(u) = &m else { panic!() };
    assert_eq!(u.direction(), 1);
    assert!(u.is_disabled());
    let raw = m.encode().unwrap();
    assert_eq!(ChannelUpdate::signed_part(&raw).unwrap().len(), raw.len() - 66);
    assert_eq!(ChannelAnnouncement::signed_part(&raw[..10]), None);
    let mut b = vec![0x01, 0x05];
    b.extend([0u8; 32]);
    b.extend([0, 3, 2, 0, 0]);
    assert_eq!(Message::decode(&b), Err(WireError::UnknownEncoding(2)));
    // Uncompressed SCIDs must be whole.
    let mut b = vec![0x01, 0x05];
    b.extend([0u8; 32]);
    b.extend([0, 4, 0, 1, 2, 3]);
    assert_eq!(Message::decode(&b), Err(WireError::InvalidLength));
}
