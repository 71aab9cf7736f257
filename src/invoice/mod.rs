//! BOLT 11 invoices: decoding (signature checked) and encoding.
//!
//! An invoice is `hrp 1 data checksum` in Bech32 (without BIP 173's
//! 90-character limit). The human-readable part carries the network and the
//! amount; the data part is a 35-bit timestamp, a list of tagged fields and a
//! 65-byte recoverable signature.
//!
//! Two layers:
//! - [`UnsignedInvoice`] is the raw form: network, amount, timestamp and the
//!   tagged fields *in their order*, unknown and skipped ones included, so a
//!   decoded invoice re-encodes byte for byte.
//! - [`Invoice`] is the checked, semantic form a wallet uses: payment hash,
//!   secret, description, payee, defaults filled in.
//!
//! Reader rules (BOLT 11 as of lightning/bolts a3772650):
//! - `p`, `s`, `h` and `n` fields whose length is not 52/52/52/53 are skipped
//!   (the spec's "fields which must be ignored" example requires this), so an
//!   invoice fails only when no field of the right length is left
//!   (`MISSING_PAYMENT_HASH`, `MISSING_PAYMENT_SECRET`, ...). When a type
//!   repeats, the first valid field wins (writers put the preferred one first).
//! - `f` fields with versions 19..=31 are skipped; known versions with a bad
//!   program are rejected.
//! - `x`, `c` and `9` with leading zero field elements are rejected
//!   (`NON_MINIMAL_FIELD`), as the spec says readers should.
//! - Unknown even feature bits are rejected, unknown odd ones ignored.
//! - With an `n` field the signature is verified against it and must be
//!   low-S; without one the payee is recovered and high-S is accepted.
//! - An invoice without a valid `s` field is rejected (bolts #1242).

mod decode;
mod encode;

use core::fmt;

use secp256k1::ecdsa::RecoverableSignature;
use secp256k1::PublicKey;

use crate::error::ErrorCode;
use crate::types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};
use crate::wire::features::{Feature, Features};

pub use decode::{decode, strip_uri};
pub use encode::NewInvoice;

/// Longest invoice string accepted, in characters. Far above anything seen
/// in practice; it bounds the work a hostile string can cause.
pub const MAX_INVOICE_LENGTH: usize = 7089;

/// Default `x` (expiry) in seconds when the field is absent.
pub const DEFAULT_EXPIRY_SECONDS: u64 = 3600;

/// Default `c` (min_final_cltv_expiry_delta) when the field is absent.
pub const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA: u64 = 18;

/// Largest `data_length` of a tagged field, in 5-bit units.
pub const MAX_FIELD_DATA_LENGTH: usize = 1023;

/// Features lnwasm understands in an invoice's `9` field: var_onion_optin
/// (8/9), payment_secret (14/15), basic_mpp (16/17), option_payment_metadata
/// (48/49). Any other even bit makes the invoice unpayable for us.
pub const KNOWN_INVOICE_FEATURES: [Feature; 4] = [
    Feature::VarOnionOptin,
    Feature::PaymentSecret,
    Feature::BasicMpp,
    Feature::PaymentMetadata,
];

/// The chain an invoice is for, from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// `lnbc`
    Bitcoin,
    /// `lntb`
    Testnet,
    /// `lntbs`
    Signet,
    /// `lnbcrt`
    Regtest,
}

impl Network {
    /// The BIP 173 currency prefix after `ln`.
    pub fn currency_prefix(self) -> &'static str {
        match self {
            Network::Bitcoin => "bc",
            Network::Testnet => "tb",
            Network::Signet => "tbs",
            Network::Regtest => "bcrt",
        }
    }

    /// The name used by the JS API: `bitcoin`, `testnet`, `signet`, `regtest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Bitcoin => "bitcoin",
            Network::Testnet => "testnet",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// Inverse of [`Network::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "bitcoin" => Network::Bitcoin,
            "testnet" => Network::Testnet,
            "signet" => Network::Signet,
            "regtest" => Network::Regtest,
            _ => return None,
        })
    }

    pub(crate) fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Bitcoin => bitcoin::Network::Bitcoin,
            Network::Testnet => bitcoin::Network::Testnet,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }
}

/// One hop of a route hint (`r` field): the channel from `node_id` towards
/// the payee, with the fees and CLTV delta `node_id` charges for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHintHop {
    pub node_id: PublicKey,
    pub short_channel_id: ShortChannelId,
    pub fee_base_msat: u32,
    pub fee_proportional_millionths: u32,
    pub cltv_expiry_delta: u16,
}

