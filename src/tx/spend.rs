//! Spending the outputs of commitment and HTLC transactions: sweeps of our
//! funds and the justice (penalty) transaction.
//!
//! A [`SpendableOutput`] says how one output is spent (which branch of its
//! script, which key must sign, which timelock applies). [`Sweep`] gathers
//! any number of them into one transaction paying a single destination,
//! sets nLockTime and each nSequence as the branches require, takes the fee
//! for the weight of the signed transaction, and signs input by input.
//!
//! Which secret key signs which kind (all from
//! [`ChannelKeys`](crate::keys::ChannelKeys)):
//!
//! | kind | key |
//! |------|-----|
//! | [`SpendKind::DelayedToLocal`] | `delayed_payment_key(our point)` |
//! | [`SpendKind::RevokedToLocal`], [`SpendKind::RevokedHtlc`] | `revocation_key(peer's revealed secret)` |
//! | [`SpendKind::ToRemoteP2wpkh`], [`SpendKind::ToRemoteAnchors`] | `payment_base_secret()` |
//! | [`SpendKind::RemoteHtlcTimeout`], [`SpendKind::RemoteHtlcSuccess`] | `htlc_key(peer's point)` |
//! | [`SpendKind::Anchor`] | `funding_secret()` |
//! | [`SpendKind::AnchorAfterDelay`] | none |

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use secp256k1::ecdsa::Signature;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

use super::commitment::{CommitmentOutputKind, CommitmentTx, HtlcDirection};
use super::htlc::HtlcTx;
use super::params::{FeeratePerKw, Side};
use super::script::p2wpkh;
use super::{sighash_bytes, sign_hash, witness_sig, TxError};
use crate::types::Sat;

/// How an output is spent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpendKind {
    /// Our `to_local` on our own commitment, or the output of our
    /// HTLC-success / HTLC-timeout transaction: `<delayed_sig> <>` with
    /// nSequence = `to_self_delay`.
    DelayedToLocal {
        witness_script: ScriptBuf,
        to_self_delay: u16,
        key: PublicKey,
    },
    /// The same script on the peer's revoked commitment or revoked HTLC
    /// transaction: `<revocation_sig> 1`.
    RevokedToLocal {
        witness_script: ScriptBuf,
        key: PublicKey,
    },
    /// An HTLC output of the peer's revoked commitment:
    /// `<revocation_sig> <revocationpubkey>`.
    RevokedHtlc {
        witness_script: ScriptBuf,
        key: PublicKey,
    },
    /// Our `to_remote` P2WPKH on the peer's commitment (static_remotekey).
    /// Also spends any other P2WPKH output of ours, such as a wallet UTXO
    /// that pays the fee of an anchor (CPFP) spend in the same [`Sweep`].
    ToRemoteP2wpkh { key: PublicKey },
    /// Our `to_remote` on the peer's anchors commitment: `<sig>`, nSequence 1.
    ToRemoteAnchors {
        witness_script: ScriptBuf,
        key: PublicKey,
    },
    /// An HTLC we offered, on the peer's commitment, after it expired:
    /// `<sig> <>` with nLockTime >= `cltv_expiry` (and nSequence 1 under anchors).
    RemoteHtlcTimeout {
        witness_script: ScriptBuf,
        cltv_expiry: u32,
        anchors: bool,
        key: PublicKey,
    },
    /// An HTLC the peer offered us, on the peer's commitment:
    /// `<sig> <preimage>` (nSequence 1 under anchors).
    RemoteHtlcSuccess {
        witness_script: ScriptBuf,
        preimage: [u8; 32],
        anchors: bool,
        key: PublicKey,
    },
    /// Our anchor: `<sig>` with our funding key.
    Anchor {
        witness_script: ScriptBuf,
        key: PublicKey,
    },
    /// Any anchor, by anyone, 16 blocks after the commitment confirmed:
    /// `<>` with nSequence 16.
    AnchorAfterDelay { witness_script: ScriptBuf },
}

