//! Encoding: fields + secret key -> invoice string.

use bech32::primitives::iter::Fe32IterExt;
use bech32::{Fe32, Hrp};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

use super::decode::signing_hash;
use super::*;

/// The semantic content of a new invoice. [`NewInvoice::sign`] turns it into
/// tagged fields, signs and encodes it, and checks the result decodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvoice {
    pub network: Network,
    pub amount: Option<Msat>,
    pub timestamp: u64,
    pub payment_hash: PaymentHash,
    pub payment_secret: PaymentSecret,
    pub description: Description,
    /// Write an `n` field with the signing key's public key.
    pub include_payee_node_id: bool,
    /// `None`: no `x` field (readers assume 3600).
    pub expiry: Option<u64>,
    /// `None`: no `c` field (readers assume 18).
    pub min_final_cltv_expiry_delta: Option<u64>,
    pub fallbacks: Vec<Fallback>,
    pub route_hints: Vec<Vec<RouteHintHop>>,
    pub features: Features,
    pub metadata: Option<Vec<u8>>,
}

/// Field order used when the caller gives none.
pub const DEFAULT_FIELD_ORDER: [u8; 11] = [
    tag::PAYMENT_HASH,
    tag::PAYMENT_SECRET,
    tag::DESCRIPTION,
    tag::DESCRIPTION_HASH,
    tag::PAYEE_NODE_ID,
    tag::EXPIRY,
    tag::MIN_FINAL_CLTV_EXPIRY_DELTA,
    tag::FALLBACK,
    tag::ROUTE_HINT,
    tag::FEATURES,
    tag::METADATA,
];

impl NewInvoice {
    /// Builds the tagged fields. `order` lists tags in the order to write
    /// them (several `f` or `r` fields stay together, in their list order);
    /// tags missing from `order` follow in `DEFAULT_FIELD_ORDER`.
    pub fn to_unsigned(
        &self,
        payee: &PublicKey,
        order: &[u8],
    ) -> Result<UnsignedInvoice, InvoiceError> {
        if self.timestamp >= 1 << 35 {
            return Err(InvoiceError::InvalidTimestamp);
        }
        if self.amount == Some(Msat(0)) {
            return Err(InvoiceError::InvalidAmount);
        }
        if !self.features.supports(Feature::PaymentSecret) {
            return Err(InvoiceError::MissingPaymentSecretFeature);
        }
        if let Some(bit) = unknown_required_invoice_feature(&self.features) {
            return Err(InvoiceError::UnknownRequiredFeature(bit));
        }
        for f in &self.fallbacks {
            f.validate()?;
        }
        if self.route_hints.iter().any(|r| r.is_empty()) {
            return Err(InvoiceError::InvalidRouteHint);
        }

        let mut tags: Vec<u8> = Vec::with_capacity(DEFAULT_FIELD_ORDER.len());
        for &t in order.iter().chain(DEFAULT_FIELD_ORDER.iter()) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let mut fields = Vec::new();
        for t in tags {
            match t {
                tag::PAYMENT_HASH => fields.push(TaggedField::PaymentHash(self.payment_hash)),
                tag::PAYMENT_SECRET => fields.push(TaggedField::PaymentSecret(self.payment_secret)),
                tag::DESCRIPTION => {
                    if let Description::Direct(d) = &self.description {
                        fields.push(TaggedField::Description(d.clone()));
                    }
                }
                tag::DESCRIPTION_HASH => {
                    if let Description::Hash(h) = &self.description {
                        fields.push(TaggedField::DescriptionHash(*h));
                    }
                }
                tag::PAYEE_NODE_ID if self.include_payee_node_id => {
                    fields.push(TaggedField::PayeeNodeId(*payee))
                }
                tag::EXPIRY => fields.extend(self.expiry.map(TaggedField::Expiry)),
                tag::MIN_FINAL_CLTV_EXPIRY_DELTA => fields.extend(
                    self.min_final_cltv_expiry_delta
                        .map(TaggedField::MinFinalCltvExpiryDelta),
                ),
                tag::FALLBACK => {
                    fields.extend(self.fallbacks.iter().cloned().map(TaggedField::Fallback))
                }
                tag::ROUTE_HINT => {
                    fields.extend(self.route_hints.iter().cloned().map(TaggedField::RouteHint))
                }
                tag::FEATURES if !self.features.is_empty() => {
                    fields.push(TaggedField::Features(self.features.clone()))
                }
                tag::METADATA => fields.extend(self.metadata.clone().map(TaggedField::Metadata)),
                _ => {}
            }
        }
        Ok(UnsignedInvoice {
            network: self.network,
            amount: self.amount,
            timestamp: self.timestamp,
            fields,
        })
    }

    /// Signs with `key` and returns the lowercase invoice string, in the
    /// field order given (see [`NewInvoice::to_unsigned`]).
    pub fn sign(&self, key: &SecretKey, order: &[u8]) -> Result<String, InvoiceError> {
        let payee = PublicKey::from_secret_key(SECP256K1, key);
        let s = self.to_unsigned(&payee, order)?.sign(key)?;
        // Whatever we write must read back: this catches any field the
        // reader would reject (and costs one signature check).
        super::decode(&s)?;
        Ok(s)
    }
}

/// Minimal big-endian 5-bit encoding of an integer (0 encodes as nothing).
fn int_to_u5(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v > 0 {
        out.push((v & 31) as u8);
        v >>= 5;
    }
    out.reverse();
    out
}

