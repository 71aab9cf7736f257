//! BOLT 4 onion routing, sans-IO.
//!
//! Who calls what:
//!
//! - **Sender** (payment layer): [`build_payment_onion`] turns a route of
//!   `(node id, HopPayload)` into the 1366-byte [`OnionPacket`] of the first
//!   `update_add_htlc`, keyed to the payment hash, and returns the per-hop
//!   [`SharedSecret`]s. It keeps them with the payment: when the HTLC comes
//!   back as `update_fail_htlc`, [`ErrorPacket::decode`] unwraps the
//!   `reason` and says which hop failed and why ([`DecodedFailure`]).
//! - **Forwarding / receiving node** (channel layer, on an irrevocably
//!   committed incoming `update_add_htlc`): [`peel_htlc`] checks and removes
//!   one layer and returns either [`PeeledHtlc::Forward`] (outgoing channel,
//!   amount, expiry, next onion, next path key) or [`PeeledHtlc::Receive`].
//!   On failure, [`PeelError::htlc_failure`] tells which message to send
//!   back: `update_fail_malformed_htlc` (BADONION code + `sha256_of_onion`)
//!   or `update_fail_htlc` with an [`ErrorPacket`] created from the
//!   returned [`FailureMessage`] and shared secret.
//! - A forwarding node that receives `update_fail_htlc` from downstream
//!   passes the `reason` upstream through [`ErrorPacket::wrap`] with the
//!   shared secret it kept from peeling; a failure it originates itself
//!   uses [`ErrorPacket::create`].
//!
//! - **Blinded paths**: the recipient builds one with
//!   [`blinding::create_blinded_path`] and [`blinding::BlindedPayInfo::aggregate`];
//!   the sender turns it into hops with [`blinding::blinded_path_payloads`].
//!   Nodes inside the path pass the `path_key` of `update_add_htlc` in
//!   [`IncomingHtlc::path_key`] and put [`ForwardInfo::next_path_key`] in the
//!   outgoing one.
//!
//! Not covered: `attribution_data` (attributable failures) and hold times;
//! unknown even payload records are always refused, so receiving keysend
//! (even type 5482373484) needs that type added to [`payload`].
//!
//! Lower layers are public too: [`sphinx`] (packet construction and
//! peeling for any payload length), [`payload`] (the hop payload TLV and
//! its rules), [`failure`] (every failure code), [`blinding`] (blinded
//! paths and `encrypted_recipient_data`).

pub mod blinding;
pub mod crypto;
pub mod failure;
pub mod payload;
pub mod sphinx;

use core::fmt;

use bitcoin::secp256k1::{PublicKey, SecretKey};

pub use blinding::{BlindedHop, BlindedPath, BlindingError, EncryptedData};
pub use crypto::{KeyType, SharedSecret};
pub use failure::{
    failure_name, sha256_of_onion, DecodedFailure, ErrorPacket, FailureMessage, UnattributableError,
};
pub use payload::{HopKind, HopPayload, PayloadError, PaymentData};
pub use sphinx::{BuildError, HOP_PAYLOADS_LEN};

use crate::types::{Msat, PaymentHash, ShortChannelId};
use crate::wire::{ExtraTlvs, OnionPacket, ONION_PACKET_LEN};

/// Why an onion could not be peeled. The first four mean the sending peer
/// gave us an onion we cannot read (BADONION); the last two are the
/// sender's fault and are reported back to it in an error packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeelError {
    /// The packet is not longer than its fixed fields.
    InvalidLength(usize),
    /// `version` is not 0.
    InvalidVersion(u8),
    /// `public_key` is not a valid point.
    InvalidKey,
    /// The HMAC does not match.
    InvalidHmac,
    /// The HMAC matched but the payload is unusable.
    InvalidPayload {
        shared_secret: SharedSecret,
        typ: u64,
        offset: u16,
    },
    /// Something about the blinded route is wrong (blinded hops report
    /// nothing more precise, on purpose).
    InvalidBlinding { shared_secret: SharedSecret },
}

