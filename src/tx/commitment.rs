//! Commitment transactions (BOLT 3 "Commitment Transaction" and
//! "Commitment Transaction Construction").

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use secp256k1::ecdsa::Signature;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

use super::funding::FundingInfo;
use super::htlc::HtlcTx;
use super::params::*;
use super::script::*;
use super::TxError;
use crate::keys::{
    revocation_tweaks, ChannelKeys, DelayedPubkey, FundingPubkey, HtlcPubkey, KeyError,
    PerCommitmentPoint, RevocationBasepoint, RevocationPubkey, SHACHAIN_MAX_INDEX,
};
use crate::types::{Msat, PaymentHash, Sat};

/// Direction of an HTLC, relative to the commitment's broadcaster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HtlcDirection {
    /// The broadcaster offered it (it times out back to the broadcaster
    /// through an HTLC-timeout transaction).
    Offered,
    /// The broadcaster received it (the broadcaster claims it with the
    /// preimage through an HTLC-success transaction).
    Received,
}

/// One HTLC committed to by a commitment transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Htlc {
    /// Direction relative to the commitment's broadcaster.
    pub direction: HtlcDirection,
    pub amount: Msat,
    pub payment_hash: PaymentHash,
    pub cltv_expiry: u32,
}

/// The variable part of one commitment transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentSpec {
    /// The commitment number (0 for the first commitment, at most 2^48 - 1).
    pub commitment_number: u64,
    /// The broadcaster's per-commitment point for this commitment.
    pub per_commitment_point: PerCommitmentPoint,
    /// Balance of the broadcaster (`to_local`), before fees and anchors.
    pub to_broadcaster: Msat,
    /// Balance of the countersignatory (`to_remote`), before fees and anchors.
    pub to_countersignatory: Msat,
    /// The committed HTLCs, in the caller's order; [`CommitmentTx`] refers to
    /// them by their position in this list.
    pub htlcs: Vec<Htlc>,
    pub feerate: FeeratePerKw,
}

/// The keys of one commitment transaction (BOLT 3 "Key Derivation"), named
/// from the broadcaster's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitmentKeys {
    pub per_commitment_point: PerCommitmentPoint,
    /// `revocationpubkey`: countersignatory's revocation basepoint tweaked by the point.
    pub revocation_key: RevocationPubkey,
    /// `local_delayedpubkey`.
    pub broadcaster_delayed_key: DelayedPubkey,
    /// `local_htlcpubkey` and `remote_htlcpubkey`. `None` in a built
    /// [`CommitmentTx`] without HTLC outputs: they are only derived when an
    /// HTLC output needs them (two point multiplications saved per
    /// commitment otherwise).
    pub htlc: Option<HtlcKeys>,
    /// `remotepubkey`: the countersignatory's payment basepoint (static remote key).
    pub countersignatory_payment_key: PublicKey,
    /// Locks the broadcaster's anchor.
    pub broadcaster_funding_key: FundingPubkey,
    /// Locks the countersignatory's anchor.
    pub countersignatory_funding_key: FundingPubkey,
}

/// The two HTLC keys of one commitment transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HtlcKeys {
    /// `local_htlcpubkey`.
    pub broadcaster: HtlcPubkey,
    /// `remote_htlcpubkey`.
    pub countersignatory: HtlcPubkey,
}

impl HtlcKeys {
    /// Derives the HTLC keys of `broadcaster`'s commitment with `point`.
    pub fn derive(
        params: &ChannelParams,
        broadcaster: Side,
        point: &PerCommitmentPoint,
    ) -> Result<Self, TxError> {
        Ok(Self {
            broadcaster: params
                .party(broadcaster)
                .keys
                .htlc_basepoint
                .derive(point)?,
            countersignatory: params
                .party(broadcaster.other())
                .keys
                .htlc_basepoint
                .derive(point)?,
        })
    }
}

impl CommitmentKeys {
    /// Derives all the keys of `broadcaster`'s commitment with `point`.
    pub fn derive(
        params: &ChannelParams,
        broadcaster: Side,
        point: &PerCommitmentPoint,
    ) -> Result<Self, TxError> {
        let mut k = Self::derive_without_htlc(params, broadcaster, point)?;
        k.htlc = Some(HtlcKeys::derive(params, broadcaster, point)?);
        Ok(k)
    }

