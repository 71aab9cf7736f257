//! Every spend of the BOLT 3 contract run through Bitcoin Core's script
//! interpreter (libbitcoinconsensus), with timelock and sighash variants and
//! negative cases the interpreter must reject. Native only.
#![cfg(not(target_arch = "wasm32"))]

use bitcoin::absolute::LockTime;
use bitcoin::consensus::{serialize, verify_script_with_flags};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, Network, OutPoint, Script, ScriptBuf, Sequence, Transaction, TxIn,
    TxOut, Witness,
};
use lnwasm::keys::*;
use lnwasm::tx::*;
use lnwasm::types::{Msat, PaymentHash, Sat};
use secp256k1::{PublicKey, SecretKey, SECP256K1};

/// P2SH | DERSIG | NULLDUMMY | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY | WITNESS
/// (libbitcoinconsensus' VERIFY_ALL).
const FLAGS: u32 = 1 | (1 << 2) | (1 << 4) | (1 << 9) | (1 << 10) | (1 << 11);

const FUNDING: u64 = 10_000_000;
const N: u64 = 7;

/// Runs every input of `tx` through the interpreter; the spent outputs are
/// looked up in `parents` (a missing parent is a test bug and panics, so
/// that it cannot pass for a rejection).
fn verify(tx: &Transaction, parents: &[&Transaction]) -> Result<(), String> {
    let bytes = serialize(tx);
    for (i, input) in tx.input.iter().enumerate() {
        let prev = parents
            .iter()
            .find(|p| p.compute_txid() == input.previous_output.txid)
            .and_then(|p| p.output.get(input.previous_output.vout as usize))
            .unwrap_or_else(|| panic!("input {i}: parent not given"));
        verify_script_with_flags(&prev.script_pubkey, i, prev.value, &bytes, FLAGS)
            .map_err(|e| format!("input {i}: {e:?}"))?;
    }
    Ok(())
}

fn ok(tx: &Transaction, parents: &[&Transaction], what: &str) {
    if let Err(e) = verify(tx, parents) {
        panic!("{what}: interpreter rejected a valid spend: {e}");
    }
}

fn rejected(tx: &Transaction, parents: &[&Transaction], what: &str) {
    assert!(
        verify(tx, parents).is_err(),
        "{what}: interpreter accepted an invalid spend"
    );
}

/// Re-signs input `idx` (P2WSH, SIGHASH_ALL) after `tx` was modified,
/// replacing witness element `elem`.
fn resign(
    tx: &mut Transaction,
    idx: usize,
    prev: &TxOut,
    key: &SecretKey,
    elem: usize,
    ty: EcdsaSighashType,
) {
    let items: Vec<Vec<u8>> = tx.input[idx].witness.to_vec();
    let ws = Script::from_bytes(items.last().unwrap());
    let h = SighashCache::new(&*tx)
        .p2wsh_signature_hash(idx, ws, prev.value, ty)
        .unwrap();
    let sig = SECP256K1.sign_ecdsa(&secp256k1::Message::from_digest(h.to_byte_array()), key);
    let mut items = items;
    items[elem] = bitcoin::ecdsa::Signature {
        signature: sig,
        sighash_type: ty,
    }
    .to_vec();
    tx.input[idx].witness = Witness::from_slice(&items);
}

fn set_witness_elem(tx: &mut Transaction, idx: usize, elem: usize, data: &[u8]) {
    let mut items: Vec<Vec<u8>> = tx.input[idx].witness.to_vec();
    items[elem] = data.to_vec();
    tx.input[idx].witness = Witness::from_slice(&items);
}

fn prevout(parents: &[&Transaction], op: OutPoint) -> TxOut {
    parents
        .iter()
        .find(|p| p.compute_txid() == op.txid)
        .unwrap()
        .output[op.vout as usize]
        .clone()
}

fn dest() -> ScriptBuf {
    let k = SecretKey::from_slice(&[0x77; 32]).unwrap();
    script::p2wpkh(&PublicKey::from_secret_key(SECP256K1, &k))
}

struct Fixture {
    alice: ChannelKeys,
    bob: ChannelKeys,
    /// Alice's view (holder = Alice, the opener).
    pa: ChannelParams,
    /// Bob's view (holder = Bob).
    pb: ChannelParams,
    funding_tx: Transaction,
    /// HTLCs relative to Alice: (offered by Alice?, amount sat, cltv, preimage).
    htlcs: Vec<(bool, u64, u32, [u8; 32])>,
}

const ALICE_DELAY: u16 = 144;
const BOB_DELAY: u16 = 30;