/// Bytes of one route hint hop on the wire: 33 + 8 + 4 + 4 + 2.
pub const ROUTE_HINT_HOP_LEN: usize = 51;

/// A fallback on-chain address (`f` field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Witness version 0..=16 and program (2..=40 bytes; 20 or 32 for v0).
    Witness { version: u8, program: Vec<u8> },
    /// Version 17: a P2PKH address.
    PubkeyHash([u8; 20]),
    /// Version 18: a P2SH address.
    ScriptHash([u8; 20]),
}

impl Fallback {
    /// The address string for `network` (base58 or bech32/bech32m).
    pub fn to_address(&self, network: Network) -> String {
        use bitcoin::hashes::Hash;
        use bitcoin::{Address, PubkeyHash, ScriptHash, WitnessProgram, WitnessVersion};
        let net = network.to_bitcoin();
        match self {
            Fallback::PubkeyHash(h) => {
                Address::p2pkh(PubkeyHash::from_byte_array(*h), net).to_string()
            }
            Fallback::ScriptHash(h) => {
                Address::p2sh_from_hash(ScriptHash::from_byte_array(*h), net).to_string()
            }
            Fallback::Witness { version, program } => {
                // Validated when the fallback was constructed.
                match WitnessVersion::try_from(*version)
                    .ok()
                    .and_then(|v| WitnessProgram::new(v, program).ok())
                {
                    Some(p) => Address::from_witness_program(p, net).to_string(),
                    None => String::new(),
                }
            }
        }
    }

    /// Parses an address and checks it belongs to `network`.
    pub fn from_address(address: &str, network: Network) -> Result<Self, InvoiceError> {
        use bitcoin::address::AddressData;
        use bitcoin::hashes::Hash;
        let parsed: bitcoin::Address<bitcoin::address::NetworkUnchecked> = address
            .parse()
            .map_err(|_| InvoiceError::InvalidFallbackAddress)?;
        let addr = parsed
            .require_network(network.to_bitcoin())
            .map_err(|_| InvoiceError::FallbackNetworkMismatch)?;
        Ok(match addr.to_address_data() {
            AddressData::P2pkh { pubkey_hash } => Fallback::PubkeyHash(pubkey_hash.to_byte_array()),
            AddressData::P2sh { script_hash } => Fallback::ScriptHash(script_hash.to_byte_array()),
            AddressData::Segwit { witness_program } => Fallback::Witness {
                version: witness_program.version().to_num(),
                program: witness_program.program().as_bytes().to_vec(),
            },
            _ => return Err(InvoiceError::InvalidFallbackAddress),
        })
    }

    /// Checks the program length rules for the version.
    pub(crate) fn validate(&self) -> Result<(), InvoiceError> {
        if let Fallback::Witness { version, program } = self {
            let ok = *version <= 16
                && (2..=40).contains(&program.len())
                && (*version != 0 || program.len() == 20 || program.len() == 32);
            if !ok {
                return Err(InvoiceError::InvalidFallbackAddress);
            }
        }
        Ok(())
    }
}

/// What the invoice says the payment is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Description {
    /// `d`: the description itself.
    Direct(String),
    /// `h`: SHA256 of a description delivered some other way.
    Hash([u8; 32]),
}

/// Features from a `9` field's 5-bit values (big-endian: the last value
/// holds bits 0..5).
pub(crate) fn features_from_u5(data: &[u8]) -> Features {
    let mut f = Features::empty();
    for (pos, v) in data.iter().rev().enumerate() {
        for j in 0..5 {
            if v & (1 << j) != 0 {
                f.set_bit(pos * 5 + j);
            }
        }
    }
    f
}

/// Minimal 5-bit big-endian encoding of `f` (no leading zero values).
pub(crate) fn features_to_u5(f: &Features) -> Vec<u8> {
    let Some(top) = f.bits().last() else {
        return Vec::new();
    };
    let n = top / 5 + 1;
    let mut out = vec![0u8; n];
    for b in f.bits() {
        out[n - 1 - b / 5] |= 1 << (b % 5);
    }
    out
}

