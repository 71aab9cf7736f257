//! BOLT 2 peer protocol messages: channel establishment (v1), closing and
//! normal operation.
//!
//! Amounts use [`Sat`]/[`Msat`], keys use the role newtypes of
//! [`crate::keys`], so a field cannot be filled with the wrong kind of value.

use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa::Signature, PublicKey};
use bitcoin::{ScriptBuf, Txid};

use super::codec::{decode_exact, Reader, Writer};
use super::features::Features;
use super::ids::{ChannelId, OnionPacket, PaymentPreimage, ONION_PACKET_LEN};
use super::message::WireMessage;
use super::tlv::{decode_stream, ExtraTlvs, TlvBuilder};
use super::WireError;
use crate::keys::{
    ChannelPublicKeys, DelayedPaymentBasepoint, FundingPubkey, HtlcBasepoint, PaymentBasepoint,
    PerCommitmentPoint, PerCommitmentSecret, RevocationBasepoint,
};
use crate::types::{Msat, PaymentHash, Sat, ShortChannelId};

fn read_channel_keys(r: &mut Reader<'_>) -> Result<ChannelPublicKeys, WireError> {
    Ok(ChannelPublicKeys {
        funding_pubkey: FundingPubkey(r.point()?),
        revocation_basepoint: RevocationBasepoint(r.point()?),
        payment_basepoint: PaymentBasepoint(r.point()?),
        delayed_payment_basepoint: DelayedPaymentBasepoint(r.point()?),
        htlc_basepoint: HtlcBasepoint(r.point()?),
    })
}

fn write_channel_keys(w: &mut Writer, k: &ChannelPublicKeys) {
    w.point(&k.funding_pubkey.0);
    w.point(&k.revocation_basepoint.0);
    w.point(&k.payment_basepoint.0);
    w.point(&k.delayed_payment_basepoint.0);
    w.point(&k.htlc_basepoint.0);
}

fn channel_id(r: &mut Reader<'_>) -> Result<ChannelId, WireError> {
    Ok(ChannelId(r.array()?))
}