fn fixture(ty: ChannelType) -> Fixture {
    let alice = WalletKeys::from_seed(&[1; 32], Network::Regtest)
        .unwrap()
        .channel_keys(ChannelKeyIndex::new(3).unwrap())
        .unwrap();
    let bob = WalletKeys::from_seed(&[2; 32], Network::Regtest)
        .unwrap()
        .channel_keys(ChannelKeyIndex::new(0).unwrap())
        .unwrap();
    let (ak, bk) = (alice.pubkeys(), bob.pubkeys());
    let funding_tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![funding_output(
            Sat(FUNDING),
            &ak.funding_pubkey,
            &bk.funding_pubkey,
        )],
    };
    let outpoint = OutPoint {
        txid: funding_tx.compute_txid(),
        vout: 0,
    };
    let pa_alice = PartyParams {
        keys: ak,
        dust_limit: Sat(546),
        to_self_delay: ALICE_DELAY,
    };
    let pa_bob = PartyParams {
        keys: bk,
        dust_limit: Sat(546),
        to_self_delay: BOB_DELAY,
    };
    let pa = ChannelParams {
        funding_outpoint: outpoint,
        funding_amount: Sat(FUNDING),
        channel_type: ty,
        opener: Side::Holder,
        holder: pa_alice,
        counterparty: pa_bob,
    };
    let pb = ChannelParams {
        opener: Side::Counterparty,
        holder: pa_bob,
        counterparty: pa_alice,
        ..pa.clone()
    };
    let htlcs = vec![
        (true, 50_000, 600_000, [0x11; 32]),  // Alice offered
        (false, 40_000, 600_010, [0x22; 32]), // Alice received
        (true, 30_000, 600_020, [0x33; 32]),  // Alice offered
        (false, 100, 600_030, [0x44; 32]),    // dust, trimmed
    ];
    Fixture {
        alice,
        bob,
        pa,
        pb,
        funding_tx,
        htlcs,
    }
}

impl Fixture {
    fn htlc_total_msat(&self) -> u64 {
        self.htlcs.iter().map(|h| h.1 * 1000).sum()
    }
    fn htlc(&self, i: usize, alice_broadcasts: bool) -> Htlc {
        let (offered_by_alice, amount, cltv, preimage) = self.htlcs[i];
        let offered = offered_by_alice == alice_broadcasts;
        Htlc {
            direction: if offered {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            },
            amount: Msat(amount * 1000),
            payment_hash: PaymentHash(sha256::Hash::hash(&preimage).to_byte_array()),
            cltv_expiry: cltv,
        }
    }
    /// Alice's commitment `n`, as Alice builds it.
    fn alice_commitment(&self, n: u64) -> CommitmentTx {
        let spec = CommitmentSpec {
            commitment_number: n,
            per_commitment_point: self.alice.per_commitment_point(n).unwrap(),
            to_broadcaster: Msat(6_000_000_000),
            to_countersignatory: Msat(FUNDING * 1000 - 6_000_000_000 - self.htlc_total_msat()),
            htlcs: (0..self.htlcs.len()).map(|i| self.htlc(i, true)).collect(),
            feerate: FeeratePerKw(2500),
        };
        CommitmentTx::build(&self.pa, Side::Holder, &spec).unwrap()
    }
    /// Alice's commitment `n` as Bob builds it (he is the countersignatory).
    fn alice_commitment_bob_view(&self, n: u64) -> CommitmentTx {
        let spec = CommitmentSpec {
            commitment_number: n,
            per_commitment_point: self.alice.per_commitment_point(n).unwrap(),
            to_broadcaster: Msat(6_000_000_000),
            to_countersignatory: Msat(FUNDING * 1000 - 6_000_000_000 - self.htlc_total_msat()),
            htlcs: (0..self.htlcs.len()).map(|i| self.htlc(i, true)).collect(),
            feerate: FeeratePerKw(2500),
        };
        CommitmentTx::build(&self.pb, Side::Counterparty, &spec).unwrap()
    }
    /// Bob's commitment `n` as Alice builds it.
    fn bob_commitment_alice_view(&self, n: u64) -> CommitmentTx {
        let spec = CommitmentSpec {
            commitment_number: n,
            per_commitment_point: self.bob.per_commitment_point(n).unwrap(),
            to_broadcaster: Msat(FUNDING * 1000 - 6_000_000_000 - self.htlc_total_msat()),
            to_countersignatory: Msat(6_000_000_000),
            htlcs: (0..self.htlcs.len()).map(|i| self.htlc(i, false)).collect(),
            feerate: FeeratePerKw(2500),
        };
        CommitmentTx::build(&self.pa, Side::Counterparty, &spec).unwrap()
    }
    /// Signed Alice commitment.
    fn signed_alice_commitment(&self, c: &CommitmentTx) -> Transaction {
        let a = c.sign(self.alice.funding_secret()).unwrap();
        let b = c.sign(self.bob.funding_secret()).unwrap();
        c.finalize(&a, &b).unwrap()
    }
    fn signed_bob_commitment(&self, c: &CommitmentTx) -> Transaction {
        let a = c.sign(self.alice.funding_secret()).unwrap();
        let b = c.sign(self.bob.funding_secret()).unwrap();
        c.finalize(&a, &b).unwrap()
    }
}

