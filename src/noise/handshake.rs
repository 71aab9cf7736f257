//! The three-act Noise_XK handshake of BOLT 8, as typestate values.
//!
//! ```text
//! initiator                                   responder
//! Handshake::initiator(ls, rs, e) -> act one
//!                                   Handshake::responder(ls, e)
//!                                   .process_act_one(act one) -> act two
//! .process_act_two(act two) -> act three + Transport
//!                                   .process_act_three(act three) -> Transport
//! ```
//!
//! Each step consumes the previous state, so a failed or finished handshake
//! cannot be driven again. Ephemeral keys are supplied by the caller
//! (sans-IO: this module has no randomness of its own).

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};

use super::crypto::{decrypt_in_place, ecdh, encrypt_in_place, hkdf, sha256_concat, TAG_LEN};
use super::transport::Transport;
use super::NoiseError;

/// Length of act one (version, ephemeral key, tag).
pub const ACT_ONE_LEN: usize = 50;
/// Length of act two.
pub const ACT_TWO_LEN: usize = 50;
/// Length of act three (version, encrypted static key, tag).
pub const ACT_THREE_LEN: usize = 66;

const PROTOCOL_NAME: &[u8] = b"Noise_XK_secp256k1_ChaChaPoly_SHA256";
const PROLOGUE: &[u8] = b"lightning";

/// The symmetric state shared by both acts: handshake hash and chaining key.
#[derive(Clone)]
struct Symmetric {
    h: [u8; 32],
    ck: [u8; 32],
    /// The most recent `temp_k` (act three encrypts the static key with `temp_k2`).
    temp_k: [u8; 32],
}

impl Symmetric {
    /// Initial state, with the responder's static key mixed in.
    fn new(responder_static: &PublicKey) -> Self {
        let h0 = sha256_concat(PROTOCOL_NAME, &[]);
        let h = sha256_concat(&h0, PROLOGUE);
        let h = sha256_concat(&h, &responder_static.serialize());
        Self { h, ck: h0, temp_k: [0; 32] }
    }
    fn mix_hash(&mut self, data: &[u8]) {
        self.h = sha256_concat(&self.h, data);
    }
    /// `ck, temp_k = HKDF(ck, ss)`; returns `temp_k`.
    fn mix_key(&mut self, ss: &[u8; 32]) -> [u8; 32] {
        let (ck, k) = hkdf(&self.ck, ss);
        self.ck = ck;
        self.temp_k = k;
        k
    }
}

fn secp_pub(sk: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::signing_only(), sk)
}

/// Splits an act of `expected` bytes into its version byte and the rest.
fn check_act(act: u8, bytes: &[u8], expected: usize) -> Result<&[u8], NoiseError> {
    if bytes.len() != expected {
        return Err(NoiseError::BadActLength { act, len: bytes.len() });
    }
    if bytes[0] != 0 {
        return Err(NoiseError::BadVersion { act, version: bytes[0] });
    }
    Ok(&bytes[1..])
}

/// Reads `e.pub || c` of acts one and two, mixing them into `sym` and
/// checking the tag. Returns the remote ephemeral key.
fn read_ephemeral_act(act: u8, sym: &mut Symmetric, local: &SecretKey, body: &[u8]) -> Result<PublicKey, NoiseError> {
    let re = PublicKey::from_slice(&body[..33]).map_err(|_| NoiseError::BadPublicKey { act })?;
    sym.mix_hash(&body[..33]);
    let k = sym.mix_key(&ecdh(&re, local));
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&body[33..49]);
    if !decrypt_in_place(&k, 0, &sym.h, &mut [], &tag) {
        return Err(NoiseError::BadTag { act });
    }
    sym.mix_hash(&tag);
    Ok(re)
}

/// Writes `0 || e.pub || tag` for acts one and two.
fn write_ephemeral_act(sym: &mut Symmetric, e_pub: &PublicKey, ss: &[u8; 32]) -> [u8; 50] {
    let mut out = [0u8; 50];
    let e_ser = e_pub.serialize();
    sym.mix_hash(&e_ser);
    let k = sym.mix_key(ss);
    let tag = encrypt_in_place(&k, 0, &sym.h, &mut []);
    sym.mix_hash(&tag);
    out[1..34].copy_from_slice(&e_ser);
    out[34..].copy_from_slice(&tag);
    out
}

/// Entry points of the handshake.
pub struct Handshake;

impl Handshake {
    /// Starts an outbound handshake to the node `remote_static`, returning
    /// the state awaiting act two and the act one bytes to send.
    /// `ephemeral` must be fresh randomness for every connection.
    pub fn initiator(
        local_static: &SecretKey,
        remote_static: &PublicKey,
        ephemeral: &SecretKey,
    ) -> (InitiatorHandshake, [u8; ACT_ONE_LEN]) {
        let mut sym = Symmetric::new(remote_static);
        let e_pub = secp_pub(ephemeral);
        let act_one = write_ephemeral_act(&mut sym, &e_pub, &ecdh(remote_static, ephemeral));
        let st = InitiatorHandshake {
            sym,
            local_static: *local_static,
            ephemeral: *ephemeral,
            remote_static: *remote_static,
        };
        (st, act_one)
    }