/// The first even bit of `f` that lnwasm cannot honour when paying.
pub fn unknown_required_invoice_feature(f: &Features) -> Option<usize> {
    f.bits()
        .find(|&b| b % 2 == 0 && !KNOWN_INVOICE_FEATURES.iter().any(|k| k.required_bit() == b))
}

/// A tagged field, as found in the data part. Unknown types, and known types
/// the reader must skip (wrong length, unknown fallback version), are kept as
/// [`TaggedField::Unknown`] so the invoice can be re-encoded exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaggedField {
    PaymentHash(PaymentHash),
    PaymentSecret(PaymentSecret),
    Description(String),
    DescriptionHash([u8; 32]),
    PayeeNodeId(PublicKey),
    Expiry(u64),
    MinFinalCltvExpiryDelta(u64),
    Fallback(Fallback),
    RouteHint(Vec<RouteHintHop>),
    Features(Features),
    Metadata(Vec<u8>),
    /// `tag` and `data` are 5-bit values.
    Unknown {
        tag: u8,
        data: Vec<u8>,
    },
}

/// Tag values (the 5-bit type of each field).
pub mod tag {
    pub const PAYMENT_HASH: u8 = 1; // p
    pub const ROUTE_HINT: u8 = 3; // r
    pub const FEATURES: u8 = 5; // 9
    pub const EXPIRY: u8 = 6; // x
    pub const FALLBACK: u8 = 9; // f
    pub const DESCRIPTION: u8 = 13; // d
    pub const PAYMENT_SECRET: u8 = 16; // s
    pub const PAYEE_NODE_ID: u8 = 19; // n
    pub const DESCRIPTION_HASH: u8 = 23; // h
    pub const MIN_FINAL_CLTV_EXPIRY_DELTA: u8 = 24; // c
    pub const METADATA: u8 = 27; // m
}

/// The Bech32 alphabet: value -> character.
pub const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

impl TaggedField {
    /// The field's 5-bit type.
    pub fn tag(&self) -> u8 {
        match self {
            TaggedField::PaymentHash(_) => tag::PAYMENT_HASH,
            TaggedField::PaymentSecret(_) => tag::PAYMENT_SECRET,
            TaggedField::Description(_) => tag::DESCRIPTION,
            TaggedField::DescriptionHash(_) => tag::DESCRIPTION_HASH,
            TaggedField::PayeeNodeId(_) => tag::PAYEE_NODE_ID,
            TaggedField::Expiry(_) => tag::EXPIRY,
            TaggedField::MinFinalCltvExpiryDelta(_) => tag::MIN_FINAL_CLTV_EXPIRY_DELTA,
            TaggedField::Fallback(_) => tag::FALLBACK,
            TaggedField::RouteHint(_) => tag::ROUTE_HINT,
            TaggedField::Features(_) => tag::FEATURES,
            TaggedField::Metadata(_) => tag::METADATA,
            TaggedField::Unknown { tag, .. } => *tag,
        }
    }

    /// The field's tag as its Bech32 letter (`'p'`, `'s'`, ...).
    pub fn tag_char(&self) -> char {
        CHARSET[usize::from(self.tag() & 31)] as char
    }
}

/// An invoice before signing, or the raw content of a decoded one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsignedInvoice {
    pub network: Network,
    pub amount: Option<Msat>,
    /// Seconds since 1970; must fit 35 bits.
    pub timestamp: u64,
    /// Tagged fields in the order they are (or were) written.
    pub fields: Vec<TaggedField>,
}

/// A decoded invoice whose signature and required fields have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    raw: UnsignedInvoice,
    signature: RecoverableSignature,
    payee: PublicKey,
    content: decode::Content,
}

