//! The primitives of BOLT 8: SHA256, HKDF, ECDH and ChaCha20-Poly1305 with
//! the Lightning nonce layout.

use bitcoin::hashes::{hmac, sha256, Hash, HashEngine};
use bitcoin::secp256k1::{ecdh::SharedSecret, PublicKey, SecretKey};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

/// Length of a Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// SHA256(a || b).
pub(crate) fn sha256_concat(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut e = sha256::Hash::engine();
    e.input(a);
    e.input(b);
    sha256::Hash::from_engine(e).to_byte_array()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut e = hmac::HmacEngine::<sha256::Hash>::new(key);
    for p in parts {
        e.input(p);
    }
    hmac::Hmac::<sha256::Hash>::from_engine(e).to_byte_array()
}

/// HKDF-SHA256 with `salt` and `ikm`, zero-length info, two 32-byte outputs.
pub(crate) fn hkdf(salt: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let prk = hmac_sha256(salt, &[ikm]);
    let t1 = hmac_sha256(&prk, &[&[1u8]]);
    let t2 = hmac_sha256(&prk, &[&t1, &[2u8]]);
    (t1, t2)
}

/// BOLT 8 ECDH: SHA256 of the compressed shared point.
pub(crate) fn ecdh(point: &PublicKey, scalar: &SecretKey) -> [u8; 32] {
    SharedSecret::new(point, scalar).secret_bytes()
}

/// 96-bit nonce: 32 zero bits then the 64-bit little-endian counter.
fn nonce(n: u64) -> Nonce {
    let mut b = [0u8; 12];
    b[4..].copy_from_slice(&n.to_le_bytes());
    Nonce::from(b)
}

/// Encrypts `buf` in place and returns the tag.
pub(crate) fn encrypt_in_place(key: &[u8; 32], n: u64, ad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    // Only fails for inputs above ~256 GiB, which a u16-framed protocol never produces.
    let tag = cipher
        .encrypt_in_place_detached(&nonce(n), ad, buf)
        .unwrap_or_default();
    tag.into()
}

/// Checks `tag` and decrypts `buf` in place; `false` (and `buf` unchanged
/// in meaning) when authentication fails.
pub(crate) fn decrypt_in_place(key: &[u8; 32], n: u64, ad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    cipher
        .decrypt_in_place_detached(&nonce(n), ad, buf, Tag::from_slice(tag))
        .is_ok()
}
