//! The payment hop `payload` TLV stream (BOLT 4 "`payload` format") and
//! its validation rules.

use bitcoin::secp256k1::PublicKey;

use crate::types::{Msat, PaymentSecret, ShortChannelId};
use crate::wire::codec::{decode_exact, Reader, Writer};
use crate::wire::ExtraTlvs;

/// `amt_to_forward` (tu64).
pub const TLV_AMT_TO_FORWARD: u64 = 2;
/// `outgoing_cltv_value` (tu32).
pub const TLV_OUTGOING_CLTV_VALUE: u64 = 4;
/// `short_channel_id`.
pub const TLV_SHORT_CHANNEL_ID: u64 = 6;
/// `payment_data` (`payment_secret`, tu64 `total_msat`).
pub const TLV_PAYMENT_DATA: u64 = 8;
/// `encrypted_recipient_data`.
pub const TLV_ENCRYPTED_RECIPIENT_DATA: u64 = 10;
/// `current_path_key`.
pub const TLV_CURRENT_PATH_KEY: u64 = 12;
/// `payment_metadata`.
pub const TLV_PAYMENT_METADATA: u64 = 16;
/// `total_amount_msat` (tu64, blinded final hop).
pub const TLV_TOTAL_AMOUNT_MSAT: u64 = 18;

const KNOWN: [u64; 8] = [
    TLV_AMT_TO_FORWARD,
    TLV_OUTGOING_CLTV_VALUE,
    TLV_SHORT_CHANNEL_ID,
    TLV_PAYMENT_DATA,
    TLV_ENCRYPTED_RECIPIENT_DATA,
    TLV_CURRENT_PATH_KEY,
    TLV_PAYMENT_METADATA,
    TLV_TOTAL_AMOUNT_MSAT,
];

/// `payment_data`: the invoice's payment secret and the total amount of a
/// (possibly multi-part) payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentData {
    pub payment_secret: PaymentSecret,
    pub total_msat: Msat,
}

/// A decoded hop payload. Every field is optional here; [`HopPayload::validate`]
/// applies the BOLT 4 rules for the hop's position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HopPayload {
    pub amt_to_forward: Option<Msat>,
    pub outgoing_cltv_value: Option<u32>,
    pub short_channel_id: Option<ShortChannelId>,
    pub payment_data: Option<PaymentData>,
    pub encrypted_recipient_data: Option<Vec<u8>>,
    pub current_path_key: Option<PublicKey>,
    pub payment_metadata: Option<Vec<u8>>,
    pub total_amount_msat: Option<Msat>,
    /// Records of other types, ascending. When decoding these are the
    /// unknown odd ones; when encoding any type not listed above may be
    /// used (e.g. keysend's 5482373484).
    pub custom: ExtraTlvs,
}

/// A payload the reader cannot accept, reported to the sender as
/// `invalid_onion_payload` with this `type` and `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadError {
    /// The TLV type at fault (the missing type for a missing field).
    pub typ: u64,
    /// Byte offset of the record in the payload TLV stream, counted after
    /// the BigSize length prefix (0 for a missing field).
    pub offset: u16,
}

fn perr(typ: u64, offset: usize) -> PayloadError {
    PayloadError {
        typ,
        offset: offset.min(u16::MAX as usize) as u16,
    }
}

/// Where the payload says the HTLC goes, after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HopKind {
    /// Forward `amt_to_forward` over `short_channel_id` with `outgoing_cltv_value`.
    Forward {
        short_channel_id: ShortChannelId,
        amt_to_forward: Msat,
        outgoing_cltv_value: u32,
    },
    /// This node is the recipient.
    Receive {
        amt_to_forward: Msat,
        outgoing_cltv_value: u32,
        payment_data: Option<PaymentData>,
        payment_metadata: Option<Vec<u8>>,
        custom: ExtraTlvs,
    },
    /// A hop inside a blinded route (forward or final): the rest of the
    /// instructions are in `encrypted_recipient_data`.
    Blinded {
        encrypted_recipient_data: Vec<u8>,
        current_path_key: Option<PublicKey>,
        amt_to_forward: Option<Msat>,
        outgoing_cltv_value: Option<u32>,
        total_amount_msat: Option<Msat>,
    },
}