impl fmt::Display for PeelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLength(n) => write!(f, "onion packet of {n} bytes is too short"),
            Self::InvalidVersion(v) => write!(f, "unknown onion version {v}"),
            Self::InvalidKey => f.write_str("onion public key is invalid"),
            Self::InvalidHmac => f.write_str("onion HMAC does not match"),
            Self::InvalidPayload { typ, offset, .. } => {
                write!(f, "invalid onion payload (type {typ} at offset {offset})")
            }
            Self::InvalidBlinding { .. } => f.write_str("invalid blinded route data"),
        }
    }
}

impl crate::error::ErrorCode for PeelError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidLength(_) => "ONION_BAD_LENGTH",
            Self::InvalidVersion(_) => "ONION_BAD_VERSION",
            Self::InvalidKey => "ONION_BAD_KEY",
            Self::InvalidHmac => "ONION_BAD_HMAC",
            Self::InvalidPayload { .. } => "ONION_BAD_PAYLOAD",
            Self::InvalidBlinding { .. } => "ONION_BAD_BLINDING",
        }
    }
}

/// How the channel layer fails an HTLC whose onion did not peel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HtlcFailure {
    /// Send `update_fail_malformed_htlc` with these fields.
    Malformed {
        failure_code: u16,
        sha256_of_onion: [u8; 32],
    },
    /// Send `update_fail_htlc` whose `reason` is
    /// `ErrorPacket::create(&shared_secret, &message)` (see [`HtlcFailure::error_packet`]).
    Fail {
        shared_secret: SharedSecret,
        message: FailureMessage,
    },
}

impl HtlcFailure {
    /// The `reason` for `update_fail_htlc`, `None` for a malformed failure.
    pub fn error_packet(&self) -> Option<ErrorPacket> {
        match self {
            Self::Malformed { .. } => None,
            Self::Fail {
                shared_secret,
                message,
            } => Some(ErrorPacket::create(shared_secret, message)),
        }
    }
}

impl PeelError {
    /// The failure to send back for this error on `onion`.
    /// `incoming_path_key` is whether the `update_add_htlc` carried a
    /// `path_key`: inside a blinded route every failure becomes a malformed
    /// `invalid_onion_blinding` (BOLT 2 / BOLT 4).
    pub fn htlc_failure(&self, onion: &OnionPacket, incoming_path_key: bool) -> HtlcFailure {
        use failure::{BADONION, PERM};
        let sha = sha256_of_onion(onion);
        let malformed = |code: u16| HtlcFailure::Malformed {
            failure_code: code,
            sha256_of_onion: sha,
        };
        if incoming_path_key {
            return malformed(BADONION | PERM | 24);
        }
        match *self {
            Self::InvalidLength(_) | Self::InvalidVersion(_) => malformed(BADONION | PERM | 4),
            Self::InvalidKey => malformed(BADONION | PERM | 6),
            Self::InvalidHmac => malformed(BADONION | PERM | 5),
            Self::InvalidPayload {
                shared_secret,
                typ,
                offset,
            } => HtlcFailure::Fail {
                shared_secret,
                message: FailureMessage::InvalidOnionPayload { typ, offset },
            },
            Self::InvalidBlinding { shared_secret } => HtlcFailure::Fail {
                shared_secret,
                message: FailureMessage::InvalidOnionBlinding {
                    sha256_of_onion: sha,
                },
            },
        }
    }
}

/// A payment onion and the secrets the sender keeps to read errors.
#[derive(Clone, Debug)]
pub struct PaymentOnion {
    pub packet: OnionPacket,
    /// One per hop, route order.
    pub shared_secrets: Vec<SharedSecret>,
}

/// Builds the onion of a payment over `hops` (each the node id the packet
/// is encrypted to, a blinded id inside a blinded path, and its payload),
/// with the payment hash as associated data. `session_key` must be fresh
/// random for every onion.
pub fn build_payment_onion(
    session_key: &SecretKey,
    hops: &[(PublicKey, HopPayload)],
    payment_hash: &PaymentHash,
) -> Result<PaymentOnion, BuildError> {
    let mut encoded = Vec::with_capacity(hops.len());
    for (i, (_, p)) in hops.iter().enumerate() {
        encoded.push(
            p.encode()
                .map_err(|_| BuildError::InvalidPayload { hop: i })?,
        );
    }
    let raw: Vec<(PublicKey, &[u8])> = hops
        .iter()
        .zip(&encoded)
        .map(|((n, _), e)| (*n, e.as_slice()))
        .collect();
    build_payment_onion_raw(session_key, &raw, payment_hash)
}