/// The TLVs shared by `open_channel` and `accept_channel`.
fn read_opening_tlvs(bytes: &[u8]) -> Result<(Option<ScriptBuf>, Option<Features>, ExtraTlvs), WireError> {
    let (mut script, mut channel_type) = (None, None);
    let extra = decode_stream(bytes, |typ, v| {
        match typ {
            0 => script = Some(ScriptBuf::from_bytes(v.to_vec())),
            1 => channel_type = Some(Features::from_wire_bytes(v)),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((script, channel_type, extra))
}

fn write_opening_tlvs(w: &mut Writer, script: &Option<ScriptBuf>, channel_type: &Option<Features>, extra: &ExtraTlvs) {
    let mut t = TlvBuilder::new();
    t.add_opt(0, script.as_ref().map(|s| s.as_bytes().to_vec()));
    t.add_opt(1, channel_type.as_ref().map(Features::to_wire_bytes));
    t.write(extra, w);
}

/// Bit 0 of `channel_flags` in `open_channel`: announce the channel.
pub const CHANNEL_FLAG_ANNOUNCE: u8 = 1;

/// `open_channel` (type 32).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenChannel {
    pub chain_hash: ChainHash,
    pub temporary_channel_id: ChannelId,
    pub funding: Sat,
    pub push: Msat,
    pub dust_limit: Sat,
    pub max_htlc_value_in_flight: Msat,
    pub channel_reserve: Sat,
    pub htlc_minimum: Msat,
    pub feerate_per_kw: u32,
    pub to_self_delay: u16,
    pub max_accepted_htlcs: u16,
    pub keys: ChannelPublicKeys,
    pub first_per_commitment_point: PerCommitmentPoint,
    pub channel_flags: u8,
    /// TLV 0: the script funds must go to on close (may be empty: "no commitment").
    pub upfront_shutdown_script: Option<ScriptBuf>,
    /// TLV 1: the channel type proposed.
    pub channel_type: Option<Features>,
    pub extra_tlvs: ExtraTlvs,
}

impl OpenChannel {
    /// Whether the funder wants the channel announced.
    pub fn announce_channel(&self) -> bool {
        self.channel_flags & CHANNEL_FLAG_ANNOUNCE != 0
    }
}

impl WireMessage for OpenChannel {
    const TYPE: u16 = 32;
    fn write_body(&self, w: &mut Writer) {
        w.chain_hash(&self.chain_hash);
        w.bytes(&self.temporary_channel_id.0);
        w.u64(self.funding.0);
        w.u64(self.push.0);
        w.u64(self.dust_limit.0);
        w.u64(self.max_htlc_value_in_flight.0);
        w.u64(self.channel_reserve.0);
        w.u64(self.htlc_minimum.0);
        w.u32(self.feerate_per_kw);
        w.u16(self.to_self_delay);
        w.u16(self.max_accepted_htlcs);
        write_channel_keys(w, &self.keys);
        w.point(&self.first_per_commitment_point.0);
        w.u8(self.channel_flags);
        write_opening_tlvs(w, &self.upfront_shutdown_script, &self.channel_type, &self.extra_tlvs);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.chain_hash()?;
        let temporary_channel_id = channel_id(r)?;
        let funding = Sat(r.u64()?);
        let push = Msat(r.u64()?);
        let dust_limit = Sat(r.u64()?);
        let max_htlc_value_in_flight = Msat(r.u64()?);
        let channel_reserve = Sat(r.u64()?);
        let htlc_minimum = Msat(r.u64()?);
        let feerate_per_kw = r.u32()?;
        let to_self_delay = r.u16()?;
        let max_accepted_htlcs = r.u16()?;
        let keys = read_channel_keys(r)?;
        let first_per_commitment_point = PerCommitmentPoint(r.point()?);
        let channel_flags = r.u8()?;
        let (upfront_shutdown_script, channel_type, extra_tlvs) = read_opening_tlvs(r.rest())?;
        Ok(OpenChannel {
            chain_hash,
            temporary_channel_id,
            funding,
            push,
            dust_limit,
            max_htlc_value_in_flight,
            channel_reserve,
            htlc_minimum,
            feerate_per_kw,
            to_self_delay,
            max_accepted_htlcs,
            keys,
            first_per_commitment_point,
            channel_flags,
            upfront_shutdown_script,
            channel_type,
            extra_tlvs,
        })
    }
}

/// `accept_channel` (type 33).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptChannel {
    pub temporary_channel_id: ChannelId,
    pub dust_limit: Sat,
    pub max_htlc_value_in_flight: Msat,
    pub channel_reserve: Sat,
    pub htlc_minimum: Msat,
    pub minimum_depth: u32,
    pub to_self_delay: u16,
    pub max_accepted_htlcs: u16,
    pub keys: ChannelPublicKeys,
    pub first_per_commitment_point: PerCommitmentPoint,
    /// TLV 0.
    pub upfront_shutdown_script: Option<ScriptBuf>,
    /// TLV 1: must equal the `channel_type` of `open_channel` when present.
    pub channel_type: Option<Features>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for AcceptChannel {
    const TYPE: u16 = 33;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.temporary_channel_id.0);
        w.u64(self.dust_limit.0);
        w.u64(self.max_htlc_value_in_flight.0);
        w.u64(self.channel_reserve.0);
        w.u64(self.htlc_minimum.0);
        w.u32(self.minimum_depth);
        w.u16(self.to_self_delay);
        w.u16(self.max_accepted_htlcs);
        write_channel_keys(w, &self.keys);
        w.point(&self.first_per_commitment_point.0);
        write_opening_tlvs(w, &self.upfront_shutdown_script, &self.channel_type, &self.extra_tlvs);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let temporary_channel_id = channel_id(r)?;
        let dust_limit = Sat(r.u64()?);
        let max_htlc_value_in_flight = Msat(r.u64()?);
        let channel_reserve = Sat(r.u64()?);
        let htlc_minimum = Msat(r.u64()?);
        let minimum_depth = r.u32()?;
        let to_self_delay = r.u16()?;
        let max_accepted_htlcs = r.u16()?;
        let keys = read_channel_keys(r)?;
        let first_per_commitment_point = PerCommitmentPoint(r.point()?);
        let (upfront_shutdown_script, channel_type, extra_tlvs) = read_opening_tlvs(r.rest())?;
        Ok(AcceptChannel {
            temporary_channel_id,
            dust_limit,
            max_htlc_value_in_flight,
            channel_reserve,
            htlc_minimum,
            minimum_depth,
            to_self_delay,
            max_accepted_htlcs,
            keys,
            first_per_commitment_point,
            upfront_shutdown_script,
            channel_type,
            extra_tlvs,
        })
    }
}

