//! BOLT 7 gossip messages: announcements, updates and the query protocol
//! (with the `gossip_queries_ex` TLVs: query flags, timestamps, checksums).
//!
//! Announcements and updates are signed over their exact bytes, including
//! any data after the fields lnwasm knows; that data is kept in
//! `excess_data` so re-encoding a decoded message reproduces it. Still,
//! verify signatures over the *received* bytes ([`ChannelAnnouncement::signed_part`]
//! and friends), since re-encoding normalizes e.g. feature vectors.

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{ecdsa::Signature, PublicKey};

use super::address::NetAddress;
use super::codec::{decode_exact, Reader, Writer};
use super::features::Features;
use super::ids::{ChannelId, NodeAlias};
use super::message::WireMessage;
use super::tlv::{decode_stream, ExtraTlvs, TlvBuilder};
use super::WireError;
use crate::types::{Msat, ShortChannelId};

/// `announcement_signatures` (type 259).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnouncementSignatures {
    pub channel_id: ChannelId,
    pub short_channel_id: ShortChannelId,
    pub node_signature: Signature,
    pub bitcoin_signature: Signature,
}

impl WireMessage for AnnouncementSignatures {
    const TYPE: u16 = 259;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.short_channel_id(self.short_channel_id);
        w.signature(&self.node_signature);
        w.signature(&self.bitcoin_signature);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AnnouncementSignatures {
            channel_id: ChannelId(r.array()?),
            short_channel_id: r.short_channel_id()?,
            node_signature: r.signature()?,
            bitcoin_signature: r.signature()?,
        })
    }
}

/// The bytes covered by the signatures of a raw (type-prefixed) message,
/// which start `offset` bytes into the payload.
fn after(raw: &[u8], offset: usize) -> Option<&[u8]> {
    raw.get(2 + offset..)
}

/// `channel_announcement` (type 256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelAnnouncement {
    pub node_signature_1: Signature,
    pub node_signature_2: Signature,
    pub bitcoin_signature_1: Signature,
    pub bitcoin_signature_2: Signature,
    pub features: Features,
    pub chain_hash: ChainHash,
    pub short_channel_id: ShortChannelId,
    /// The numerically lesser of the two node ids.
    pub node_id_1: PublicKey,
    pub node_id_2: PublicKey,
    pub bitcoin_key_1: PublicKey,
    pub bitcoin_key_2: PublicKey,
    /// Unknown trailing data (covered by the signatures).
    pub excess_data: Vec<u8>,
}

impl ChannelAnnouncement {
    /// In a raw `channel_announcement` (type included), the part the four
    /// signatures sign (its double-SHA256 is the signed digest).
    pub fn signed_part(raw: &[u8]) -> Option<&[u8]> {
        after(raw, 4 * 64)
    }
}

impl WireMessage for ChannelAnnouncement {
    const TYPE: u16 = 256;
    fn write_body(&self, w: &mut Writer) {
        w.signature(&self.node_signature_1);
        w.signature(&self.node_signature_2);
        w.signature(&self.bitcoin_signature_1);
        w.signature(&self.bitcoin_signature_2);
        w.u16_prefixed(&self.features.to_wire_bytes());
        w.chain_hash(&self.chain_hash);
        w.short_channel_id(self.short_channel_id);
        w.point(&self.node_id_1);
        w.point(&self.node_id_2);
        w.point(&self.bitcoin_key_1);
        w.point(&self.bitcoin_key_2);
        w.bytes(&self.excess_data);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ChannelAnnouncement {
            node_signature_1: r.signature()?,
            node_signature_2: r.signature()?,
            bitcoin_signature_1: r.signature()?,
            bitcoin_signature_2: r.signature()?,
            features: Features::from_wire_bytes(r.u16_prefixed()?),
            chain_hash: r.chain_hash()?,
            short_channel_id: r.short_channel_id()?,
            node_id_1: r.point()?,
            node_id_2: r.point()?,
            bitcoin_key_1: r.point()?,
            bitcoin_key_2: r.point()?,
            excess_data: r.rest().to_vec(),
        })
    }
}

/// `node_announcement` (type 257).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAnnouncement {
    pub signature: Signature,
    pub features: Features,
    pub timestamp: u32,
    pub node_id: PublicKey,
    pub rgb_color: [u8; 3],
    pub alias: NodeAlias,
    /// Address descriptors; one of unknown type ends the list (it and what
    /// follows are kept as [`NetAddress::Unknown`]).
    pub addresses: Vec<NetAddress>,
    /// Unknown trailing data (covered by the signature).
    pub excess_data: Vec<u8>,
}

impl NodeAnnouncement {
    /// In a raw `node_announcement` (type included), the signed part.
    pub fn signed_part(raw: &[u8]) -> Option<&[u8]> {
        after(raw, 64)
    }
}

