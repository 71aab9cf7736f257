//! Failure messages (BOLT 4 "Failure Messages") and the returned error
//! packet (BOLT 4 "Returning Errors"): created by the erring node, wrapped
//! by every hop on the way back, unwrapped and attributed by the sender.

use core::fmt;

use super::crypto::{apply_stream, ct_eq, hmac_sha256, sha256, KeyType, SharedSecret};
use crate::types::Msat;
use crate::wire::codec::{Reader, Writer};
use crate::wire::tlv::decode_stream;
use crate::wire::{ExtraTlvs, OnionPacket, WireError};

/// Unparsable onion encrypted by the sending peer.
pub const BADONION: u16 = 0x8000;
/// Permanent failure (otherwise transient).
pub const PERM: u16 = 0x4000;
/// Node failure (otherwise channel).
pub const NODE: u16 = 0x2000;
/// A channel forwarding parameter was violated.
pub const UPDATE: u16 = 0x1000;

/// SHA256 of a whole onion packet, as carried by BADONION failures.
pub fn sha256_of_onion(onion: &OnionPacket) -> [u8; 32] {
    sha256(&[&onion.0[..]])
}

/// Every failure of BOLT 4, with its data. `channel_update` fields hold the
/// raw message bytes as received (possibly empty, possibly starting with
/// the 0x0102 type); [`FailureMessage::channel_update`] parses them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureMessage {
    /// PERM|1 (retired realm byte check).
    InvalidRealm,
    /// NODE|2
    TemporaryNodeFailure,
    /// PERM|NODE|2
    PermanentNodeFailure,
    /// PERM|NODE|3
    RequiredNodeFeatureMissing,
    /// BADONION|PERM|4
    InvalidOnionVersion { sha256_of_onion: [u8; 32] },
    /// BADONION|PERM|5
    InvalidOnionHmac { sha256_of_onion: [u8; 32] },
    /// BADONION|PERM|6
    InvalidOnionKey { sha256_of_onion: [u8; 32] },
    /// UPDATE|7
    TemporaryChannelFailure { channel_update: Vec<u8> },
    /// PERM|8
    PermanentChannelFailure,
    /// PERM|9
    RequiredChannelFeatureMissing,
    /// PERM|10
    UnknownNextPeer,
    /// UPDATE|11
    AmountBelowMinimum {
        htlc_msat: Msat,
        channel_update: Vec<u8>,
    },
    /// UPDATE|12
    FeeInsufficient {
        htlc_msat: Msat,
        channel_update: Vec<u8>,
    },
    /// UPDATE|13
    IncorrectCltvExpiry {
        cltv_expiry: u32,
        channel_update: Vec<u8>,
    },
    /// UPDATE|14
    ExpiryTooSoon { channel_update: Vec<u8> },
    /// PERM|15
    IncorrectOrUnknownPaymentDetails { htlc_msat: Msat, height: u32 },
    /// 18
    FinalIncorrectCltvExpiry { cltv_expiry: u32 },
    /// 19
    FinalIncorrectHtlcAmount { incoming_htlc_amt: Msat },
    /// UPDATE|20
    ChannelDisabled {
        disabled_flags: u16,
        channel_update: Vec<u8>,
    },
    /// 21
    ExpiryTooFar,
    /// PERM|22
    InvalidOnionPayload { typ: u64, offset: u16 },
    /// 23
    MppTimeout,
    /// BADONION|PERM|24
    InvalidOnionBlinding { sha256_of_onion: [u8; 32] },
    /// A code this implementation does not know, with its raw data.
    Unknown { code: u16, data: Vec<u8> },
}