    /// Derives the keys of `broadcaster`'s commitment with `point` except
    /// the HTLC keys.
    pub fn derive_without_htlc(
        params: &ChannelParams,
        broadcaster: Side,
        point: &PerCommitmentPoint,
    ) -> Result<Self, TxError> {
        let c = &params.party(broadcaster.other()).keys;
        Ok(Self {
            revocation_key: c.revocation_basepoint.derive(point)?,
            broadcaster_delayed_key: params
                .party(broadcaster)
                .keys
                .delayed_payment_basepoint
                .derive(point)?,
            ..Self::static_keys(params, broadcaster, point)
        })
    }

    /// The keys that need no derivation; the derived ones are placeholders
    /// (the basepoints) that the caller replaces.
    fn static_keys(params: &ChannelParams, broadcaster: Side, point: &PerCommitmentPoint) -> Self {
        let b = &params.party(broadcaster).keys;
        let c = &params.party(broadcaster.other()).keys;
        Self {
            per_commitment_point: *point,
            revocation_key: RevocationPubkey(c.revocation_basepoint.0),
            broadcaster_delayed_key: DelayedPubkey(b.delayed_payment_basepoint.0),
            htlc: None,
            countersignatory_payment_key: c.payment_basepoint.0,
            broadcaster_funding_key: b.funding_pubkey,
            countersignatory_funding_key: c.funding_pubkey,
        }
    }

    /// The HTLC keys; an error if they were not derived (no HTLC output).
    pub fn htlc_keys(&self) -> Result<HtlcKeys, TxError> {
        self.htlc.ok_or(TxError::HtlcNotInTransaction)
    }
}

/// The per-commitment point and `revocationpubkey` of a commitment whose
/// per-commitment secret is known (the broadcaster's own), computed as
///
/// ```text
/// point = secret * G
/// revocation_basepoint * SHA256(revocation_basepoint || point)
///   + (secret * SHA256(point || revocation_basepoint)) * G
/// ```
///
/// the same key as [`RevocationBasepoint::derive`], with a multiplication of
/// the generator (precomputed tables) in place of one of an arbitrary point.
/// Only [`OwnRevocation::new`] makes one, so the two always belong together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnRevocation {
    revocation_basepoint: RevocationBasepoint,
    point: PerCommitmentPoint,
    revocation_key: RevocationPubkey,
}

impl OwnRevocation {
    /// `revocation_basepoint` is the countersignatory's.
    pub fn new(
        revocation_basepoint: &RevocationBasepoint,
        secret: &SecretKey,
    ) -> Result<Self, TxError> {
        let tweak_err = |_| TxError::Key(KeyError::TweakOutOfRange);
        let rb = &revocation_basepoint.0;
        let point = PublicKey::from_secret_key(SECP256K1, secret);
        let (t1, t2) = revocation_tweaks(rb, &point)?;
        let a = rb.mul_tweak(SECP256K1, &t1).map_err(tweak_err)?;
        let b = secret.mul_tweak(&t2).map_err(tweak_err)?;
        let key = a
            .combine(&PublicKey::from_secret_key(SECP256K1, &b))
            .map_err(tweak_err)?;
        Ok(Self {
            revocation_basepoint: *revocation_basepoint,
            point: PerCommitmentPoint(point),
            revocation_key: RevocationPubkey(key),
        })
    }
    pub fn point(&self) -> PerCommitmentPoint {
        self.point
    }
    pub fn revocation_key(&self) -> RevocationPubkey {
        self.revocation_key
    }
}

/// What an output of a commitment transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitmentOutputKind {
    /// The broadcaster's delayed balance.
    ToLocal,
    /// The countersignatory's balance.
    ToRemote,
    /// The broadcaster's anchor (anchors only).
    BroadcasterAnchor,
    /// The countersignatory's anchor (anchors only).
    CountersignatoryAnchor,
    /// The HTLC at this position of [`CommitmentSpec::htlcs`].
    Htlc(usize),
}

