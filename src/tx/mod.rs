//! BOLT 3 transactions: funding, commitment, HTLC, closing, sweeps and penalties.
//!
//! Everything here is a pure function of its inputs: no I/O, no clock, no
//! randomness (signatures are RFC 6979 deterministic, which is what makes the
//! BOLT 3 vectors reproducible byte for byte).
//!
//! * [`ChannelParams`] holds the static parameters of a channel: funding
//!   outpoint and amount, channel type, opener, and for each party its
//!   [`ChannelPublicKeys`](crate::keys::ChannelPublicKeys), dust limit and
//!   `to_self_delay`.
//! * [`CommitmentTx::build`] builds either party's commitment transaction
//!   from a [`CommitmentSpec`] (commitment number, per-commitment point,
//!   balances, HTLCs, feerate) and records which output carries which HTLC.
//!   [`CommitmentTx::htlc_txs`] gives the second-stage [`HtlcTx`]s in the
//!   order their signatures are exchanged.
//! * [`ClosingTx`] is the mutual close (legacy `closing_signed` and
//!   `option_simple_close` variants).
//! * [`SpendableOutput`] and [`Sweep`] build and sign every later spend: the
//!   delayed `to_local` after its CSV, our HTLCs on either commitment, our
//!   `to_remote`, anchors, and the justice transaction that takes every
//!   output of a revoked commitment.
//!
//! Perspective: a commitment transaction belongs to its *broadcaster* (the
//! party that can publish it, BOLT 3's "local"); the other party is the
//! *countersignatory* ("remote"). [`Side`] names the two parties of the
//! channel from our point of view: [`Side::Holder`] is us.

mod closing;
mod commitment;
mod funding;
mod htlc;
mod params;
pub mod script;
mod spend;

pub use closing::{ClosingSpec, ClosingTx, ClosingVariant};
pub use commitment::{
    CommitmentKeys, CommitmentOutputKind, CommitmentSpec, CommitmentTx, Htlc, HtlcDirection,
    HtlcKeys, OwnRevocation,
};
pub use funding::{funding_output, FundingInfo};
pub use htlc::{HtlcTx, HtlcTxKind};
pub use params::{
    ChannelParams, ChannelType, FeeratePerKw, PartyParams, Side, ANCHOR_OUTPUT_VALUE,
    COMMITMENT_WEIGHT_ANCHORS, COMMITMENT_WEIGHT_STATIC, HTLC_OUTPUT_WEIGHT,
    HTLC_SUCCESS_WEIGHT_ANCHORS, HTLC_SUCCESS_WEIGHT_STATIC, HTLC_TIMEOUT_WEIGHT_ANCHORS,
    HTLC_TIMEOUT_WEIGHT_STATIC, MAX_HTLCS,
};
pub use spend::{SpendKind, SpendableOutput, Sweep};

use bitcoin::hashes::Hash;
use secp256k1::ecdsa::Signature;
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

use crate::error::ErrorCode;
use crate::keys::KeyError;

/// Errors of the transaction layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// A key derivation failed (bad point, bad secret).
    Key(KeyError),
    /// A commitment number above 2^48 - 1.
    CommitmentNumberOutOfRange,
    /// Balances plus HTLCs do not add up to the channel capacity.
    BalanceMismatch,
    /// An amount computation overflowed.
    AmountOverflow,
    /// More HTLCs than a commitment may carry ([`MAX_HTLCS`]).
    TooManyHtlcs,
    /// The HTLC has no output in this commitment (trimmed) or does not exist.
    HtlcNotInTransaction,
    /// A per-commitment secret given with a commitment is not the secret of
    /// its per-commitment point.
    PerCommitmentSecretMismatch,
    /// A signature does not verify.
    InvalidSignature,
    /// A preimage does not hash to the HTLC's payment hash.
    PreimageMismatch,
    /// An input index beyond the transaction's inputs.
    InputIndexOutOfRange,
    /// A sweep with no inputs.
    NoInputs,
    /// After fees, the output would be below its dust threshold.
    OutputBelowDust,
    /// A fee larger than the balance that has to pay it.
    FeeExceedsBalance,
    /// A transaction that would have no output.
    NoOutputs,
    /// The key does not match the output being spent (or the keys given
    /// are not the holder's).
    WrongKey,
}

