//! The Sphinx packet (BOLT 4 "Packet Structure", "Packet Construction",
//! "Onion Decryption", "Filler Generation"), independent of what the hop
//! payloads mean. Payment onions use [`HOP_PAYLOADS_LEN`]; the functions
//! take the length so that onion messages can reuse them.

use bitcoin::secp256k1::{PublicKey, SecretKey};

use super::crypto::{
    apply_stream, blinding_tweak, ct_eq, hmac_sha256, public, tweak_pub, tweak_secret, KeyType,
    SharedSecret,
};
use super::PeelError;
use crate::wire::codec::{bigsize_to_vec, decode_bigsize};

/// Size of `hop_payloads` in a payment onion.
pub const HOP_PAYLOADS_LEN: usize = 1300;
/// Size of an HMAC.
pub const HMAC_LEN: usize = 32;
/// The only defined packet version.
pub const ONION_VERSION: u8 = 0;
/// Bytes of a packet around `hop_payloads`: version, public key, HMAC.
pub const PACKET_OVERHEAD: usize = 1 + 33 + HMAC_LEN;

/// Why a packet could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The route is empty.
    NoHops,
    /// The framed payloads need `needed` bytes, more than `hop_payloads` has.
    PayloadsTooLarge { needed: usize, available: usize },
    /// Key derivation produced an invalid key at this hop (only possible
    /// with a hostile node id).
    InvalidKey { hop: usize },
    /// The payload of this hop does not encode (a custom record reuses a
    /// known type or appears twice).
    InvalidPayload { hop: usize },
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoHops => f.write_str("onion route has no hops"),
            Self::PayloadsTooLarge { needed, available } => write!(
                f,
                "hop payloads need {needed} bytes but the onion has {available}"
            ),
            Self::InvalidKey { hop } => write!(f, "key derivation failed at hop {hop}"),
            Self::InvalidPayload { hop } => write!(f, "payload of hop {hop} does not encode"),
        }
    }
}

impl crate::error::ErrorCode for BuildError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoHops => "ONION_NO_HOPS",
            Self::PayloadsTooLarge { .. } => "ONION_PAYLOADS_TOO_LARGE",
            Self::InvalidKey { .. } => "ONION_INVALID_KEY",
            Self::InvalidPayload { .. } => "ONION_INVALID_PAYLOAD",
        }
    }
}

/// The per-hop secrets the sender derives from its session key: the
/// ephemeral public key each hop sees and the secret it shares with it.
pub fn route_secrets(
    session_key: &SecretKey,
    node_ids: &[PublicKey],
) -> Result<Vec<(PublicKey, SharedSecret)>, BuildError> {
    let mut out = Vec::with_capacity(node_ids.len());
    let mut e = *session_key;
    for (i, node) in node_ids.iter().enumerate() {
        let epk = public(&e);
        let ss = SharedSecret::new(node, &e);
        out.push((epk, ss));
        if i + 1 < node_ids.len() {
            let t = blinding_tweak(&epk, &ss.0).ok_or(BuildError::InvalidKey { hop: i })?;
            e = tweak_secret(&e, &t).ok_or(BuildError::InvalidKey { hop: i })?;
        }
    }
    Ok(out)
}

/// A packet built for a route, with the secrets the sender needs later to
/// attribute a returned error.
#[derive(Clone, Debug)]
pub struct BuiltPacket {
    /// `version || public_key || hop_payloads || hmac`.
    pub packet: Vec<u8>,
    /// One per hop, in route order.
    pub shared_secrets: Vec<SharedSecret>,
}

fn framed_len(payload: &[u8]) -> usize {
    bigsize_to_vec(payload.len() as u64).len() + payload.len() + HMAC_LEN
}