/// A built, unsigned commitment transaction with everything needed to sign
/// it, to build its HTLC transactions and to spend its outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentTx {
    pub(crate) tx: Transaction,
    pub(crate) broadcaster: Side,
    pub(crate) commitment_number: u64,
    pub(crate) channel_type: ChannelType,
    pub(crate) feerate: FeeratePerKw,
    pub(crate) keys: CommitmentKeys,
    /// CSV delay of the broadcaster's outputs.
    pub(crate) to_self_delay: u16,
    pub(crate) funding: FundingInfo,
    /// Per output: kind and witness script (P2WPKH `to_remote` has none).
    pub(crate) outputs: Vec<(CommitmentOutputKind, Option<ScriptBuf>)>,
    pub(crate) htlcs: Vec<Htlc>,
    pub(crate) htlc_outputs: Vec<Option<u32>>,
}

struct Out {
    kind: CommitmentOutputKind,
    value: u64,
    witness_script: Option<ScriptBuf>,
    script_pubkey: ScriptBuf,
    cltv: u32,
}

impl CommitmentTx {
    /// Builds `broadcaster`'s commitment transaction.
    ///
    /// Follows BOLT 3 "Commitment Transaction Construction": HTLCs whose
    /// amount minus their second-stage fee is below the broadcaster's dust
    /// limit are trimmed; the base fee (and under anchors the two anchor
    /// values) is taken from the opener's balance (all of it if that is not
    /// enough); `to_local` / `to_remote` below the broadcaster's dust limit
    /// are dropped; outputs are in BIP 69 order with the CLTV tie-break.
    ///
    /// Errors if balances plus HTLCs are not exactly the channel capacity,
    /// if the commitment number is out of range, if there are more than
    /// [`MAX_HTLCS`] HTLCs, if a key derivation fails, or, under anchors, if
    /// the opener cannot even pay for the anchors.
    pub fn build(
        params: &ChannelParams,
        broadcaster: Side,
        spec: &CommitmentSpec,
    ) -> Result<Self, TxError> {
        Self::build_inner(params, broadcaster, spec, None)
    }

    /// [`CommitmentTx::build`] for a commitment whose per-commitment secret
    /// the caller holds (its own), with the revocation key of `own` (one
    /// point multiplication cheaper). Errors with
    /// [`TxError::PerCommitmentSecretMismatch`] if `own` is not for
    /// `spec.per_commitment_point` or for this countersignatory.
    pub fn build_own(
        params: &ChannelParams,
        broadcaster: Side,
        spec: &CommitmentSpec,
        own: &OwnRevocation,
    ) -> Result<Self, TxError> {
        let rb = &params.party(broadcaster.other()).keys.revocation_basepoint;
        if own.point != spec.per_commitment_point || own.revocation_basepoint != *rb {
            return Err(TxError::PerCommitmentSecretMismatch);
        }
        Self::build_inner(params, broadcaster, spec, Some(own.revocation_key))
    }

    /// [`CommitmentTx::build`] of the counterparty's commitment by the
    /// holder, whose `keys` give the revocation key more cheaply
    /// ([`ChannelKeys::peer_revocation_pubkey`]). Errors with
    /// [`TxError::WrongKey`] if `keys` are not the holder's of `params`.
    pub fn build_counterparty(
        params: &ChannelParams,
        spec: &CommitmentSpec,
        keys: &ChannelKeys,
    ) -> Result<Self, TxError> {
        if keys.pubkeys().revocation_basepoint != params.holder.keys.revocation_basepoint {
            return Err(TxError::WrongKey);
        }
        let revocation_key = keys.peer_revocation_pubkey(&spec.per_commitment_point)?;
        Self::build_inner(params, Side::Counterparty, spec, Some(revocation_key))
    }