impl WireMessage for NodeAnnouncement {
    const TYPE: u16 = 257;
    fn write_body(&self, w: &mut Writer) {
        w.signature(&self.signature);
        w.u16_prefixed(&self.features.to_wire_bytes());
        w.u32(self.timestamp);
        w.point(&self.node_id);
        w.bytes(&self.rgb_color);
        w.bytes(&self.alias.0);
        let addrs = w.sub(|aw| NetAddress::write_list(&self.addresses, aw));
        w.u16_prefixed(&addrs);
        w.bytes(&self.excess_data);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(NodeAnnouncement {
            signature: r.signature()?,
            features: Features::from_wire_bytes(r.u16_prefixed()?),
            timestamp: r.u32()?,
            node_id: r.point()?,
            rgb_color: r.array()?,
            alias: NodeAlias(r.array()?),
            addresses: NetAddress::read_list(r.u16_prefixed()?)?,
            excess_data: r.rest().to_vec(),
        })
    }
}

/// `message_flags` bit 0 of `channel_update`: `htlc_maximum_msat` present
/// (now always set).
pub const UPDATE_MESSAGE_FLAG_MUST_BE_ONE: u8 = 1;
/// `channel_flags` bit 0: the update is from `node_id_2`.
pub const UPDATE_CHANNEL_FLAG_DIRECTION: u8 = 1;
/// `channel_flags` bit 1: the channel is disabled.
pub const UPDATE_CHANNEL_FLAG_DISABLE: u8 = 2;

/// `channel_update` (type 258).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelUpdate {
    pub signature: Signature,
    pub chain_hash: ChainHash,
    pub short_channel_id: ShortChannelId,
    pub timestamp: u32,
    pub message_flags: u8,
    pub channel_flags: u8,
    pub cltv_expiry_delta: u16,
    pub htlc_minimum: Msat,
    pub fee_base_msat: u32,
    pub fee_proportional_millionths: u32,
    pub htlc_maximum: Msat,
    /// Unknown trailing data (covered by the signature).
    pub excess_data: Vec<u8>,
}

impl ChannelUpdate {
    /// In a raw `channel_update` (type included), the signed part.
    pub fn signed_part(raw: &[u8]) -> Option<&[u8]> {
        after(raw, 64)
    }
    /// 0 if the update is from `node_id_1`, 1 if from `node_id_2`.
    pub fn direction(&self) -> u8 {
        self.channel_flags & UPDATE_CHANNEL_FLAG_DIRECTION
    }
    pub fn is_disabled(&self) -> bool {
        self.channel_flags & UPDATE_CHANNEL_FLAG_DISABLE != 0
    }
}

impl WireMessage for ChannelUpdate {
    const TYPE: u16 = 258;
    fn write_body(&self, w: &mut Writer) {
        w.signature(&self.signature);
        w.chain_hash(&self.chain_hash);
        w.short_channel_id(self.short_channel_id);
        w.u32(self.timestamp);
        w.u8(self.message_flags);
        w.u8(self.channel_flags);
        w.u16(self.cltv_expiry_delta);
        w.u64(self.htlc_minimum.0);
        w.u32(self.fee_base_msat);
        w.u32(self.fee_proportional_millionths);
        w.u64(self.htlc_maximum.0);
        w.bytes(&self.excess_data);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ChannelUpdate {
            signature: r.signature()?,
            chain_hash: r.chain_hash()?,
            short_channel_id: r.short_channel_id()?,
            timestamp: r.u32()?,
            message_flags: r.u8()?,
            channel_flags: r.u8()?,
            cltv_expiry_delta: r.u16()?,
            htlc_minimum: Msat(r.u64()?),
            fee_base_msat: r.u32()?,
            fee_proportional_millionths: r.u32()?,
            htlc_maximum: Msat(r.u64()?),
            excess_data: r.rest().to_vec(),
        })
    }
}

/// An element of an encoded gossip-query list.
pub trait ListItem: Sized {
    fn read_item(r: &mut Reader<'_>) -> Result<Self, WireError>;
    fn write_item(&self, w: &mut Writer);
}

impl ListItem for ShortChannelId {
    fn read_item(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.short_channel_id()
    }
    fn write_item(&self, w: &mut Writer) {
        w.short_channel_id(*self);
    }
}

/// The pair of `channel_update` timestamps (one per direction) in
/// `reply_channel_range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UpdateTimestamps {
    pub node_1: u32,
    pub node_2: u32,
}

impl ListItem for UpdateTimestamps {
    fn read_item(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(UpdateTimestamps { node_1: r.u32()?, node_2: r.u32()? })
    }
    fn write_item(&self, w: &mut Writer) {
        w.u32(self.node_1);
        w.u32(self.node_2);
    }
}

