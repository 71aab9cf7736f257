//! Route blinding (BOLT 4 "Route Blinding"): building a blinded path,
//! `encrypted_recipient_data` and its `encrypted_data_tlv` contents, and
//! what a node inside a blinded path derives from the `path_key`.

use bitcoin::secp256k1::{PublicKey, SecretKey};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use super::crypto::{
    blinding_tweak, hmac_sha256, public, scalar, tweak_pub, tweak_secret, KeyType, SharedSecret,
};
use crate::types::{Msat, ShortChannelId};
use crate::wire::codec::{decode_exact, Writer};
use crate::wire::tlv::decode_stream;
use crate::wire::{ExtraTlvs, WireError};

const TAG_LEN: usize = 16;

/// Why blinding data could not be built or used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlindingError {
    /// A key derivation produced an invalid key.
    InvalidKey,
    /// `encrypted_recipient_data` failed authentication.
    Decrypt,
    /// The decrypted `encrypted_data_tlv` does not parse.
    BadData(WireError),
}

impl core::fmt::Display for BlindingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidKey => f.write_str("route blinding key derivation failed"),
            Self::Decrypt => f.write_str("encrypted_recipient_data does not decrypt"),
            Self::BadData(e) => write!(f, "encrypted_data_tlv: {e}"),
        }
    }
}

impl crate::error::ErrorCode for BlindingError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidKey => "BLINDING_INVALID_KEY",
            Self::Decrypt => "BLINDING_DECRYPT_FAILED",
            Self::BadData(_) => "BLINDING_BAD_DATA",
        }
    }
}

/// `payment_relay`: the fees and delta a blinded hop charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentRelay {
    pub cltv_expiry_delta: u16,
    pub fee_proportional_millionths: u32,
    pub fee_base_msat: u32,
}

impl PaymentRelay {
    /// BOLT 4: `amt_to_forward = ceil((amount - fee_base) * 1e6 / (1e6 + fee_prop))`;
    /// `None` if the incoming amount does not even cover the base fee.
    pub fn amount_to_forward(&self, incoming: Msat) -> Option<Msat> {
        let base = u128::from(self.fee_base_msat);
        let amt = u128::from(incoming.0).checked_sub(base)?;
        let prop = u128::from(self.fee_proportional_millionths);
        let v = (amt * 1_000_000).div_ceil(1_000_000 + prop);
        u64::try_from(v).ok().map(Msat)
    }
}

/// `payment_constraints`: limits set by the recipient for a blinded hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentConstraints {
    pub max_cltv_expiry: u32,
    pub htlc_minimum_msat: Msat,
}

/// The `encrypted_data_tlv` stream inside `encrypted_recipient_data`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptedData {
    /// Length of the `padding` record (type 1), if any.
    pub padding: Option<usize>,
    pub short_channel_id: Option<ShortChannelId>,
    pub next_node_id: Option<PublicKey>,
    pub path_id: Option<Vec<u8>>,
    pub next_path_key_override: Option<PublicKey>,
    pub payment_relay: Option<PaymentRelay>,
    pub payment_constraints: Option<PaymentConstraints>,
    pub allowed_features: Option<Vec<u8>>,
    /// Unknown odd records.
    pub unknown: ExtraTlvs,
}