    fn build_inner(
        params: &ChannelParams,
        broadcaster: Side,
        spec: &CommitmentSpec,
        revocation: Option<RevocationPubkey>,
    ) -> Result<Self, TxError> {
        if spec.commitment_number > SHACHAIN_MAX_INDEX {
            return Err(TxError::CommitmentNumberOutOfRange);
        }
        if spec.htlcs.len() > MAX_HTLCS {
            return Err(TxError::TooManyHtlcs);
        }
        let mut total = spec
            .to_broadcaster
            .0
            .checked_add(spec.to_countersignatory.0)
            .ok_or(TxError::AmountOverflow)?;
        for h in &spec.htlcs {
            total = total
                .checked_add(h.amount.0)
                .ok_or(TxError::AmountOverflow)?;
        }
        if Some(total) != params.funding_amount.0.checked_mul(1000) {
            return Err(TxError::BalanceMismatch);
        }

        let channel_type = params.channel_type;
        let anchors = channel_type.has_anchors();
        let bparams = params.party(broadcaster);
        let dust = bparams.dust_limit.0;
        let (timeout_fee, success_fee) = htlc_tx_fees(channel_type, spec.feerate)?;
        let fee_of = |h: &Htlc| match h.direction {
            HtlcDirection::Offered => timeout_fee.0,
            HtlcDirection::Received => success_fee.0,
        };
        // Trimmed: amount minus the second-stage fee below the dust limit.
        let survives = |h: &Htlc| h.amount.0 / 1000 >= dust.saturating_add(fee_of(h));
        let mut keys = match revocation {
            None => CommitmentKeys::derive_without_htlc(
                params,
                broadcaster,
                &spec.per_commitment_point,
            )?,
            Some(revocation_key) => CommitmentKeys {
                revocation_key,
                broadcaster_delayed_key: bparams
                    .keys
                    .delayed_payment_basepoint
                    .derive(&spec.per_commitment_point)?,
                ..CommitmentKeys::static_keys(params, broadcaster, &spec.per_commitment_point)
            },
        };
        if spec.htlcs.iter().any(survives) {
            keys.htlc = Some(HtlcKeys::derive(
                params,
                broadcaster,
                &spec.per_commitment_point,
            )?);
        }

        let mut outs: Vec<Out> = Vec::new();
        for (i, h) in spec.htlcs.iter().enumerate() {
            if !survives(h) {
                continue;
            }
            let hk = keys.htlc_keys()?;
            let script = match h.direction {
                HtlcDirection::Offered => offered_htlc_script(
                    &keys.revocation_key,
                    &hk.broadcaster,
                    &hk.countersignatory,
                    &h.payment_hash,
                    anchors,
                ),
                HtlcDirection::Received => received_htlc_script(
                    &keys.revocation_key,
                    &hk.broadcaster,
                    &hk.countersignatory,
                    &h.payment_hash,
                    h.cltv_expiry,
                    anchors,
                ),
            };
            outs.push(Out {
                kind: CommitmentOutputKind::Htlc(i),
                value: h.amount.0 / 1000,
                script_pubkey: ScriptBuf::new_p2wsh(&script.wscript_hash()),
                witness_script: Some(script),
                cltv: h.cltv_expiry,
            });
        }
        let untrimmed = outs.len() as u64;
        let base_weight = if anchors {
            COMMITMENT_WEIGHT_ANCHORS
        } else {
            COMMITMENT_WEIGHT_STATIC
        };
        let fee = spec
            .feerate
            .fee(base_weight + HTLC_OUTPUT_WEIGHT * untrimmed)?;
        let anchor_total = if anchors {
            2 * ANCHOR_OUTPUT_VALUE.0
        } else {
            0
        };

        let (mut to_b, mut to_c) = (spec.to_broadcaster.0, spec.to_countersignatory.0);
        let funder = if params.opener == broadcaster {
            &mut to_b
        } else {
            &mut to_c
        };
        if *funder < anchor_total * 1000 {
            return Err(TxError::FeeExceedsBalance);
        }
        *funder = funder.saturating_sub((fee.0 + anchor_total).saturating_mul(1000));
        let (to_b, to_c) = (to_b / 1000, to_c / 1000);

        let has_local = to_b >= dust;
        let has_remote = to_c >= dust;
        if has_local {
            let script = to_local_script(
                &keys.revocation_key,
                bparams.to_self_delay,
                &keys.broadcaster_delayed_key,
            );
            outs.push(Out {
                kind: CommitmentOutputKind::ToLocal,
                value: to_b,
                script_pubkey: ScriptBuf::new_p2wsh(&script.wscript_hash()),
                witness_script: Some(script),
                cltv: 0,
            });
        }
        if has_remote {
            let (spk, ws) = if anchors {
                let s = to_remote_anchors_script(&keys.countersignatory_payment_key);
                (ScriptBuf::new_p2wsh(&s.wscript_hash()), Some(s))
            } else {
                (p2wpkh(&keys.countersignatory_payment_key), None)
            };
            outs.push(Out {
                kind: CommitmentOutputKind::ToRemote,
                value: to_c,
                script_pubkey: spk,
                witness_script: ws,
                cltv: 0,
            });
        }
        if anchors {
            let mut add_anchor = |kind, key: &FundingPubkey| {
                let s = anchor_script(key);
                outs.push(Out {
                    kind,
                    value: ANCHOR_OUTPUT_VALUE.0,
                    script_pubkey: ScriptBuf::new_p2wsh(&s.wscript_hash()),
                    witness_script: Some(s),
                    cltv: 0,
                });
            };
            if has_local || untrimmed > 0 {
                add_anchor(
                    CommitmentOutputKind::BroadcasterAnchor,
                    &keys.broadcaster_funding_key,
                );
            }
            if has_remote || untrimmed > 0 {
                add_anchor(
                    CommitmentOutputKind::CountersignatoryAnchor,
                    &keys.countersignatory_funding_key,
                );
            }
        }
        // BIP 69 with the CLTV tie-break (a stable sort keeps the rest deterministic).
        outs.sort_by(|a, b| {
            (a.value, a.script_pubkey.as_bytes(), a.cltv).cmp(&(
                b.value,
                b.script_pubkey.as_bytes(),
                b.cltv,
            ))
        });

        let obscured = spec.commitment_number ^ params.obscuring_factor();
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::from_consensus(0x2000_0000 | (obscured & 0xff_ffff) as u32),
            input: vec![TxIn {
                previous_output: params.funding_outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence(0x8000_0000 | ((obscured >> 24) & 0xff_ffff) as u32),
                witness: Witness::new(),
            }],
            output: outs
                .iter()
                .map(|o| TxOut {
                    value: Amount::from_sat(o.value),
                    script_pubkey: o.script_pubkey.clone(),
                })
                .collect(),
        };
        let mut htlc_outputs = vec![None; spec.htlcs.len()];
        for (vout, o) in outs.iter().enumerate() {
            if let CommitmentOutputKind::Htlc(i) = o.kind {
                htlc_outputs[i] = Some(vout as u32);
            }
        }
        Ok(Self {
            tx,
            broadcaster,
            commitment_number: spec.commitment_number,
            channel_type,
            feerate: spec.feerate,
            keys,
            to_self_delay: bparams.to_self_delay,
            funding: FundingInfo::new(params),
            outputs: outs
                .into_iter()
                .map(|o| (o.kind, o.witness_script))
                .collect(),
            htlcs: spec.htlcs.clone(),
            htlc_outputs,
        })
    }

    /// The unsigned transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    /// Its txid (witness data does not change it).
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }
    /// Whose commitment this is.
    pub fn broadcaster(&self) -> Side {
        self.broadcaster
    }
    pub fn commitment_number(&self) -> u64 {
        self.commitment_number
    }
    pub fn channel_type(&self) -> ChannelType {
        self.channel_type
    }
    pub fn feerate(&self) -> FeeratePerKw {
        self.feerate
    }
    /// The keys used in the scripts.
    pub fn keys(&self) -> &CommitmentKeys {
        &self.keys
    }
    /// CSV delay of the broadcaster's `to_local` and HTLC-transaction outputs.
    pub fn to_self_delay(&self) -> u16 {
        self.to_self_delay
    }
    /// The HTLCs as given in the [`CommitmentSpec`].
    pub fn htlcs(&self) -> &[Htlc] {
        &self.htlcs
    }
    /// The actual fee: capacity minus all outputs (includes trimmed amounts).
    pub fn fee(&self) -> Sat {
        let out: u64 = self.tx.output.iter().map(|o| o.value.to_sat()).sum();
        Sat(self.funding.amount.0.saturating_sub(out))
    }
    /// Funding data used to sign input 0.
    pub fn funding(&self) -> &FundingInfo {
        &self.funding
    }
    /// Kind of output `vout`.
    pub fn output_kind(&self, vout: usize) -> Option<CommitmentOutputKind> {
        self.outputs.get(vout).map(|o| o.0)
    }
    /// Witness script of output `vout` (`None` for a P2WPKH `to_remote`).
    pub fn witness_script(&self, vout: usize) -> Option<&ScriptBuf> {
        self.outputs.get(vout).and_then(|o| o.1.as_ref())
    }
    /// Output index of the first output of `kind`.
    pub fn find_output(&self, kind: CommitmentOutputKind) -> Option<u32> {
        self.outputs
            .iter()
            .position(|o| o.0 == kind)
            .map(|i| i as u32)
    }
    /// Output index of each HTLC of the spec (`None` if trimmed).
    pub fn htlc_output_indices(&self) -> &[Option<u32>] {
        &self.htlc_outputs
    }
    /// Output index of HTLC `htlc_index` (`None` if trimmed or unknown).
    pub fn htlc_output_index(&self, htlc_index: usize) -> Option<u32> {
        self.htlc_outputs.get(htlc_index).copied().flatten()
    }
    /// HTLC indices of the untrimmed HTLCs, in output order: the order of
    /// `htlc_signatures` in `commitment_signed`.
    pub fn htlcs_in_output_order(&self) -> Vec<usize> {
        self.outputs
            .iter()
            .filter_map(|o| {
                if let CommitmentOutputKind::Htlc(i) = o.0 {
                    Some(i)
                } else {
                    None
                }
            })
            .collect()
    }

    /// Signs the funding input with a funding secret key (ours, on either
    /// party's commitment).
    pub fn sign(&self, funding_key: &SecretKey) -> Result<Signature, TxError> {
        self.funding.sign(&self.tx, funding_key)
    }
    /// Checks a funding-input signature by `side`.
    pub fn verify(&self, sig: &Signature, side: Side) -> Result<(), TxError> {
        self.funding.verify(&self.tx, sig, side)
    }
    /// The fully signed transaction, after checking both signatures.
    pub fn finalize(
        &self,
        holder_sig: &Signature,
        counterparty_sig: &Signature,
    ) -> Result<Transaction, TxError> {
        self.funding
            .finalize(self.tx.clone(), holder_sig, counterparty_sig)
    }

    /// The HTLC-success or HTLC-timeout transaction of HTLC `htlc_index`.
    pub fn htlc_tx(&self, htlc_index: usize) -> Result<HtlcTx, TxError> {
        HtlcTx::new(self, htlc_index)
    }
    /// All HTLC transactions, in output order.
    pub fn htlc_txs(&self) -> Result<Vec<HtlcTx>, TxError> {
        self.htlcs_in_output_order()
            .into_iter()
            .map(|i| self.htlc_tx(i))
            .collect()
    }

    pub(crate) fn outpoint(&self, vout: u32) -> OutPoint {
        OutPoint {
            txid: self.txid(),
            vout,
        }
    }
    pub(crate) fn value(&self, vout: u32) -> Sat {
        Sat(self
            .tx
            .output
            .get(vout as usize)
            .map(|o| o.value.to_sat())
            .unwrap_or(0))
    }
}

