//! Decoding: string -> checked [`Invoice`].

use bech32::primitives::decode::{
    CharError, CheckedHrpstring, CheckedHrpstringError, ChecksumError, UncheckedHrpstringError,
};
use bitcoin::hashes::{sha256, Hash};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId, Signature};
use secp256k1::{Message, PublicKey, SECP256K1};

use super::*;

/// 5-bit values in the timestamp.
const TIMESTAMP_LEN: usize = 7;
/// 5-bit values in the signature (65 bytes = 520 bits).
const SIGNATURE_LEN: usize = 104;

/// Decodes and checks a BOLT 11 invoice.
///
/// Surrounding whitespace and a `lightning:` URI prefix (any case) are
/// ignored. Everything else must be exact: see the module docs for the
/// reader rules applied.
pub fn decode(input: &str) -> Result<Invoice, InvoiceError> {
    let s = strip_uri(input.trim());
    if s.len() > MAX_INVOICE_LENGTH {
        return Err(InvoiceError::TooLong);
    }
    let checked = CheckedHrpstring::new::<Bolt11Bech32>(s).map_err(map_bech32_error)?;
    let hrp = checked.hrp().to_lowercase();
    let (network, amount) = parse_hrp(&hrp)?;

    // The data part, as 5-bit values. The crate has already checked every
    // character, so the lookups cannot fail.
    let data: Vec<u8> = checked
        .fe32_iter::<core::iter::Empty<u8>>()
        .map(|f| f.to_u8())
        .collect();
    if data.len() < TIMESTAMP_LEN + SIGNATURE_LEN {
        return Err(InvoiceError::TooShort);
    }
    let (signed, sig5) = data.split_at(data.len() - SIGNATURE_LEN);
    let timestamp = be_u64(&signed[..TIMESTAMP_LEN]);
    let fields = parse_fields(&signed[TIMESTAMP_LEN..])?;
    let c = check_fields(&fields)?;

    let sig_bytes = u5_to_bytes(sig5);
    let recid = RecoveryId::from_i32(i32::from(sig_bytes[64]))
        .map_err(|_| InvoiceError::InvalidRecoveryId)?;
    let signature = RecoverableSignature::from_compact(&sig_bytes[..64], recid)
        .map_err(|_| InvoiceError::InvalidSignature)?;
    let hash = signing_hash(&hrp, signed);
    let msg = Message::from_digest(hash);

    let payee = match c.payee {
        Some(n) => {
            let mut standard: Signature = signature.to_standard();
            let before = standard;
            standard.normalize_s();
            if standard != before {
                return Err(InvoiceError::HighSSignature);
            }
            SECP256K1
                .verify_ecdsa(&msg, &standard, &n)
                .map_err(|_| InvoiceError::BadSignature)?;
            n
        }
        None => SECP256K1
            .recover_ecdsa(&msg, &signature)
            .map_err(|_| InvoiceError::UnrecoverableSignature)?,
    };
    Ok(Invoice {
        raw: UnsignedInvoice {
            network,
            amount,
            timestamp,
            fields,
        },
        signature,
        payee,
        content: c,
    })
}

/// Removes a leading `lightning:` URI scheme (any case).
pub fn strip_uri(s: &str) -> &str {
    const SCHEME: &str = "lightning:";
    match s.get(..SCHEME.len()) {
        Some(p) if p.eq_ignore_ascii_case(SCHEME) => &s[SCHEME.len()..],
        _ => s,
    }
}