impl EncryptedData {
    /// Encodes the stream (padding as zero bytes).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut b = crate::wire::tlv::TlvBuilder::new();
        b.add_opt(1, self.padding.map(|n| vec![0u8; n]));
        b.add_opt(2, self.short_channel_id.map(|s| s.0.to_be_bytes().to_vec()));
        b.add_opt(4, self.next_node_id.map(|k| k.serialize().to_vec()));
        b.add_opt(6, self.path_id.clone());
        b.add_opt(
            8,
            self.next_path_key_override.map(|k| k.serialize().to_vec()),
        );
        b.add_opt(
            10,
            self.payment_relay.map(|r| {
                let mut w = Writer::new();
                w.u16(r.cltv_expiry_delta);
                w.u32(r.fee_proportional_millionths);
                w.truncated(u64::from(r.fee_base_msat));
                w.finish().unwrap_or_default()
            }),
        );
        b.add_opt(
            12,
            self.payment_constraints.map(|c| {
                let mut w = Writer::new();
                w.u32(c.max_cltv_expiry);
                w.truncated(c.htlc_minimum_msat.0);
                w.finish().unwrap_or_default()
            }),
        );
        b.add_opt(14, self.allowed_features.clone());
        let mut w = Writer::new();
        b.write(&self.unknown, &mut w);
        w.finish()
    }

    /// Decodes the stream; unknown even types fail.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut d = EncryptedData::default();
        let unknown = decode_stream(bytes, |t, v| {
            match t {
                1 => d.padding = Some(v.len()),
                2 => d.short_channel_id = Some(decode_exact(v, |r| r.short_channel_id())?),
                4 => d.next_node_id = Some(decode_exact(v, |r| r.point())?),
                6 => d.path_id = Some(v.to_vec()),
                8 => d.next_path_key_override = Some(decode_exact(v, |r| r.point())?),
                10 => {
                    d.payment_relay = Some(decode_exact(v, |r| {
                        Ok(PaymentRelay {
                            cltv_expiry_delta: r.u16()?,
                            fee_proportional_millionths: r.u32()?,
                            fee_base_msat: r.tu32()?,
                        })
                    })?)
                }
                12 => {
                    d.payment_constraints = Some(decode_exact(v, |r| {
                        Ok(PaymentConstraints {
                            max_cltv_expiry: r.u32()?,
                            htlc_minimum_msat: Msat(r.tu64()?),
                        })
                    })?)
                }
                14 => d.allowed_features = Some(v.to_vec()),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        d.unknown = unknown;
        Ok(d)
    }
}

/// `HMAC256("blinded_node_id", ss)`, the factor that blinds a node id.
fn node_blinding_factor(ss: &SharedSecret) -> Option<bitcoin::secp256k1::Scalar> {
    scalar(hmac_sha256(b"blinded_node_id", &[&ss.0]))
}

/// Encrypts `encrypted_data_tlv` bytes with `rho` (ChaCha20-Poly1305, zero
/// nonce, no associated data): ciphertext followed by the 16-byte tag.
pub fn encrypt_data(rho: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    let mut buf = plaintext.to_vec();
    let c = ChaCha20Poly1305::new(Key::from_slice(rho));
    // Cannot fail below 256 GiB.
    let tag = c
        .encrypt_in_place_detached(&Nonce::default(), &[], &mut buf)
        .unwrap_or_default();
    buf.extend_from_slice(&tag);
    buf
}

/// Decrypts `encrypted_recipient_data` with `rho`.
pub fn decrypt_data(rho: &[u8; 32], data: &[u8]) -> Result<Vec<u8>, BlindingError> {
    if data.len() < TAG_LEN {
        return Err(BlindingError::Decrypt);
    }
    let (ct, tag) = data.split_at(data.len() - TAG_LEN);
    let mut buf = ct.to_vec();
    let c = ChaCha20Poly1305::new(Key::from_slice(rho));
    c.decrypt_in_place_detached(&Nonce::default(), &[], &mut buf, Tag::from_slice(tag))
        .map_err(|_| BlindingError::Decrypt)?;
    Ok(buf)
}

/// One hop of a blinded path as given to a sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlindedHop {
    pub blinded_node_id: PublicKey,
    pub encrypted_data: Vec<u8>,
}

/// A blinded path: the introduction node (in clear), the path key it
/// needs, and the blinded hops (the first is the introduction node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlindedPath {
    pub introduction_node: PublicKey,
    pub first_path_key: PublicKey,
    pub hops: Vec<BlindedHop>,
}

/// The recipient: blinds `hops` (node id, `encrypted_data_tlv` bytes) with
/// `session_key`.
pub fn create_blinded_path(
    session_key: &SecretKey,
    hops: &[(PublicKey, &[u8])],
) -> Result<BlindedPath, BlindingError> {
    let first = hops.first().ok_or(BlindingError::InvalidKey)?.0;
    let mut e = *session_key;
    let mut out = Vec::with_capacity(hops.len());
    for (node, data) in hops {
        let epk = public(&e);
        let ss = SharedSecret::new(node, &e);
        let f = node_blinding_factor(&ss).ok_or(BlindingError::InvalidKey)?;
        let blinded = tweak_pub(node, &f).ok_or(BlindingError::InvalidKey)?;
        out.push(BlindedHop {
            blinded_node_id: blinded,
            encrypted_data: encrypt_data(&ss.key(KeyType::Rho), data),
        });
        let t = blinding_tweak(&epk, &ss.0).ok_or(BlindingError::InvalidKey)?;
        e = tweak_secret(&e, &t).ok_or(BlindingError::InvalidKey)?;
    }
    Ok(BlindedPath {
        introduction_node: first,
        first_path_key: public(session_key),
        hops: out,
    })
}

/// A node in a blinded path: the private key matching its blinded node id
/// for `path_key` (used to decrypt the onion addressed to that id).
pub fn blinded_node_secret(
    node_secret: &SecretKey,
    path_key: &PublicKey,
) -> Result<SecretKey, BlindingError> {
    let ss = SharedSecret::new(path_key, node_secret);
    let f = node_blinding_factor(&ss).ok_or(BlindingError::InvalidKey)?;
    tweak_secret(node_secret, &f).ok_or(BlindingError::InvalidKey)
}

