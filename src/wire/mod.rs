//! BOLT 1/2/7/9 wire formats: BigSize, TLV streams, typed messages, feature bits.
//!
//! Everything here is pure: bytes in, typed values out, and back. The
//! module never panics on input and never allocates more than the input
//! length justifies (every length prefix is checked against the bytes that
//! are actually left before anything is copied).
//!
//! * [`codec`]: fundamental types ([`codec::Reader`], [`codec::Writer`], BigSize,
//!   truncated and signed integers).
//! * [`tlv`]: TLV streams with the BOLT 1 ordering and even/odd rules.
//! * [`features`]: BOLT 9 feature bits, the set lnwasm advertises, and the
//!   `init` negotiation check.
//! * [`Message`]: every BOLT 1, 2 and 7 message lnwasm speaks, with
//!   [`Message::decode`] / [`Message::encode`]; each message type also
//!   implements [`WireMessage`] on its own.
//!
//! ```
//! use lnwasm::wire::{Message, Ping, respond_to_ping, WireMessage};
//!
//! let bytes = Ping::new(4, 0).encode().unwrap();
//! let Message::Ping(ping) = Message::decode(&bytes).unwrap() else { unreachable!() };
//! let pong = respond_to_ping(&ping).unwrap();
//! assert_eq!(pong.ignored.len(), 4);
//! ```

pub mod address;
pub mod channel;
pub mod codec;
pub mod features;
pub mod gossip;
pub mod ids;
pub mod message;
pub mod setup;
pub mod tlv;

pub use address::NetAddress;
pub use channel::*;
pub use features::{check_peer_init, lnwasm_init_features, Feature, FeatureContext, FeatureError, Features};
pub use gossip::*;
pub use ids::{ChannelId, NodeAlias, OnionPacket, PaymentPreimage, ONION_PACKET_LEN};
pub use message::{message_name, peek_type, Message, WireMessage, MAX_MESSAGE_SIZE};
pub use setup::*;
pub use tlv::ExtraTlvs;

use core::fmt;

use crate::error::ErrorCode;

/// Why bytes could not be decoded (or a value could not be encoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The input ended before a field was complete.
    ShortRead,
    /// A BigSize used more bytes than its value needs.
    NonCanonicalBigSize,
    /// A truncated integer (`tu16`/`tu32`/`tu64`) had a leading zero byte.
    NonMinimalInteger,
    /// A fixed-size value (e.g. a known TLV record) had the wrong length.
    InvalidLength,
    /// TLV types were not strictly ascending (the type shown came after a larger one).
    TlvNotAscending(u64),
    /// The same TLV type appeared twice.
    TlvDuplicate(u64),
    /// A TLV record of an unknown even type (must be understood, so fatal).
    UnknownEvenTlv(u64),
    /// A `point` field is not a valid compressed secp256k1 point.
    InvalidPoint,
    /// A `signature` field is not a valid compact ECDSA signature.
    InvalidSignature,
    /// A message of unknown even type: the connection must be closed.
    UnknownEvenMessage(u16),
    /// An encoding-type byte (gossip queries) that is not defined.
    UnknownEncoding(u8),
    /// A field holds a value the spec does not allow.
    InvalidValue(&'static str),
    /// A length-prefixed field does not fit its prefix when encoding.
    FieldTooLong,
    /// An encoded message would exceed 65535 bytes.
    MessageTooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShortRead => f.write_str("unexpected end of input"),
            Self::NonCanonicalBigSize => f.write_str("decoded bigsize is not canonical"),
            Self::NonMinimalInteger => f.write_str("truncated integer is not minimally encoded"),
            Self::InvalidLength => f.write_str("value has the wrong length for its type"),
            Self::TlvNotAscending(t) => write!(f, "TLV type {t} is out of order"),
            Self::TlvDuplicate(t) => write!(f, "TLV type {t} appears twice"),
            Self::UnknownEvenTlv(t) => write!(f, "unknown even TLV type {t}"),
            Self::InvalidPoint => f.write_str("invalid secp256k1 point"),
            Self::InvalidSignature => f.write_str("invalid signature encoding"),
            Self::UnknownEvenMessage(t) => write!(f, "unknown even message type {t}"),
            Self::UnknownEncoding(e) => write!(f, "unknown encoding type {e}"),
            Self::InvalidValue(what) => write!(f, "invalid value: {what}"),
            Self::FieldTooLong => f.write_str("field too long for its length prefix"),
            Self::MessageTooLong => f.write_str("message longer than 65535 bytes"),
        }
    }
}

impl ErrorCode for WireError {
    fn code(&self) -> &'static str {
        match self {
            Self::ShortRead => "SHORT_READ",
            Self::NonCanonicalBigSize => "NON_CANONICAL_BIGSIZE",
            Self::NonMinimalInteger => "NON_MINIMAL_INTEGER",
            Self::InvalidLength => "INVALID_LENGTH",
            Self::TlvNotAscending(_) => "TLV_NOT_ASCENDING",
            Self::TlvDuplicate(_) => "TLV_DUPLICATE",
            Self::UnknownEvenTlv(_) => "UNKNOWN_EVEN_TLV",
            Self::InvalidPoint => "INVALID_POINT",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::UnknownEvenMessage(_) => "UNKNOWN_EVEN_MESSAGE",
            Self::UnknownEncoding(_) => "UNKNOWN_ENCODING",
            Self::InvalidValue(_) => "INVALID_VALUE",
            Self::FieldTooLong => "FIELD_TOO_LONG",
            Self::MessageTooLong => "MESSAGE_TOO_LONG",
        }
    }
}

impl std::error::Error for WireError {}
