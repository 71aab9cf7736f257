//! BOLT 3 Appendix B (funding), C (static_remotekey commitment and HTLC
//! transactions) and F (anchors) vectors, byte for byte including signatures.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod bolt3_vectors;
use bolt3_vectors::*;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::{OutPoint, Txid};
use lnwasm::keys::*;
use lnwasm::tx::*;
use lnwasm::types::{Msat, PaymentHash, Sat};
use secp256k1::{PublicKey, SecretKey, SECP256K1};

fn sk(s: &str) -> SecretKey {
    SecretKey::from_slice(&hex32(s)).unwrap()
}

fn pk_hex(k: &PublicKey) -> String {
    lnwasm::util::to_hex(&k.serialize())
}

fn sig_hex(s: &secp256k1::ecdsa::Signature) -> String {
    lnwasm::util::to_hex(&s.serialize_der())
}

/// The Appendix C setup: local is the opener and the broadcaster.
struct Setup {
    params: ChannelParams,
    point: PerCommitmentPoint,
    commitment_number: u64,
    local_funding: SecretKey,
    remote_funding: SecretKey,
    local_htlc: SecretKey,
    remote_htlc: SecretKey,
    htlcs: Vec<(Htlc, [u8; 32])>,
}

fn setup(channel_type: ChannelType) -> Setup {
    let c = section("# Appendix C");
    let local_funding = sk(value(c, "local_funding_privkey"));
    let remote_funding = sk(value(c, "remote_funding_privkey"));
    let local_payment = sk(value(c, "local_payment_basepoint_secret"));
    let remote_payment = sk(value(c, "remote_payment_basepoint_secret"));
    let remote_revocation = sk(value(c, "remote_revocation_basepoint_secret"));
    let local_delayed = sk(value(c, "local_delayed_payment_basepoint_secret"));
    let pcs = PerCommitmentSecret(hex32(value(c, "x_local_per_commitment_secret")));
    let point = pcs.point().unwrap();
    assert_eq!(pk_hex(&point.0), value(c, "local_per_commitment_point"));

    let pubkey = |s: &SecretKey| PublicKey::from_secret_key(SECP256K1, s);
    // Keys the vectors do not fix (never used in the local commitment).
    let unused1 = SecretKey::from_slice(&[0x55; 32]).unwrap();
    let unused2 = SecretKey::from_slice(&[0x66; 32]).unwrap();
    let local_keys = ChannelPublicKeys {
        funding_pubkey: FundingPubkey(pubkey(&local_funding)),
        revocation_basepoint: RevocationBasepoint(pubkey(&unused1)),
        payment_basepoint: PaymentBasepoint(pubkey(&local_payment)),
        delayed_payment_basepoint: DelayedPaymentBasepoint(pubkey(&local_delayed)),
        htlc_basepoint: HtlcBasepoint(pubkey(&local_payment)),
    };
    let remote_keys = ChannelPublicKeys {
        funding_pubkey: FundingPubkey(pubkey(&remote_funding)),
        revocation_basepoint: RevocationBasepoint(pubkey(&remote_revocation)),
        payment_basepoint: PaymentBasepoint(pubkey(&remote_payment)),
        delayed_payment_basepoint: DelayedPaymentBasepoint(pubkey(&unused2)),
        htlc_basepoint: HtlcBasepoint(pubkey(&remote_payment)),
    };
    assert_eq!(
        pk_hex(&local_keys.funding_pubkey.0),
        value(c, "local_funding_pubkey")
    );
    assert_eq!(
        pk_hex(&remote_keys.funding_pubkey.0),
        value(c, "remote_funding_pubkey")
    );
    assert_eq!(
        pk_hex(&local_keys.payment_basepoint.0),
        value(c, "local_payment_basepoint")
    );
    assert_eq!(
        pk_hex(&remote_keys.payment_basepoint.0),
        value(c, "remote_payment_basepoint")
    );
    assert_eq!(
        pk_hex(&remote_keys.revocation_basepoint.0),
        value(c, "remote_revocation_basepoint")
    );
    assert_eq!(
        pk_hex(&local_keys.delayed_payment_basepoint.0),
        value(c, "local_delayed_payment_basepoint")
    );

    let txid: Txid = value(c, "funding_tx_id").parse().unwrap();
    let params = ChannelParams {
        funding_outpoint: OutPoint {
            txid,
            vout: int(value(c, "funding_output_index")) as u32,
        },
        funding_amount: Sat(int(value(c, "funding_amount_satoshi"))),
        channel_type,
        opener: Side::Holder,
        holder: PartyParams {
            keys: local_keys,
            dust_limit: Sat(int(value(c, "local_dust_limit_satoshi"))),
            to_self_delay: int(value(c, "local_delay")) as u16,
        },
        counterparty: PartyParams {
            keys: remote_keys,
            dust_limit: Sat(546),
            to_self_delay: 144,
        },
    };
    let mut htlcs = vec![];
    for i in 0..7 {
        let dir = match value(c, &format!("htlc {i} direction")) {
            "remote->local" => HtlcDirection::Received,
            "local->remote" => HtlcDirection::Offered,
            d => panic!("direction {d}"),
        };
        let preimage = hex32(value(c, &format!("htlc {i} payment_preimage")));
        htlcs.push((
            Htlc {
                direction: dir,
                amount: Msat(int(value(c, &format!("htlc {i} amount_msat")))),
                payment_hash: PaymentHash(sha256::Hash::hash(&preimage).to_byte_array()),
                cltv_expiry: int(value(c, &format!("htlc {i} expiry"))) as u32,
            },
            preimage,
        ));
    }
    let local_htlc = derive_privkey(&local_payment, &point.0).unwrap();
    assert_eq!(
        lnwasm::util::to_hex(&local_htlc.secret_bytes()),
        &value(c, "local_privkey")[..64]
    );
    let remote_htlc = derive_privkey(&remote_payment, &point.0).unwrap();
    let s = Setup {
        params,
        point,
        commitment_number: int(value(c, "commitment_number")),
        local_funding,
        remote_funding,
        local_htlc,
        remote_htlc,
        htlcs,
    };
    let keys = CommitmentKeys::derive(&s.params, Side::Holder, &s.point).unwrap();
    assert_eq!(
        pk_hex(&keys.htlc.unwrap().broadcaster.0),
        value(c, "local_htlcpubkey")
    );
    assert_eq!(
        pk_hex(&keys.htlc.unwrap().countersignatory.0),
        value(c, "remote_htlcpubkey")
    );
    assert_eq!(
        pk_hex(&keys.broadcaster_delayed_key.0),
        value(c, "local_delayedpubkey")
    );
    assert_eq!(
        pk_hex(&keys.revocation_key.0),
        value(c, "local_revocation_pubkey")
    );
    assert_eq!(s.params.obscuring_factor(), 0x2bb038521914);
    s
}