fn both<F: Fn(ChannelType)>(f: F) {
    f(ChannelType::StaticRemoteKey);
    f(ChannelType::Anchors);
}

#[test]
fn commitment_spends_funding() {
    both(|ty| {
        let fx = fixture(ty);
        let c = fx.alice_commitment(N);
        // Both parties build the same transaction.
        assert_eq!(c.tx(), fx.alice_commitment_bob_view(N).tx());
        // The dust HTLC is trimmed.
        assert_eq!(c.htlc_output_index(3), None);
        assert_eq!(c.htlcs_in_output_order().len(), 3);
        let signed = fx.signed_alice_commitment(&c);
        ok(&signed, &[&fx.funding_tx], "commitment");

        // Bob's commitment, as Alice builds it, is also valid.
        let bc = fx.bob_commitment_alice_view(N);
        ok(
            &fx.signed_bob_commitment(&bc),
            &[&fx.funding_tx],
            "peer commitment",
        );

        // Negative: a third key's signature in place of Bob's.
        let wrong = SecretKey::from_slice(&[0x99; 32]).unwrap();
        let a = c.sign(fx.alice.funding_secret()).unwrap();
        let w = c.sign(&wrong).unwrap();
        assert_eq!(c.finalize(&a, &w), Err(TxError::InvalidSignature));
        let mut bad = c.tx().clone();
        bad.input[0].witness = c.funding().witness(&a, &w);
        rejected(&bad, &[&fx.funding_tx], "commitment with wrong key");
        // Negative: signatures in the wrong order.
        let b = c.sign(fx.bob.funding_secret()).unwrap();
        let mut bad = c.tx().clone();
        bad.input[0].witness = c.funding().witness(&b, &a);
        rejected(
            &bad,
            &[&fx.funding_tx],
            "commitment with swapped signatures",
        );
    });
}