/// Builds a packet whose `hop_payloads` is `payloads_len` bytes. Each hop
/// payload is the raw payload (a TLV stream for payments); the BigSize
/// length and the HMAC are added here.
pub fn construct_packet(
    session_key: &SecretKey,
    hops: &[(PublicKey, &[u8])],
    associated_data: &[u8],
    payloads_len: usize,
) -> Result<BuiltPacket, BuildError> {
    if hops.is_empty() {
        return Err(BuildError::NoHops);
    }
    let needed: usize = hops.iter().map(|(_, p)| framed_len(p)).sum();
    if needed > payloads_len {
        return Err(BuildError::PayloadsTooLarge {
            needed,
            available: payloads_len,
        });
    }
    let node_ids: Vec<PublicKey> = hops.iter().map(|(n, _)| *n).collect();
    let secrets = route_secrets(session_key, &node_ids)?;
    let n = hops.len();

    // Filler: what the last hops' shifts leave at the tail, pre-encrypted
    // with every earlier hop's rho stream.
    let mut filler: Vec<u8> = Vec::new();
    let mut stream = vec![0u8; 2 * payloads_len];
    for i in 0..n - 1 {
        let prev = filler.len();
        let len_i = framed_len(hops[i].1);
        filler.resize(prev + len_i, 0);
        stream.fill(0);
        apply_stream(&secrets[i].1.key(KeyType::Rho), &mut stream);
        let start = payloads_len - prev;
        for (f, s) in filler.iter_mut().zip(&stream[start..start + prev + len_i]) {
            *f ^= s;
        }
    }

    let mut mix = vec![0u8; payloads_len];
    apply_stream(
        &hmac_sha256(b"pad", &[&session_key.secret_bytes()]),
        &mut mix,
    );
    let mut next_hmac = [0u8; HMAC_LEN];
    for i in (0..n).rev() {
        let payload = hops[i].1;
        let prefix = bigsize_to_vec(payload.len() as u64);
        let shift = prefix.len() + payload.len() + HMAC_LEN;
        mix.copy_within(0..payloads_len - shift, shift);
        mix[..prefix.len()].copy_from_slice(&prefix);
        mix[prefix.len()..prefix.len() + payload.len()].copy_from_slice(payload);
        mix[shift - HMAC_LEN..shift].copy_from_slice(&next_hmac);
        apply_stream(&secrets[i].1.key(KeyType::Rho), &mut mix);
        if i == n - 1 {
            let at = payloads_len - filler.len();
            mix[at..].copy_from_slice(&filler);
        }
        next_hmac = hmac_sha256(&secrets[i].1.key(KeyType::Mu), &[&mix, associated_data]);
    }

    let mut packet = Vec::with_capacity(PACKET_OVERHEAD + payloads_len);
    packet.push(ONION_VERSION);
    packet.extend_from_slice(&secrets[0].0.serialize());
    packet.extend_from_slice(&mix);
    packet.extend_from_slice(&next_hmac);
    Ok(BuiltPacket {
        packet,
        shared_secrets: secrets.into_iter().map(|(_, s)| s).collect(),
    })
}

/// One layer removed from a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeeledPacket {
    /// The secret shared with the sender (keep it to wrap a returned error).
    pub shared_secret: SharedSecret,
    /// This hop's payload, without its length prefix.
    pub payload: Vec<u8>,
    /// The packet for the next hop, `None` when this hop is the last one
    /// (its next HMAC is all zero).
    pub next: Option<Vec<u8>>,
}

/// Removes one layer of `packet` with `node_secret` (already tweaked by
/// the caller for a blinded hop). The HMAC is checked before anything is
/// decrypted.
pub fn peel_packet(
    node_secret: &SecretKey,
    packet: &[u8],
    associated_data: &[u8],
) -> Result<PeeledPacket, PeelError> {
    if packet.len() <= PACKET_OVERHEAD {
        return Err(PeelError::InvalidLength(packet.len()));
    }
    if packet[0] != ONION_VERSION {
        return Err(PeelError::InvalidVersion(packet[0]));
    }
    let epk = PublicKey::from_slice(&packet[1..34]).map_err(|_| PeelError::InvalidKey)?;
    let payloads_len = packet.len() - PACKET_OVERHEAD;
    let hop_payloads = &packet[34..34 + payloads_len];
    let hmac = &packet[34 + payloads_len..];

    let ss = SharedSecret::new(&epk, node_secret);
    let expected = hmac_sha256(&ss.key(KeyType::Mu), &[hop_payloads, associated_data]);
    if !ct_eq(&expected, hmac) {
        return Err(PeelError::InvalidHmac);
    }

    let mut buf = vec![0u8; 2 * payloads_len];
    buf[..payloads_len].copy_from_slice(hop_payloads);
    apply_stream(&ss.key(KeyType::Rho), &mut buf);

    let bad = |offset: usize| PeelError::InvalidPayload {
        shared_secret: ss,
        typ: 0,
        offset: offset.min(u16::MAX as usize) as u16,
    };
    let (len, prefix) = decode_bigsize(&buf).map_err(|_| bad(0))?;
    // A length of 0 is the retired fixed-size "realm 0" payload.
    if len < 2 || len > (payloads_len - prefix) as u64 {
        return Err(bad(0));
    }
    let len = len as usize;
    let end = prefix + len;
    if end + HMAC_LEN > payloads_len {
        return Err(bad(0));
    }
    let payload = buf[prefix..end].to_vec();
    let next_hmac = &buf[end..end + HMAC_LEN];
    let next = if next_hmac.iter().all(|b| *b == 0) {
        None
    } else {
        let t = blinding_tweak(&epk, &ss.0).ok_or(PeelError::InvalidKey)?;
        let next_epk = tweak_pub(&epk, &t).ok_or(PeelError::InvalidKey)?;
        let mut p = Vec::with_capacity(packet.len());
        p.push(ONION_VERSION);
        p.extend_from_slice(&next_epk.serialize());
        p.extend_from_slice(&buf[end + HMAC_LEN..end + HMAC_LEN + payloads_len]);
        p.extend_from_slice(next_hmac);
        Some(p)
    };
    Ok(PeeledPacket {
        shared_secret: ss,
        payload,
        next,
    })
}