/// The BOLT 4 name of a failure code, upper-case (`0x400f` is
/// `"INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS"`); `"UNKNOWN_FAILURE"` for a
/// code BOLT 4 does not define. These are the `error.code`s of failed
/// payments.
pub fn failure_name(code: u16) -> &'static str {
    match code {
        c if c == PERM | 1 => "INVALID_REALM",
        c if c == NODE | 2 => "TEMPORARY_NODE_FAILURE",
        c if c == PERM | NODE | 2 => "PERMANENT_NODE_FAILURE",
        c if c == PERM | NODE | 3 => "REQUIRED_NODE_FEATURE_MISSING",
        c if c == BADONION | PERM | 4 => "INVALID_ONION_VERSION",
        c if c == BADONION | PERM | 5 => "INVALID_ONION_HMAC",
        c if c == BADONION | PERM | 6 => "INVALID_ONION_KEY",
        c if c == UPDATE | 7 => "TEMPORARY_CHANNEL_FAILURE",
        c if c == PERM | 8 => "PERMANENT_CHANNEL_FAILURE",
        c if c == PERM | 9 => "REQUIRED_CHANNEL_FEATURE_MISSING",
        c if c == PERM | 10 => "UNKNOWN_NEXT_PEER",
        c if c == UPDATE | 11 => "AMOUNT_BELOW_MINIMUM",
        c if c == UPDATE | 12 => "FEE_INSUFFICIENT",
        c if c == UPDATE | 13 => "INCORRECT_CLTV_EXPIRY",
        c if c == UPDATE | 14 => "EXPIRY_TOO_SOON",
        c if c == PERM | 15 => "INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS",
        18 => "FINAL_INCORRECT_CLTV_EXPIRY",
        19 => "FINAL_INCORRECT_HTLC_AMOUNT",
        c if c == UPDATE | 20 => "CHANNEL_DISABLED",
        21 => "EXPIRY_TOO_FAR",
        c if c == PERM | 22 => "INVALID_ONION_PAYLOAD",
        23 => "MPP_TIMEOUT",
        c if c == BADONION | PERM | 24 => "INVALID_ONION_BLINDING",
        _ => "UNKNOWN_FAILURE",
    }
}

/// A failure message that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureDecodeError {
    /// Shorter than its code or its code's fields.
    Truncated,
    /// The trailing TLV stream is malformed.
    BadTlv(WireError),
}

impl fmt::Display for FailureDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("failure message is truncated"),
            Self::BadTlv(e) => write!(f, "failure message TLV stream: {e}"),
        }
    }
}

impl crate::error::ErrorCode for FailureDecodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Truncated => "FAILURE_TRUNCATED",
            Self::BadTlv(_) => "FAILURE_BAD_TLV",
        }
    }
}

impl FailureMessage {
    /// The `failure_code`.
    pub fn code(&self) -> u16 {
        use FailureMessage::*;
        match self {
            InvalidRealm => PERM | 1,
            TemporaryNodeFailure => NODE | 2,
            PermanentNodeFailure => PERM | NODE | 2,
            RequiredNodeFeatureMissing => PERM | NODE | 3,
            InvalidOnionVersion { .. } => BADONION | PERM | 4,
            InvalidOnionHmac { .. } => BADONION | PERM | 5,
            InvalidOnionKey { .. } => BADONION | PERM | 6,
            TemporaryChannelFailure { .. } => UPDATE | 7,
            PermanentChannelFailure => PERM | 8,
            RequiredChannelFeatureMissing => PERM | 9,
            UnknownNextPeer => PERM | 10,
            AmountBelowMinimum { .. } => UPDATE | 11,
            FeeInsufficient { .. } => UPDATE | 12,
            IncorrectCltvExpiry { .. } => UPDATE | 13,
            ExpiryTooSoon { .. } => UPDATE | 14,
            IncorrectOrUnknownPaymentDetails { .. } => PERM | 15,
            FinalIncorrectCltvExpiry { .. } => 18,
            FinalIncorrectHtlcAmount { .. } => 19,
            ChannelDisabled { .. } => UPDATE | 20,
            ExpiryTooFar => 21,
            InvalidOnionPayload { .. } => PERM | 22,
            MppTimeout => 23,
            InvalidOnionBlinding { .. } => BADONION | PERM | 24,
            Unknown { code, .. } => *code,
        }
    }