impl HopPayload {
    /// The payload of an intermediate hop.
    pub fn forward(scid: ShortChannelId, amt_to_forward: Msat, outgoing_cltv_value: u32) -> Self {
        Self {
            amt_to_forward: Some(amt_to_forward),
            outgoing_cltv_value: Some(outgoing_cltv_value),
            short_channel_id: Some(scid),
            ..Self::default()
        }
    }

    /// The payload of the final hop of an unblinded route.
    pub fn receive(
        amt_to_forward: Msat,
        outgoing_cltv_value: u32,
        payment_data: Option<PaymentData>,
        payment_metadata: Option<Vec<u8>>,
    ) -> Self {
        Self {
            amt_to_forward: Some(amt_to_forward),
            outgoing_cltv_value: Some(outgoing_cltv_value),
            payment_data,
            payment_metadata,
            ..Self::default()
        }
    }

    /// The TLV stream (without the BigSize length the onion adds).
    /// Fails if a custom record reuses a known type or appears twice.
    pub fn encode(&self) -> Result<Vec<u8>, crate::wire::WireError> {
        let mut recs: Vec<(u64, Vec<u8>)> = Vec::new();
        let tu = |v: u64| {
            let mut w = Writer::new();
            w.truncated(v);
            w.finish().unwrap_or_default()
        };
        if let Some(a) = self.amt_to_forward {
            recs.push((TLV_AMT_TO_FORWARD, tu(a.0)));
        }
        if let Some(c) = self.outgoing_cltv_value {
            recs.push((TLV_OUTGOING_CLTV_VALUE, tu(u64::from(c))));
        }
        if let Some(s) = self.short_channel_id {
            recs.push((TLV_SHORT_CHANNEL_ID, s.0.to_be_bytes().to_vec()));
        }
        if let Some(pd) = &self.payment_data {
            let mut v = pd.payment_secret.0.to_vec();
            v.extend(tu(pd.total_msat.0));
            recs.push((TLV_PAYMENT_DATA, v));
        }
        if let Some(d) = &self.encrypted_recipient_data {
            recs.push((TLV_ENCRYPTED_RECIPIENT_DATA, d.clone()));
        }
        if let Some(k) = &self.current_path_key {
            recs.push((TLV_CURRENT_PATH_KEY, k.serialize().to_vec()));
        }
        if let Some(m) = &self.payment_metadata {
            recs.push((TLV_PAYMENT_METADATA, m.clone()));
        }
        if let Some(t) = self.total_amount_msat {
            recs.push((TLV_TOTAL_AMOUNT_MSAT, tu(t.0)));
        }
        for (t, v) in &self.custom.0 {
            if KNOWN.contains(t) {
                return Err(crate::wire::WireError::TlvDuplicate(*t));
            }
            recs.push((*t, v.clone()));
        }
        recs.sort_by_key(|r| r.0);
        let mut w = Writer::new();
        let mut last = None;
        for (t, v) in &recs {
            if last == Some(*t) {
                w.fail(crate::wire::WireError::TlvDuplicate(*t));
            }
            last = Some(*t);
            w.tlv(*t, v);
        }
        w.finish()
    }