/// Which of the seven test HTLCs a vector uses.
fn htlc_set(name: &str, use_htlcs: bool) -> Vec<usize> {
    if !use_htlcs || name.contains("no HTLCs") {
        vec![]
    } else if name.contains("same amount and preimage") {
        vec![1, 5, 6]
    } else {
        vec![0, 1, 2, 3, 4]
    }
}

struct HtlcVector {
    remote_sig: String,
    local_sig: Option<String>,
    htlc_index: Option<usize>,
    tx: String,
}

struct CommitVector {
    name: String,
    to_local: u64,
    to_remote: u64,
    feerate: u32,
    dust: Option<u64>,
    use_htlcs: bool,
    remote_sig: String,
    local_sig: Option<String>,
    tx: String,
    actual_fee: Option<u64>,
    htlcs: Vec<HtlcVector>,
}

/// Checks one vector; returns the number of HTLC transactions checked.
fn check(s: &Setup, channel_type: ChannelType, v: &CommitVector) -> usize {
    let mut params = s.params.clone();
    params.channel_type = channel_type;
    if let Some(d) = v.dust {
        params.holder.dust_limit = Sat(d);
    }
    let set = htlc_set(&v.name, v.use_htlcs);
    let spec = CommitmentSpec {
        commitment_number: s.commitment_number,
        per_commitment_point: s.point,
        to_broadcaster: Msat(v.to_local),
        to_countersignatory: Msat(v.to_remote),
        htlcs: set.iter().map(|&i| s.htlcs[i].0).collect(),
        feerate: FeeratePerKw(v.feerate),
    };
    let c = CommitmentTx::build(&params, Side::Holder, &spec)
        .unwrap_or_else(|e| panic!("{}: {e}", v.name));
    let local_sig = c.sign(&s.local_funding).unwrap();
    let remote_sig = c.sign(&s.remote_funding).unwrap();
    assert_eq!(
        sig_hex(&remote_sig),
        v.remote_sig,
        "{}: remote signature",
        v.name
    );
    if let Some(l) = &v.local_sig {
        assert_eq!(&sig_hex(&local_sig), l, "{}: local signature", v.name);
    }
    let signed = c.finalize(&local_sig, &remote_sig).unwrap();
    assert_eq!(serialize_hex(&signed), v.tx, "{}: commitment tx", v.name);
    if let Some(f) = v.actual_fee {
        assert_eq!(c.fee(), Sat(f), "{}: fee", v.name);
    }
    // Wrong signatures are refused.
    assert_eq!(
        c.finalize(&remote_sig, &local_sig),
        Err(TxError::InvalidSignature)
    );

    let htlc_txs = c.htlc_txs().unwrap();
    assert_eq!(
        htlc_txs.len(),
        v.htlcs.len(),
        "{}: number of HTLC txs",
        v.name
    );
    for (h, hv) in htlc_txs.iter().zip(&v.htlcs) {
        let spec_index = set[h.htlc_index()];
        if let Some(n) = hv.htlc_index {
            assert_eq!(spec_index, n, "{}: HTLC order", v.name);
        }
        let rsig = h.sign_as_countersignatory(&s.remote_htlc).unwrap();
        let lsig = h.sign_as_broadcaster(&s.local_htlc).unwrap();
        assert_eq!(
            sig_hex(&rsig),
            hv.remote_sig,
            "{}: remote HTLC signature",
            v.name
        );
        if let Some(l) = &hv.local_sig {
            assert_eq!(&sig_hex(&lsig), l, "{}: local HTLC signature", v.name);
        }
        let preimage = s.htlcs[spec_index].1;
        let signed = h.finalize(&rsig, &lsig, Some(&preimage)).unwrap();
        assert_eq!(
            serialize_hex(&signed),
            hv.tx,
            "{}: HTLC tx for htlc #{spec_index}",
            v.name
        );
        if h.kind() == HtlcTxKind::Success {
            assert_eq!(
                h.finalize(&rsig, &lsig, Some(&[9; 32])),
                Err(TxError::PreimageMismatch)
            );
        }
    }
    htlc_txs.len()
}