    /// Prepares to accept an inbound handshake with our `local_static` key.
    /// `ephemeral` must be fresh randomness for every connection.
    pub fn responder(local_static: &SecretKey, ephemeral: &SecretKey) -> ResponderHandshake {
        let local_pub = secp_pub(local_static);
        ResponderHandshake {
            sym: Symmetric::new(&local_pub),
            local_static: *local_static,
            ephemeral: *ephemeral,
        }
    }
}

/// Initiator that sent act one and waits for act two.
pub struct InitiatorHandshake {
    sym: Symmetric,
    local_static: SecretKey,
    ephemeral: SecretKey,
    remote_static: PublicKey,
}

impl InitiatorHandshake {
    /// Processes the responder's act two (exactly [`ACT_TWO_LEN`] bytes) and
    /// returns act three to send plus the ready [`Transport`].
    pub fn process_act_two(mut self, act_two: &[u8]) -> Result<([u8; ACT_THREE_LEN], Transport), NoiseError> {
        let body = check_act(2, act_two, ACT_TWO_LEN)?;
        let re = read_ephemeral_act(2, &mut self.sym, &self.ephemeral, body)?;
        let temp_k2 = self.sym.temp_k;

        let mut out = [0u8; ACT_THREE_LEN];
        let mut s_pub = secp_pub(&self.local_static).serialize();
        let tag = encrypt_in_place(&temp_k2, 1, &self.sym.h, &mut s_pub);
        out[1..34].copy_from_slice(&s_pub);
        out[34..50].copy_from_slice(&tag);
        self.sym.mix_hash(&out[1..50]);
        let temp_k3 = self.sym.mix_key(&ecdh(&re, &self.local_static));
        let tag = encrypt_in_place(&temp_k3, 0, &self.sym.h, &mut []);
        out[50..].copy_from_slice(&tag);
        let (sk, rk) = hkdf(&self.sym.ck, &[]);
        Ok((out, Transport::new(sk, rk, self.sym.ck, self.remote_static)))
    }
}

/// Responder waiting for act one.
pub struct ResponderHandshake {
    sym: Symmetric,
    local_static: SecretKey,
    ephemeral: SecretKey,
}

impl ResponderHandshake {
    /// Processes act one (exactly [`ACT_ONE_LEN`] bytes) and returns the
    /// state awaiting act three plus act two to send.
    pub fn process_act_one(mut self, act_one: &[u8]) -> Result<(ResponderAwaitingActThree, [u8; ACT_TWO_LEN]), NoiseError> {
        let body = check_act(1, act_one, ACT_ONE_LEN)?;
        let re = read_ephemeral_act(1, &mut self.sym, &self.local_static, body)?;
        let e_pub = secp_pub(&self.ephemeral);
        let act_two = write_ephemeral_act(&mut self.sym, &e_pub, &ecdh(&re, &self.ephemeral));
        Ok((ResponderAwaitingActThree { sym: self.sym, ephemeral: self.ephemeral }, act_two))
    }
}

/// Responder that sent act two and waits for act three.
pub struct ResponderAwaitingActThree {
    sym: Symmetric,
    ephemeral: SecretKey,
}

impl ResponderAwaitingActThree {
    /// Processes act three (exactly [`ACT_THREE_LEN`] bytes) and returns the
    /// ready [`Transport`]; [`Transport::remote_static`] is the initiator's
    /// authenticated node id.
    pub fn process_act_three(mut self, act_three: &[u8]) -> Result<Transport, NoiseError> {
        let body = check_act(3, act_three, ACT_THREE_LEN)?;
        let mut rs = [0u8; 33];
        rs.copy_from_slice(&body[..33]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&body[33..49]);
        if !decrypt_in_place(&self.sym.temp_k, 1, &self.sym.h, &mut rs, &tag) {
            return Err(NoiseError::BadCiphertext);
        }
        let rs = PublicKey::from_slice(&rs).map_err(|_| NoiseError::BadPublicKey { act: 3 })?;
        self.sym.mix_hash(&body[..49]);
        let temp_k3 = self.sym.mix_key(&ecdh(&rs, &self.ephemeral));
        tag.copy_from_slice(&body[49..65]);
        if !decrypt_in_place(&temp_k3, 0, &self.sym.h, &mut [], &tag) {
            return Err(NoiseError::BadTag { act: 3 });
        }
        let (rk, sk) = hkdf(&self.sym.ck, &[]);
        Ok(Transport::new(sk, rk, self.sym.ck, rs))
    }
}
