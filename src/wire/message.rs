//! The message layer: a `u16` type followed by the payload (BOLT 1).

use super::channel::*;
use super::codec::{Reader, Writer};
use super::gossip::*;
use super::setup::*;
use super::WireError;

/// Largest Lightning message (type included), bounded by BOLT 8 framing.
pub const MAX_MESSAGE_SIZE: usize = 65535;

/// A typed message with a fixed type number.
pub trait WireMessage: Sized {
    /// The BOLT message type.
    const TYPE: u16;

    /// Appends the payload (everything after the type).
    fn write_body(&self, w: &mut Writer);

    /// Parses the payload. Never panics; fails on truncated or invalid data.
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// The full message: type, then payload.
    fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.u16(Self::TYPE);
        self.write_body(&mut w);
        let out = w.finish()?;
        if out.len() > MAX_MESSAGE_SIZE {
            return Err(WireError::MessageTooLong);
        }
        Ok(out)
    }

    /// Parses a full message that must be of this type.
    fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        if r.u16()? != Self::TYPE {
            return Err(WireError::InvalidValue("unexpected message type"));
        }
        Self::read_body(&mut r)
    }
}

macro_rules! messages {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// Any message lnwasm understands, or an unknown odd one.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Message {
            $( $(#[$doc])* $variant($ty), )*
            /// A message of an unknown *odd* type, which BOLT 1 says to
            /// ignore. (Unknown even types are a decode error.)
            Unknown { msg_type: u16, payload: Vec<u8> },
        }

        impl Message {
            /// Parses one whole message (as delivered by the transport).
            ///
            /// Unknown odd types give [`Message::Unknown`]; unknown even
            /// types give [`WireError::UnknownEvenMessage`], upon which the
            /// connection must be closed.
            pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
                let mut r = Reader::new(bytes);
                let msg_type = r.u16()?;
                match msg_type {
                    $( <$ty>::TYPE => Ok(Message::$variant(<$ty>::read_body(&mut r)?)), )*
                    t if t % 2 == 1 => Ok(Message::Unknown { msg_type: t, payload: r.rest().to_vec() }),
                    t => Err(WireError::UnknownEvenMessage(t)),
                }
            }

            /// Serializes the message (type included).
            pub fn encode(&self) -> Result<Vec<u8>, WireError> {
                match self {
                    $( Message::$variant(m) => m.encode(), )*
                    Message::Unknown { msg_type, payload } => {
                        let mut w = Writer::new();
                        w.u16(*msg_type);
                        w.bytes(payload);
                        let out = w.finish()?;
                        if out.len() > MAX_MESSAGE_SIZE {
                            return Err(WireError::MessageTooLong);
                        }
                        Ok(out)
                    }
                }
            }

            /// The message type number.
            pub fn msg_type(&self) -> u16 {
                match self {
                    $( Message::$variant(_) => <$ty>::TYPE, )*
                    Message::Unknown { msg_type, .. } => *msg_type,
                }
            }

            /// The BOLT name of the message, e.g. `"update_add_htlc"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Message::$variant(_) => message_name(<$ty>::TYPE).unwrap_or("unknown"), )*
                    Message::Unknown { .. } => "unknown",
                }
            }
        }

        $(
            impl From<$ty> for Message {
                fn from(m: $ty) -> Message {
                    Message::$variant(m)
                }
            }
        )*
    };
}

messages! {
    Init(Init),
    Error(ErrorMessage),
    Warning(WarningMessage),
    Ping(Ping),
    Pong(Pong),
    OpenChannel(OpenChannel),
    AcceptChannel(AcceptChannel),
    FundingCreated(FundingCreated),
    FundingSigned(FundingSigned),
    ChannelReady(ChannelReady),
    Shutdown(Shutdown),
    ClosingSigned(ClosingSigned),
    UpdateAddHtlc(UpdateAddHtlc),
    UpdateFulfillHtlc(UpdateFulfillHtlc),
    UpdateFailHtlc(UpdateFailHtlc),
    UpdateFailMalformedHtlc(UpdateFailMalformedHtlc),
    CommitmentSigned(CommitmentSigned),
    RevokeAndAck(RevokeAndAck),
    UpdateFee(UpdateFee),
    ChannelReestablish(ChannelReestablish),
    ChannelAnnouncement(ChannelAnnouncement),
    NodeAnnouncement(NodeAnnouncement),
    ChannelUpdate(ChannelUpdate),
    AnnouncementSignatures(AnnouncementSignatures),
    QueryShortChannelIds(QueryShortChannelIds),
    ReplyShortChannelIdsEnd(ReplyShortChannelIdsEnd),
    QueryChannelRange(QueryChannelRange),
    ReplyChannelRange(ReplyChannelRange),
    GossipTimestampFilter(GossipTimestampFilter),
}

/// The BOLT name of a message type lnwasm knows.
pub fn message_name(msg_type: u16) -> Option<&'static str> {
    Some(match msg_type {
        1 => "warning",
        16 => "init",
        17 => "error",
        18 => "ping",
        19 => "pong",
        32 => "open_channel",
        33 => "accept_channel",
        34 => "funding_created",
        35 => "funding_signed",
        36 => "channel_ready",
        38 => "shutdown",
        39 => "closing_signed",
        128 => "update_add_htlc",
        130 => "update_fulfill_htlc",
        131 => "update_fail_htlc",
        132 => "commitment_signed",
        133 => "revoke_and_ack",
        134 => "update_fee",
        135 => "update_fail_malformed_htlc",
        136 => "channel_reestablish",
        256 => "channel_announcement",
        257 => "node_announcement",
        258 => "channel_update",
        259 => "announcement_signatures",
        261 => "query_short_channel_ids",
        262 => "reply_short_channel_ids_end",
        263 => "query_channel_range",
        264 => "reply_channel_range",
        265 => "gossip_timestamp_filter",
        _ => return None,
    })
}

/// The message type of raw bytes, if at least two bytes are present.
pub fn peek_type(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}