#[test]
fn htlc_second_stage_and_delayed_sweeps() {
    both(|ty| {
        let fx = fixture(ty);
        let c = fx.alice_commitment(N);
        let commit = fx.signed_alice_commitment(&c);
        let point = fx.alice.per_commitment_point(N).unwrap();
        let alice_htlc = fx.alice.htlc_key(&point).unwrap();
        let bob_htlc = fx.bob.htlc_key(&point).unwrap();
        let delayed = fx.alice.delayed_payment_key(&point).unwrap();

        for h in c.htlc_txs().unwrap() {
            let what = format!("{ty:?} {:?} htlc #{}", h.kind(), h.htlc_index());
            let cs = h.sign_as_countersignatory(&bob_htlc).unwrap();
            let bs = h.sign_as_broadcaster(&alice_htlc).unwrap();
            let preimage = fx.htlcs[h.htlc_index()].3;
            let signed = h.finalize(&cs, &bs, Some(&preimage)).unwrap();
            ok(&signed, &[&commit], &what);
            let prev = prevout(&[&commit], signed.input[0].previous_output);

            match h.kind() {
                HtlcTxKind::Timeout => {
                    // Negative: the broadcaster moves nLockTime before the
                    // expiry. The script has no CLTV of its own: the
                    // countersignatory's signature commits to nLockTime.
                    assert_eq!(
                        signed.lock_time,
                        LockTime::from_consensus(h.htlc().cltv_expiry)
                    );
                    let mut early = signed.clone();
                    early.lock_time = LockTime::from_consensus(h.htlc().cltv_expiry - 1);
                    resign(&mut early, 0, &prev, &alice_htlc, 2, EcdsaSighashType::All);
                    rejected(&early, &[&commit], &format!("{what} too early"));
                }
                HtlcTxKind::Success => {
                    // Negative: wrong preimage.
                    let mut bad = signed.clone();
                    set_witness_elem(&mut bad, 0, 3, &[0x55; 32]);
                    rejected(&bad, &[&commit], &format!("{what} wrong preimage"));
                }
            }
            if ty == ChannelType::Anchors {
                // Negative: nSequence 0 fails the 1-block CSV.
                let mut bad = signed.clone();
                bad.input[0].sequence = Sequence(0);
                resign(&mut bad, 0, &prev, &alice_htlc, 2, EcdsaSighashType::All);
                resign(
                    &mut bad,
                    0,
                    &prev,
                    &bob_htlc,
                    1,
                    h.countersignatory_sighash_type(),
                );
                rejected(&bad, &[&commit], &format!("{what} sequence 0"));
            }
            // Negative: the broadcaster's signature by a wrong key.
            let mut bad = signed.clone();
            resign(
                &mut bad,
                0,
                &prev,
                fx.alice.funding_secret(),
                2,
                EcdsaSighashType::All,
            );
            rejected(&bad, &[&commit], &format!("{what} wrong key"));

            // Fee bumping: add a wallet input and a change output. Under
            // anchors the countersignatory's SINGLE|ANYONECANPAY signature
            // survives; under static_remotekey (SIGHASH_ALL) it does not.
            let wallet_key = SecretKey::from_slice(&[0x31; 32]).unwrap();
            let wallet_pk = PublicKey::from_secret_key(SECP256K1, &wallet_key);
            let wallet_tx = Transaction {
                version: Version::TWO,
                lock_time: LockTime::ZERO,
                input: vec![TxIn {
                    previous_output: OutPoint::null(),
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                }],
                output: vec![TxOut {
                    value: Amount::from_sat(100_000),
                    script_pubkey: script::p2wpkh(&wallet_pk),
                }],
            };
            let mut bumped = signed.clone();
            bumped.input.push(TxIn {
                previous_output: OutPoint {
                    txid: wallet_tx.compute_txid(),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            });
            bumped.output.push(TxOut {
                value: Amount::from_sat(90_000),
                script_pubkey: dest(),
            });
            resign(&mut bumped, 0, &prev, &alice_htlc, 2, EcdsaSighashType::All);
            let sh = SighashCache::new(&bumped)
                .p2wpkh_signature_hash(
                    1,
                    &wallet_tx.output[0].script_pubkey,
                    Amount::from_sat(100_000),
                    EcdsaSighashType::All,
                )
                .unwrap();
            let sig = SECP256K1.sign_ecdsa(
                &secp256k1::Message::from_digest(sh.to_byte_array()),
                &wallet_key,
            );
            let mut w = Witness::new();
            w.push(bitcoin::ecdsa::Signature::sighash_all(sig).to_vec());
            w.push(wallet_pk.serialize());
            bumped.input[1].witness = w;
            if ty == ChannelType::Anchors {
                ok(
                    &bumped,
                    &[&commit, &wallet_tx],
                    &format!("{what} with fee input"),
                );
            } else {
                rejected(
                    &bumped,
                    &[&commit, &wallet_tx],
                    &format!("{what} with fee input (SIGHASH_ALL)"),
                );
            }

            // Second stage: sweep the HTLC transaction's output after the CSV.
            let mut sweep =
                Sweep::build(vec![h.delayed_output()], dest(), FeeratePerKw(1000)).unwrap();
            sweep.sign_input(0, Some(&delayed)).unwrap();
            let swept = sweep.tx().clone();
            assert_eq!(swept.input[0].sequence, Sequence(u32::from(ALICE_DELAY)));
            ok(&swept, &[&signed], &format!("{what} delayed sweep"));
            let mut early = swept.clone();
            early.input[0].sequence = Sequence(u32::from(ALICE_DELAY) - 1);
            resign(
                &mut early,
                0,
                &signed.output[0],
                &delayed,
                0,
                EcdsaSighashType::All,
            );
            rejected(
                &early,
                &[&signed],
                &format!("{what} delayed sweep too early"),
            );
        }

        // Delayed to_local of our own commitment.
        let out = c.delayed_to_local_output().unwrap();
        let mut sweep = Sweep::build(vec![out.clone()], dest(), FeeratePerKw(1000)).unwrap();
        assert_eq!(
            sweep.sign_input(0, Some(fx.alice.funding_secret())),
            Err(TxError::WrongKey)
        );
        sweep.sign_input(0, Some(&delayed)).unwrap();
        let tx = sweep.tx().clone();
        ok(&tx, &[&commit], "to_local sweep");
        assert!(sweep.fee().0 > 0);
        let prev = prevout(&[&commit], tx.input[0].previous_output);
        let mut early = tx.clone();
        early.input[0].sequence = Sequence(u32::from(ALICE_DELAY) - 1);
        resign(&mut early, 0, &prev, &delayed, 0, EcdsaSighashType::All);
        rejected(&early, &[&commit], "to_local sweep too early");
        // Negative: signed by a wrong key (descriptor claiming another key).
        let wrong = fx.bob.delayed_payment_key(&point).unwrap();
        let mut lie = out.clone();
        if let SpendKind::DelayedToLocal { key, .. } = &mut lie.kind {
            *key = PublicKey::from_secret_key(SECP256K1, &wrong);
        }
        let tx = Sweep::build(vec![lie], dest(), FeeratePerKw(1000))
            .unwrap()
            .sign_all(&[Some(&wrong)])
            .unwrap();
        rejected(&tx, &[&commit], "to_local sweep wrong key");
        // Negative: the revocation branch with a key from a secret not yet revealed.
        let wrong_rev = fx
            .bob
            .revocation_key(&fx.alice.per_commitment_secret(N + 1).unwrap())
            .unwrap();
        let lie = SpendableOutput {
            kind: SpendKind::RevokedToLocal {
                witness_script: out.witness_script().unwrap().clone(),
                key: PublicKey::from_secret_key(SECP256K1, &wrong_rev),
            },
            ..out
        };
        let tx = Sweep::build(vec![lie], dest(), FeeratePerKw(1000))
            .unwrap()
            .sign_all(&[Some(&wrong_rev)])
            .unwrap();
        rejected(
            &tx,
            &[&commit],
            "to_local revocation path with wrong secret",
        );
    });
}

#[test]
fn claims_on_peer_commitment() {
    both(|ty| {
        let fx = fixture(ty);
        // Bob publishes his commitment; Alice takes what is hers.
        let c = fx.bob_commitment_alice_view(N);
        let commit = fx.signed_bob_commitment(&c);
        let bob_point = fx.bob.per_commitment_point(N).unwrap();
        let alice_htlc = fx.alice.htlc_key(&bob_point).unwrap();

        // to_remote.
        let out = c.to_remote_output().unwrap();
        let tx = Sweep::build(vec![out.clone()], dest(), FeeratePerKw(1000))
            .unwrap()
            .sign_all(&[Some(fx.alice.payment_base_secret())])
            .unwrap();
        ok(&tx, &[&commit], "to_remote");
        if ty == ChannelType::Anchors {
            assert_eq!(tx.input[0].sequence, Sequence(1));
            let prev = prevout(&[&commit], tx.input[0].previous_output);
            let mut bad = tx.clone();
            bad.input[0].sequence = Sequence(0);
            resign(
                &mut bad,
                0,
                &prev,
                fx.alice.payment_base_secret(),
                0,
                EcdsaSighashType::All,
            );
            rejected(&bad, &[&commit], "anchors to_remote without CSV 1");
        }
        // Negative: to_remote by a wrong key.
        let wrong = SecretKey::from_slice(&[0x98; 32]).unwrap();
        let mut lie = out.clone();
        match &mut lie.kind {
            SpendKind::ToRemoteAnchors { key, .. } => {
                *key = PublicKey::from_secret_key(SECP256K1, &wrong)
            }
            SpendKind::ToRemoteP2wpkh { .. } => {
                // P2WPKH commits to the key hash: sign, then swap the key in the witness.
            }
            _ => unreachable!(),
        }
        let mut tx = Sweep::build(vec![lie.clone()], dest(), FeeratePerKw(1000)).unwrap();
        match lie.kind {
            SpendKind::ToRemoteAnchors { .. } => {
                let t = tx.sign_all(&[Some(&wrong)]).unwrap();
                rejected(&t, &[&commit], "to_remote wrong key");
            }
            _ => {
                tx.sign_input(0, Some(fx.alice.payment_base_secret()))
                    .unwrap();
                let mut t = tx.into_tx();
                set_witness_elem(
                    &mut t,
                    0,
                    1,
                    &PublicKey::from_secret_key(SECP256K1, &wrong).serialize(),
                );
                rejected(&t, &[&commit], "to_remote wrong key");
            }
        }

        // HTLCs: #0 and #2 were offered by Alice (received on Bob's
        // commitment): timeout path; #1 was offered by Bob: preimage path.
        let mut claims = vec![];
        for i in 0..3 {
            let preimage = fx.htlcs[i].3;
            let out = c.countersignatory_htlc_output(i, Some(&preimage)).unwrap();
            let tx = Sweep::build(vec![out.clone()], dest(), FeeratePerKw(1000))
                .unwrap()
                .sign_all(&[Some(&alice_htlc)])
                .unwrap();
            ok(&tx, &[&commit], &format!("{ty:?} claim htlc #{i}"));
            let prev = prevout(&[&commit], tx.input[0].previous_output);
            match &out.kind {
                SpendKind::RemoteHtlcTimeout { cltv_expiry, .. } => {
                    assert_eq!(tx.lock_time, LockTime::from_consensus(*cltv_expiry));
                    let mut early = tx.clone();
                    early.lock_time = LockTime::from_consensus(cltv_expiry - 1);
                    resign(&mut early, 0, &prev, &alice_htlc, 0, EcdsaSighashType::All);
                    rejected(&early, &[&commit], "htlc timeout too early");
                    // A final nSequence disables nLockTime: CLTV must fail.
                    let mut fin = tx.clone();
                    fin.input[0].sequence = Sequence::MAX;
                    resign(&mut fin, 0, &prev, &alice_htlc, 0, EcdsaSighashType::All);
                    rejected(&fin, &[&commit], "htlc timeout with final sequence");
                }
                SpendKind::RemoteHtlcSuccess { .. } => {
                    let mut bad = tx.clone();
                    set_witness_elem(&mut bad, 0, 1, &[0x56; 32]);
                    rejected(&bad, &[&commit], "htlc success wrong preimage");
                    assert_eq!(
                        c.countersignatory_htlc_output(i, Some(&[0x56; 32])),
                        Err(TxError::PreimageMismatch)
                    );
                }
                _ => unreachable!(),
            }
            if ty == ChannelType::Anchors {
                let mut bad = tx.clone();
                bad.input[0].sequence = Sequence(0);
                resign(&mut bad, 0, &prev, &alice_htlc, 0, EcdsaSighashType::All);
                rejected(&bad, &[&commit], "anchors htlc claim without CSV 1");
            }
            // Wrong key: Alice's HTLC key for another commitment.
            let wrong = fx
                .alice
                .htlc_key(&fx.bob.per_commitment_point(N + 1).unwrap())
                .unwrap();
            let mut bad = tx.clone();
            resign(&mut bad, 0, &prev, &wrong, 0, EcdsaSighashType::All);
            rejected(&bad, &[&commit], "htlc claim wrong key");
            claims.push(out);
        }
        // All claims at once, with the to_remote: one transaction.
        claims.push(out);
        let keys = [
            Some(&alice_htlc),
            Some(&alice_htlc),
            Some(&alice_htlc),
            Some(fx.alice.payment_base_secret()),
        ];
        let tx = Sweep::build(claims, dest(), FeeratePerKw(2000))
            .unwrap()
            .sign_all(&keys)
            .unwrap();
        ok(&tx, &[&commit], "batched claims");
        assert_eq!(
            c.countersignatory_htlc_output(3, None),
            Err(TxError::HtlcNotInTransaction)
        );
    });
}

#[test]
fn anchors_spends() {
    let fx = fixture(ChannelType::Anchors);
    let c = fx.alice_commitment(N);
    let commit = fx.signed_alice_commitment(&c);
    for (owner, key) in [
        (Side::Holder, fx.alice.funding_secret()),
        (Side::Counterparty, fx.bob.funding_secret()),
    ] {
        // The owner with its funding key (CPFP): plus a wallet input in practice;
        // here the anchor alone is spent to a zero-value OP_RETURN-free output.
        let out = c.anchor_output(owner, false).unwrap();
        assert_eq!(out.value, ANCHOR_OUTPUT_VALUE);
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: out.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(300),
                script_pubkey: dest(),
            }],
        };
        // Sign through a Sweep to get the witness layout, then reuse it.
        let sweep = Sweep::build(
            vec![out.clone()],
            ScriptBuf::new_op_return([]),
            FeeratePerKw(0),
        )
        .unwrap();
        let signed = sweep.clone().sign_all(&[Some(key)]).unwrap();
        ok(&signed, &[&commit], "anchor by owner");
        tx.input[0].witness = signed.input[0].witness.clone();
        let prev = prevout(&[&commit], out.outpoint);
        resign(&mut tx, 0, &prev, key, 0, EcdsaSighashType::All);
        ok(&tx, &[&commit], "anchor by owner, custom tx");
        // Wrong key: the other party's funding key.
        let other = if owner == Side::Holder {
            fx.bob.funding_secret()
        } else {
            fx.alice.funding_secret()
        };
        let mut bad = tx.clone();
        resign(&mut bad, 0, &prev, other, 0, EcdsaSighashType::All);
        rejected(&bad, &[&commit], "anchor wrong key");

        // CPFP: the anchor plus a wallet UTXO paying the fee, in one sweep.
        let wallet_key = SecretKey::from_slice(&[0x32; 32]).unwrap();
        let wallet_pk = PublicKey::from_secret_key(SECP256K1, &wallet_key);
        let wallet_tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(50_000),
                script_pubkey: script::p2wpkh(&wallet_pk),
            }],
        };
        let wallet_utxo = SpendableOutput {
            outpoint: OutPoint {
                txid: wallet_tx.compute_txid(),
                vout: 0,
            },
            value: Sat(50_000),
            kind: SpendKind::ToRemoteP2wpkh { key: wallet_pk },
        };
        let cpfp =
            Sweep::build(vec![out.clone(), wallet_utxo], dest(), FeeratePerKw(10_000)).unwrap();
        assert!(cpfp.fee().0 >= 10 * cpfp.tx().weight().to_wu() - 10 * 4 * 8);
        let tx = cpfp.sign_all(&[Some(key), Some(&wallet_key)]).unwrap();
        ok(
            &tx,
            &[&commit, &wallet_tx],
            "anchor CPFP with a wallet input",
        );

        // Anyone after 16 blocks.
        let anyone = c.anchor_output(owner, true).unwrap();
        let tx = Sweep::build(vec![anyone], ScriptBuf::new_op_return([]), FeeratePerKw(0))
            .unwrap()
            .sign_all(&[None])
            .unwrap();
        assert_eq!(tx.input[0].sequence, Sequence(16));
        ok(&tx, &[&commit], "anchor after 16 blocks");
        let mut early = tx.clone();
        early.input[0].sequence = Sequence(15);
        rejected(
            &early,
            &[&commit],
            "anchor anyone-can-spend before 16 blocks",
        );
    }
    // Single anchor when only the opener has an output and there are no HTLCs.
    let spec = CommitmentSpec {
        commitment_number: 0,
        per_commitment_point: fx.alice.per_commitment_point(0).unwrap(),
        to_broadcaster: Msat(FUNDING * 1000),
        to_countersignatory: Msat(0),
        htlcs: vec![],
        feerate: FeeratePerKw(253),
    };
    let c = CommitmentTx::build(&fx.pa, Side::Holder, &spec).unwrap();
    assert_eq!(c.tx().output.len(), 2);
    assert!(c.anchor_output(Side::Holder, false).is_some());
    assert!(c.anchor_output(Side::Counterparty, false).is_none());
    ok(
        &fx.signed_alice_commitment(&c),
        &[&fx.funding_tx],
        "single-anchor commitment",
    );
}