/// The pair of `channel_update` checksums in `reply_channel_range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UpdateChecksums {
    pub node_1: u32,
    pub node_2: u32,
}

impl ListItem for UpdateChecksums {
    fn read_item(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(UpdateChecksums { node_1: r.u32()?, node_2: r.u32()? })
    }
    fn write_item(&self, w: &mut Writer) {
        w.u32(self.node_1);
        w.u32(self.node_2);
    }
}

/// Per-SCID query flags of `query_short_channel_ids` (a BigSize each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueryFlags(pub u64);

impl QueryFlags {
    pub const CHANNEL_ANNOUNCEMENT: u64 = 1;
    pub const CHANNEL_UPDATE_1: u64 = 2;
    pub const CHANNEL_UPDATE_2: u64 = 4;
    pub const NODE_ANNOUNCEMENT_1: u64 = 8;
    pub const NODE_ANNOUNCEMENT_2: u64 = 16;
}

impl ListItem for QueryFlags {
    fn read_item(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(QueryFlags(r.bigsize()?))
    }
    fn write_item(&self, w: &mut Writer) {
        w.bigsize(self.0);
    }
}

/// A list with its `encoding_type` byte: 0 uncompressed, or 1 zlib
/// (deprecated; kept raw, not inflated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodedList<T> {
    Uncompressed(Vec<T>),
    /// zlib-compressed bytes, as received.
    Zlib(Vec<u8>),
}

impl<T> Default for EncodedList<T> {
    fn default() -> Self {
        EncodedList::Uncompressed(Vec::new())
    }
}

impl<T: ListItem> EncodedList<T> {
    /// Parses `encoding_type || data`. An empty input is an empty list.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        if r.is_empty() {
            return Ok(EncodedList::Uncompressed(Vec::new()));
        }
        match r.u8()? {
            0 => {
                let mut items = Vec::new();
                while !r.is_empty() {
                    items.push(T::read_item(&mut r).map_err(|e| match e {
                        WireError::ShortRead => WireError::InvalidLength,
                        e => e,
                    })?);
                }
                Ok(EncodedList::Uncompressed(items))
            }
            1 => Ok(EncodedList::Zlib(r.rest().to_vec())),
            e => Err(WireError::UnknownEncoding(e)),
        }
    }

    /// `encoding_type || data`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            EncodedList::Uncompressed(items) => {
                w.u8(0);
                for i in items {
                    i.write_item(&mut w);
                }
            }
            EncodedList::Zlib(raw) => {
                w.u8(1);
                w.bytes(raw);
            }
        }
        // Item encodings are fixed-size or BigSize: they cannot fail.
        w.finish().unwrap_or_default()
    }

    /// The items, when not compressed.
    pub fn items(&self) -> Option<&[T]> {
        match self {
            EncodedList::Uncompressed(v) => Some(v),
            EncodedList::Zlib(_) => None,
        }
    }
}

/// `query_short_channel_ids` (type 261).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryShortChannelIds {
    pub chain_hash: ChainHash,
    pub short_channel_ids: EncodedList<ShortChannelId>,
    /// TLV 1 `query_flags`: one flag set per SCID.
    pub query_flags: Option<EncodedList<QueryFlags>>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for QueryShortChannelIds {
    const TYPE: u16 = 261;
    fn write_body(&self, w: &mut Writer) {
        w.chain_hash(&self.chain_hash);
        let ids = self.short_channel_ids.to_bytes();
        w.u16_prefixed(&ids);
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.query_flags.as_ref().map(EncodedList::to_bytes));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.chain_hash()?;
        let short_channel_ids = EncodedList::decode(r.u16_prefixed()?)?;
        let mut query_flags = None;
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            if typ != 1 {
                return Ok(false);
            }
            if v.is_empty() {
                return Err(WireError::InvalidLength);
            }
            query_flags = Some(EncodedList::decode(v)?);
            Ok(true)
        })?;
        Ok(QueryShortChannelIds { chain_hash, short_channel_ids, query_flags, extra_tlvs })
    }
}

/// `reply_short_channel_ids_end` (type 262).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyShortChannelIdsEnd {
    pub chain_hash: ChainHash,
    /// `false` if the sender lacks up-to-date information for this chain.
    pub full_information: bool,
}

impl WireMessage for ReplyShortChannelIdsEnd {
    const TYPE: u16 = 262;
    fn write_body(&self, w: &mut Writer) {
        w.chain_hash(&self.chain_hash);
        w.u8(u8::from(self.full_information));
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ReplyShortChannelIdsEnd { chain_hash: r.chain_hash()?, full_information: r.u8()? != 0 })
    }
}