/// The next hop's path key: `SHA256(path_key || ss) * path_key`.
pub fn next_path_key(path_key: &PublicKey, ss: &SharedSecret) -> Result<PublicKey, BlindingError> {
    let t = blinding_tweak(path_key, &ss.0).ok_or(BlindingError::InvalidKey)?;
    tweak_pub(path_key, &t).ok_or(BlindingError::InvalidKey)
}

/// What a node inside a blinded path learns from its `encrypted_recipient_data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnblindedHop {
    /// `ECDH(path_key, node_secret)`.
    pub shared_secret: SharedSecret,
    /// The decrypted `encrypted_data_tlv` bytes.
    pub plaintext: Vec<u8>,
    /// Their decoded contents.
    pub data: EncryptedData,
    /// The path key derived for the next hop (before any override).
    pub next_path_key: PublicKey,
}

impl UnblindedHop {
    /// The path key to hand to the next hop: `next_path_key_override` if
    /// the data sets one, the derived key otherwise.
    pub fn effective_next_path_key(&self) -> PublicKey {
        self.data
            .next_path_key_override
            .unwrap_or(self.next_path_key)
    }
}

/// Decrypts and decodes this node's `encrypted_recipient_data`.
pub fn decrypt_hop(
    node_secret: &SecretKey,
    path_key: &PublicKey,
    encrypted: &[u8],
) -> Result<UnblindedHop, BlindingError> {
    let ss = SharedSecret::new(path_key, node_secret);
    let plaintext = decrypt_data(&ss.key(KeyType::Rho), encrypted)?;
    let data = EncryptedData::decode(&plaintext).map_err(BlindingError::BadData)?;
    Ok(UnblindedHop {
        shared_secret: ss,
        next_path_key: next_path_key(path_key, &ss)?,
        plaintext,
        data,
    })
}

/// The aggregate fees and CLTV delta of a blinded path (BOLT 4 route
/// blinding, "total costs"), which the recipient hands to the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlindedPayInfo {
    pub fee_base_msat: u32,
    pub fee_proportional_millionths: u32,
    pub cltv_expiry_delta: u16,
}

impl BlindedPayInfo {
    /// Aggregates the `payment_relay` of the non-final hops (path order)
    /// plus the recipient's `min_final_cltv_expiry_delta`, rounding up as
    /// BOLT 4 requires. `None` on overflow.
    pub fn aggregate(relays: &[PaymentRelay], min_final_cltv_expiry_delta: u16) -> Option<Self> {
        let mut base: u128 = 0;
        let mut prop: u128 = 0;
        let mut cltv = u32::from(min_final_cltv_expiry_delta);
        for r in relays.iter().rev() {
            let rb = u128::from(r.fee_base_msat);
            let rp = u128::from(r.fee_proportional_millionths);
            base = (rb * 1_000_000 + base * (1_000_000 + rp)).div_ceil(1_000_000);
            prop = ((prop + rp) * 1_000_000 + prop * rp).div_ceil(1_000_000);
            cltv += u32::from(r.cltv_expiry_delta);
        }
        Some(Self {
            fee_base_msat: u32::try_from(base).ok()?,
            fee_proportional_millionths: u32::try_from(prop).ok()?,
            cltv_expiry_delta: u16::try_from(cltv).ok()?,
        })
    }

    /// The fee for delivering `amount` to the recipient through the path
    /// (`base + amount * prop / 1e6`, as BOLT 7 fees). `None` on overflow.
    pub fn fee(&self, amount: Msat) -> Option<Msat> {
        let f = u128::from(self.fee_base_msat)
            + u128::from(amount.0) * u128::from(self.fee_proportional_millionths) / 1_000_000;
        u64::try_from(f).ok().map(Msat)
    }
}

/// The sender: the onion hops for `path`, delivering `amount` with
/// `final_cltv` and `total_msat` (BOLT 4 payload writer rules). The
/// introduction node is addressed by its real id and gets the path key;
/// the others by their blinded ids. Prepend the unblinded hops that lead
/// to the introduction node, their amounts increased by
/// [`BlindedPayInfo::fee`] and expiries by its `cltv_expiry_delta`.
pub fn blinded_path_payloads(
    path: &BlindedPath,
    amount: Msat,
    final_cltv: u32,
    total_msat: Msat,
) -> Vec<(PublicKey, super::HopPayload)> {
    let n = path.hops.len();
    path.hops
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut p = super::HopPayload {
                encrypted_recipient_data: Some(h.encrypted_data.clone()),
                ..Default::default()
            };
            let id = if i == 0 {
                p.current_path_key = Some(path.first_path_key);
                path.introduction_node
            } else {
                h.blinded_node_id
            };
            if i + 1 == n {
                p.amt_to_forward = Some(amount);
                p.outgoing_cltv_value = Some(final_cltv);
                p.total_amount_msat = Some(total_msat);
            }
            (id, p)
        })
        .collect()
}
