//! HTLC-success and HTLC-timeout (second-stage) transactions.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use secp256k1::ecdsa::Signature;
use secp256k1::SecretKey;

use super::commitment::{htlc_tx_fees, CommitmentTx, Htlc, HtlcDirection};
use super::params::ChannelType;
use super::script::to_local_script;
use super::{sighash_bytes, sign_hash, verify_hash, witness_sig, TxError};
use crate::keys::{DelayedPubkey, HtlcPubkey, RevocationPubkey};
use crate::types::Sat;

/// Which second-stage transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HtlcTxKind {
    /// Claims an HTLC received by the broadcaster, with the preimage.
    Success,
    /// Times out an HTLC offered by the broadcaster, locktime `cltv_expiry`.
    Timeout,
}

/// An unsigned HTLC-success or HTLC-timeout transaction spending one HTLC
/// output of a commitment transaction.
///
/// Both parties sign it: the countersignatory in `commitment_signed`
/// (SIGHASH_ALL, or SIGHASH_SINGLE|SIGHASH_ANYONECANPAY under anchors) and
/// the broadcaster when publishing it (SIGHASH_ALL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtlcTx {
    pub(crate) tx: Transaction,
    pub(crate) kind: HtlcTxKind,
    pub(crate) htlc_index: usize,
    pub(crate) htlc: Htlc,
    pub(crate) channel_type: ChannelType,
    /// Witness script of the commitment's HTLC output.
    pub(crate) input_script: ScriptBuf,
    pub(crate) input_value: Sat,
    /// Witness script of this transaction's output.
    pub(crate) output_script: ScriptBuf,
    pub(crate) broadcaster_htlc_key: HtlcPubkey,
    pub(crate) countersignatory_htlc_key: HtlcPubkey,
    pub(crate) revocation_key: RevocationPubkey,
    pub(crate) delayed_key: DelayedPubkey,
    pub(crate) to_self_delay: u16,
}