    /// Decodes a payload TLV stream. Structural problems (truncation,
    /// ordering, bad values) and unknown even types fail with the type and
    /// offset of the record at fault.
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        Ok(Self::decode_with_offsets(bytes)?.0)
    }

    /// As [`HopPayload::decode`], also returning each record's type and offset.
    fn decode_with_offsets(bytes: &[u8]) -> Result<(Self, Vec<(u64, usize)>), PayloadError> {
        let mut p = HopPayload::default();
        let mut seen = Vec::new();
        let mut r = Reader::new(bytes);
        let mut last: Option<u64> = None;
        while !r.is_empty() {
            let off = bytes.len() - r.remaining();
            let typ = r.bigsize().map_err(|_| perr(last.unwrap_or(0), off))?;
            if last.is_some_and(|l| typ <= l) {
                return Err(perr(typ, off));
            }
            last = Some(typ);
            let len = r.bigsize().map_err(|_| perr(typ, off))?;
            if len > r.remaining() as u64 {
                return Err(perr(typ, off));
            }
            let v = r.bytes(len as usize).map_err(|_| perr(typ, off))?;
            let bad = |_| perr(typ, off);
            match typ {
                TLV_AMT_TO_FORWARD => {
                    p.amt_to_forward = Some(Msat(decode_exact(v, |r| r.tu64()).map_err(bad)?))
                }
                TLV_OUTGOING_CLTV_VALUE => {
                    p.outgoing_cltv_value = Some(decode_exact(v, |r| r.tu32()).map_err(bad)?)
                }
                TLV_SHORT_CHANNEL_ID => {
                    p.short_channel_id =
                        Some(decode_exact(v, |r| r.short_channel_id()).map_err(bad)?)
                }
                TLV_PAYMENT_DATA => {
                    p.payment_data = Some(
                        decode_exact(v, |r| {
                            Ok(PaymentData {
                                payment_secret: PaymentSecret(r.array()?),
                                total_msat: Msat(r.tu64()?),
                            })
                        })
                        .map_err(bad)?,
                    )
                }
                TLV_ENCRYPTED_RECIPIENT_DATA => p.encrypted_recipient_data = Some(v.to_vec()),
                TLV_CURRENT_PATH_KEY => {
                    p.current_path_key = Some(decode_exact(v, |r| r.point()).map_err(bad)?)
                }
                TLV_PAYMENT_METADATA => p.payment_metadata = Some(v.to_vec()),
                TLV_TOTAL_AMOUNT_MSAT => {
                    p.total_amount_msat = Some(Msat(decode_exact(v, |r| r.tu64()).map_err(bad)?))
                }
                t if t % 2 == 0 => return Err(perr(t, off)),
                t => p.custom.0.push((t, v.to_vec())),
            }
            seen.push((typ, off));
        }
        Ok((p, seen))
    }

    /// Decodes and validates a payload for a hop that is the last one of
    /// the onion (`is_final`) or not, and whose incoming `update_add_htlc`
    /// carried a `path_key` or not (BOLT 4 payload reader requirements).
    pub fn decode_validated(
        bytes: &[u8],
        is_final: bool,
        incoming_path_key: bool,
    ) -> Result<(Self, HopKind), PayloadError> {
        let (p, seen) = Self::decode_with_offsets(bytes)?;
        let offset_of = |t: u64| seen.iter().find(|(s, _)| *s == t).map_or(0, |(_, o)| *o);
        let kind = p.validate_inner(is_final, incoming_path_key, &offset_of)?;
        Ok((p, kind))
    }

    /// Validates an already decoded payload (offsets reported as 0).
    pub fn validate(
        &self,
        is_final: bool,
        incoming_path_key: bool,
    ) -> Result<HopKind, PayloadError> {
        self.validate_inner(is_final, incoming_path_key, &|_| 0)
    }

    fn validate_inner(
        &self,
        is_final: bool,
        incoming_path_key: bool,
        offset_of: &dyn Fn(u64) -> usize,
    ) -> Result<HopKind, PayloadError> {
        let missing = |t: u64| perr(t, 0);
        let forbidden = |t: u64| perr(t, offset_of(t));
        if let Some(data) = &self.encrypted_recipient_data {
            // Inside a blinded route: exactly one source of the path key.
            match (incoming_path_key, self.current_path_key.is_some()) {
                (true, true) => return Err(forbidden(TLV_CURRENT_PATH_KEY)),
                (false, false) => return Err(missing(TLV_CURRENT_PATH_KEY)),
                _ => {}
            }
            let allowed: &[u64] = if is_final {
                &[
                    TLV_AMT_TO_FORWARD,
                    TLV_OUTGOING_CLTV_VALUE,
                    TLV_ENCRYPTED_RECIPIENT_DATA,
                    TLV_CURRENT_PATH_KEY,
                    TLV_TOTAL_AMOUNT_MSAT,
                ]
            } else {
                &[TLV_ENCRYPTED_RECIPIENT_DATA, TLV_CURRENT_PATH_KEY]
            };
            for t in self.present_types() {
                if !allowed.contains(&t) {
                    return Err(forbidden(t));
                }
            }
            if is_final {
                if self.amt_to_forward.is_none() {
                    return Err(missing(TLV_AMT_TO_FORWARD));
                }
                if self.outgoing_cltv_value.is_none() {
                    return Err(missing(TLV_OUTGOING_CLTV_VALUE));
                }
                if self.total_amount_msat.is_none() {
                    return Err(missing(TLV_TOTAL_AMOUNT_MSAT));
                }
            }
            return Ok(HopKind::Blinded {
                encrypted_recipient_data: data.clone(),
                current_path_key: self.current_path_key,
                amt_to_forward: self.amt_to_forward,
                outgoing_cltv_value: self.outgoing_cltv_value,
                total_amount_msat: self.total_amount_msat,
            });
        }
        if incoming_path_key {
            return Err(missing(TLV_ENCRYPTED_RECIPIENT_DATA));
        }
        if self.current_path_key.is_some() {
            return Err(forbidden(TLV_CURRENT_PATH_KEY));
        }
        if self.total_amount_msat.is_some() {
            return Err(forbidden(TLV_TOTAL_AMOUNT_MSAT));
        }
        let amt = self.amt_to_forward.ok_or(missing(TLV_AMT_TO_FORWARD))?;
        let cltv = self
            .outgoing_cltv_value
            .ok_or(missing(TLV_OUTGOING_CLTV_VALUE))?;
        if is_final {
            if self.short_channel_id.is_some() {
                return Err(forbidden(TLV_SHORT_CHANNEL_ID));
            }
            Ok(HopKind::Receive {
                amt_to_forward: amt,
                outgoing_cltv_value: cltv,
                payment_data: self.payment_data,
                payment_metadata: self.payment_metadata.clone(),
                custom: self.custom.clone(),
            })
        } else {
            let scid = self.short_channel_id.ok_or(missing(TLV_SHORT_CHANNEL_ID))?;
            if self.payment_data.is_some() {
                return Err(forbidden(TLV_PAYMENT_DATA));
            }
            Ok(HopKind::Forward {
                short_channel_id: scid,
                amt_to_forward: amt,
                outgoing_cltv_value: cltv,
            })
        }
    }

    fn present_types(&self) -> Vec<u64> {
        let mut v = Vec::new();
        let flags = [
            (TLV_AMT_TO_FORWARD, self.amt_to_forward.is_some()),
            (TLV_OUTGOING_CLTV_VALUE, self.outgoing_cltv_value.is_some()),
            (TLV_SHORT_CHANNEL_ID, self.short_channel_id.is_some()),
            (TLV_PAYMENT_DATA, self.payment_data.is_some()),
            (
                TLV_ENCRYPTED_RECIPIENT_DATA,
                self.encrypted_recipient_data.is_some(),
            ),
            (TLV_CURRENT_PATH_KEY, self.current_path_key.is_some()),
            (TLV_PAYMENT_METADATA, self.payment_metadata.is_some()),
            (TLV_TOTAL_AMOUNT_MSAT, self.total_amount_msat.is_some()),
        ];
        for (t, present) in flags {
            if present {
                v.push(t);
            }
        }
        v.extend(self.custom.0.iter().map(|(t, _)| *t));
        v
    }
}