impl Invoice {
    pub fn network(&self) -> Network {
        self.raw.network
    }
    pub fn amount(&self) -> Option<Msat> {
        self.raw.amount
    }
    pub fn timestamp(&self) -> u64 {
        self.raw.timestamp
    }
    pub fn payment_hash(&self) -> &PaymentHash {
        &self.content.payment_hash
    }
    pub fn payment_secret(&self) -> &PaymentSecret {
        &self.content.payment_secret
    }
    pub fn description(&self) -> &Description {
        &self.content.description
    }
    /// The payee's node id: from `n`, or recovered from the signature.
    pub fn payee(&self) -> &PublicKey {
        &self.payee
    }
    /// Whether the payee came from an `n` field (rather than recovery).
    pub fn payee_from_n_field(&self) -> bool {
        self.content.payee.is_some()
    }
    /// Seconds after `timestamp` the invoice expires (default 3600).
    pub fn expiry_seconds(&self) -> u64 {
        self.content.expiry.unwrap_or(DEFAULT_EXPIRY_SECONDS)
    }
    /// The CLTV delta for the final HTLC (default 18).
    pub fn min_final_cltv_expiry_delta(&self) -> u64 {
        self.content
            .min_final_cltv_expiry_delta
            .unwrap_or(DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA)
    }
    pub fn fallbacks(&self) -> &[Fallback] {
        &self.content.fallbacks
    }
    /// Route hints: each is a path of hops ending at the payee.
    pub fn route_hints(&self) -> &[Vec<RouteHintHop>] {
        &self.content.route_hints
    }
    pub fn features(&self) -> &Features {
        &self.content.features
    }
    pub fn metadata(&self) -> Option<&[u8]> {
        self.content.metadata.as_deref()
    }
    pub fn signature(&self) -> &RecoverableSignature {
        &self.signature
    }
    /// The raw form, with every tagged field in its original order.
    pub fn raw(&self) -> &UnsignedInvoice {
        &self.raw
    }
    /// Unix time at which the invoice expires (saturating).
    pub fn expires_at(&self) -> u64 {
        self.raw.timestamp.saturating_add(self.expiry_seconds())
    }
    /// Whether the invoice has expired at `now` (Unix seconds).
    pub fn is_expired_at(&self, now: u64) -> bool {
        now >= self.expires_at()
    }
}

/// Why an invoice could not be decoded or encoded. Each variant has a stable
/// code (see [`ErrorCode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvoiceError {
    /// Longer than [`MAX_INVOICE_LENGTH`].
    TooLong,
    /// No `1` separating the human-readable part from the data.
    MissingSeparator,
    /// A character outside the Bech32 alphabet (or not ASCII).
    InvalidCharacter,
    /// Upper and lower case mixed.
    MixedCase,
    /// The human-readable part is empty or longer than 83 characters.
    InvalidHrp,
    /// The Bech32 checksum does not match.
    BadChecksum,
    /// Too short to hold a timestamp and a signature.
    TooShort,
    /// The prefix is not `lnbc`, `lntb`, `lntbs` or `lnbcrt`.
    UnknownNetwork,
    /// The amount is not a positive decimal number.
    InvalidAmount,
    /// The amount is followed by something other than `m`, `u`, `n` or `p`.
    InvalidMultiplier,
    /// A `p` amount that is not a whole number of millisatoshis.
    SubMsatPrecision,
    /// The amount does not fit in 64 bits of millisatoshis.
    AmountOverflow,
    /// A tagged field runs past the end of the data.
    TruncatedField,
    /// `x`, `c` or `9` starts with a zero value (non-minimal encoding).
    NonMinimalField(char),
    /// `x` or `c` does not fit in 64 bits.
    FieldOverflow(char),
    /// No `p` field of the right length.
    MissingPaymentHash,
    /// No `s` field of the right length.
    MissingPaymentSecret,
    /// Neither `d` nor `h`.
    MissingDescription,
    /// Both `d` and `h`.
    DescriptionAndHash,
    /// `d` is not valid UTF-8.
    InvalidDescription,
    /// `n` is not a valid public key.
    InvalidPayeeNodeId,
    /// An `r` field is empty, not a whole number of hops, or has a bad key.
    InvalidRouteHint,
    /// An `f` field (or an address given to the encoder) is not valid.
    InvalidFallbackAddress,
    /// A fallback address given to the encoder is for another network.
    FallbackNetworkMismatch,
    /// An even feature bit lnwasm does not know.
    UnknownRequiredFeature(usize),
    /// The signature's r or s is not a valid scalar.
    InvalidSignature,
    /// The recovery id is not 0..=3.
    InvalidRecoveryId,
    /// No public key can be recovered from the signature.
    UnrecoverableSignature,
    /// With `n`: the signature is high-S.
    HighSSignature,
    /// With `n`: the signature does not verify against it.
    BadSignature,
    /// Encoder: a field would be longer than 1023 5-bit values.
    FieldTooLong(char),
    /// Encoder: the timestamp does not fit 35 bits.
    InvalidTimestamp,
    /// Encoder: the features do not include payment_secret (14 or 15).
    MissingPaymentSecretFeature,
    /// Encoder: the secret key is not valid.
    InvalidSecretKey,
}