/// `funding_created` (type 34).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingCreated {
    pub temporary_channel_id: ChannelId,
    pub funding_txid: Txid,
    pub funding_output_index: u16,
    /// The funder's signature for the acceptor's first commitment.
    pub signature: Signature,
}

impl WireMessage for FundingCreated {
    const TYPE: u16 = 34;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.temporary_channel_id.0);
        w.txid(&self.funding_txid);
        w.u16(self.funding_output_index);
        w.signature(&self.signature);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(FundingCreated {
            temporary_channel_id: channel_id(r)?,
            funding_txid: r.txid()?,
            funding_output_index: r.u16()?,
            signature: r.signature()?,
        })
    }
}

/// `funding_signed` (type 35).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingSigned {
    pub channel_id: ChannelId,
    pub signature: Signature,
}

impl WireMessage for FundingSigned {
    const TYPE: u16 = 35;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.signature(&self.signature);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(FundingSigned { channel_id: channel_id(r)?, signature: r.signature()? })
    }
}

/// `channel_ready` (type 36).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelReady {
    pub channel_id: ChannelId,
    pub second_per_commitment_point: PerCommitmentPoint,
    /// TLV 1 `short_channel_id`: an alias to route through this channel.
    pub short_channel_id_alias: Option<ShortChannelId>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for ChannelReady {
    const TYPE: u16 = 36;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.point(&self.second_per_commitment_point.0);
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.short_channel_id_alias.map(|s| s.0.to_be_bytes().to_vec()));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let second_per_commitment_point = PerCommitmentPoint(r.point()?);
        let mut alias = None;
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            if typ != 1 {
                return Ok(false);
            }
            alias = Some(decode_exact(v, |r| r.short_channel_id())?);
            Ok(true)
        })?;
        Ok(ChannelReady { channel_id, second_per_commitment_point, short_channel_id_alias: alias, extra_tlvs })
    }
}

/// `shutdown` (type 38).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shutdown {
    pub channel_id: ChannelId,
    /// Where the sender's closing output pays.
    pub scriptpubkey: ScriptBuf,
}

impl WireMessage for Shutdown {
    const TYPE: u16 = 38;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u16_prefixed(self.scriptpubkey.as_bytes());
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Shutdown { channel_id: channel_id(r)?, scriptpubkey: ScriptBuf::from_bytes(r.u16_prefixed()?.to_vec()) })
    }
}

/// The `fee_range` TLV of `closing_signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosingFeeRange {
    pub min_fee: Sat,
    pub max_fee: Sat,
}

/// `closing_signed` (type 39).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosingSigned {
    pub channel_id: ChannelId,
    pub fee: Sat,
    pub signature: Signature,
    /// TLV 1 `fee_range`.
    pub fee_range: Option<ClosingFeeRange>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for ClosingSigned {
    const TYPE: u16 = 39;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u64(self.fee.0);
        w.signature(&self.signature);
        let mut t = TlvBuilder::new();
        t.add_opt(
            1,
            self.fee_range.map(|f| {
                let mut v = f.min_fee.0.to_be_bytes().to_vec();
                v.extend_from_slice(&f.max_fee.0.to_be_bytes());
                v
            }),
        );
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let fee = Sat(r.u64()?);
        let signature = r.signature()?;
        let mut fee_range = None;
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            if typ != 1 {
                return Ok(false);
            }
            fee_range = Some(decode_exact(v, |r| Ok(ClosingFeeRange { min_fee: Sat(r.u64()?), max_fee: Sat(r.u64()?) }))?);
            Ok(true)
        })?;
        Ok(ClosingSigned { channel_id, fee, signature, fee_range, extra_tlvs })
    }
}