    /// PERM flag: retrying the same route will not help.
    pub fn is_permanent(&self) -> bool {
        self.code() & PERM != 0
    }

    /// NODE flag: the failure is of the node, not of a channel.
    pub fn is_node(&self) -> bool {
        self.code() & NODE != 0
    }

    /// The raw `channel_update` carried by an UPDATE failure.
    pub fn channel_update_bytes(&self) -> Option<&[u8]> {
        use FailureMessage::*;
        match self {
            TemporaryChannelFailure { channel_update }
            | AmountBelowMinimum { channel_update, .. }
            | FeeInsufficient { channel_update, .. }
            | IncorrectCltvExpiry { channel_update, .. }
            | ExpiryTooSoon { channel_update }
            | ChannelDisabled { channel_update, .. } => Some(channel_update),
            _ => None,
        }
    }

    /// The parsed `channel_update` of an UPDATE failure, if present and
    /// valid (with or without its 0x0102 type prefix).
    pub fn channel_update(&self) -> Option<crate::wire::ChannelUpdate> {
        use crate::wire::{ChannelUpdate, WireMessage};
        let b = self.channel_update_bytes()?;
        if b.is_empty() {
            return None;
        }
        if b.starts_with(&ChannelUpdate::TYPE.to_be_bytes()) {
            if let Ok(u) = ChannelUpdate::decode(b) {
                return Some(u);
            }
        }
        ChannelUpdate::read_body(&mut Reader::new(b)).ok()
    }