impl HtlcTx {
    pub(crate) fn new(c: &CommitmentTx, htlc_index: usize) -> Result<Self, TxError> {
        let vout = c
            .htlc_output_index(htlc_index)
            .ok_or(TxError::HtlcNotInTransaction)?;
        let htlc = *c
            .htlcs
            .get(htlc_index)
            .ok_or(TxError::HtlcNotInTransaction)?;
        let input_script = c
            .witness_script(vout as usize)
            .ok_or(TxError::HtlcNotInTransaction)?
            .clone();
        let (timeout_fee, success_fee) = htlc_tx_fees(c.channel_type, c.feerate)?;
        let (kind, fee, lock_time) = match htlc.direction {
            HtlcDirection::Offered => (HtlcTxKind::Timeout, timeout_fee, htlc.cltv_expiry),
            HtlcDirection::Received => (HtlcTxKind::Success, success_fee, 0),
        };
        let input_value = c.value(vout);
        let out_value = input_value
            .0
            .checked_sub(fee.0)
            .ok_or(TxError::OutputBelowDust)?;
        let k = &c.keys;
        let hk = k.htlc_keys()?;
        let output_script = to_local_script(
            &k.revocation_key,
            c.to_self_delay,
            &k.broadcaster_delayed_key,
        );
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::from_consensus(lock_time),
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: c.txid(),
                    vout,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence(if c.channel_type.has_anchors() { 1 } else { 0 }),
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(out_value),
                script_pubkey: ScriptBuf::new_p2wsh(&output_script.wscript_hash()),
            }],
        };
        Ok(Self {
            tx,
            kind,
            htlc_index,
            htlc,
            channel_type: c.channel_type,
            input_script,
            input_value,
            output_script,
            broadcaster_htlc_key: hk.broadcaster,
            countersignatory_htlc_key: hk.countersignatory,
            revocation_key: k.revocation_key,
            delayed_key: k.broadcaster_delayed_key,
            to_self_delay: c.to_self_delay,
        })
    }

    /// The unsigned transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }
    pub fn kind(&self) -> HtlcTxKind {
        self.kind
    }
    /// Index of the HTLC in the commitment's [`CommitmentSpec`](super::CommitmentSpec).
    pub fn htlc_index(&self) -> usize {
        self.htlc_index
    }
    pub fn htlc(&self) -> &Htlc {
        &self.htlc
    }
    /// Witness script of the output (revocation or delayed broadcaster).
    pub fn output_script(&self) -> &ScriptBuf {
        &self.output_script
    }
    /// Witness script of the commitment HTLC output this spends.
    pub fn input_script(&self) -> &ScriptBuf {
        &self.input_script
    }
    pub fn input_value(&self) -> Sat {
        self.input_value
    }

    /// Sighash type of the countersignatory's signature.
    pub fn countersignatory_sighash_type(&self) -> EcdsaSighashType {
        if self.channel_type.has_anchors() {
            EcdsaSighashType::SinglePlusAnyoneCanPay
        } else {
            EcdsaSighashType::All
        }
    }

    fn sighash(&self, ty: EcdsaSighashType) -> Result<[u8; 32], TxError> {
        SighashCache::new(&self.tx)
            .p2wsh_signature_hash(
                0,
                &self.input_script,
                Amount::from_sat(self.input_value.0),
                ty,
            )
            .map(sighash_bytes)
            .map_err(|_| TxError::InputIndexOutOfRange)
    }

    /// The countersignatory's signature (sent in `commitment_signed`), made
    /// with its HTLC key for this commitment.
    pub fn sign_as_countersignatory(&self, htlc_key: &SecretKey) -> Result<Signature, TxError> {
        Ok(sign_hash(
            self.sighash(self.countersignatory_sighash_type())?,
            htlc_key,
        ))
    }
    /// Checks the countersignatory's signature.
    pub fn verify_countersignatory(&self, sig: &Signature) -> Result<(), TxError> {
        verify_hash(
            self.sighash(self.countersignatory_sighash_type())?,
            sig,
            &self.countersignatory_htlc_key.0,
        )
    }
    /// The broadcaster's SIGHASH_ALL signature with its HTLC key.
    pub fn sign_as_broadcaster(&self, htlc_key: &SecretKey) -> Result<Signature, TxError> {
        Ok(sign_hash(self.sighash(EcdsaSighashType::All)?, htlc_key))
    }
    /// Checks the broadcaster's signature.
    pub fn verify_broadcaster(&self, sig: &Signature) -> Result<(), TxError> {
        verify_hash(
            self.sighash(EcdsaSighashType::All)?,
            sig,
            &self.broadcaster_htlc_key.0,
        )
    }

    /// The signed transaction: witness
    /// `0 <countersignatory_sig> <broadcaster_sig> <preimage or empty> <script>`.
    /// Success transactions need the preimage; it is checked against the
    /// payment hash, and both signatures are verified.
    pub fn finalize(
        &self,
        countersignatory_sig: &Signature,
        broadcaster_sig: &Signature,
        preimage: Option<&[u8; 32]>,
    ) -> Result<Transaction, TxError> {
        self.verify_countersignatory(countersignatory_sig)?;
        self.verify_broadcaster(broadcaster_sig)?;
        let last: &[u8] = match (self.kind, preimage) {
            (HtlcTxKind::Success, Some(p)) => {
                if sha256::Hash::hash(p).to_byte_array() != self.htlc.payment_hash.0 {
                    return Err(TxError::PreimageMismatch);
                }
                p
            }
            (HtlcTxKind::Success, None) => return Err(TxError::PreimageMismatch),
            (HtlcTxKind::Timeout, _) => &[],
        };
        let mut w = Witness::new();
        w.push([]);
        w.push(witness_sig(
            countersignatory_sig,
            self.countersignatory_sighash_type(),
        ));
        w.push(witness_sig(broadcaster_sig, EcdsaSighashType::All));
        w.push(last);
        w.push(self.input_script.as_bytes());
        let mut tx = self.tx.clone();
        tx.input[0].witness = w;
        Ok(tx)
    }
}
