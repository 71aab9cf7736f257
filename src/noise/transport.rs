//! Encrypted framing after the handshake (BOLT 8 "Lightning Message
//! Specification").
//!
//! Every message is sent as an encrypted 2-byte big-endian length with its
//! tag (18 bytes), then the encrypted body with its tag. Each direction has
//! its own key and nonce; a key is rotated after 1000 uses (500 messages).

use core::fmt;

use bitcoin::secp256k1::PublicKey;

use super::crypto::{decrypt_in_place, encrypt_in_place, hkdf, TAG_LEN};
use super::NoiseError;

/// Size of the encrypted length header (2-byte length + tag).
pub const HEADER_LEN: usize = 2 + TAG_LEN;
/// Largest plaintext a single frame can carry.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;
/// Nonce value at which a key is rotated.
const ROTATE_AT: u64 = 1000;

/// One direction's cipher state.
#[derive(Clone)]
struct CipherState {
    k: [u8; 32],
    ck: [u8; 32],
    n: u64,
}

impl CipherState {
    /// Advances the nonce after a use, rotating the key every 1000 uses.
    fn advance(&mut self) {
        self.n += 1;
        if self.n == ROTATE_AT {
            let (ck, k) = hkdf(&self.ck, &self.k);
            self.ck = ck;
            self.k = k;
            self.n = 0;
        }
    }
    fn encrypt(&mut self, buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = encrypt_in_place(&self.k, self.n, &[], buf);
        self.advance();
        tag
    }
    fn decrypt(&mut self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let ok = decrypt_in_place(&self.k, self.n, &[], buf, tag);
        if ok {
            self.advance();
        }
        ok
    }
}

/// The encrypted channel to one peer: encrypts outgoing messages and turns
/// an incoming byte stream (in chunks of any size) back into messages.
///
/// After any decryption error the transport refuses further input: the
/// connection must be dropped.
#[derive(Clone)]
pub struct Transport {
    send: CipherState,
    recv: CipherState,
    remote_static: PublicKey,
    header: [u8; HEADER_LEN],
    header_filled: usize,
    /// Encrypted body (plaintext length + tag) once a header was read.
    body: Vec<u8>,
    body_len: Option<usize>,
    failed: bool,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("remote_static", &self.remote_static)
            .field("send_nonce", &self.send.n)
            .field("recv_nonce", &self.recv.n)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(sk: [u8; 32], rk: [u8; 32], ck: [u8; 32], remote_static: PublicKey) -> Self {
        Self {
            send: CipherState { k: sk, ck, n: 0 },
            recv: CipherState { k: rk, ck, n: 0 },
            remote_static,
            header: [0; HEADER_LEN],
            header_filled: 0,
            body: Vec::new(),
            body_len: None,
            failed: false,
        }
    }

    /// A transport from explicit post-handshake keys (sending key, receiving
    /// key, final chaining key), as listed in the BOLT 8 test vectors.
    pub fn from_keys(sending_key: [u8; 32], receiving_key: [u8; 32], chaining_key: [u8; 32], remote_static: PublicKey) -> Self {
        Self::new(sending_key, receiving_key, chaining_key, remote_static)
    }

    /// The peer's static public key (its node id), authenticated by the handshake.
    pub fn remote_static(&self) -> PublicKey {
        self.remote_static
    }

    /// Encrypts one message into its wire frame (header + body).
    pub fn encrypt(&mut self, msg: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let len = u16::try_from(msg.len()).map_err(|_| NoiseError::MessageTooLarge(msg.len()))?;
        let mut out = vec![0u8; HEADER_LEN + msg.len() + TAG_LEN];
        out[..2].copy_from_slice(&len.to_be_bytes());
        let tag = self.send.encrypt(&mut out[..2]);
        out[2..HEADER_LEN].copy_from_slice(&tag);
        let body_end = HEADER_LEN + msg.len();
        out[HEADER_LEN..body_end].copy_from_slice(msg);
        let tag = self.send.encrypt(&mut out[HEADER_LEN..body_end]);
        out[body_end..].copy_from_slice(&tag);
        Ok(out)
    }

    /// Feeds received bytes (any chunking) and returns every message they
    /// complete, in order. Partial frames are buffered: the header in a
    /// fixed 18-byte buffer, the body only once the header's tag verified
    /// (so at most 65535 + 16 bytes, as the authenticated length says).
    pub fn decrypt(&mut self, mut input: &[u8]) -> Result<Vec<Vec<u8>>, NoiseError> {
        if self.failed {
            return Err(NoiseError::TransportFailed);
        }
        let mut out = Vec::new();
        while !input.is_empty() {
            match self.body_len {
                None => {
                    let take = (HEADER_LEN - self.header_filled).min(input.len());
                    self.header[self.header_filled..self.header_filled + take].copy_from_slice(&input[..take]);
                    self.header_filled += take;
                    input = &input[take..];
                    if self.header_filled == HEADER_LEN {
                        self.header_filled = 0;
                        let mut len = [self.header[0], self.header[1]];
                        let mut tag = [0u8; TAG_LEN];
                        tag.copy_from_slice(&self.header[2..]);
                        if !self.recv.decrypt(&mut len, &tag) {
                            self.failed = true;
                            return Err(NoiseError::BadLengthTag);
                        }
                        let total = usize::from(u16::from_be_bytes(len)) + TAG_LEN;
                        self.body = Vec::with_capacity(total);
                        self.body_len = Some(total);
                    }
                }
                Some(total) => {
                    let take = (total - self.body.len()).min(input.len());
                    self.body.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.body.len() == total {
                        self.body_len = None;
                        let mut body = core::mem::take(&mut self.body);
                        let mut tag = [0u8; TAG_LEN];
                        tag.copy_from_slice(&body[total - TAG_LEN..]);
                        body.truncate(total - TAG_LEN);
                        if !self.recv.decrypt(&mut body, &tag) {
                            self.failed = true;
                            return Err(NoiseError::BadMessageTag);
                        }
                        out.push(body);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Number of buffered bytes of a frame not yet complete.
    pub fn pending_bytes(&self) -> usize {
        match self.body_len {
            None => self.header_filled,
            Some(_) => HEADER_LEN + self.body.len(),
        }
    }
}