    /// `failure_code || data`, without a TLV extension.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with_tlvs(&ExtraTlvs::default())
    }

    /// `failure_code || data || tlv_stream`.
    pub fn encode_with_tlvs(&self, tlvs: &ExtraTlvs) -> Vec<u8> {
        use FailureMessage::*;
        let mut w = Writer::new();
        w.u16(self.code());
        let cu = |w: &mut Writer, u: &[u8]| {
            // A channel_update longer than u16 cannot be sent; send none.
            if u.len() > u16::MAX as usize {
                w.u16(0);
            } else {
                w.u16_prefixed(u);
            }
        };
        match self {
            InvalidOnionVersion { sha256_of_onion }
            | InvalidOnionHmac { sha256_of_onion }
            | InvalidOnionKey { sha256_of_onion }
            | InvalidOnionBlinding { sha256_of_onion } => w.bytes(sha256_of_onion),
            TemporaryChannelFailure { channel_update } | ExpiryTooSoon { channel_update } => {
                cu(&mut w, channel_update)
            }
            AmountBelowMinimum {
                htlc_msat,
                channel_update,
            }
            | FeeInsufficient {
                htlc_msat,
                channel_update,
            } => {
                w.u64(htlc_msat.0);
                cu(&mut w, channel_update);
            }
            IncorrectCltvExpiry {
                cltv_expiry,
                channel_update,
            } => {
                w.u32(*cltv_expiry);
                cu(&mut w, channel_update);
            }
            IncorrectOrUnknownPaymentDetails { htlc_msat, height } => {
                w.u64(htlc_msat.0);
                w.u32(*height);
            }
            FinalIncorrectCltvExpiry { cltv_expiry } => w.u32(*cltv_expiry),
            FinalIncorrectHtlcAmount { incoming_htlc_amt } => w.u64(incoming_htlc_amt.0),
            ChannelDisabled {
                disabled_flags,
                channel_update,
            } => {
                w.u16(*disabled_flags);
                cu(&mut w, channel_update);
            }
            InvalidOnionPayload { typ, offset } => {
                w.bigsize(*typ);
                w.u16(*offset);
            }
            Unknown { data, .. } => w.bytes(data),
            InvalidRealm
            | TemporaryNodeFailure
            | PermanentNodeFailure
            | RequiredNodeFeatureMissing
            | PermanentChannelFailure
            | RequiredChannelFeatureMissing
            | UnknownNextPeer
            | ExpiryTooFar
            | MppTimeout => {}
        }
        let mut out = w.finish().unwrap_or_default();
        for (t, v) in &tlvs.0 {
            let mut tw = Writer::new();
            tw.tlv(*t, v);
            out.extend(tw.finish().unwrap_or_default());
        }
        out
    }

    /// Parses `failure_code || data`, ignoring any valid TLV extension.
    pub fn decode(bytes: &[u8]) -> Result<Self, FailureDecodeError> {
        Ok(Self::decode_with_tlvs(bytes)?.0)
    }

    /// Parses `failure_code || data || tlv_stream`. An unknown code keeps
    /// everything after the code as its data.
    pub fn decode_with_tlvs(bytes: &[u8]) -> Result<(Self, ExtraTlvs), FailureDecodeError> {
        use FailureMessage::*;
        let mut r = Reader::new(bytes);
        let t = |_| FailureDecodeError::Truncated;
        let code = r.u16().map_err(t)?;
        let cu = |r: &mut Reader<'_>| -> Result<Vec<u8>, FailureDecodeError> {
            Ok(r.u16_prefixed().map_err(t)?.to_vec())
        };
        let sha =
            |r: &mut Reader<'_>| -> Result<[u8; 32], FailureDecodeError> { r.array().map_err(t) };
        let msg = match code {
            c if c == PERM | 1 => InvalidRealm,
            c if c == NODE | 2 => TemporaryNodeFailure,
            c if c == PERM | NODE | 2 => PermanentNodeFailure,
            c if c == PERM | NODE | 3 => RequiredNodeFeatureMissing,
            c if c == BADONION | PERM | 4 => InvalidOnionVersion {
                sha256_of_onion: sha(&mut r)?,
            },
            c if c == BADONION | PERM | 5 => InvalidOnionHmac {
                sha256_of_onion: sha(&mut r)?,
            },
            c if c == BADONION | PERM | 6 => InvalidOnionKey {
                sha256_of_onion: sha(&mut r)?,
            },
            c if c == UPDATE | 7 => TemporaryChannelFailure {
                channel_update: cu(&mut r)?,
            },
            c if c == PERM | 8 => PermanentChannelFailure,
            c if c == PERM | 9 => RequiredChannelFeatureMissing,
            c if c == PERM | 10 => UnknownNextPeer,
            c if c == UPDATE | 11 => AmountBelowMinimum {
                htlc_msat: Msat(r.u64().map_err(t)?),
                channel_update: cu(&mut r)?,
            },
            c if c == UPDATE | 12 => FeeInsufficient {
                htlc_msat: Msat(r.u64().map_err(t)?),
                channel_update: cu(&mut r)?,
            },
            c if c == UPDATE | 13 => IncorrectCltvExpiry {
                cltv_expiry: r.u32().map_err(t)?,
                channel_update: cu(&mut r)?,
            },
            c if c == UPDATE | 14 => ExpiryTooSoon {
                channel_update: cu(&mut r)?,
            },
            c if c == PERM | 15 => IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(r.u64().map_err(t)?),
                height: r.u32().map_err(t)?,
            },
            18 => FinalIncorrectCltvExpiry {
                cltv_expiry: r.u32().map_err(t)?,
            },
            19 => FinalIncorrectHtlcAmount {
                incoming_htlc_amt: Msat(r.u64().map_err(t)?),
            },
            c if c == UPDATE | 20 => ChannelDisabled {
                disabled_flags: r.u16().map_err(t)?,
                channel_update: cu(&mut r)?,
            },
            21 => ExpiryTooFar,
            c if c == PERM | 22 => InvalidOnionPayload {
                typ: r.bigsize().map_err(t)?,
                offset: r.u16().map_err(t)?,
            },
            23 => MppTimeout,
            c if c == BADONION | PERM | 24 => InvalidOnionBlinding {
                sha256_of_onion: sha(&mut r)?,
            },
            code => {
                return Ok((
                    Unknown {
                        code,
                        data: r.rest().to_vec(),
                    },
                    ExtraTlvs::default(),
                ))
            }
        };
        let tlvs = decode_stream(r.rest(), |_, _| Ok(false)).map_err(FailureDecodeError::BadTlv)?;
        Ok((msg, tlvs))
    }
}