/// `update_add_htlc` (type 128).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateAddHtlc {
    pub channel_id: ChannelId,
    /// The HTLC id: increments by one per HTLC offered by this sender.
    pub id: u64,
    pub amount: Msat,
    pub payment_hash: PaymentHash,
    /// Absolute block height.
    pub cltv_expiry: u32,
    pub onion_routing_packet: OnionPacket,
    /// TLV 0 `blinded_path.path_key` (formerly `blinding_point`), set when the
    /// HTLC travels inside a blinded route.
    pub blinding_point: Option<PublicKey>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for UpdateAddHtlc {
    const TYPE: u16 = 128;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u64(self.id);
        w.u64(self.amount.0);
        w.bytes(&self.payment_hash.0);
        w.u32(self.cltv_expiry);
        w.bytes(&self.onion_routing_packet.0[..]);
        let mut t = TlvBuilder::new();
        t.add_opt(0, self.blinding_point.map(|p| p.serialize().to_vec()));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let id = r.u64()?;
        let amount = Msat(r.u64()?);
        let payment_hash = PaymentHash(r.array()?);
        let cltv_expiry = r.u32()?;
        let onion = r.bytes(ONION_PACKET_LEN)?;
        let mut packet = Box::new([0u8; ONION_PACKET_LEN]);
        packet.copy_from_slice(onion);
        let mut blinding_point = None;
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            if typ != 0 {
                return Ok(false);
            }
            blinding_point = Some(decode_exact(v, |r| r.point())?);
            Ok(true)
        })?;
        Ok(UpdateAddHtlc {
            channel_id,
            id,
            amount,
            payment_hash,
            cltv_expiry,
            onion_routing_packet: OnionPacket(packet),
            blinding_point,
            extra_tlvs,
        })
    }
}

/// `update_fulfill_htlc` (type 130). Attribution data (TLV 1), when
/// present, is kept in `extra_tlvs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFulfillHtlc {
    pub channel_id: ChannelId,
    pub id: u64,
    pub payment_preimage: PaymentPreimage,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for UpdateFulfillHtlc {
    const TYPE: u16 = 130;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u64(self.id);
        w.bytes(&self.payment_preimage.0);
        TlvBuilder::new().write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let id = r.u64()?;
        let payment_preimage = PaymentPreimage(r.array()?);
        let extra_tlvs = decode_stream(r.rest(), |_, _| Ok(false))?;
        Ok(UpdateFulfillHtlc { channel_id, id, payment_preimage, extra_tlvs })
    }
}

/// `update_fail_htlc` (type 131). Attribution data (TLV 1), when present,
/// is kept in `extra_tlvs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFailHtlc {
    pub channel_id: ChannelId,
    pub id: u64,
    /// The encrypted BOLT 4 failure onion.
    pub reason: Vec<u8>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for UpdateFailHtlc {
    const TYPE: u16 = 131;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u64(self.id);
        w.u16_prefixed(&self.reason);
        TlvBuilder::new().write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let id = r.u64()?;
        let reason = r.u16_prefixed()?.to_vec();
        let extra_tlvs = decode_stream(r.rest(), |_, _| Ok(false))?;
        Ok(UpdateFailHtlc { channel_id, id, reason, extra_tlvs })
    }
}

/// The `BADONION` bit that `failure_code` of `update_fail_malformed_htlc` must carry.
pub const FAILURE_CODE_BADONION: u16 = 0x8000;

/// `update_fail_malformed_htlc` (type 135).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFailMalformedHtlc {
    pub channel_id: ChannelId,
    pub id: u64,
    pub sha256_of_onion: [u8; 32],
    pub failure_code: u16,
}

impl WireMessage for UpdateFailMalformedHtlc {
    const TYPE: u16 = 135;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u64(self.id);
        w.bytes(&self.sha256_of_onion);
        w.u16(self.failure_code);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(UpdateFailMalformedHtlc {
            channel_id: channel_id(r)?,
            id: r.u64()?,
            sha256_of_onion: r.array()?,
            failure_code: r.u16()?,
        })
    }
}

/// `commitment_signed` (type 132).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentSigned {
    pub channel_id: ChannelId,
    pub signature: Signature,
    /// One signature per non-dust HTLC output, in output order.
    pub htlc_signatures: Vec<Signature>,
    /// TLV 1 `funding_txid` (splicing: which funding this signs for).
    pub funding_txid: Option<Txid>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for CommitmentSigned {
    const TYPE: u16 = 132;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.signature(&self.signature);
        match u16::try_from(self.htlc_signatures.len()) {
            Ok(n) => w.u16(n),
            Err(_) => w.fail(WireError::FieldTooLong),
        }
        for s in &self.htlc_signatures {
            w.signature(s);
        }
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.funding_txid.map(|t| t.to_byte_array().to_vec()));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let signature = r.signature()?;
        let n = usize::from(r.u16()?);
        // Check the whole array is present before allocating for it.
        if n * 64 > r.remaining() {
            return Err(WireError::ShortRead);
        }
        let mut htlc_signatures = Vec::with_capacity(n);
        for _ in 0..n {
            htlc_signatures.push(r.signature()?);
        }
        let mut funding_txid = None;
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            if typ != 1 {
                return Ok(false);
            }
            funding_txid = Some(decode_exact(v, |r| r.txid())?);
            Ok(true)
        })?;
        Ok(CommitmentSigned { channel_id, signature, htlc_signatures, funding_txid, extra_tlvs })
    }
}