/// As [`build_payment_onion`] with already encoded payload TLV streams.
pub fn build_payment_onion_raw(
    session_key: &SecretKey,
    hops: &[(PublicKey, &[u8])],
    payment_hash: &PaymentHash,
) -> Result<PaymentOnion, BuildError> {
    let built = sphinx::construct_packet(session_key, hops, &payment_hash.0, HOP_PAYLOADS_LEN)?;
    let mut packet = Box::new([0u8; ONION_PACKET_LEN]);
    packet.copy_from_slice(&built.packet);
    Ok(PaymentOnion {
        packet: OnionPacket(packet),
        shared_secrets: built.shared_secrets,
    })
}

/// The parts of an incoming `update_add_htlc` the onion layer needs.
#[derive(Clone, Copy, Debug)]
pub struct IncomingHtlc<'a> {
    pub onion: &'a OnionPacket,
    pub payment_hash: PaymentHash,
    pub amount: Msat,
    pub cltv_expiry: u32,
    /// The `path_key` TLV of `update_add_htlc`, if any.
    pub path_key: Option<PublicKey>,
}

/// Where a forwarded HTLC goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHop {
    Channel(ShortChannelId),
    /// A blinded route may name the next node instead of a channel.
    Node(PublicKey),
}

/// What to forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardInfo {
    /// Keep with the HTLC to wrap a returned error.
    pub shared_secret: SharedSecret,
    pub next_hop: NextHop,
    pub amt_to_forward: Msat,
    pub outgoing_cltv_value: u32,
    pub next_onion: OnionPacket,
    /// Put in the outgoing `update_add_htlc` (blinded routes only).
    pub next_path_key: Option<PublicKey>,
}

/// What the recipient gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveInfo {
    /// Keep with the HTLC to fail it with an error packet.
    pub shared_secret: SharedSecret,
    pub amt_to_forward: Msat,
    pub outgoing_cltv_value: u32,
    /// `payment_data` (unblinded routes).
    pub payment_data: Option<PaymentData>,
    /// Total of a multi-part payment: `payment_data.total_msat`, or
    /// `total_amount_msat` in a blinded route, or `amt_to_forward`.
    pub total_msat: Msat,
    pub payment_metadata: Option<Vec<u8>>,
    /// Unknown odd payload records (keysend preimage and the like).
    pub custom: ExtraTlvs,
    /// The recipient's `path_id` when the payment came over one of its
    /// blinded paths (`None` otherwise).
    pub path_id: Option<Vec<u8>>,
    /// Whether the payment arrived over a blinded path.
    pub blinded: bool,
}

/// The result of peeling an incoming HTLC's onion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeeledHtlc {
    Forward(ForwardInfo),
    Receive(ReceiveInfo),
}