fn map_bech32_error(e: CheckedHrpstringError) -> InvoiceError {
    match e {
        CheckedHrpstringError::Parse(UncheckedHrpstringError::Char(c)) => match c {
            CharError::MissingSeparator => InvoiceError::MissingSeparator,
            CharError::NothingAfterSeparator => InvoiceError::TooShort,
            CharError::MixedCase => InvoiceError::MixedCase,
            _ => InvoiceError::InvalidCharacter,
        },
        CheckedHrpstringError::Parse(UncheckedHrpstringError::Hrp(h)) => match h {
            bech32::primitives::hrp::Error::MixedCase => InvoiceError::MixedCase,
            _ => InvoiceError::InvalidHrp,
        },
        CheckedHrpstringError::Checksum(ChecksumError::InvalidResidue) => InvoiceError::BadChecksum,
        CheckedHrpstringError::Checksum(ChecksumError::InvalidLength) => InvoiceError::TooShort,
        CheckedHrpstringError::Checksum(ChecksumError::CodeLength(_)) => InvoiceError::TooLong,
        _ => InvoiceError::InvalidCharacter,
    }
}

/// `ln` + currency + optional amount (digits and an optional multiplier).
pub(super) fn parse_hrp(hrp: &str) -> Result<(Network, Option<Msat>), InvoiceError> {
    let rest = hrp.strip_prefix("ln").ok_or(InvoiceError::UnknownNetwork)?;
    // Longest prefixes first: "bcrt" before "bc", "tbs" before "tb".
    let networks = [
        Network::Regtest,
        Network::Bitcoin,
        Network::Signet,
        Network::Testnet,
    ];
    let (network, amount) = networks
        .iter()
        .find_map(|n| rest.strip_prefix(n.currency_prefix()).map(|a| (*n, a)))
        .ok_or(InvoiceError::UnknownNetwork)?;
    if amount.is_empty() {
        return Ok((network, None));
    }
    if !amount.as_bytes()[0].is_ascii_digit() {
        // e.g. "lnbcx...": not a currency we know.
        return Err(InvoiceError::UnknownNetwork);
    }
    Ok((network, Some(parse_amount(amount)?)))
}

/// Amount in bitcoin with an optional multiplier, to millisatoshis.
fn parse_amount(s: &str) -> Result<Msat, InvoiceError> {
    let bytes = s.as_bytes();
    let digits_end = bytes
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(bytes.len());
    let (digits, suffix) = s.split_at(digits_end);
    let multiplier = match suffix {
        "" => None,
        "m" | "u" | "n" | "p" => Some(suffix.as_bytes()[0]),
        _ => return Err(InvoiceError::InvalidMultiplier),
    };
    if digits.is_empty() {
        return Err(InvoiceError::InvalidAmount);
    }
    let mut value: u64 = 0;
    for c in digits.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(InvoiceError::AmountOverflow)?;
    }
    if value == 0 {
        return Err(InvoiceError::InvalidAmount);
    }
    // 1 BTC = 10^11 msat.
    let msat = match multiplier {
        None => value.checked_mul(100_000_000_000),
        Some(b'm') => value.checked_mul(100_000_000),
        Some(b'u') => value.checked_mul(100_000),
        Some(b'n') => value.checked_mul(100),
        _ => {
            if value % 10 != 0 {
                return Err(InvoiceError::SubMsatPrecision);
            }
            Some(value / 10)
        }
    };
    msat.map(Msat).ok_or(InvoiceError::AmountOverflow)
}

fn be_u64(data: &[u8]) -> u64 {
    data.iter().fold(0u64, |acc, &v| (acc << 5) | u64::from(v))
}

/// A minimal big-endian integer field (`x`, `c`).
fn parse_int(tag_char: char, data: &[u8]) -> Result<u64, InvoiceError> {
    if data.first() == Some(&0) {
        return Err(InvoiceError::NonMinimalField(tag_char));
    }
    // 13 values hold 65 bits: the first must then be 0 or 1.
    if data.len() > 13 || (data.len() == 13 && data[0] > 1) {
        return Err(InvoiceError::FieldOverflow(tag_char));
    }
    Ok(be_u64(data))
}

fn bytes32(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&u5_to_bytes(data)[..32]);
    out
}

