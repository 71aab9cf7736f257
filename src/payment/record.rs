//! What the payment layer persists, and its versioned binary encoding.
//!
//! Three kinds of records, each under its own key ([`PaymentRecord::key`]):
//! an invoice we issued (with its preimage and, once claimed, the HTLCs
//! that paid it), a payment we send (with its candidate routes, the route
//! of the attempt in flight and the onion secrets to read its errors), and
//! an HTLC we forward (with the secret to wrap errors and, once known, the
//! preimage). A record replaces the previous one under the same key.

use secp256k1::PublicKey;

use crate::onion::SharedSecret;
use crate::types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};
use crate::wire::codec::{Reader, Writer};
use crate::wire::{ChannelId, PaymentPreimage, WireError};

use super::route::{Route, RouteHop};

/// Version 2 added an outgoing payment's `created_at`; version 1 records
/// are read (with `created_at: None`).
const VERSION: u8 = 2;
const KIND_INVOICE: u8 = 1;
const KIND_OUTGOING: u8 = 2;
const KIND_FORWARD: u8 = 3;

/// An invoice we issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub payment_hash: PaymentHash,
    pub preimage: PaymentPreimage,
    pub payment_secret: PaymentSecret,
    /// `None`: any amount.
    pub amount: Option<Msat>,
    pub created_at: u64,
    pub expiry_secs: u64,
    pub min_final_cltv_expiry_delta: u32,
    /// Set once, when the parts reached the total: the HTLCs we fulfil.
    pub claim: Option<Claim>,
}

/// Where an invoice we issued stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Payable: not paid, not expired.
    Open,
    /// Paid: its HTLCs reached the amount and are being or were fulfilled.
    Paid { amount: Msat },
    /// Past its expiry unpaid (a payment arriving now is refused).
    Expired,
}

impl InvoiceRecord {
    /// When it expires (unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.created_at.saturating_add(self.expiry_secs)
    }

    /// Its status at `now` (unix seconds).
    pub fn status(&self, now: u64) -> InvoiceStatus {
        match &self.claim {
            Some(c) => InvoiceStatus::Paid { amount: c.amount },
            None if now >= self.expires_at() => InvoiceStatus::Expired,
            None => InvoiceStatus::Open,
        }
    }
}

/// The HTLCs that paid an invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub amount: Msat,
    /// Channel, HTLC id and `cltv_expiry` of each part.
    pub htlcs: Vec<(ChannelId, u64, u32)>,
}

/// The attempt of a payment in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub route_index: u32,
    pub channel_id: ChannelId,
    pub amount: Msat,
    pub cltv_expiry: u32,
    pub fee: Msat,
    /// One per hop, route order.
    pub shared_secrets: Vec<SharedSecret>,
}

/// Where a payment we send stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutgoingStatus {
    Pending,
    Succeeded {
        preimage: PaymentPreimage,
        fee: Msat,
    },
    Failed,
}

/// A payment we send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingRecord {
    pub payment_hash: PaymentHash,
    pub payee: PublicKey,
    pub amount: Msat,
    pub payment_secret: PaymentSecret,
    pub min_final_cltv_expiry_delta: u32,
    pub max_fee: Msat,
    /// No new attempt starts at or after this time.
    pub deadline: u64,
    /// Source of the onion session keys (one per attempt).
    pub entropy: [u8; 32],
    pub routes: Vec<Route>,
    /// Indices of the routes already tried.
    pub tried: Vec<u32>,
    pub excluded_nodes: Vec<PublicKey>,
    pub excluded_channels: Vec<ShortChannelId>,
    pub attempts: u32,
    pub attempt: Option<AttemptRecord>,
    pub status: OutgoingStatus,
    /// When `payInvoice` started it (unix seconds); `None` in a record
    /// written before this was kept.
    pub created_at: Option<u64>,
}