/// Peels the onion of an incoming HTLC with this node's secret and
/// validates its payload (BOLT 4 "Onion Decryption", payload and route
/// blinding reader rules). Amount and expiry checks against this node's
/// channel policy and invoices stay with the caller; for blinded hops the
/// amount and expiry to forward are computed from `payment_relay` and
/// `payment_constraints` are enforced here.
pub fn peel_htlc(
    node_secret: &SecretKey,
    htlc: &IncomingHtlc<'_>,
) -> Result<PeeledHtlc, PeelError> {
    let onion_secret = match &htlc.path_key {
        Some(pk) => {
            blinding::blinded_node_secret(node_secret, pk).map_err(|_| PeelError::InvalidKey)?
        }
        None => *node_secret,
    };
    let peeled = sphinx::peel_packet(&onion_secret, &htlc.onion.0[..], &htlc.payment_hash.0)?;
    let ss = peeled.shared_secret;
    let is_final = peeled.next.is_none();
    let blinded_ctx = htlc.path_key.is_some();
    let (_, kind) = match HopPayload::decode_validated(&peeled.payload, is_final, blinded_ctx) {
        Ok(v) => v,
        Err(e) => {
            // Inside a blinded route (or entering one) nothing more precise
            // than invalid_onion_blinding may be returned.
            let quick = HopPayload::decode(&peeled.payload).ok();
            let blinded_payload = quick.is_some_and(|p| {
                p.encrypted_recipient_data.is_some() || p.current_path_key.is_some()
            });
            if blinded_ctx || blinded_payload {
                return Err(PeelError::InvalidBlinding { shared_secret: ss });
            }
            return Err(PeelError::InvalidPayload {
                shared_secret: ss,
                typ: e.typ,
                offset: e.offset,
            });
        }
    };
    let next_onion = || -> Option<OnionPacket> {
        let n = peeled.next.as_ref()?;
        let mut b = Box::new([0u8; ONION_PACKET_LEN]);
        b.copy_from_slice(n);
        Some(OnionPacket(b))
    };
    match kind {
        HopKind::Forward {
            short_channel_id,
            amt_to_forward,
            outgoing_cltv_value,
        } => Ok(PeeledHtlc::Forward(ForwardInfo {
            shared_secret: ss,
            next_hop: NextHop::Channel(short_channel_id),
            amt_to_forward,
            outgoing_cltv_value,
            next_onion: next_onion().ok_or(PeelError::InvalidHmac)?,
            next_path_key: None,
        })),
        HopKind::Receive {
            amt_to_forward,
            outgoing_cltv_value,
            payment_data,
            payment_metadata,
            custom,
        } => Ok(PeeledHtlc::Receive(ReceiveInfo {
            shared_secret: ss,
            amt_to_forward,
            outgoing_cltv_value,
            total_msat: payment_data.map_or(amt_to_forward, |p| p.total_msat),
            payment_data,
            payment_metadata,
            custom,
            path_id: None,
            blinded: false,
        })),
        HopKind::Blinded {
            encrypted_recipient_data,
            current_path_key,
            amt_to_forward,
            outgoing_cltv_value,
            total_amount_msat,
        } => {
            let bad = PeelError::InvalidBlinding { shared_secret: ss };
            let path_key = htlc.path_key.or(current_path_key).ok_or(bad)?;
            let hop = blinding::decrypt_hop(node_secret, &path_key, &encrypted_recipient_data)
                .map_err(|_| bad)?;
            let d = &hop.data;
            if let Some(c) = d.payment_constraints {
                if htlc.cltv_expiry > c.max_cltv_expiry || htlc.amount < c.htlc_minimum_msat {
                    return Err(bad);
                }
            }
            // No feature may be used inside blinded payments yet: any bit set
            // is a feature we do not know.
            if d.allowed_features
                .as_ref()
                .is_some_and(|f| f.iter().any(|b| *b != 0))
            {
                return Err(bad);
            }
            if d.short_channel_id.is_some() && d.next_node_id.is_some() {
                return Err(bad);
            }
            if is_final {
                let amt = amt_to_forward.ok_or(bad)?;
                let cltv = outgoing_cltv_value.ok_or(bad)?;
                let total = total_amount_msat.ok_or(bad)?;
                Ok(PeeledHtlc::Receive(ReceiveInfo {
                    shared_secret: ss,
                    amt_to_forward: amt,
                    outgoing_cltv_value: cltv,
                    payment_data: None,
                    total_msat: total,
                    payment_metadata: None,
                    custom: ExtraTlvs::default(),
                    path_id: d.path_id.clone(),
                    blinded: true,
                }))
            } else {
                let next_hop = match (d.short_channel_id, d.next_node_id) {
                    (Some(s), None) => NextHop::Channel(s),
                    (None, Some(n)) => NextHop::Node(n),
                    _ => return Err(bad),
                };
                let relay = d.payment_relay.ok_or(bad)?;
                let amt = relay.amount_to_forward(htlc.amount).ok_or(bad)?;
                let cltv = htlc
                    .cltv_expiry
                    .checked_sub(u32::from(relay.cltv_expiry_delta))
                    .ok_or(bad)?;
                Ok(PeeledHtlc::Forward(ForwardInfo {
                    shared_secret: ss,
                    next_hop,
                    amt_to_forward: amt,
                    outgoing_cltv_value: cltv,
                    next_onion: next_onion().ok_or(bad)?,
                    next_path_key: Some(hop.effective_next_path_key()),
                }))
            }
        }
    }
}