fn parse_appendix_c() -> Vec<CommitVector> {
    let text = section("# Appendix C");
    let start = text.find("    name:").unwrap();
    let mut out = vec![];
    for block in blocks(&text[start..], "name") {
        let lines: Vec<(&str, &str)> = block.lines().filter_map(kv).collect();
        let mut htlcs = vec![];
        let (mut rs, mut ls) = (None, None);
        for &(k, val) in &lines {
            match k {
                "remote_htlc_signature" => rs = Some(val.to_string()),
                "local_htlc_signature" => ls = Some(val.to_string()),
                _ if k.starts_with("htlc_success_tx") || k.starts_with("htlc_timeout_tx") => {
                    let n = k
                        .split('#')
                        .nth(1)
                        .unwrap()
                        .trim_end_matches(')')
                        .parse()
                        .unwrap();
                    htlcs.push(HtlcVector {
                        remote_sig: rs.take().unwrap(),
                        local_sig: ls.take(),
                        htlc_index: Some(n),
                        tx: val.to_string(),
                    });
                }
                _ => {}
            }
        }
        assert_eq!(htlcs.len() as u64, int(value(block, "num_htlcs")));
        out.push(CommitVector {
            name: value(block, "name").to_string(),
            to_local: int(value(block, "to_local_msat")),
            to_remote: int(value(block, "to_remote_msat")),
            feerate: int(value(block, "local_feerate_per_kw")) as u32,
            dust: None,
            use_htlcs: true,
            remote_sig: value(block, "remote_signature").to_string(),
            local_sig: Some(value(block, "local_signature").to_string()),
            tx: value(block, "output commit_tx").to_string(),
            actual_fee: lines
                .iter()
                .find(|(k, _)| *k == "actual commitment transaction fee")
                .map(|(_, v)| int(v)),
            htlcs,
        });
    }
    out
}