#[test]
fn justice_takes_everything() {
    both(|ty| {
        let fx = fixture(ty);
        // Alice's commitment N is revoked: Alice revealed its secret to Bob.
        let revoked_secret = fx.alice.per_commitment_secret(N).unwrap();
        let mut store = CommitmentSecretStore::new();
        for n in 0..=N {
            store
                .insert(n, &fx.alice.per_commitment_secret(n).unwrap())
                .unwrap();
        }
        assert_eq!(store.get(N), Some(revoked_secret));
        let alice_commit = fx.alice_commitment(N);
        let commit = fx.signed_alice_commitment(&alice_commit);
        // Bob rebuilds it from his own state.
        let c = fx.alice_commitment_bob_view(N);
        assert_eq!(c.txid(), commit.compute_txid());
        let rk = fx.bob.revocation_key(&store.get(N).unwrap()).unwrap();

        let mut inputs = c.revoked_outputs();
        assert_eq!(inputs.len(), 4, "to_local and three HTLCs");
        let n_revoked = inputs.len();
        inputs.push(c.to_remote_output().unwrap());
        let total: u64 = inputs.iter().map(|i| i.value.0).sum();
        let mut keys: Vec<Option<&SecretKey>> = vec![Some(&rk); n_revoked];
        keys.push(Some(fx.bob.payment_base_secret()));
        let sweep = Sweep::build(inputs.clone(), dest(), FeeratePerKw(5000)).unwrap();
        let justice = sweep.clone().sign_all(&keys).unwrap();
        ok(&justice, &[&commit], &format!("{ty:?} justice transaction"));
        assert_eq!(justice.output[0].value.to_sat() + sweep.fee().0, total);
        // Every output of the revoked commitment except the anchors is taken.
        let anchors = if ty == ChannelType::Anchors { 2 } else { 0 };
        assert_eq!(justice.input.len() + anchors, commit.output.len());

        // Negative: revocation key from the wrong (next) secret.
        let wrong = fx
            .bob
            .revocation_key(&fx.alice.per_commitment_secret(N + 1).unwrap())
            .unwrap();
        assert_eq!(
            sweep.clone().sign_all(&[Some(&wrong); 5]),
            Err(TxError::WrongKey)
        );
        let lying: Vec<SpendableOutput> = inputs[..n_revoked]
            .iter()
            .map(|i| {
                let mut i = i.clone();
                let wpk = PublicKey::from_secret_key(SECP256K1, &wrong);
                match &mut i.kind {
                    SpendKind::RevokedToLocal { key, .. } | SpendKind::RevokedHtlc { key, .. } => {
                        *key = wpk
                    }
                    _ => unreachable!(),
                }
                i
            })
            .collect();
        for one in lying {
            let tx = Sweep::build(vec![one], dest(), FeeratePerKw(5000))
                .unwrap()
                .sign_all(&[Some(&wrong)])
                .unwrap();
            rejected(&tx, &[&commit], "revocation path with wrong secret");
        }

        // Revoked second-stage HTLC transactions are taken too.
        let point = fx.alice.per_commitment_point(N).unwrap();
        let alice_htlc = fx.alice.htlc_key(&point).unwrap();
        let bob_htlc = fx.bob.htlc_key(&point).unwrap();
        for h in alice_commit.htlc_txs().unwrap() {
            let cs = h.sign_as_countersignatory(&bob_htlc).unwrap();
            let bs = h.sign_as_broadcaster(&alice_htlc).unwrap();
            let signed = h
                .finalize(&cs, &bs, Some(&fx.htlcs[h.htlc_index()].3))
                .unwrap();
            // Bob's copy of the same HTLC transaction gives the same output.
            let bob_h = c.htlc_tx(h.htlc_index()).unwrap();
            assert_eq!(bob_h.txid(), signed.compute_txid());
            let tx = Sweep::build(vec![bob_h.revoked_output()], dest(), FeeratePerKw(5000))
                .unwrap()
                .sign_all(&[Some(&rk)])
                .unwrap();
            ok(&tx, &[&signed], "justice on second-stage HTLC tx");
            let mut bad = tx.clone();
            resign(
                &mut bad,
                0,
                &signed.output[0],
                &wrong,
                0,
                EcdsaSighashType::All,
            );
            rejected(
                &bad,
                &[&signed],
                "justice on second-stage with wrong secret",
            );
        }
    });
}

