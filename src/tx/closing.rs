//! Mutual closing transactions (BOLT 3 "Legacy Closing Transaction" and
//! "Closing Transaction").

use bitcoin::absolute::LockTime;
use bitcoin::opcodes::all::OP_RETURN;
use bitcoin::transaction::Version;
use bitcoin::{Amount, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use secp256k1::ecdsa::Signature;
use secp256k1::SecretKey;

use super::funding::FundingInfo;
use super::params::{ChannelParams, Side};
use super::TxError;
use crate::types::{Msat, Sat};

/// Which closing negotiation the transaction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClosingVariant {
    /// `closing_signed`: locktime 0, sequence 0xFFFFFFFF.
    Legacy,
    /// `option_simple_close` (`closing_complete`): the message's locktime,
    /// sequence 0xFFFFFFFD, and OP_RETURN outputs carry 0 sat.
    Simple { locktime: u32 },
}

/// The inputs of a mutual close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosingSpec {
    /// Our final balance and the script from our `shutdown` (or
    /// `closing_complete`); `None` omits our output.
    pub holder: (Msat, Option<ScriptBuf>),
    /// The peer's final balance and script; `None` omits its output.
    pub counterparty: (Msat, Option<ScriptBuf>),
    /// Absolute fee.
    pub fee: Sat,
    /// Who pays the fee: the opener for [`ClosingVariant::Legacy`], the
    /// closer for [`ClosingVariant::Simple`].
    pub fee_payer: Side,
    /// The signer's dust limit: outputs below it are removed (OP_RETURN
    /// outputs excepted).
    pub dust_limit: Sat,
    pub variant: ClosingVariant,
}

/// An unsigned mutual closing transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosingTx {
    tx: Transaction,
    funding: FundingInfo,
}

fn is_op_return(s: &ScriptBuf) -> bool {
    s.as_bytes().first() == Some(&OP_RETURN.to_u8())
}

impl ClosingTx {
    /// Builds the closing transaction.
    pub fn build(params: &ChannelParams, spec: &ClosingSpec) -> Result<Self, TxError> {
        let total = spec
            .holder
            .0
             .0
            .checked_add(spec.counterparty.0 .0)
            .ok_or(TxError::AmountOverflow)?;
        if total > params.funding_amount.0.saturating_mul(1000) {
            return Err(TxError::BalanceMismatch);
        }
        let simple = matches!(spec.variant, ClosingVariant::Simple { .. });
        let mut outputs = Vec::new();
        for (side, (balance, script)) in [
            (Side::Holder, &spec.holder),
            (Side::Counterparty, &spec.counterparty),
        ] {
            let mut sat = balance.0 / 1000;
            if side == spec.fee_payer {
                sat = sat
                    .checked_sub(spec.fee.0)
                    .ok_or(TxError::FeeExceedsBalance)?;
            }
            let Some(script) = script else { continue };
            if simple && is_op_return(script) {
                outputs.push(TxOut {
                    value: Amount::ZERO,
                    script_pubkey: script.clone(),
                });
            } else if sat >= spec.dust_limit.0 {
                outputs.push(TxOut {
                    value: Amount::from_sat(sat),
                    script_pubkey: script.clone(),
                });
            }
        }
        if outputs.is_empty() {
            return Err(TxError::NoOutputs);
        }
        outputs.sort_by(|a, b| {
            (a.value, a.script_pubkey.as_bytes()).cmp(&(b.value, b.script_pubkey.as_bytes()))
        });
        let (lock_time, sequence) = match spec.variant {
            ClosingVariant::Legacy => (0, Sequence::MAX),
            ClosingVariant::Simple { locktime } => (locktime, Sequence::ENABLE_RBF_NO_LOCKTIME),
        };
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::from_consensus(lock_time),
            input: vec![TxIn {
                previous_output: params.funding_outpoint,
                script_sig: ScriptBuf::new(),
                sequence,
                witness: Witness::new(),
            }],
            output: outputs,
        };
        Ok(Self {
            tx,
            funding: FundingInfo::new(params),
        })
    }

    /// The unsigned transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }
    /// Signs with our funding key.
    pub fn sign(&self, funding_key: &SecretKey) -> Result<Signature, TxError> {
        self.funding.sign(&self.tx, funding_key)
    }
    /// Checks `side`'s signature.
    pub fn verify(&self, sig: &Signature, side: Side) -> Result<(), TxError> {
        self.funding.verify(&self.tx, sig, side)
    }
    /// The signed transaction, after checking both signatures.
    pub fn finalize(
        &self,
        holder_sig: &Signature,
        counterparty_sig: &Signature,
    ) -> Result<Transaction, TxError> {
        self.funding
            .finalize(self.tx.clone(), holder_sig, counterparty_sig)
    }
}