/// An HTLC we forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardRecord {
    pub in_channel: ChannelId,
    pub in_id: u64,
    pub in_amount: Msat,
    pub in_cltv: u32,
    pub payment_hash: PaymentHash,
    pub shared_secret: SharedSecret,
    pub out_channel: ChannelId,
    pub out_amount: Msat,
    pub out_cltv: u32,
    /// SHA256 of the onion we sent on (for a malformed failure from downstream).
    pub out_onion_sha: [u8; 32],
    pub preimage: Option<PaymentPreimage>,
}

/// One persisted record of the payment layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentRecord {
    Invoice(InvoiceRecord),
    Outgoing(OutgoingRecord),
    Forward(ForwardRecord),
}

impl PaymentRecord {
    /// The storage key: kind byte, then the payment hash, or the incoming
    /// channel id and HTLC id of a forward.
    pub fn key(&self) -> Vec<u8> {
        match self {
            PaymentRecord::Invoice(r) => invoice_key(&r.payment_hash),
            PaymentRecord::Outgoing(r) => outgoing_key(&r.payment_hash),
            PaymentRecord::Forward(r) => forward_key(&r.in_channel, r.in_id),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(VERSION);
        match self {
            PaymentRecord::Invoice(r) => {
                w.u8(KIND_INVOICE);
                w.bytes(&r.payment_hash.0);
                w.bytes(&r.preimage.0);
                w.bytes(&r.payment_secret.0);
                opt_msat(&mut w, r.amount);
                w.u64(r.created_at);
                w.u64(r.expiry_secs);
                w.u32(r.min_final_cltv_expiry_delta);
                match &r.claim {
                    None => w.u8(0),
                    Some(c) => {
                        w.u8(1);
                        w.u64(c.amount.0);
                        w.u32(c.htlcs.len() as u32);
                        for (ch, id, cltv) in &c.htlcs {
                            w.bytes(&ch.0);
                            w.u64(*id);
                            w.u32(*cltv);
                        }
                    }
                }
            }
            PaymentRecord::Outgoing(r) => {
                w.u8(KIND_OUTGOING);
                w.bytes(&r.payment_hash.0);
                w.point(&r.payee);
                w.u64(r.amount.0);
                w.bytes(&r.payment_secret.0);
                w.u32(r.min_final_cltv_expiry_delta);
                w.u64(r.max_fee.0);
                w.u64(r.deadline);
                w.bytes(&r.entropy);
                w.u32(r.routes.len() as u32);
                for route in &r.routes {
                    w.u32(route.hops.len() as u32);
                    for h in &route.hops {
                        w.point(&h.node_id);
                        w.short_channel_id(h.short_channel_id);
                        w.u32(h.fee_base_msat);
                        w.u32(h.fee_proportional_millionths);
                        w.u16(h.cltv_expiry_delta);
                    }
                }
                w.u32(r.tried.len() as u32);
                for t in &r.tried {
                    w.u32(*t);
                }
                w.u32(r.excluded_nodes.len() as u32);
                for n in &r.excluded_nodes {
                    w.point(n);
                }
                w.u32(r.excluded_channels.len() as u32);
                for s in &r.excluded_channels {
                    w.short_channel_id(*s);
                }
                w.u32(r.attempts);
                match &r.attempt {
                    None => w.u8(0),
                    Some(a) => {
                        w.u8(1);
                        w.u32(a.route_index);
                        w.bytes(&a.channel_id.0);
                        w.u64(a.amount.0);
                        w.u32(a.cltv_expiry);
                        w.u64(a.fee.0);
                        w.u32(a.shared_secrets.len() as u32);
                        for s in &a.shared_secrets {
                            w.bytes(&s.0);
                        }
                    }
                }
                match &r.status {
                    OutgoingStatus::Pending => w.u8(0),
                    OutgoingStatus::Succeeded { preimage, fee } => {
                        w.u8(1);
                        w.bytes(&preimage.0);
                        w.u64(fee.0);
                    }
                    OutgoingStatus::Failed => w.u8(2),
                }
                match r.created_at {
                    None => w.u8(0),
                    Some(t) => {
                        w.u8(1);
                        w.u64(t);
                    }
                }
            }
            PaymentRecord::Forward(r) => {
                w.u8(KIND_FORWARD);
                w.bytes(&r.in_channel.0);
                w.u64(r.in_id);
                w.u64(r.in_amount.0);
                w.u32(r.in_cltv);
                w.bytes(&r.payment_hash.0);
                w.bytes(&r.shared_secret.0);
                w.bytes(&r.out_channel.0);
                w.u64(r.out_amount.0);
                w.u32(r.out_cltv);
                w.bytes(&r.out_onion_sha);
                match &r.preimage {
                    None => w.u8(0),
                    Some(p) => {
                        w.u8(1);
                        w.bytes(&p.0);
                    }
                }
            }
        }
        // Only infallible writes above.
        w.finish().unwrap_or_default()
    }

    /// Parses [`PaymentRecord::encode`]. Counts are bounded by the bytes
    /// that are left, so a corrupt record cannot make us allocate much.
    pub fn decode(bytes: &[u8]) -> Result<PaymentRecord, WireError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version == 0 || version > VERSION {
            return Err(WireError::InvalidValue("payment record version"));
        }
        let rec = match r.u8()? {
            KIND_INVOICE => {
                let payment_hash = PaymentHash(r.array()?);
                let preimage = PaymentPreimage(r.array()?);
                let payment_secret = PaymentSecret(r.array()?);
                let amount = read_opt_msat(&mut r)?;
                let created_at = r.u64()?;
                let expiry_secs = r.u64()?;
                let min_final_cltv_expiry_delta = r.u32()?;
                let claim = match r.u8()? {
                    0 => None,
                    1 => {
                        let amount = Msat(r.u64()?);
                        let n = count(&mut r, 44)?;
                        let mut htlcs = Vec::with_capacity(n);
                        for _ in 0..n {
                            htlcs.push((ChannelId(r.array()?), r.u64()?, r.u32()?));
                        }
                        Some(Claim { amount, htlcs })
                    }
                    _ => return Err(WireError::InvalidValue("claim flag")),
                };
                PaymentRecord::Invoice(InvoiceRecord {
                    payment_hash,
                    preimage,
                    payment_secret,
                    amount,
                    created_at,
                    expiry_secs,
                    min_final_cltv_expiry_delta,
                    claim,
                })
            }
            KIND_OUTGOING => {
                let payment_hash = PaymentHash(r.array()?);
                let payee = r.point()?;
                let amount = Msat(r.u64()?);
                let payment_secret = PaymentSecret(r.array()?);
                let min_final_cltv_expiry_delta = r.u32()?;
                let max_fee = Msat(r.u64()?);
                let deadline = r.u64()?;
                let entropy = r.array()?;
                let n = count(&mut r, 4)?;
                let mut routes = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = count(&mut r, 51)?;
                    let mut hops = Vec::with_capacity(m);
                    for _ in 0..m {
                        hops.push(RouteHop {
                            node_id: r.point()?,
                            short_channel_id: r.short_channel_id()?,
                            fee_base_msat: r.u32()?,
                            fee_proportional_millionths: r.u32()?,
                            cltv_expiry_delta: r.u16()?,
                        });
                    }
                    routes.push(Route { hops });
                }
                let n = count(&mut r, 4)?;
                let mut tried = Vec::with_capacity(n);
                for _ in 0..n {
                    tried.push(r.u32()?);
                }
                let n = count(&mut r, 33)?;
                let mut excluded_nodes = Vec::with_capacity(n);
                for _ in 0..n {
                    excluded_nodes.push(r.point()?);
                }
                let n = count(&mut r, 8)?;
                let mut excluded_channels = Vec::with_capacity(n);
                for _ in 0..n {
                    excluded_channels.push(r.short_channel_id()?);
                }
                let attempts = r.u32()?;
                let attempt = match r.u8()? {
                    0 => None,
                    1 => {
                        let route_index = r.u32()?;
                        let channel_id = ChannelId(r.array()?);
                        let amount = Msat(r.u64()?);
                        let cltv_expiry = r.u32()?;
                        let fee = Msat(r.u64()?);
                        let n = count(&mut r, 32)?;
                        let mut shared_secrets = Vec::with_capacity(n);
                        for _ in 0..n {
                            shared_secrets.push(SharedSecret(r.array()?));
                        }
                        Some(AttemptRecord {
                            route_index,
                            channel_id,
                            amount,
                            cltv_expiry,
                            fee,
                            shared_secrets,
                        })
                    }
                    _ => return Err(WireError::InvalidValue("attempt flag")),
                };
                let status = match r.u8()? {
                    0 => OutgoingStatus::Pending,
                    1 => OutgoingStatus::Succeeded {
                        preimage: PaymentPreimage(r.array()?),
                        fee: Msat(r.u64()?),
                    },
                    2 => OutgoingStatus::Failed,
                    _ => return Err(WireError::InvalidValue("payment status")),
                };
                let created_at = match version {
                    1 => None,
                    _ => match r.u8()? {
                        0 => None,
                        1 => Some(r.u64()?),
                        _ => return Err(WireError::InvalidValue("created_at flag")),
                    },
                };
                PaymentRecord::Outgoing(OutgoingRecord {
                    payment_hash,
                    payee,
                    amount,
                    payment_secret,
                    min_final_cltv_expiry_delta,
                    max_fee,
                    deadline,
                    entropy,
                    routes,
                    tried,
                    excluded_nodes,
                    excluded_channels,
                    attempts,
                    attempt,
                    status,
                    created_at,
                })
            }
            KIND_FORWARD => PaymentRecord::Forward(ForwardRecord {
                in_channel: ChannelId(r.array()?),
                in_id: r.u64()?,
                in_amount: Msat(r.u64()?),
                in_cltv: r.u32()?,
                payment_hash: PaymentHash(r.array()?),
                shared_secret: SharedSecret(r.array()?),
                out_channel: ChannelId(r.array()?),
                out_amount: Msat(r.u64()?),
                out_cltv: r.u32()?,
                out_onion_sha: r.array()?,
                preimage: match r.u8()? {
                    0 => None,
                    1 => Some(PaymentPreimage(r.array()?)),
                    _ => return Err(WireError::InvalidValue("preimage flag")),
                },
            }),
            _ => return Err(WireError::InvalidValue("payment record kind")),
        };
        r.expect_end()?;
        Ok(rec)
    }
}