#[test]
fn mutual_close() {
    both(|ty| {
        let fx = fixture(ty);
        let a_script = dest();
        let b_script = script::p2wpkh(&fx.bob.pubkeys().payment_basepoint.0);
        for variant in [
            ClosingVariant::Legacy,
            ClosingVariant::Simple { locktime: 800_000 },
        ] {
            let spec = ClosingSpec {
                holder: (Msat(6_000_000_000), Some(a_script.clone())),
                counterparty: (Msat(4_000_000_000), Some(b_script.clone())),
                fee: Sat(1_000),
                fee_payer: Side::Holder,
                dust_limit: Sat(546),
                variant,
            };
            let c = ClosingTx::build(&fx.pa, &spec).unwrap();
            assert_eq!(c.tx().output.len(), 2);
            let a = c.sign(fx.alice.funding_secret()).unwrap();
            let b = c.sign(fx.bob.funding_secret()).unwrap();
            let tx = c.finalize(&a, &b).unwrap();
            ok(&tx, &[&fx.funding_tx], "closing");
            let expected_seq = if variant == ClosingVariant::Legacy {
                Sequence::MAX
            } else {
                Sequence(0xffff_fffd)
            };
            assert_eq!(tx.input[0].sequence, expected_seq);
            let mut bad = tx.clone();
            bad.output[0].value = Amount::from_sat(bad.output[0].value.to_sat() + 1);
            rejected(&bad, &[&fx.funding_tx], "closing with altered amount");
            // The peer builds the same transaction from its side.
            let spec_b = ClosingSpec {
                holder: spec.counterparty.clone(),
                counterparty: spec.holder.clone(),
                fee_payer: Side::Counterparty,
                ..spec.clone()
            };
            assert_eq!(ClosingTx::build(&fx.pb, &spec_b).unwrap().tx(), c.tx());
        }
        // A dust output is dropped; omitting an output; fee larger than the balance.
        let spec = ClosingSpec {
            holder: (Msat(FUNDING * 1000 - 500_000), Some(a_script.clone())),
            counterparty: (Msat(500_000), Some(b_script.clone())),
            fee: Sat(1_000),
            fee_payer: Side::Holder,
            dust_limit: Sat(546),
            variant: ClosingVariant::Legacy,
        };
        let c = ClosingTx::build(&fx.pa, &spec).unwrap();
        assert_eq!(c.tx().output.len(), 1);
        let tx = c
            .finalize(
                &c.sign(fx.alice.funding_secret()).unwrap(),
                &c.sign(fx.bob.funding_secret()).unwrap(),
            )
            .unwrap();
        ok(&tx, &[&fx.funding_tx], "closing with one output");
        let bad = ClosingSpec {
            fee: Sat(FUNDING),
            ..spec.clone()
        };
        assert_eq!(
            ClosingTx::build(&fx.pa, &bad),
            Err(TxError::FeeExceedsBalance)
        );
        let none = ClosingSpec {
            holder: (spec.holder.0, None),
            ..spec
        };
        assert_eq!(ClosingTx::build(&fx.pa, &none), Err(TxError::NoOutputs));
    });
}
