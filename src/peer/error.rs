//! Why a peer connection ended, and why a send was refused.

use core::fmt;

use crate::error::ErrorCode;
use crate::noise::NoiseError;
use crate::wire::{FeatureError, WireError};

/// Why a [`super::PeerConnection`] closed. Every variant is final: once
/// reported (in [`super::PeerEvent::Disconnected`]) the connection accepts
/// no more input and the caller should flush the last outbound bytes and
/// close the byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The BOLT 8 handshake or the encrypted stream failed (garbage, bad
    /// MAC, bad key...).
    Noise(NoiseError),
    /// A message could not be decoded (truncated, invalid field, unknown
    /// even TLV, or an unknown even message type).
    Wire(WireError),
    /// The peer's `init` features are incompatible with ours.
    Features(FeatureError),
    /// The peer's `init` lists networks, none of which is our chain.
    NoCommonChain,
    /// The first message after the handshake was not `init`.
    FirstMessageNotInit { msg_type: u16 },
    /// A second `init` on the same connection.
    DuplicateInit,
    /// The handshake and `init` exchange did not finish in time.
    HandshakeTimeout,
    /// A `ping` we sent was not answered in time.
    PongTimeout,
    /// A `pong` that answers no `ping` we sent (wrong length or unsolicited).
    UnexpectedPong { len: usize },
    /// The peer sent pings much faster than BOLT 1 allows.
    PingFlood,
    /// The peer sent `error` for all channels (its text, sanitised).
    PeerError(String),
    /// The byte stream ended (the peer or the network closed it).
    StreamClosed,
    /// We closed the connection ([`super::PeerConnection::close`]).
    LocalClose,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Noise(e) => write!(f, "transport failure: {e}"),
            Self::Wire(e) => write!(f, "undecodable message from peer: {e}"),
            Self::Features(e) => write!(f, "incompatible features: {e}"),
            Self::NoCommonChain => f.write_str("peer does not support our chain"),
            Self::FirstMessageNotInit { msg_type } => {
                write!(f, "first message was type {msg_type}, not init")
            }
            Self::DuplicateInit => f.write_str("peer sent init twice"),
            Self::HandshakeTimeout => f.write_str("handshake and init exchange timed out"),
            Self::PongTimeout => f.write_str("peer did not answer our ping in time"),
            Self::UnexpectedPong { len } => {
                write!(f, "pong of {len} bytes answers no ping we sent")
            }
            Self::PingFlood => f.write_str("peer sent too many pings"),
            Self::PeerError(text) => write!(f, "peer sent error: {text}"),
            Self::StreamClosed => f.write_str("connection closed by the peer or the network"),
            Self::LocalClose => f.write_str("connection closed locally"),
        }
    }
}

impl ErrorCode for DisconnectReason {
    fn code(&self) -> &'static str {
        match self {
            Self::Noise(e) => e.code(),
            Self::Wire(e) => e.code(),
            Self::Features(e) => e.code(),
            Self::NoCommonChain => "NO_COMMON_CHAIN",
            Self::FirstMessageNotInit { .. } => "FIRST_MESSAGE_NOT_INIT",
            Self::DuplicateInit => "DUPLICATE_INIT",
            Self::HandshakeTimeout => "HANDSHAKE_TIMEOUT",
            Self::PongTimeout => "PONG_TIMEOUT",
            Self::UnexpectedPong { .. } => "UNEXPECTED_PONG",
            Self::PingFlood => "PING_FLOOD",
            Self::PeerError(_) => "PEER_SENT_ERROR",
            Self::StreamClosed => "CONNECTION_CLOSED",
            Self::LocalClose => "LOCAL_CLOSE",
        }
    }
}

impl std::error::Error for DisconnectReason {}

/// Why [`super::PeerConnection::send`] refused a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closed.
    Closed,
    /// The handshake and `init` exchange have not finished.
    NotReady,
    /// `init`, `ping` and `pong` are managed by the connection itself.
    Reserved(&'static str),
    /// The message does not encode (e.g. longer than 65535 bytes).
    Encode(WireError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the peer connection is closed"),
            Self::NotReady => f.write_str("the peer connection is not ready yet"),
            Self::Reserved(name) => {
                write!(f, "{name} is sent by the connection itself, not by callers")
            }
            Self::Encode(e) => write!(f, "message does not encode: {e}"),
        }
    }
}

impl ErrorCode for SendError {
    fn code(&self) -> &'static str {
        match self {
            Self::Closed => "PEER_CLOSED",
            Self::NotReady => "PEER_NOT_READY",
            Self::Reserved(_) => "RESERVED_MESSAGE",
            Self::Encode(e) => e.code(),
        }
    }
}

impl std::error::Error for SendError {}