/// Splits the tagged fields and parses each; fields the reader must skip
/// are kept as `Unknown`.
fn parse_fields(mut data: &[u8]) -> Result<Vec<TaggedField>, InvoiceError> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        if data.len() < 3 {
            return Err(InvoiceError::TruncatedField);
        }
        let tag = data[0];
        let len = usize::from(data[1]) << 5 | usize::from(data[2]);
        let body = data.get(3..3 + len).ok_or(InvoiceError::TruncatedField)?;
        data = &data[3 + len..];
        fields.push(parse_field(tag, body)?);
    }
    Ok(fields)
}

fn parse_field(tag: u8, data: &[u8]) -> Result<TaggedField, InvoiceError> {
    let tag_char = CHARSET[usize::from(tag)] as char;
    let unknown = || TaggedField::Unknown {
        tag,
        data: data.to_vec(),
    };
    Ok(match tag {
        tag::PAYMENT_HASH if data.len() == 52 => {
            TaggedField::PaymentHash(PaymentHash(bytes32(data)))
        }
        tag::PAYMENT_SECRET if data.len() == 52 => {
            TaggedField::PaymentSecret(PaymentSecret(bytes32(data)))
        }
        tag::DESCRIPTION_HASH if data.len() == 52 => TaggedField::DescriptionHash(bytes32(data)),
        tag::PAYEE_NODE_ID if data.len() == 53 => TaggedField::PayeeNodeId(
            PublicKey::from_slice(&u5_to_bytes(data))
                .map_err(|_| InvoiceError::InvalidPayeeNodeId)?,
        ),
        tag::DESCRIPTION => TaggedField::Description(
            String::from_utf8(u5_to_bytes(data)).map_err(|_| InvoiceError::InvalidDescription)?,
        ),
        tag::EXPIRY => TaggedField::Expiry(parse_int(tag_char, data)?),
        tag::MIN_FINAL_CLTV_EXPIRY_DELTA => {
            TaggedField::MinFinalCltvExpiryDelta(parse_int(tag_char, data)?)
        }
        tag::FEATURES => {
            if data.first() == Some(&0) {
                return Err(InvoiceError::NonMinimalField(tag_char));
            }
            TaggedField::Features(features_from_u5(data))
        }
        tag::METADATA => TaggedField::Metadata(u5_to_bytes(data)),
        tag::FALLBACK => match parse_fallback(data)? {
            Some(f) => TaggedField::Fallback(f),
            None => unknown(),
        },
        tag::ROUTE_HINT => TaggedField::RouteHint(parse_route_hint(data)?),
        _ => unknown(),
    })
}

/// `None` for versions the reader must skip (19..=31).
fn parse_fallback(data: &[u8]) -> Result<Option<Fallback>, InvoiceError> {
    let (&version, rest) = data
        .split_first()
        .ok_or(InvoiceError::InvalidFallbackAddress)?;
    let program = u5_to_bytes(rest);
    let fallback = match version {
        0..=16 => Fallback::Witness { version, program },
        17 | 18 => {
            let hash: [u8; 20] = program
                .try_into()
                .map_err(|_| InvoiceError::InvalidFallbackAddress)?;
            if version == 17 {
                Fallback::PubkeyHash(hash)
            } else {
                Fallback::ScriptHash(hash)
            }
        }
        _ => return Ok(None),
    };
    fallback.validate()?;
    Ok(Some(fallback))
}

fn parse_route_hint(data: &[u8]) -> Result<Vec<RouteHintHop>, InvoiceError> {
    let bytes = u5_to_bytes(data);
    if bytes.is_empty() || bytes.len() % ROUTE_HINT_HOP_LEN != 0 {
        return Err(InvoiceError::InvalidRouteHint);
    }
    bytes
        .chunks_exact(ROUTE_HINT_HOP_LEN)
        .map(|h| {
            let u32_at = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let mut scid = [0u8; 8];
            scid.copy_from_slice(&h[33..41]);
            Ok(RouteHintHop {
                node_id: PublicKey::from_slice(&h[..33])
                    .map_err(|_| InvoiceError::InvalidRouteHint)?,
                short_channel_id: ShortChannelId(u64::from_be_bytes(scid)),
                fee_base_msat: u32_at(41),
                fee_proportional_millionths: u32_at(45),
                cltv_expiry_delta: u16::from_be_bytes([h[49], h[50]]),
            })
        })
        .collect()
}