/// The default total of `failure_len + pad_len` (BOLT 4: SHOULD be 256).
pub const FAILURE_PAD_LEN: usize = 256;

/// The `reason` of `update_fail_htlc`: a return packet, obfuscated once per
/// hop it has crossed.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorPacket(pub Vec<u8>);

impl fmt::Debug for ErrorPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorPacket({} bytes)", self.0.len())
    }
}

impl ErrorPacket {
    /// The erring node: builds and obfuscates the return packet for
    /// `failure` with the secret it shares with the sender, padded so that
    /// `failure_len + pad_len` is 256.
    pub fn create(shared_secret: &SharedSecret, failure: &FailureMessage) -> Self {
        Self::create_raw(shared_secret, &failure.encode(), FAILURE_PAD_LEN)
    }

    /// As [`ErrorPacket::create`] with an already encoded `failuremsg`,
    /// padded so that `failure_len + pad_len` is at least `pad_to`.
    pub fn create_raw(shared_secret: &SharedSecret, failuremsg: &[u8], pad_to: usize) -> Self {
        let mut p = Self::unobfuscated(shared_secret, failuremsg, pad_to);
        apply_stream(&shared_secret.key(KeyType::Ammag), &mut p);
        Self(p)
    }

    /// `hmac || failure_len || failuremsg || pad_len || pad` before
    /// obfuscation (exposed for test vectors).
    pub fn unobfuscated(shared_secret: &SharedSecret, failuremsg: &[u8], pad_to: usize) -> Vec<u8> {
        // failuremsg comes from our own encoder; clamp rather than panic.
        let msg = &failuremsg[..failuremsg.len().min(u16::MAX as usize)];
        let pad_len = pad_to.saturating_sub(msg.len()).min(u16::MAX as usize);
        let mut body = Vec::with_capacity(4 + msg.len() + pad_len);
        body.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        body.extend_from_slice(msg);
        body.extend_from_slice(&(pad_len as u16).to_be_bytes());
        body.resize(body.len() + pad_len, 0);
        let hmac = hmac_sha256(&shared_secret.key(KeyType::Um), &[&body]);
        let mut out = hmac.to_vec();
        out.extend(body);
        out
    }

    /// An intermediate node: obfuscates the packet coming back from
    /// downstream once more with the secret it shares with the sender.
    pub fn wrap(&self, shared_secret: &SharedSecret) -> Self {
        let mut p = self.0.clone();
        apply_stream(&shared_secret.key(KeyType::Ammag), &mut p);
        Self(p)
    }

    /// The sender: removes the layers hop by hop with the route's shared
    /// secrets (route order) until a hop's `um` HMAC matches, and parses
    /// that hop's message.
    pub fn decode(
        &self,
        shared_secrets: &[SharedSecret],
    ) -> Result<DecodedFailure, UnattributableError> {
        let mut p = self.0.clone();
        for (i, ss) in shared_secrets.iter().enumerate() {
            apply_stream(&ss.key(KeyType::Ammag), &mut p);
            if p.len() < 32 + 4 {
                continue;
            }
            let mac = hmac_sha256(&ss.key(KeyType::Um), &[&p[32..]]);
            if !ct_eq(&mac, &p[..32]) {
                continue;
            }
            let mut r = Reader::new(&p[32..]);
            let raw = r.u16_prefixed().map(|m| m.to_vec());
            let pad_ok = r.u16_prefixed().is_ok_and(|_| r.is_empty());
            return Ok(match raw {
                Ok(raw) if pad_ok => DecodedFailure {
                    hop_index: i,
                    message: FailureMessage::decode(&raw).ok(),
                    raw,
                },
                _ => DecodedFailure {
                    hop_index: i,
                    raw: Vec::new(),
                    message: None,
                },
            });
        }
        Err(UnattributableError)
    }
}