/// `query_option` bit 0 of `query_channel_range`: send timestamps.
pub const QUERY_OPTION_WANT_TIMESTAMPS: u64 = 1;
/// `query_option` bit 1: send checksums.
pub const QUERY_OPTION_WANT_CHECKSUMS: u64 = 2;

/// `query_channel_range` (type 263).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryChannelRange {
    pub chain_hash: ChainHash,
    pub first_blocknum: u32,
    pub number_of_blocks: u32,
    /// TLV 1 `query_option` flags ([`QUERY_OPTION_WANT_TIMESTAMPS`], [`QUERY_OPTION_WANT_CHECKSUMS`]).
    pub query_option: Option<u64>,
    pub extra_tlvs: ExtraTlvs,
}

impl QueryChannelRange {
    /// The block after the range (saturating).
    pub fn end_blocknum(&self) -> u32 {
        self.first_blocknum.saturating_add(self.number_of_blocks)
    }
}

impl WireMessage for QueryChannelRange {
    const TYPE: u16 = 263;
    fn write_body(&self, w: &mut Writer) {
        w.chain_hash(&self.chain_hash);
        w.u32(self.first_blocknum);
        w.u32(self.number_of_blocks);
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.query_option.map(|q| w.sub(|qw| qw.bigsize(q))));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.chain_hash()?;
        let first_blocknum = r.u32()?;
        let number_of_blocks = r.u32()?;
        let mut query_option = None;
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            if typ != 1 {
                return Ok(false);
            }
            query_option = Some(decode_exact(v, |r| r.bigsize())?);
            Ok(true)
        })?;
        Ok(QueryChannelRange { chain_hash, first_blocknum, number_of_blocks, query_option, extra_tlvs })
    }
}

/// `reply_channel_range` (type 264).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyChannelRange {
    pub chain_hash: ChainHash,
    pub first_blocknum: u32,
    pub number_of_blocks: u32,
    /// `sync_complete`: `false` if the sender lacks up-to-date information.
    pub sync_complete: bool,
    pub short_channel_ids: EncodedList<ShortChannelId>,
    /// TLV 1 `timestamps_tlv`.
    pub timestamps: Option<EncodedList<UpdateTimestamps>>,
    /// TLV 3 `checksums_tlv`.
    pub checksums: Option<Vec<UpdateChecksums>>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for ReplyChannelRange {
    const TYPE: u16 = 264;
    fn write_body(&self, w: &mut Writer) {
        w.chain_hash(&self.chain_hash);
        w.u32(self.first_blocknum);
        w.u32(self.number_of_blocks);
        w.u8(u8::from(self.sync_complete));
        let ids = self.short_channel_ids.to_bytes();
        w.u16_prefixed(&ids);
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.timestamps.as_ref().map(EncodedList::to_bytes));
        t.add_opt(
            3,
            self.checksums.as_ref().map(|cs| {
                w.sub(|cw| {
                    for c in cs {
                        c.write_item(cw);
                    }
                })
            }),
        );
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.chain_hash()?;
        let first_blocknum = r.u32()?;
        let number_of_blocks = r.u32()?;
        let sync_complete = r.u8()? != 0;
        let short_channel_ids = EncodedList::decode(r.u16_prefixed()?)?;
        let (mut timestamps, mut checksums) = (None, None);
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            match typ {
                1 => {
                    if v.is_empty() {
                        return Err(WireError::InvalidLength);
                    }
                    timestamps = Some(EncodedList::decode(v)?);
                }
                3 => {
                    if v.len() % 8 != 0 {
                        return Err(WireError::InvalidLength);
                    }
                    let mut cr = Reader::new(v);
                    let mut list = Vec::with_capacity(v.len() / 8);
                    while !cr.is_empty() {
                        list.push(UpdateChecksums::read_item(&mut cr)?);
                    }
                    checksums = Some(list);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(ReplyChannelRange {
            chain_hash,
            first_blocknum,
            number_of_blocks,
            sync_complete,
            short_channel_ids,
            timestamps,
            checksums,
            extra_tlvs,
        })
    }
}

/// `gossip_timestamp_filter` (type 265).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipTimestampFilter {
    pub chain_hash: ChainHash,
    pub first_timestamp: u32,
    pub timestamp_range: u32,
}

impl WireMessage for GossipTimestampFilter {
    const TYPE: u16 = 265;
    fn write_body(&self, w: &mut Writer) {
        w.chain_hash(&self.chain_hash);
        w.u32(self.first_timestamp);
        w.u32(self.timestamp_range);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(GossipTimestampFilter {
            chain_hash: r.chain_hash()?,
            first_timestamp: r.u32()?,
            timestamp_range: r.u32()?,
        })
    }
}