impl TaggedField {
    /// The field's data as 5-bit values.
    fn data_u5(&self) -> Vec<u8> {
        match self {
            TaggedField::PaymentHash(h) => bytes_to_u5(&h.0),
            TaggedField::PaymentSecret(s) => bytes_to_u5(&s.0),
            TaggedField::Description(d) => bytes_to_u5(d.as_bytes()),
            TaggedField::DescriptionHash(h) => bytes_to_u5(h),
            TaggedField::PayeeNodeId(pk) => bytes_to_u5(&pk.serialize()),
            TaggedField::Expiry(v) | TaggedField::MinFinalCltvExpiryDelta(v) => int_to_u5(*v),
            TaggedField::Fallback(f) => {
                let (version, program) = match f {
                    Fallback::Witness { version, program } => (*version, &program[..]),
                    Fallback::PubkeyHash(h) => (17, &h[..]),
                    Fallback::ScriptHash(h) => (18, &h[..]),
                };
                let mut out = vec![version];
                out.extend(bytes_to_u5(program));
                out
            }
            TaggedField::RouteHint(hops) => {
                let mut bytes = Vec::with_capacity(hops.len() * ROUTE_HINT_HOP_LEN);
                for h in hops {
                    bytes.extend_from_slice(&h.node_id.serialize());
                    bytes.extend_from_slice(&h.short_channel_id.0.to_be_bytes());
                    bytes.extend_from_slice(&h.fee_base_msat.to_be_bytes());
                    bytes.extend_from_slice(&h.fee_proportional_millionths.to_be_bytes());
                    bytes.extend_from_slice(&h.cltv_expiry_delta.to_be_bytes());
                }
                bytes_to_u5(&bytes)
            }
            TaggedField::Features(f) => features_to_u5(f),
            TaggedField::Metadata(m) => bytes_to_u5(m),
            TaggedField::Unknown { data, .. } => data.clone(),
        }
    }
}

impl UnsignedInvoice {
    /// The human-readable part: `ln`, currency, shortest amount form.
    pub fn hrp(&self) -> String {
        let mut hrp = format!("ln{}", self.network.currency_prefix());
        if let Some(Msat(msat)) = self.amount {
            // 1 BTC = 10^11 msat; take the largest unit that divides exactly.
            let units: [(u64, &str); 4] = [
                (100_000_000_000, ""),
                (100_000_000, "m"),
                (100_000, "u"),
                (100, "n"),
            ];
            match units.iter().find(|(d, _)| msat % d == 0) {
                Some((d, m)) => hrp.push_str(&format!("{}{}", msat / d, m)),
                None => hrp.push_str(&format!("{}0p", msat)),
            }
        }
        hrp
    }

    /// Timestamp and fields as 5-bit values (the signed data part).
    pub fn data_u5(&self) -> Result<Vec<u8>, InvoiceError> {
        let mut out = Vec::new();
        for i in (0..7).rev() {
            out.push(((self.timestamp >> (5 * i)) & 31) as u8);
        }
        for f in &self.fields {
            let data = f.data_u5();
            if data.len() > MAX_FIELD_DATA_LENGTH {
                return Err(InvoiceError::FieldTooLong(f.tag_char()));
            }
            out.push(f.tag());
            out.push((data.len() >> 5) as u8);
            out.push((data.len() & 31) as u8);
            out.extend(data);
        }
        Ok(out)
    }

    /// What the signature commits to: the human-readable part's bytes and
    /// the data part packed into bytes, zero-padded.
    pub fn signing_preimage(&self) -> Result<Vec<u8>, InvoiceError> {
        let mut out = self.hrp().into_bytes();
        out.extend(pack_u5(&self.data_u5()?, true));
        Ok(out)
    }

    /// SHA256 of [`UnsignedInvoice::signing_preimage`].
    pub fn signing_hash(&self) -> Result<[u8; 32], InvoiceError> {
        Ok(signing_hash(&self.hrp(), &self.data_u5()?))
    }

    /// Signs and encodes (lowercase). Does not apply the semantic checks of
    /// [`NewInvoice::sign`]: it writes exactly these fields.
    pub fn sign(&self, key: &SecretKey) -> Result<String, InvoiceError> {
        if self.timestamp >= 1 << 35 {
            return Err(InvoiceError::InvalidTimestamp);
        }
        let hrp_str = self.hrp();
        let mut data = self.data_u5()?;
        let msg = Message::from_digest(signing_hash(&hrp_str, &data));
        let (recid, sig) = SECP256K1
            .sign_ecdsa_recoverable(&msg, key)
            .serialize_compact();
        let mut sig_bytes = sig.to_vec();
        sig_bytes.push(recid.to_i32() as u8);
        data.extend(bytes_to_u5(&sig_bytes));
        let hrp = Hrp::parse(&hrp_str).map_err(|_| InvoiceError::InvalidHrp)?;
        let s: String = data
            .into_iter()
            .map(|v| Fe32::try_from(v).unwrap_or(Fe32::Q))
            .with_checksum::<Bolt11Bech32>(&hrp)
            .chars()
            .collect();
        if s.len() > MAX_INVOICE_LENGTH {
            return Err(InvoiceError::TooLong);
        }
        Ok(s)
    }
}
