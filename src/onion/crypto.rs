//! BOLT 4 primitives: shared secrets, key generation (`rho`, `mu`, `um`,
//! `pad`, `ammag`), the ChaCha20 pseudo-random stream and ephemeral key
//! blinding.

use core::fmt;

use bitcoin::hashes::{hmac, sha256, Hash, HashEngine};
use bitcoin::secp256k1::{ecdh, PublicKey, Scalar, SecretKey, SECP256K1};
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;

/// A per-hop shared secret: SHA256 of the compressed ECDH point
/// (BOLT 4 "Shared Secret"). The forwarding node keeps it with the HTLC to
/// wrap a returned error; the sender keeps one per hop to unwrap it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SharedSecret(pub [u8; 32]);

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

impl SharedSecret {
    /// ECDH(`point`, `scalar`) as BOLT 4 defines it.
    pub fn new(point: &PublicKey, scalar: &SecretKey) -> Self {
        Self(ecdh::SharedSecret::new(point, scalar).secret_bytes())
    }

    /// `HMAC-SHA256(key = key type, msg = secret)`.
    pub fn key(&self, kind: KeyType) -> [u8; 32] {
        hmac_sha256(kind.label(), &[&self.0])
    }
}

/// The key types of BOLT 4 "Key Generation".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// Obfuscates the per-hop payloads.
    Rho,
    /// Authenticates the forward packet.
    Mu,
    /// Authenticates a returned error.
    Um,
    /// Fills the initial packet with pseudo-random bytes.
    Pad,
    /// Obfuscates a returned error.
    Ammag,
}

impl KeyType {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Rho => b"rho",
            Self::Mu => b"mu",
            Self::Um => b"um",
            Self::Pad => b"pad",
            Self::Ammag => b"ammag",
        }
    }
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut e = hmac::HmacEngine::<sha256::Hash>::new(key);
    for p in parts {
        e.input(p);
    }
    hmac::Hmac::<sha256::Hash>::from_engine(e).to_byte_array()
}

pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut e = sha256::Hash::engine();
    for p in parts {
        e.input(p);
    }
    sha256::Hash::from_engine(e).to_byte_array()
}

/// XORs `buf` with the ChaCha20 stream of `key` (zero nonce, counter 0).
pub fn apply_stream(key: &[u8; 32], buf: &mut [u8]) {
    let mut c = ChaCha20::new(key.into(), &[0u8; 12].into());
    c.apply_keystream(buf);
}

/// Constant-time equality of two MACs.
pub(crate) fn ct_eq(a: &[u8; 32], b: &[u8]) -> bool {
    if b.len() != 32 {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    d == 0
}

/// `SHA256(public_key || shared_secret)` as a scalar (ephemeral key and
/// path key blinding). `None` only for a hash outside the curve order,
/// which no one can make happen on purpose.
pub(crate) fn blinding_tweak(pubkey: &PublicKey, ss: &[u8; 32]) -> Option<Scalar> {
    Scalar::from_be_bytes(sha256(&[&pubkey.serialize(), ss])).ok()
}

pub(crate) fn tweak_pub(p: &PublicKey, t: &Scalar) -> Option<PublicKey> {
    p.mul_tweak(SECP256K1, t).ok()
}

pub(crate) fn tweak_secret(s: &SecretKey, t: &Scalar) -> Option<SecretKey> {
    s.mul_tweak(t).ok()
}

/// Scalar from 32 bytes (an HMAC output used as a tweak).
pub(crate) fn scalar(b: [u8; 32]) -> Option<Scalar> {
    Scalar::from_be_bytes(b).ok()
}

/// The public key of `s`.
pub(crate) fn public(s: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(SECP256K1, s)
}