/// One output to spend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpendableOutput {
    pub outpoint: OutPoint,
    pub value: Sat,
    pub kind: SpendKind,
}

/// nSequence for inputs without a relative timelock: final-ish but still
/// enabling nLockTime and RBF.
const SEQ_DEFAULT: Sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;

impl SpendableOutput {
    fn sequence(&self) -> Sequence {
        match &self.kind {
            SpendKind::DelayedToLocal { to_self_delay, .. } => Sequence(u32::from(*to_self_delay)),
            SpendKind::ToRemoteAnchors { .. } => Sequence(1),
            SpendKind::RemoteHtlcTimeout { anchors: true, .. }
            | SpendKind::RemoteHtlcSuccess { anchors: true, .. } => Sequence(1),
            SpendKind::AnchorAfterDelay { .. } => Sequence(16),
            _ => SEQ_DEFAULT,
        }
    }

    fn min_locktime(&self) -> u32 {
        match &self.kind {
            SpendKind::RemoteHtlcTimeout { cltv_expiry, .. } => *cltv_expiry,
            _ => 0,
        }
    }

    /// The key that must sign this input (`None` for anyone-can-spend anchors).
    pub fn signing_key(&self) -> Option<PublicKey> {
        match &self.kind {
            SpendKind::DelayedToLocal { key, .. }
            | SpendKind::RevokedToLocal { key, .. }
            | SpendKind::RevokedHtlc { key, .. }
            | SpendKind::ToRemoteP2wpkh { key }
            | SpendKind::ToRemoteAnchors { key, .. }
            | SpendKind::RemoteHtlcTimeout { key, .. }
            | SpendKind::RemoteHtlcSuccess { key, .. }
            | SpendKind::Anchor { key, .. } => Some(*key),
            SpendKind::AnchorAfterDelay { .. } => None,
        }
    }

    /// The P2WSH witness script (`None` for P2WPKH).
    pub fn witness_script(&self) -> Option<&ScriptBuf> {
        match &self.kind {
            SpendKind::DelayedToLocal { witness_script, .. }
            | SpendKind::RevokedToLocal { witness_script, .. }
            | SpendKind::RevokedHtlc { witness_script, .. }
            | SpendKind::ToRemoteAnchors { witness_script, .. }
            | SpendKind::RemoteHtlcTimeout { witness_script, .. }
            | SpendKind::RemoteHtlcSuccess { witness_script, .. }
            | SpendKind::Anchor { witness_script, .. }
            | SpendKind::AnchorAfterDelay { witness_script } => Some(witness_script),
            SpendKind::ToRemoteP2wpkh { .. } => None,
        }
    }

    /// The output's scriptPubKey.
    pub fn script_pubkey(&self) -> ScriptBuf {
        match (&self.kind, self.witness_script()) {
            (SpendKind::ToRemoteP2wpkh { key }, _) => p2wpkh(key),
            (_, Some(ws)) => ScriptBuf::new_p2wsh(&ws.wscript_hash()),
            // Every other kind has a witness script.
            (_, None) => ScriptBuf::new(),
        }
    }

    /// The input's witness given its signature (ignored by anyone-can-spend anchors).
    fn witness(&self, sig: &[u8]) -> Witness {
        let mut w = Witness::new();
        match &self.kind {
            SpendKind::DelayedToLocal { .. } | SpendKind::RemoteHtlcTimeout { .. } => {
                w.push(sig);
                w.push([]);
            }
            SpendKind::RevokedToLocal { .. } => {
                w.push(sig);
                w.push([1u8]);
            }
            SpendKind::RevokedHtlc { key, .. } => {
                w.push(sig);
                w.push(key.serialize());
            }
            SpendKind::ToRemoteP2wpkh { key } => {
                w.push(sig);
                w.push(key.serialize());
                return w;
            }
            SpendKind::RemoteHtlcSuccess { preimage, .. } => {
                w.push(sig);
                w.push(preimage);
            }
            SpendKind::ToRemoteAnchors { .. } | SpendKind::Anchor { .. } => w.push(sig),
            SpendKind::AnchorAfterDelay { .. } => w.push([]),
        }
        if let Some(s) = self.witness_script() {
            w.push(s.as_bytes());
        }
        w
    }
}