pub(crate) fn invoice_key(h: &PaymentHash) -> Vec<u8> {
    let mut k = vec![KIND_INVOICE];
    k.extend_from_slice(&h.0);
    k
}

pub(crate) fn outgoing_key(h: &PaymentHash) -> Vec<u8> {
    let mut k = vec![KIND_OUTGOING];
    k.extend_from_slice(&h.0);
    k
}

pub(crate) fn forward_key(ch: &ChannelId, id: u64) -> Vec<u8> {
    let mut k = vec![KIND_FORWARD];
    k.extend_from_slice(&ch.0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn opt_msat(w: &mut Writer, v: Option<Msat>) {
    match v {
        None => w.u8(0),
        Some(m) => {
            w.u8(1);
            w.u64(m.0);
        }
    }
}

fn read_opt_msat(r: &mut Reader<'_>) -> Result<Option<Msat>, WireError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(Msat(r.u64()?))),
        _ => Err(WireError::InvalidValue("amount flag")),
    }
}

/// A count of items of at least `min_size` bytes each, checked against
/// what is left.
fn count(r: &mut Reader<'_>, min_size: usize) -> Result<usize, WireError> {
    let n = r.u32()? as usize;
    if n.saturating_mul(min_size) > r.remaining() {
        return Err(WireError::InvalidValue("count exceeds record"));
    }
    Ok(n)
}