/// A returned error attributed to a hop of the route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedFailure {
    /// Index in the route of the node that created the error (0 = the
    /// first hop after the sender).
    pub hop_index: usize,
    /// The `failuremsg` bytes (empty if the authenticated packet had a bad
    /// layout).
    pub raw: Vec<u8>,
    /// The parsed message, `None` if `raw` does not parse.
    pub message: Option<FailureMessage>,
}

/// No hop's HMAC matched: the packet was corrupted somewhere on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnattributableError;

impl fmt::Display for UnattributableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("returned error matches no hop of the route")
    }
}

impl crate::error::ErrorCode for UnattributableError {
    fn code(&self) -> &'static str {
        "ONION_ERROR_UNATTRIBUTABLE"
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn failure_names() {
        assert_eq!(failure_name(0x400f), "INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS");
        assert_eq!(failure_name(0x100c), "FEE_INSUFFICIENT");
        assert_eq!(failure_name(0x1007), "TEMPORARY_CHANNEL_FAILURE");
        assert_eq!(failure_name(0xc005), "INVALID_ONION_HMAC");
        assert_eq!(failure_name(0x2002), "TEMPORARY_NODE_FAILURE");
        assert_eq!(failure_name(0x6002), "PERMANENT_NODE_FAILURE");
        assert_eq!(failure_name(18), "FINAL_INCORRECT_CLTV_EXPIRY");
        assert_eq!(failure_name(23), "MPP_TIMEOUT");
        assert_eq!(failure_name(0x0f), "UNKNOWN_FAILURE");
        assert_eq!(failure_name(0x400f | 0x1000), "UNKNOWN_FAILURE");
        // Every code BOLT 4 defines has its own name.
        let h = vec![];
        let all = [
            FailureMessage::InvalidRealm,
            FailureMessage::TemporaryNodeFailure,
            FailureMessage::PermanentNodeFailure,
            FailureMessage::RequiredNodeFeatureMissing,
            FailureMessage::InvalidOnionVersion {
                sha256_of_onion: [0; 32],
            },
            FailureMessage::InvalidOnionHmac {
                sha256_of_onion: [0; 32],
            },
            FailureMessage::InvalidOnionKey {
                sha256_of_onion: [0; 32],
            },
            FailureMessage::TemporaryChannelFailure {
                channel_update: h.clone(),
            },
            FailureMessage::PermanentChannelFailure,
            FailureMessage::RequiredChannelFeatureMissing,
            FailureMessage::UnknownNextPeer,
            FailureMessage::AmountBelowMinimum {
                htlc_msat: Msat(0),
                channel_update: h.clone(),
            },
            FailureMessage::FeeInsufficient {
                htlc_msat: Msat(0),
                channel_update: h.clone(),
            },
            FailureMessage::IncorrectCltvExpiry {
                cltv_expiry: 0,
                channel_update: h.clone(),
            },
            FailureMessage::ExpiryTooSoon {
                channel_update: h.clone(),
            },
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(0),
                height: 0,
            },
            FailureMessage::FinalIncorrectCltvExpiry { cltv_expiry: 0 },
            FailureMessage::FinalIncorrectHtlcAmount {
                incoming_htlc_amt: Msat(0),
            },
            FailureMessage::ChannelDisabled {
                disabled_flags: 0,
                channel_update: h.clone(),
            },
            FailureMessage::ExpiryTooFar,
            FailureMessage::InvalidOnionPayload { typ: 0, offset: 0 },
            FailureMessage::MppTimeout,
            FailureMessage::InvalidOnionBlinding {
                sha256_of_onion: [0; 32],
            },
        ];
        let names: std::collections::BTreeSet<_> =
            all.iter().map(|m| failure_name(m.code())).collect();
        assert_eq!(names.len(), all.len());
        assert!(!names.contains("UNKNOWN_FAILURE"));
    }
}