/// A transaction sweeping [`SpendableOutput`]s to one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    tx: Transaction,
    inputs: Vec<SpendableOutput>,
}

impl Sweep {
    /// Builds the sweep. nLockTime is the largest `cltv_expiry` among
    /// [`SpendKind::RemoteHtlcTimeout`] inputs (0 otherwise); each nSequence
    /// is what its branch needs. The fee is `feerate` times the weight of
    /// the signed transaction, counting 73-byte signatures.
    pub fn build(
        inputs: Vec<SpendableOutput>,
        destination: ScriptBuf,
        feerate: FeeratePerKw,
    ) -> Result<Self, TxError> {
        if inputs.is_empty() {
            return Err(TxError::NoInputs);
        }
        let mut total: u64 = 0;
        for i in &inputs {
            total = total
                .checked_add(i.value.0)
                .ok_or(TxError::AmountOverflow)?;
        }
        let lock_time = inputs
            .iter()
            .map(SpendableOutput::min_locktime)
            .max()
            .unwrap_or(0);
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::from_consensus(lock_time),
            input: inputs
                .iter()
                .map(|i| TxIn {
                    previous_output: i.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: i.sequence(),
                    witness: i.witness(&[0u8; 73]),
                })
                .collect(),
            output: vec![TxOut {
                value: Amount::from_sat(total),
                script_pubkey: destination,
            }],
        };
        let fee = feerate.fee(tx.weight().to_wu())?;
        let value = total.checked_sub(fee.0).ok_or(TxError::OutputBelowDust)?;
        if value < tx.output[0].script_pubkey.minimal_non_dust().to_sat() {
            return Err(TxError::OutputBelowDust);
        }
        tx.output[0].value = Amount::from_sat(value);
        for i in &mut tx.input {
            i.witness = Witness::new();
        }
        Ok(Self { tx, inputs })
    }

    /// The transaction (signed inputs have their witness).
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    /// The outputs being spent, in input order.
    pub fn inputs(&self) -> &[SpendableOutput] {
        &self.inputs
    }
    /// The fee paid.
    pub fn fee(&self) -> Sat {
        let inp: u64 = self.inputs.iter().map(|i| i.value.0).sum();
        Sat(inp.saturating_sub(self.tx.output.iter().map(|o| o.value.to_sat()).sum()))
    }

    /// The SIGHASH_ALL signature hash of input `index`.
    pub fn sighash(&self, index: usize) -> Result<[u8; 32], TxError> {
        let input = self
            .inputs
            .get(index)
            .ok_or(TxError::InputIndexOutOfRange)?;
        let value = Amount::from_sat(input.value.0);
        let mut cache = SighashCache::new(&self.tx);
        match input.witness_script() {
            Some(ws) => cache
                .p2wsh_signature_hash(index, ws, value, EcdsaSighashType::All)
                .map(sighash_bytes)
                .map_err(|_| TxError::InputIndexOutOfRange),
            None => cache
                .p2wpkh_signature_hash(index, &input.script_pubkey(), value, EcdsaSighashType::All)
                .map(sighash_bytes)
                .map_err(|_| TxError::InputIndexOutOfRange),
        }
    }

    /// Signs input `index` with `key` (which must be the input's
    /// [`signing_key`](SpendableOutput::signing_key)) and sets its witness.
    /// `key` is ignored for [`SpendKind::AnchorAfterDelay`].
    pub fn sign_input(&mut self, index: usize, key: Option<&SecretKey>) -> Result<(), TxError> {
        let input = self
            .inputs
            .get(index)
            .ok_or(TxError::InputIndexOutOfRange)?;
        let witness = match input.signing_key() {
            None => input.witness(&[]),
            Some(expected) => {
                let key = key.ok_or(TxError::WrongKey)?;
                if PublicKey::from_secret_key(SECP256K1, key) != expected {
                    return Err(TxError::WrongKey);
                }
                let sig: Signature = sign_hash(self.sighash(index)?, key);
                input.witness(&witness_sig(&sig, EcdsaSighashType::All))
            }
        };
        self.tx.input[index].witness = witness;
        Ok(())
    }

    /// Signs every input, `keys[i]` for input `i`, and returns the transaction.
    pub fn sign_all(mut self, keys: &[Option<&SecretKey>]) -> Result<Transaction, TxError> {
        if keys.len() != self.inputs.len() {
            return Err(TxError::InputIndexOutOfRange);
        }
        for (i, k) in keys.iter().enumerate() {
            self.sign_input(i, *k)?;
        }
        Ok(self.tx)
    }

    /// The transaction as it stands.
    pub fn into_tx(self) -> Transaction {
        self.tx
    }
}