impl From<KeyError> for TxError {
    fn from(e: KeyError) -> Self {
        TxError::Key(e)
    }
}

impl core::fmt::Display for TxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            TxError::Key(e) => return write!(f, "key derivation: {e}"),
            TxError::CommitmentNumberOutOfRange => "commitment number above 2^48-1",
            TxError::BalanceMismatch => "balances and HTLCs do not add up to the channel capacity",
            TxError::AmountOverflow => "amount overflow",
            TxError::TooManyHtlcs => "too many HTLCs",
            TxError::HtlcNotInTransaction => "HTLC has no output in this transaction",
            TxError::PerCommitmentSecretMismatch => {
                "per-commitment secret does not match the commitment's point"
            }
            TxError::InvalidSignature => "invalid signature",
            TxError::PreimageMismatch => "preimage does not match the payment hash",
            TxError::InputIndexOutOfRange => "input index out of range",
            TxError::NoInputs => "no inputs to spend",
            TxError::OutputBelowDust => "output below dust after fees",
            TxError::FeeExceedsBalance => "fee exceeds the paying balance",
            TxError::NoOutputs => "transaction would have no outputs",
            TxError::WrongKey => "key does not match the output",
        };
        f.write_str(s)
    }
}

impl std::error::Error for TxError {}

impl ErrorCode for TxError {
    fn code(&self) -> &'static str {
        match self {
            TxError::Key(e) => e.code(),
            TxError::CommitmentNumberOutOfRange => "COMMITMENT_NUMBER_OUT_OF_RANGE",
            TxError::BalanceMismatch => "BALANCE_MISMATCH",
            TxError::AmountOverflow => "AMOUNT_OVERFLOW",
            TxError::TooManyHtlcs => "TOO_MANY_HTLCS",
            TxError::HtlcNotInTransaction => "HTLC_NOT_IN_TRANSACTION",
            TxError::PerCommitmentSecretMismatch => "PER_COMMITMENT_SECRET_MISMATCH",
            TxError::InvalidSignature => "INVALID_SIGNATURE",
            TxError::PreimageMismatch => "PREIMAGE_MISMATCH",
            TxError::InputIndexOutOfRange => "INPUT_INDEX_OUT_OF_RANGE",
            TxError::NoInputs => "NO_INPUTS",
            TxError::OutputBelowDust => "OUTPUT_BELOW_DUST",
            TxError::FeeExceedsBalance => "FEE_EXCEEDS_BALANCE",
            TxError::NoOutputs => "NO_OUTPUTS",
            TxError::WrongKey => "WRONG_KEY",
        }
    }
}

/// Signs a 32-byte signature hash (RFC 6979, no low-R grinding, as in the
/// BOLT 3 vectors).
pub(crate) fn sign_hash(sighash: [u8; 32], key: &SecretKey) -> Signature {
    SECP256K1.sign_ecdsa(&Message::from_digest(sighash), key)
}

/// Verifies a signature over a 32-byte signature hash.
pub(crate) fn verify_hash(
    sighash: [u8; 32],
    sig: &Signature,
    key: &PublicKey,
) -> Result<(), TxError> {
    SECP256K1
        .verify_ecdsa(&Message::from_digest(sighash), sig, key)
        .map_err(|_| TxError::InvalidSignature)
}

/// DER signature followed by the sighash-type byte, as it goes in a witness.
pub(crate) fn witness_sig(sig: &Signature, sighash_type: bitcoin::EcdsaSighashType) -> Vec<u8> {
    bitcoin::ecdsa::Signature {
        signature: *sig,
        sighash_type,
    }
    .to_vec()
}

pub(crate) fn sighash_bytes(h: bitcoin::sighash::SegwitV0Sighash) -> [u8; 32] {
    h.to_byte_array()
}