impl ErrorCode for InvoiceError {
    fn code(&self) -> &'static str {
        use InvoiceError::*;
        match self {
            TooLong => "TOO_LONG",
            MissingSeparator => "MISSING_SEPARATOR",
            InvalidCharacter => "INVALID_CHARACTER",
            MixedCase => "MIXED_CASE",
            InvalidHrp => "INVALID_HRP",
            BadChecksum => "BAD_CHECKSUM",
            TooShort => "TOO_SHORT",
            UnknownNetwork => "UNKNOWN_NETWORK",
            InvalidAmount => "INVALID_AMOUNT",
            InvalidMultiplier => "INVALID_MULTIPLIER",
            SubMsatPrecision => "SUB_MSAT_PRECISION",
            AmountOverflow => "AMOUNT_OVERFLOW",
            TruncatedField => "TRUNCATED_FIELD",
            NonMinimalField(_) => "NON_MINIMAL_FIELD",
            FieldOverflow(_) => "FIELD_OVERFLOW",
            MissingPaymentHash => "MISSING_PAYMENT_HASH",
            MissingPaymentSecret => "MISSING_PAYMENT_SECRET",
            MissingDescription => "MISSING_DESCRIPTION",
            DescriptionAndHash => "DESCRIPTION_AND_HASH",
            InvalidDescription => "INVALID_DESCRIPTION",
            InvalidPayeeNodeId => "INVALID_PAYEE_NODE_ID",
            InvalidRouteHint => "INVALID_ROUTE_HINT",
            InvalidFallbackAddress => "INVALID_FALLBACK_ADDRESS",
            FallbackNetworkMismatch => "FALLBACK_NETWORK_MISMATCH",
            UnknownRequiredFeature(_) => "UNKNOWN_REQUIRED_FEATURE",
            InvalidSignature => "INVALID_SIGNATURE",
            InvalidRecoveryId => "INVALID_RECOVERY_ID",
            UnrecoverableSignature => "UNRECOVERABLE_SIGNATURE",
            HighSSignature => "HIGH_S_SIGNATURE",
            BadSignature => "BAD_SIGNATURE",
            FieldTooLong(_) => "FIELD_TOO_LONG",
            InvalidTimestamp => "INVALID_TIMESTAMP",
            MissingPaymentSecretFeature => "MISSING_PAYMENT_SECRET_FEATURE",
            InvalidSecretKey => "INVALID_SECRET_KEY",
        }
    }
}

impl fmt::Display for InvoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use InvoiceError::*;
        match self {
            TooLong => write!(f, "invoice is longer than {MAX_INVOICE_LENGTH} characters"),
            MissingSeparator => f.write_str("not a bech32 string: no '1' separator"),
            InvalidCharacter => f.write_str("character outside the bech32 alphabet"),
            MixedCase => f.write_str("invoice mixes upper and lower case"),
            InvalidHrp => f.write_str("invalid human-readable part"),
            BadChecksum => f.write_str("bech32 checksum is invalid"),
            TooShort => f.write_str("too short to hold a timestamp and a signature"),
            UnknownNetwork => f.write_str("unknown prefix: expected lnbc, lntb, lntbs or lnbcrt"),
            InvalidAmount => f.write_str("amount is not a positive decimal number"),
            InvalidMultiplier => f.write_str("amount multiplier must be m, u, n or p"),
            SubMsatPrecision => f.write_str("amount is not a whole number of millisatoshis"),
            AmountOverflow => f.write_str("amount is too large"),
            TruncatedField => f.write_str("a tagged field runs past the end of the data"),
            NonMinimalField(t) => write!(f, "field '{t}' is not minimally encoded"),
            FieldOverflow(t) => write!(f, "field '{t}' does not fit in 64 bits"),
            MissingPaymentHash => f.write_str("no payment hash (p) field"),
            MissingPaymentSecret => f.write_str("no payment secret (s) field"),
            MissingDescription => {
                f.write_str("neither a description (d) nor a description hash (h)")
            }
            DescriptionAndHash => f.write_str("both a description (d) and a description hash (h)"),
            InvalidDescription => f.write_str("description is not valid UTF-8"),
            InvalidPayeeNodeId => f.write_str("payee node id (n) is not a valid public key"),
            InvalidRouteHint => f.write_str("invalid route hint (r) field"),
            InvalidFallbackAddress => f.write_str("invalid fallback address"),
            FallbackNetworkMismatch => f.write_str("fallback address is for another network"),
            UnknownRequiredFeature(b) => write!(f, "invoice requires unknown feature bit {b}"),
            InvalidSignature => f.write_str("signature is not a valid ECDSA signature"),
            InvalidRecoveryId => f.write_str("signature recovery id must be 0, 1, 2 or 3"),
            UnrecoverableSignature => {
                f.write_str("no public key can be recovered from the signature")
            }
            HighSSignature => f.write_str("signature is not low-S (required when n is present)"),
            BadSignature => f.write_str("signature does not match the payee node id"),
            FieldTooLong(t) => write!(f, "field '{t}' is longer than 1023 5-bit values"),
            InvalidTimestamp => f.write_str("timestamp does not fit in 35 bits"),
            MissingPaymentSecretFeature => {
                f.write_str("features must include payment_secret (bit 14 or 15)")
            }
            InvalidSecretKey => f.write_str("invalid secret key"),
        }
    }
}

