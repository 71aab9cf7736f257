//! The funding output and the signing of transactions that spend it.

use bitcoin::sighash::SighashCache;
use bitcoin::{Amount, EcdsaSighashType, OutPoint, ScriptBuf, Transaction, TxOut, Witness};
use secp256k1::ecdsa::Signature;
use secp256k1::SecretKey;

use super::params::{ChannelParams, Side};
use super::script::funding_script;
use super::{sighash_bytes, sign_hash, verify_hash, witness_sig, TxError};
use crate::keys::FundingPubkey;
use crate::types::Sat;

/// The funding output: P2WSH of the sorted 2-of-2 of the funding keys.
pub fn funding_output(amount: Sat, a: &FundingPubkey, b: &FundingPubkey) -> TxOut {
    TxOut {
        value: Amount::from_sat(amount.0),
        script_pubkey: ScriptBuf::new_p2wsh(&funding_script(a, b).wscript_hash()),
    }
}

/// What is needed to sign the funding input (input 0) of a commitment or
/// closing transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingInfo {
    pub outpoint: OutPoint,
    pub amount: Sat,
    pub witness_script: ScriptBuf,
    pub holder_key: FundingPubkey,
    pub counterparty_key: FundingPubkey,
}

impl FundingInfo {
    /// Extracts the funding data of a channel.
    pub fn new(params: &ChannelParams) -> Self {
        Self {
            outpoint: params.funding_outpoint,
            amount: params.funding_amount,
            witness_script: params.funding_script(),
            holder_key: params.holder.keys.funding_pubkey,
            counterparty_key: params.counterparty.keys.funding_pubkey,
        }
    }

    /// The BIP 143 SIGHASH_ALL hash of input 0 of `tx`.
    pub fn sighash(&self, tx: &Transaction) -> Result<[u8; 32], TxError> {
        SighashCache::new(tx)
            .p2wsh_signature_hash(
                0,
                &self.witness_script,
                Amount::from_sat(self.amount.0),
                EcdsaSighashType::All,
            )
            .map(sighash_bytes)
            .map_err(|_| TxError::InputIndexOutOfRange)
    }

    /// Signs input 0 of `tx` with a funding secret key.
    pub fn sign(&self, tx: &Transaction, key: &SecretKey) -> Result<Signature, TxError> {
        Ok(sign_hash(self.sighash(tx)?, key))
    }

    /// Checks `side`'s signature of input 0 of `tx`.
    pub fn verify(&self, tx: &Transaction, sig: &Signature, side: Side) -> Result<(), TxError> {
        let key = match side {
            Side::Holder => &self.holder_key,
            Side::Counterparty => &self.counterparty_key,
        };
        verify_hash(self.sighash(tx)?, sig, &key.0)
    }

    /// `0 <signature_for_pubkey1> <signature_for_pubkey2> <witness_script>`.
    pub fn witness(&self, holder_sig: &Signature, counterparty_sig: &Signature) -> Witness {
        let h = witness_sig(holder_sig, EcdsaSighashType::All);
        let c = witness_sig(counterparty_sig, EcdsaSighashType::All);
        let (first, second) = if self.holder_key.serialize() <= self.counterparty_key.serialize() {
            (h, c)
        } else {
            (c, h)
        };
        let mut w = Witness::new();
        w.push([]);
        w.push(first);
        w.push(second);
        w.push(self.witness_script.as_bytes());
        w
    }

    /// Verifies both signatures and puts them in input 0 of `tx`.
    pub fn finalize(
        &self,
        mut tx: Transaction,
        holder_sig: &Signature,
        counterparty_sig: &Signature,
    ) -> Result<Transaction, TxError> {
        self.verify(&tx, holder_sig, Side::Holder)?;
        self.verify(&tx, counterparty_sig, Side::Counterparty)?;
        let w = self.witness(holder_sig, counterparty_sig);
        tx.input
            .get_mut(0)
            .ok_or(TxError::InputIndexOutOfRange)?
            .witness = w;
        Ok(tx)
    }
}