fn parse_appendix_f() -> Vec<CommitVector> {
    let text = section("# Appendix F");
    let json = &text[text.find("```yaml").unwrap()..];
    let mut out: Vec<CommitVector> = vec![];
    let mut in_htlcs = false;
    for line in json.lines() {
        let l = line.trim().trim_end_matches(',');
        let Some((k, v)) = l.split_once(": ") else {
            continue;
        };
        let k = k.trim_matches('"');
        let v = v.trim_matches('"');
        match k {
            "Name" => {
                out.push(CommitVector {
                    name: v.to_string(),
                    to_local: 0,
                    to_remote: 0,
                    feerate: 0,
                    dust: None,
                    use_htlcs: false,
                    remote_sig: String::new(),
                    local_sig: None,
                    tx: String::new(),
                    actual_fee: None,
                    htlcs: vec![],
                });
                in_htlcs = false;
            }
            "LocalBalance" => out.last_mut().unwrap().to_local = v.parse().unwrap(),
            "RemoteBalance" => out.last_mut().unwrap().to_remote = v.parse().unwrap(),
            "DustLimitSatoshis" => out.last_mut().unwrap().dust = Some(v.parse().unwrap()),
            "FeePerKw" => out.last_mut().unwrap().feerate = v.parse().unwrap(),
            "UseTestHtlcs" => out.last_mut().unwrap().use_htlcs = v == "true",
            "HtlcDescs" => in_htlcs = true,
            "RemoteSigHex" if in_htlcs => out.last_mut().unwrap().htlcs.push(HtlcVector {
                remote_sig: v.to_string(),
                local_sig: None,
                htlc_index: None,
                tx: String::new(),
            }),
            "ResolutionTxHex" => {
                out.last_mut().unwrap().htlcs.last_mut().unwrap().tx = v.to_string()
            }
            "ExpectedCommitmentTxHex" => {
                in_htlcs = false;
                out.last_mut().unwrap().tx = v.to_string();
            }
            "RemoteSigHex" => out.last_mut().unwrap().remote_sig = v.to_string(),
            _ => {}
        }
    }
    out
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn appendix_c_static_remotekey() {
    let s = setup(ChannelType::StaticRemoteKey);
    let vectors = parse_appendix_c();
    assert_eq!(vectors.len(), 16);
    let mut n_htlc = 0;
    for v in &vectors {
        n_htlc += check(&s, ChannelType::StaticRemoteKey, v);
    }
    assert_eq!(n_htlc, vectors.iter().map(|v| v.htlcs.len()).sum::<usize>());
    assert_eq!(n_htlc, 33);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn appendix_f_anchors() {
    let s = setup(ChannelType::Anchors);
    let vectors = parse_appendix_f();
    assert_eq!(vectors.len(), 9);
    let mut n_htlc = 0;
    for v in &vectors {
        n_htlc += check(&s, ChannelType::Anchors, v);
    }
    assert_eq!(n_htlc, 15);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn appendix_b_funding() {
    use bitcoin::absolute::LockTime;
    use bitcoin::script::{Builder, PushBytesBuf};
    use bitcoin::sighash::SighashCache;
    use bitcoin::transaction::Version;
    use bitcoin::{
        Amount, EcdsaSighashType, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
    };

    let b = section("# Appendix B");
    let local = FundingPubkey::from_slice(&hex(value(b, "local_funding_pubkey"))).unwrap();
    let remote = FundingPubkey::from_slice(&hex(value(b, "remote_funding_pubkey"))).unwrap();
    assert_eq!(
        lnwasm::util::to_hex(script::funding_script(&local, &remote).as_bytes()),
        value(b, "funding witness script")
    );
    // Key order does not matter.
    assert_eq!(
        script::funding_script(&remote, &local),
        script::funding_script(&local, &remote)
    );

    let coinbase: Transaction =
        bitcoin::consensus::deserialize(&hex(value(b, "Block 1 coinbase transaction"))).unwrap();
    let key = sk(value(b, "Block 1 coinbase privkey"));
    let pubkey = PublicKey::from_secret_key(SECP256K1, &key);
    let input_txid: Txid = value(b, "input txid").parse().unwrap();
    assert_eq!(coinbase.compute_txid(), input_txid);
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: input_txid,
                vout: int(value(b, "input index")) as u32,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            funding_output(Sat(int(value(b, "funding satoshis"))), &local, &remote),
            TxOut {
                value: Amount::from_sat(int(value(b, "change satoshis"))),
                script_pubkey: script::p2wpkh(&pubkey),
            },
        ],
    };
    let prev_spk = &coinbase.output[0].script_pubkey;
    let sighash = SighashCache::new(&tx)
        .legacy_signature_hash(0, prev_spk, EcdsaSighashType::All.to_u32())
        .unwrap();
    let sig = SECP256K1.sign_ecdsa(
        &secp256k1::Message::from_digest(sighash.to_byte_array()),
        &key,
    );
    let mut sig_bytes = sig.serialize_der().to_vec();
    sig_bytes.push(1);
    tx.input[0].script_sig = Builder::new()
        .push_slice(PushBytesBuf::try_from(sig_bytes).unwrap())
        .push_slice(pubkey.serialize())
        .into_script();
    assert_eq!(serialize_hex(&tx), value(b, "funding tx"));
    assert_eq!(tx.compute_txid().to_string(), value(b, "txid"));
    assert_eq!(int(value(b, "funding output")), 0);
}

/// Inputs a peer controls (feerate, amounts, HTLC list, commitment number)
/// never panic: out-of-range values are errors or well-defined results.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn builder_rejects_bad_input_without_panicking() {
    use lnwasm::error::ErrorCode;
    for ty in [ChannelType::StaticRemoteKey, ChannelType::Anchors] {
        let s = setup(ty);
        let base = CommitmentSpec {
            commitment_number: 42,
            per_commitment_point: s.point,
            to_broadcaster: Msat(6_988_000_000),
            to_countersignatory: Msat(3_000_000_000),
            htlcs: (0..5).map(|i| s.htlcs[i].0).collect(),
            feerate: FeeratePerKw(u32::MAX),
        };
        // Maximal feerate: the opener's whole balance goes to fees.
        let c = CommitmentTx::build(&s.params, Side::Holder, &base).unwrap();
        assert!(c.find_output(CommitmentOutputKind::ToLocal).is_none());
        assert!(c.find_output(CommitmentOutputKind::ToRemote).is_some());
        assert!(c.htlc_output_indices().iter().all(|o| o.is_none()) || ty == ChannelType::Anchors);
        for i in 0..5 {
            if c.htlc_output_index(i).is_none() {
                assert_eq!(c.htlc_tx(i).unwrap_err(), TxError::HtlcNotInTransaction);
            }
        }
        assert_eq!(c.htlc_tx(99).unwrap_err(), TxError::HtlcNotInTransaction);

        let bad = CommitmentSpec {
            to_broadcaster: Msat(6_988_000_001),
            ..base.clone()
        };
        assert_eq!(
            CommitmentTx::build(&s.params, Side::Holder, &bad),
            Err(TxError::BalanceMismatch)
        );
        let bad = CommitmentSpec {
            to_broadcaster: Msat(u64::MAX),
            ..base.clone()
        };
        assert_eq!(
            CommitmentTx::build(&s.params, Side::Holder, &bad),
            Err(TxError::AmountOverflow)
        );
        let bad = CommitmentSpec {
            commitment_number: 1 << 48,
            ..base.clone()
        };
        let e = CommitmentTx::build(&s.params, Side::Holder, &bad).unwrap_err();
        assert_eq!(e.code(), "COMMITMENT_NUMBER_OUT_OF_RANGE");
        let bad = CommitmentSpec {
            to_broadcaster: Msat(0),
            to_countersignatory: Msat(0),
            htlcs: vec![
                Htlc {
                    direction: HtlcDirection::Offered,
                    amount: Msat(10_000),
                    payment_hash: PaymentHash([0; 32]),
                    cltv_expiry: 1
                };
                1000
            ],
            ..base.clone()
        };
        assert_eq!(
            CommitmentTx::build(&s.params, Side::Holder, &bad),
            Err(TxError::TooManyHtlcs)
        );
        // Opener without even the anchors' value.
        let poor = CommitmentSpec {
            to_broadcaster: Msat(100_000),
            to_countersignatory: Msat(9_999_900_000),
            htlcs: vec![],
            feerate: FeeratePerKw(253),
            ..base.clone()
        };
        let r = CommitmentTx::build(&s.params, Side::Holder, &poor);
        if ty == ChannelType::Anchors {
            assert_eq!(r, Err(TxError::FeeExceedsBalance));
        } else {
            assert!(r.is_ok());
        }
        // Key errors surface with their own codes.
        let e = TxError::from(KeyError::InvalidPublicKey);
        assert_eq!(e.code(), "INVALID_PUBLIC_KEY");
    }
}