impl std::error::Error for InvoiceError {}

/// Bech32 with no length limit: BOLT 11 uses BIP 173's checksum but not its
/// 90-character cap. (The crate's `Checksum::CODE_LENGTH` only bounds the
/// input; the invoice length is bounded by [`MAX_INVOICE_LENGTH`].)
pub(crate) enum Bolt11Bech32 {}

impl bech32::Checksum for Bolt11Bech32 {
    type MidstateRepr = u32;
    const CODE_LENGTH: usize = MAX_INVOICE_LENGTH;
    const CHECKSUM_LENGTH: usize = 6;
    const GENERATOR_SH: [u32; 5] = <bech32::Bech32 as bech32::Checksum>::GENERATOR_SH;
    const TARGET_RESIDUE: u32 = 1;
}

/// Packs 5-bit values into bytes. A final partial byte is dropped (how
/// fields such as hashes carry bytes) or, with `pad`, zero-padded (how the
/// signed data is formed).
pub(crate) fn pack_u5(data: &[u8], pad: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 5 / 8 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &v in data {
        acc = (acc << 5) | u32::from(v & 31);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if pad && bits > 0 {
        out.push((acc << (8 - bits)) as u8);
    }
    out
}

/// [`pack_u5`] without padding.
pub(crate) fn u5_to_bytes(data: &[u8]) -> Vec<u8> {
    pack_u5(data, false)
}

/// Splits bytes into 5-bit values, zero-padding the last one.
pub(crate) fn bytes_to_u5(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity((data.len() * 8).div_ceil(5));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 31) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(((acc << (5 - bits)) & 31) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_packing() {
        // 0x01 0xff -> 00000 00111 11111 0(0000)
        assert_eq!(bytes_to_u5(&[0x01, 0xff]), vec![0, 7, 31, 16]);
        assert_eq!(u5_to_bytes(&[0, 7, 31, 16]), vec![0x01, 0xff]);
        // 3 values = 15 bits: one whole byte, 7 bits padded.
        assert_eq!(u5_to_bytes(&[31, 31, 31]), vec![0xff]);
        assert_eq!(pack_u5(&[31, 31, 31], true), vec![0xff, 0xfe]);
        assert_eq!(pack_u5(&[1], true), vec![0x08]);
        assert_eq!(pack_u5(&[], true), Vec::<u8>::new());
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(u5_to_bytes(&bytes_to_u5(&bytes)), bytes);
        }
    }

    #[test]
    fn features_u5() {
        // 8 and 14: b100000100000000 -> "sgq" = [16, 8, 0]
        let f = Features::from_bits(&[8, 14]);
        assert_eq!(features_to_u5(&f), vec![16, 8, 0]);
        assert_eq!(features_from_u5(&[16, 8, 0]), f);
        assert_eq!(f.bits().collect::<Vec<_>>(), vec![8, 14]);
        assert!(features_to_u5(&Features::empty()).is_empty());
        assert_eq!(
            unknown_required_invoice_feature(&Features::from_bits(&[8, 14, 100])),
            Some(100)
        );
        assert_eq!(
            unknown_required_invoice_feature(&Features::from_bits(&[8, 14, 99])),
            None
        );
        // Known to the wire layer, but not something a payer of ours honours.
        assert_eq!(
            unknown_required_invoice_feature(&Features::from_bits(&[14, 36])),
            Some(36)
        );
    }
}