impl CommitmentTx {
    /// The broadcaster's `to_local`, spendable by the broadcaster after
    /// `to_self_delay` blocks (our own commitment).
    pub fn delayed_to_local_output(&self) -> Option<SpendableOutput> {
        let vout = self.find_output(CommitmentOutputKind::ToLocal)?;
        Some(SpendableOutput {
            outpoint: self.outpoint(vout),
            value: self.value(vout),
            kind: SpendKind::DelayedToLocal {
                witness_script: self.witness_script(vout as usize)?.clone(),
                to_self_delay: self.to_self_delay,
                key: self.keys.broadcaster_delayed_key.0,
            },
        })
    }

    /// The countersignatory's `to_remote` (our output on the peer's commitment).
    pub fn to_remote_output(&self) -> Option<SpendableOutput> {
        let vout = self.find_output(CommitmentOutputKind::ToRemote)?;
        let key = self.keys.countersignatory_payment_key;
        let kind = match self.witness_script(vout as usize) {
            Some(ws) => SpendKind::ToRemoteAnchors {
                witness_script: ws.clone(),
                key,
            },
            None => SpendKind::ToRemoteP2wpkh { key },
        };
        Some(SpendableOutput {
            outpoint: self.outpoint(vout),
            value: self.value(vout),
            kind,
        })
    }

    /// The anchor of `owner` (anchors only). With `after_delay` it is the
    /// keyless path anyone can use 16 blocks after confirmation; otherwise
    /// `owner` signs with its funding key.
    pub fn anchor_output(&self, owner: Side, after_delay: bool) -> Option<SpendableOutput> {
        let (kind, key) = if owner == self.broadcaster {
            (
                CommitmentOutputKind::BroadcasterAnchor,
                self.keys.broadcaster_funding_key,
            )
        } else {
            (
                CommitmentOutputKind::CountersignatoryAnchor,
                self.keys.countersignatory_funding_key,
            )
        };
        let vout = self.find_output(kind)?;
        let witness_script = self.witness_script(vout as usize)?.clone();
        let kind = if after_delay {
            SpendKind::AnchorAfterDelay { witness_script }
        } else {
            SpendKind::Anchor {
                witness_script,
                key: key.0,
            }
        };
        Some(SpendableOutput {
            outpoint: self.outpoint(vout),
            value: self.value(vout),
            kind,
        })
    }