/// The peer's commitment as we build it equals its own, and signatures made
/// on either side verify on the other.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn both_views_agree() {
    for ty in [ChannelType::StaticRemoteKey, ChannelType::Anchors] {
        let s = setup(ty);
        let ours = s.params.clone();
        let theirs = ChannelParams {
            opener: Side::Counterparty,
            holder: ours.counterparty,
            counterparty: ours.holder,
            ..ours.clone()
        };
        let spec = CommitmentSpec {
            commitment_number: 42,
            per_commitment_point: s.point,
            to_broadcaster: Msat(6_988_000_000),
            to_countersignatory: Msat(3_000_000_000),
            htlcs: (0..5).map(|i| s.htlcs[i].0).collect(),
            feerate: FeeratePerKw(644),
        };
        let a = CommitmentTx::build(&ours, Side::Holder, &spec).unwrap();
        let b = CommitmentTx::build(&theirs, Side::Counterparty, &spec).unwrap();
        assert_eq!(a.tx(), b.tx());
        assert_eq!(a.htlc_output_indices(), b.htlc_output_indices());
        // The remote signs on its side; we check it on ours.
        let sig = b.sign(&s.remote_funding).unwrap();
        a.verify(&sig, Side::Counterparty).unwrap();
        assert_eq!(a.verify(&sig, Side::Holder), Err(TxError::InvalidSignature));
        for (ha, hb) in a.htlc_txs().unwrap().iter().zip(b.htlc_txs().unwrap()) {
            let cs = hb.sign_as_countersignatory(&s.remote_htlc).unwrap();
            ha.verify_countersignatory(&cs).unwrap();
            assert_eq!(ha.verify_broadcaster(&cs), Err(TxError::InvalidSignature));
        }
    }
}
