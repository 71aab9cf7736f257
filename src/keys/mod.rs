//! Key derivation: BIP32 node and channel keys, BOLT 3 per-commitment keys, shachain.
//!
//! Three layers, each usable on its own:
//!
//! * [`WalletKeys`] turns the wallet seed into a BIP32 root and derives, along
//!   fixed hardened paths documented on [`WalletKeys`], the node key and every
//!   channel's [`ChannelKeys`] (funding key, the four basepoints and the
//!   per-commitment seed). A channel's keys are re-derived from the seed plus
//!   its [`ChannelKeyIndex`], so a static channel backup only needs to record
//!   that index.
//! * Per-commitment key derivation (BOLT 3 "Key Derivation"):
//!   [`derive_pubkey`], [`derive_privkey`], [`derive_revocation_pubkey`],
//!   [`derive_revocation_privkey`], and typed wrappers such as
//!   [`HtlcBasepoint::derive`]. Each key role is its own newtype
//!   ([`RevocationBasepoint`], [`DelayedPubkey`], [`PerCommitmentPoint`], ...).
//! * Per-commitment secrets (shachain): [`CommitmentSeed`] generates them,
//!   [`CommitmentSecretStore`] is the 49-slot receiver storage that rejects a
//!   secret inconsistent with the ones already received.

mod basepoints;
mod shachain;
mod wallet;

pub(crate) use basepoints::revocation_tweaks;
pub use basepoints::{
    derive_privkey, derive_pubkey, derive_revocation_privkey, derive_revocation_pubkey,
    ChannelPublicKeys, DelayedPaymentBasepoint, DelayedPubkey, FundingPubkey, HtlcBasepoint,
    HtlcPubkey, PaymentBasepoint, PerCommitmentPoint, PerCommitmentSecret, RevocationBasepoint,
    RevocationPubkey,
};
pub use shachain::{
    commitment_number_to_index, index_to_commitment_number, shachain_derive, CommitmentSecretStore,
    CommitmentSeed, SecretCursor, SHACHAIN_MAX_INDEX,
};
pub use wallet::{ChannelKeyIndex, ChannelKeys, WalletKeys, LN_PURPOSE};

use crate::error::ErrorCode;

/// Errors of the key layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The wallet seed is not 16 to 64 bytes long.
    InvalidSeedLength,
    /// A BIP32 derivation produced an invalid key (probability about 2^-127).
    Bip32Derivation,
    /// A channel key index does not fit in 31 bits.
    InvalidChannelIndex,
    /// 32 bytes that are not a valid secp256k1 secret key (zero or >= n).
    InvalidSecretKey,
    /// Bytes that are not a valid compressed secp256k1 point.
    InvalidPublicKey,
    /// A tweak or sum fell outside the curve order or hit the point at infinity.
    TweakOutOfRange,
    /// A per-commitment index is above 2^48 - 1.
    IndexOutOfRange,
    /// A received per-commitment secret does not derive the secrets received before it.
    SecretMismatch,
    /// A per-commitment secret was received out of order (must be one below the last).
    UnexpectedIndex,
    /// A serialized secret store is malformed.
    InvalidStoreEncoding,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            KeyError::InvalidSeedLength => "wallet seed must be 16 to 64 bytes",
            KeyError::Bip32Derivation => "BIP32 derivation produced an invalid key",
            KeyError::InvalidChannelIndex => "channel key index must be below 2^31",
            KeyError::InvalidSecretKey => "invalid secp256k1 secret key",
            KeyError::InvalidPublicKey => "invalid secp256k1 public key",
            KeyError::TweakOutOfRange => "key tweak out of range",
            KeyError::IndexOutOfRange => "per-commitment index above 2^48-1",
            KeyError::SecretMismatch => "per-commitment secret does not derive earlier secrets",
            KeyError::UnexpectedIndex => "per-commitment secret received out of order",
            KeyError::InvalidStoreEncoding => "malformed per-commitment secret store",
        };
        f.write_str(s)
    }
}

impl std::error::Error for KeyError {}

impl ErrorCode for KeyError {
    fn code(&self) -> &'static str {
        match self {
            KeyError::InvalidSeedLength => "INVALID_SEED_LENGTH",
            KeyError::Bip32Derivation => "BIP32_DERIVATION",
            KeyError::InvalidChannelIndex => "INVALID_CHANNEL_INDEX",
            KeyError::InvalidSecretKey => "INVALID_SECRET_KEY",
            KeyError::InvalidPublicKey => "INVALID_PUBLIC_KEY",
            KeyError::TweakOutOfRange => "TWEAK_OUT_OF_RANGE",
            KeyError::IndexOutOfRange => "COMMITMENT_INDEX_OUT_OF_RANGE",
            KeyError::SecretMismatch => "COMMITMENT_SECRET_MISMATCH",
            KeyError::UnexpectedIndex => "COMMITMENT_SECRET_OUT_OF_ORDER",
            KeyError::InvalidStoreEncoding => "INVALID_SECRET_STORE",
        }
    }
}