/// (HTLC-timeout fee, HTLC-success fee) at `feerate`; zero under anchors.
pub(crate) fn htlc_tx_fees(
    channel_type: ChannelType,
    feerate: FeeratePerKw,
) -> Result<(Sat, Sat), TxError> {
    if channel_type.has_anchors() {
        Ok((Sat(0), Sat(0)))
    } else {
        Ok((
            feerate.fee(HTLC_TIMEOUT_WEIGHT_STATIC)?,
            feerate.fee(HTLC_SUCCESS_WEIGHT_STATIC)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sk(b: u8) -> SecretKey {
        SecretKey::from_slice(&[b; 32]).unwrap()
    }

    #[test]
    fn own_revocation_is_the_derived_revocation_key() {
        // BOLT 3 "Key Derivation" test vector.
        let base_secret = SecretKey::from_slice(&hex_bytes(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ))
        .unwrap();
        let per_commitment_secret = SecretKey::from_slice(&hex_bytes(
            "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100",
        ))
        .unwrap();
        let rb = RevocationBasepoint::from_secret(&base_secret);
        let own = OwnRevocation::new(&rb, &per_commitment_secret).unwrap();
        assert_eq!(
            own.point().0,
            PublicKey::from_secret_key(SECP256K1, &per_commitment_secret)
        );
        assert_eq!(
            hex_string(&own.revocation_key().0.serialize()),
            "02916e326636d19c33f13e8c0c3a03dd157f332f3e99c317c141dd865eb01f8ff0"
        );
        for (b, s) in [(1u8, 2u8), (3, 4), (0x7f, 0x42)] {
            let rb = RevocationBasepoint::from_secret(&sk(b));
            let own = OwnRevocation::new(&rb, &sk(s)).unwrap();
            assert_eq!(own.revocation_key(), rb.derive(&own.point()).unwrap());
        }
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn hex_string(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