    /// An HTLC of the peer's commitment, claimed directly by the
    /// countersignatory (us): with `preimage` if the broadcaster offered it,
    /// after its `cltv_expiry` if the broadcaster received it (then
    /// `preimage` is ignored).
    pub fn countersignatory_htlc_output(
        &self,
        htlc_index: usize,
        preimage: Option<&[u8; 32]>,
    ) -> Result<SpendableOutput, TxError> {
        let vout = self
            .htlc_output_index(htlc_index)
            .ok_or(TxError::HtlcNotInTransaction)?;
        let htlc = self
            .htlcs
            .get(htlc_index)
            .ok_or(TxError::HtlcNotInTransaction)?;
        let witness_script = self
            .witness_script(vout as usize)
            .ok_or(TxError::HtlcNotInTransaction)?
            .clone();
        let anchors = self.channel_type.has_anchors();
        let key = self.keys.htlc_keys()?.countersignatory.0;
        let kind = match htlc.direction {
            HtlcDirection::Offered => {
                let p = preimage.ok_or(TxError::PreimageMismatch)?;
                if sha256::Hash::hash(p).to_byte_array() != htlc.payment_hash.0 {
                    return Err(TxError::PreimageMismatch);
                }
                SpendKind::RemoteHtlcSuccess {
                    witness_script,
                    preimage: *p,
                    anchors,
                    key,
                }
            }
            HtlcDirection::Received => SpendKind::RemoteHtlcTimeout {
                witness_script,
                cltv_expiry: htlc.cltv_expiry,
                anchors,
                key,
            },
        };
        Ok(SpendableOutput {
            outpoint: self.outpoint(vout),
            value: self.value(vout),
            kind,
        })
    }

    /// Every output of this (revoked) commitment that the revocation key
    /// can take: `to_local` and all HTLC outputs. Together with
    /// [`Self::to_remote_output`] (ours anyway) this is the justice
    /// transaction's input set.
    pub fn revoked_outputs(&self) -> Vec<SpendableOutput> {
        let key = self.keys.revocation_key.0;
        let mut out = Vec::new();
        for (vout, (kind, ws)) in self.outputs.iter().enumerate() {
            let Some(ws) = ws else { continue };
            let kind = match kind {
                CommitmentOutputKind::ToLocal => SpendKind::RevokedToLocal {
                    witness_script: ws.clone(),
                    key,
                },
                CommitmentOutputKind::Htlc(_) => SpendKind::RevokedHtlc {
                    witness_script: ws.clone(),
                    key,
                },
                _ => continue,
            };
            let vout = vout as u32;
            out.push(SpendableOutput {
                outpoint: self.outpoint(vout),
                value: self.value(vout),
                kind,
            });
        }
        out
    }
}

impl HtlcTx {
    /// The output of this (published) HTLC transaction, swept by the
    /// broadcaster after `to_self_delay`.
    pub fn delayed_output(&self) -> SpendableOutput {
        self.delayed_output_at(
            OutPoint {
                txid: self.txid(),
                vout: 0,
            },
            Sat(self.tx.output[0].value.to_sat()),
        )
    }
    /// As [`Self::delayed_output`], for an HTLC transaction that was
    /// published with extra fee inputs/outputs (anchors) at `outpoint`.
    pub fn delayed_output_at(&self, outpoint: OutPoint, value: Sat) -> SpendableOutput {
        SpendableOutput {
            outpoint,
            value,
            kind: SpendKind::DelayedToLocal {
                witness_script: self.output_script.clone(),
                to_self_delay: self.to_self_delay,
                key: self.delayed_key.0,
            },
        }
    }
    /// The output of this HTLC transaction of a revoked commitment, taken
    /// with the revocation key.
    pub fn revoked_output(&self) -> SpendableOutput {
        self.revoked_output_at(
            OutPoint {
                txid: self.txid(),
                vout: 0,
            },
            Sat(self.tx.output[0].value.to_sat()),
        )
    }
    /// As [`Self::revoked_output`] at an explicit outpoint (anchors: the
    /// broadcaster may have added inputs and outputs).
    pub fn revoked_output_at(&self, outpoint: OutPoint, value: Sat) -> SpendableOutput {
        SpendableOutput {
            outpoint,
            value,
            kind: SpendKind::RevokedToLocal {
                witness_script: self.output_script.clone(),
                key: self.revocation_key.0,
            },
        }
    }
}