/// SHA256 of the human-readable part and the data part before the
/// signature, zero-padded to a byte.
pub(super) fn signing_hash(hrp_lower: &str, data: &[u8]) -> [u8; 32] {
    let mut engine = sha256::Hash::engine();
    bitcoin::hashes::HashEngine::input(&mut engine, hrp_lower.as_bytes());
    bitcoin::hashes::HashEngine::input(&mut engine, &pack_u5(data, true));
    sha256::Hash::from_engine(engine).to_byte_array()
}

/// The semantic content of the fields (first valid field of each type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Content {
    pub(super) payment_hash: PaymentHash,
    pub(super) payment_secret: PaymentSecret,
    pub(super) description: Description,
    pub(super) expiry: Option<u64>,
    pub(super) min_final_cltv_expiry_delta: Option<u64>,
    pub(super) fallbacks: Vec<Fallback>,
    pub(super) route_hints: Vec<Vec<RouteHintHop>>,
    pub(super) features: Features,
    pub(super) metadata: Option<Vec<u8>>,
    /// From an `n` field.
    pub(super) payee: Option<PublicKey>,
}

/// Applies the semantic rules to the fields.
fn check_fields(fields: &[TaggedField]) -> Result<Content, InvoiceError> {
    let mut payment_hash = None;
    let mut payment_secret = None;
    let mut description = None;
    let mut description_hash = None;
    let mut expiry = None;
    let mut min_final = None;
    let mut features = None;
    let mut metadata = None;
    let mut fallbacks = Vec::new();
    let mut route_hints = Vec::new();
    let mut payee = None;
    for f in fields {
        match f {
            TaggedField::PaymentHash(h) => {
                payment_hash.get_or_insert(*h);
            }
            TaggedField::PaymentSecret(s) => {
                payment_secret.get_or_insert(*s);
            }
            TaggedField::Description(d) => {
                description.get_or_insert_with(|| d.clone());
            }
            TaggedField::DescriptionHash(h) => {
                description_hash.get_or_insert(*h);
            }
            TaggedField::Expiry(x) => {
                expiry.get_or_insert(*x);
            }
            TaggedField::MinFinalCltvExpiryDelta(c) => {
                min_final.get_or_insert(*c);
            }
            TaggedField::Features(f) => {
                features.get_or_insert_with(|| f.clone());
            }
            TaggedField::Metadata(m) => {
                metadata.get_or_insert_with(|| m.clone());
            }
            TaggedField::Fallback(f) => fallbacks.push(f.clone()),
            TaggedField::RouteHint(r) => route_hints.push(r.clone()),
            TaggedField::PayeeNodeId(n) => {
                payee.get_or_insert(*n);
            }
            TaggedField::Unknown { .. } => {}
        }
    }
    let features = features.unwrap_or_default();
    if let Some(bit) = unknown_required_invoice_feature(&features) {
        return Err(InvoiceError::UnknownRequiredFeature(bit));
    }
    let payment_hash = payment_hash.ok_or(InvoiceError::MissingPaymentHash)?;
    let payment_secret = payment_secret.ok_or(InvoiceError::MissingPaymentSecret)?;
    let description = match (description, description_hash) {
        (Some(d), None) => Description::Direct(d),
        (None, Some(h)) => Description::Hash(h),
        (None, None) => return Err(InvoiceError::MissingDescription),
        (Some(_), Some(_)) => return Err(InvoiceError::DescriptionAndHash),
    };
    Ok(Content {
        payment_hash,
        payment_secret,
        description,
        expiry,
        min_final_cltv_expiry_delta: min_final,
        fallbacks,
        route_hints,
        features,
        metadata,
        payee,
    })
}
