//! BOLT 8 Noise_XK transport: handshake and encrypted framing, sans-IO.
//!
//! Noise_XK_secp256k1_ChaChaPoly_SHA256 with the prologue `lightning`.
//! The caller moves bytes; this module only transforms them:
//!
//! * [`Handshake::initiator`] gives act one; [`InitiatorHandshake::process_act_two`]
//!   takes act two and gives act three plus a [`Transport`].
//! * [`Handshake::responder`] then [`ResponderHandshake::process_act_one`] gives
//!   act two; [`ResponderAwaitingActThree::process_act_three`] gives the
//!   [`Transport`], whose [`Transport::remote_static`] is the initiator's node id.
//! * [`Transport::encrypt`] frames one message; [`Transport::decrypt`] takes
//!   stream chunks of any size and returns the whole messages they complete.
//!
//! Acts have fixed sizes ([`ACT_ONE_LEN`], [`ACT_TWO_LEN`], [`ACT_THREE_LEN`]);
//! the caller reads exactly that many bytes before handing them over.

mod crypto;
mod handshake;
mod transport;

use core::fmt;

pub use handshake::{
    Handshake, InitiatorHandshake, ResponderAwaitingActThree, ResponderHandshake, ACT_ONE_LEN,
    ACT_THREE_LEN, ACT_TWO_LEN,
};
pub use transport::{Transport, HEADER_LEN, MAX_MESSAGE_LEN};

use crate::error::ErrorCode;

/// A handshake or transport failure. Every one of them means the
/// connection must be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseError {
    /// An act did not have its fixed length (e.g. the stream ended early).
    BadActLength { act: u8, len: usize },
    /// An act started with a version byte other than 0.
    BadVersion { act: u8, version: u8 },
    /// An act carried a key that is not a valid compressed point.
    BadPublicKey { act: u8 },
    /// An act's authentication tag did not verify.
    BadTag { act: u8 },
    /// Act three's encrypted static key did not authenticate.
    BadCiphertext,
    /// A frame's length header did not authenticate.
    BadLengthTag,
    /// A frame's body did not authenticate.
    BadMessageTag,
    /// A message longer than 65535 bytes cannot be framed.
    MessageTooLarge(usize),
    /// The transport already failed; no more input is accepted.
    TransportFailed,
}

impl fmt::Display for NoiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadActLength { act, len } => write!(f, "act {act} has length {len}"),
            Self::BadVersion { act, version } => write!(f, "act {act} has unknown version {version}"),
            Self::BadPublicKey { act } => write!(f, "act {act} carries an invalid public key"),
            Self::BadTag { act } => write!(f, "act {act} failed authentication"),
            Self::BadCiphertext => f.write_str("act 3 static key failed authentication"),
            Self::BadLengthTag => f.write_str("message length failed authentication"),
            Self::BadMessageTag => f.write_str("message body failed authentication"),
            Self::MessageTooLarge(n) => write!(f, "message of {n} bytes exceeds 65535"),
            Self::TransportFailed => f.write_str("transport already failed"),
        }
    }
}

impl ErrorCode for NoiseError {
    fn code(&self) -> &'static str {
        match self {
            Self::BadActLength { .. } => "HANDSHAKE_BAD_LENGTH",
            Self::BadVersion { .. } => "HANDSHAKE_BAD_VERSION",
            Self::BadPublicKey { .. } => "HANDSHAKE_BAD_PUBKEY",
            Self::BadTag { .. } => "HANDSHAKE_BAD_TAG",
            Self::BadCiphertext => "HANDSHAKE_BAD_CIPHERTEXT",
            Self::BadLengthTag => "BAD_LENGTH_MAC",
            Self::BadMessageTag => "BAD_MESSAGE_MAC",
            Self::MessageTooLarge(_) => "MESSAGE_TOO_LARGE",
            Self::TransportFailed => "TRANSPORT_FAILED",
        }
    }
}

impl std::error::Error for NoiseError {}