/// `revoke_and_ack` (type 133).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeAndAck {
    pub channel_id: ChannelId,
    /// Revokes the sender's previous commitment.
    pub per_commitment_secret: PerCommitmentSecret,
    pub next_per_commitment_point: PerCommitmentPoint,
}

impl WireMessage for RevokeAndAck {
    const TYPE: u16 = 133;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.bytes(&self.per_commitment_secret.0);
        w.point(&self.next_per_commitment_point.0);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(RevokeAndAck {
            channel_id: channel_id(r)?,
            per_commitment_secret: PerCommitmentSecret(r.array()?),
            next_per_commitment_point: PerCommitmentPoint(r.point()?),
        })
    }
}

/// `update_fee` (type 134).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFee {
    pub channel_id: ChannelId,
    pub feerate_per_kw: u32,
}

impl WireMessage for UpdateFee {
    const TYPE: u16 = 134;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u32(self.feerate_per_kw);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(UpdateFee { channel_id: channel_id(r)?, feerate_per_kw: r.u32()? })
    }
}

/// A funding transaction reference with retransmission flags
/// (`next_funding` / `my_current_funding_locked` of `channel_reestablish`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundingRetransmit {
    pub txid: Txid,
    /// Bit 0: retransmit `commitment_signed` (for `next_funding`) or
    /// `announcement_signatures` (for `my_current_funding_locked`).
    pub retransmit_flags: u8,
}

impl FundingRetransmit {
    fn to_bytes(self) -> Vec<u8> {
        let mut v = self.txid.to_byte_array().to_vec();
        v.push(self.retransmit_flags);
        v
    }
    fn read(v: &[u8]) -> Result<Self, WireError> {
        decode_exact(v, |r| Ok(FundingRetransmit { txid: r.txid()?, retransmit_flags: r.u8()? }))
    }
}

/// `channel_reestablish` (type 136).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelReestablish {
    pub channel_id: ChannelId,
    pub next_commitment_number: u64,
    pub next_revocation_number: u64,
    /// Proves the sender's state (`option_data_loss_protect`); all zeroes
    /// if no secret was received yet.
    pub your_last_per_commitment_secret: PerCommitmentSecret,
    pub my_current_per_commitment_point: PerCommitmentPoint,
    /// TLV 1 `next_funding`.
    pub next_funding: Option<FundingRetransmit>,
    /// TLV 5 `my_current_funding_locked`.
    pub my_current_funding_locked: Option<FundingRetransmit>,
    pub extra_tlvs: ExtraTlvs,
}

impl WireMessage for ChannelReestablish {
    const TYPE: u16 = 136;
    fn write_body(&self, w: &mut Writer) {
        w.bytes(&self.channel_id.0);
        w.u64(self.next_commitment_number);
        w.u64(self.next_revocation_number);
        w.bytes(&self.your_last_per_commitment_secret.0);
        w.point(&self.my_current_per_commitment_point.0);
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.next_funding.map(FundingRetransmit::to_bytes));
        t.add_opt(5, self.my_current_funding_locked.map(FundingRetransmit::to_bytes));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = channel_id(r)?;
        let next_commitment_number = r.u64()?;
        let next_revocation_number = r.u64()?;
        let your_last_per_commitment_secret = PerCommitmentSecret(r.array()?);
        let my_current_per_commitment_point = PerCommitmentPoint(r.point()?);
        let (mut next_funding, mut locked) = (None, None);
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            match typ {
                1 => next_funding = Some(FundingRetransmit::read(v)?),
                5 => locked = Some(FundingRetransmit::read(v)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(ChannelReestablish {
            channel_id,
            next_commitment_number,
            next_revocation_number,
            your_last_per_commitment_secret,
            my_current_per_commitment_point,
            next_funding,
            my_current_funding_locked: locked,
            extra_tlvs,
        })
    }
}
