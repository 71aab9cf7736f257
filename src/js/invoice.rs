//! `decodeInvoice` and `encodeInvoice`.

use js_sys::{Array, BigInt, Object, Reflect};
use secp256k1::{PublicKey, SecretKey};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{bad_arg, to_js};
use crate::invoice::{
    self, Description, Fallback, Invoice, InvoiceError, Network, NewInvoice, RouteHintHop, CHARSET,
};
use crate::types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};
use crate::util::{from_hex, from_hex_array, to_hex};
use crate::wire::features::Features;

#[wasm_bindgen(inline_js = r#"
const invoiceProto = {
  isExpired(now) {
    const t = now === undefined ? Date.now() / 1000 : now;
    return t >= this.timestamp + this.expirySeconds;
  },
};
export function makeHop(nodeId, shortChannelId, feeBaseMsat, feeProportionalMillionths, cltvExpiryDelta) {
  return { nodeId, shortChannelId, feeBaseMsat, feeProportionalMillionths, cltvExpiryDelta };
}
function normalize(s) {
  s = s.trim();
  if (s.slice(0, 10).toLowerCase() === "lightning:") s = s.slice(10);
  return s.toLowerCase();
}
export function makeInvoice(input, network, amountMsat, timestamp, paymentHash, paymentSecret,
    description, descriptionHash, expirySeconds, minFinalCltvExpiryDelta, payeeNodeId,
    fallbackAddresses, routeHints, features, metadata) {
  const o = Object.create(invoiceProto);
  o.paymentRequest = normalize(input);
  o.network = network;
  o.amountMsat = amountMsat;
  o.timestamp = timestamp;
  o.paymentHash = paymentHash;
  o.paymentSecret = paymentSecret;
  o.description = description;
  o.descriptionHash = descriptionHash;
  o.expirySeconds = expirySeconds;
  o.minFinalCltvExpiryDelta = minFinalCltvExpiryDelta;
  o.payeeNodeId = payeeNodeId;
  o.fallbackAddresses = fallbackAddresses;
  o.routeHints = routeHints;
  o.features = features;
  o.metadata = metadata;
  return o;
}
"#)]
extern "C" {
    /// Builds the `Invoice` object in one call (keys are JS literals).
    #[wasm_bindgen(js_name = makeInvoice)]
    #[allow(clippy::too_many_arguments)]
    fn make_invoice(
        input: &JsValue,
        network: &str,
        amount_msat: JsValue,
        timestamp: f64,
        payment_hash: &str,
        payment_secret: &str,
        description: JsValue,
        description_hash: JsValue,
        expiry_seconds: f64,
        min_final_cltv_expiry_delta: f64,
        payee_node_id: &str,
        fallback_addresses: Array,
        route_hints: Array,
        features: Array,
        metadata: JsValue,
    ) -> JsValue;

    #[wasm_bindgen(js_name = makeHop)]
    fn make_hop(
        node_id: &str,
        short_channel_id: &str,
        fee_base: u32,
        fee_proportional: u32,
        cltv_delta: u16,
    ) -> JsValue;
}

/// Decodes a BOLT 11 invoice and checks its signature. Throws an
/// `LnwasmError` whose `code` names the failure.
#[wasm_bindgen(js_name = decodeInvoice, unchecked_return_type = "Invoice")]
pub fn decode_invoice(
    #[wasm_bindgen(unchecked_param_type = "string")] invoice: JsValue,
) -> Result<JsValue, JsValue> {
    let s = invoice
        .as_string()
        .ok_or_else(|| bad_arg("invoice must be a string"))?;
    let inv = invoice::decode(&s).map_err(to_js)?;
    Ok(invoice_to_js(&inv, &invoice))
}

/// `input` is the string the caller passed (normalised on the JS side).
pub(super) fn invoice_to_js(inv: &Invoice, input: &JsValue) -> JsValue {
    let (description, description_hash) = match inv.description() {
        Description::Direct(d) => (JsValue::from_str(d), JsValue::NULL),
        Description::Hash(h) => (JsValue::NULL, JsValue::from_str(&to_hex(h))),
    };
    let amount = match inv.amount() {
        Some(Msat(m)) => BigInt::from(m).into(),
        None => JsValue::NULL,
    };
    let network = inv.network();
    let fallbacks: Array = inv
        .fallbacks()
        .iter()
        .map(|f| JsValue::from_str(&f.to_address(network)))
        .collect();
    let route_hints: Array = inv
        .route_hints()
        .iter()
        .map(|hops| hops.iter().map(hop_to_js).collect::<Array>())
        .collect();
    let features: Array = inv
        .features()
        .bits()
        .map(|b| JsValue::from_f64(b as f64))
        .collect();
    let metadata = inv
        .metadata()
        .map_or(JsValue::NULL, |m| JsValue::from_str(&to_hex(m)));
    make_invoice(
        input,
        network.as_str(),
        amount,
        inv.timestamp() as f64,
        &to_hex(&inv.payment_hash().0),
        &to_hex(&inv.payment_secret().0),
        description,
        description_hash,
        inv.expiry_seconds() as f64,
        inv.min_final_cltv_expiry_delta() as f64,
        &to_hex(&inv.payee().serialize()),
        fallbacks,
        route_hints,
        features,
        metadata,
    )
}

fn hop_to_js(h: &RouteHintHop) -> JsValue {
    make_hop(
        &to_hex(&h.node_id.serialize()),
        &h.short_channel_id.to_string(),
        h.fee_base_msat,
        h.fee_proportional_millionths,
        h.cltv_expiry_delta,
    )
}

/// Builds, signs and encodes an invoice. `secretKeyHex` is the payee's
/// node secret key (32 bytes hex). Throws an `LnwasmError` (`INVALID_ARGUMENT`
/// for a malformed field, or an invoice error code).
#[wasm_bindgen(js_name = encodeInvoice)]
pub fn encode_invoice(
    #[wasm_bindgen(unchecked_param_type = "InvoiceFields")] fields: JsValue,
    #[wasm_bindgen(js_name = secretKeyHex)] secret_key_hex: &str,
) -> Result<String, JsValue> {
    let key = from_hex_array::<32>(secret_key_hex)
        .and_then(|b| SecretKey::from_slice(&b).ok())
        .ok_or_else(|| to_js(InvoiceError::InvalidSecretKey))?;
    let f = Fields(
        fields
            .dyn_into::<Object>()
            .map_err(|_| bad_arg("fields must be an object"))?,
    );

    let network = f
        .string("network")?
        .ok_or_else(|| bad_arg("network is required"))?;
    let network = Network::from_name(&network)
        .ok_or_else(|| bad_arg("network must be bitcoin, testnet, signet or regtest"))?;
    let description = match (f.string("description")?, f.string("descriptionHash")?) {
        (Some(d), None) => Description::Direct(d),
        (None, Some(h)) => Description::Hash(hex32(&h, "descriptionHash")?),
        _ => {
            return Err(bad_arg(
                "exactly one of description and descriptionHash is required",
            ))
        }
    };
    let timestamp = match f.uint("timestamp")? {
        Some(t) => t,
        None => (js_sys::Date::now() / 1000.0) as u64,
    };
    let fallbacks = match f.get("fallbackAddresses")? {
        None => Vec::new(),
        Some(v) => array(v, "fallbackAddresses")?
            .iter()
            .map(|a| {
                let s = a
                    .as_string()
                    .ok_or_else(|| bad_arg("fallbackAddresses must be strings"))?;
                Fallback::from_address(&s, network).map_err(to_js)
            })
            .collect::<Result<_, _>>()?,
    };
    let route_hints = f.route_hints()?;
    let features = match f.get("features")? {
        None => Features::from_bits(&[8, 14]),
        Some(v) => {
            let mut bits = Vec::new();
            for b in array(v, "features")?.iter() {
                let n = b
                    .as_f64()
                    .filter(|n| n.fract() == 0.0 && (0.0..5115.0).contains(n));
                bits.push(
                    n.ok_or_else(|| bad_arg("features must be bit numbers 0..5114"))? as usize,
                );
            }
            Features::from_bits(&bits)
        }
    };
    let order = match f.get("fieldOrder")? {
        None => Vec::new(),
        Some(v) => array(v, "fieldOrder")?
            .iter()
            .map(|t| {
                t.as_string()
                    .and_then(|s| {
                        CHARSET
                            .iter()
                            .position(|c| s.len() == 1 && s.as_bytes()[0] == *c)
                    })
                    .map(|p| p as u8)
                    .ok_or_else(|| bad_arg("fieldOrder must hold tag letters"))
            })
            .collect::<Result<_, _>>()?,
    };
    let new = NewInvoice {
        network,
        amount: f.amount()?,
        timestamp,
        payment_hash: PaymentHash(hex32(
            &f.string("paymentHash")?
                .ok_or_else(|| bad_arg("paymentHash is required"))?,
            "paymentHash",
        )?),
        payment_secret: PaymentSecret(hex32(
            &f.string("paymentSecret")?
                .ok_or_else(|| bad_arg("paymentSecret is required"))?,
            "paymentSecret",
        )?),
        description,
        include_payee_node_id: f.get("includePayeeNodeId")?.is_some_and(|v| v.is_truthy()),
        expiry: f.uint("expirySeconds")?,
        min_final_cltv_expiry_delta: f.uint("minFinalCltvExpiryDelta")?,
        fallbacks,
        route_hints,
        features,
        metadata: match f.string("metadata")? {
            None => None,
            Some(m) => Some(from_hex(&m).ok_or_else(|| bad_arg("metadata must be hex"))?),
        },
    };
    new.sign(&key, &order).map_err(to_js)
}

/// Typed reads of an `InvoiceFields` object.
pub(super) struct Fields(pub(super) Object);

impl Fields {
    /// `None` for a missing, `undefined` or `null` property.
    pub(super) fn get(&self, key: &str) -> Result<Option<JsValue>, JsValue> {
        let v = Reflect::get(&self.0, &JsValue::from_str(key)).map_err(|_| bad_arg(key))?;
        Ok((!v.is_undefined() && !v.is_null()).then_some(v))
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        self.get(key)?
            .map(|v| {
                v.as_string()
                    .ok_or_else(|| bad_arg(&format!("{key} must be a string")))
            })
            .transpose()
    }

    /// A non-negative safe integer.
    pub(super) fn uint(&self, key: &str) -> Result<Option<u64>, JsValue> {
        self.get(key)?
            .map(|v| {
                js_uint(&v).ok_or_else(|| bad_arg(&format!("{key} must be a non-negative integer")))
            })
            .transpose()
    }

    /// `routeHints`: arrays of hops (none when missing).
    pub(super) fn route_hints(&self) -> Result<Vec<Vec<RouteHintHop>>, JsValue> {
        let Some(v) = self.get("routeHints")? else {
            return Ok(Vec::new());
        };
        array(v, "routeHints")?
            .iter()
            .map(|hint| {
                array(hint, "routeHints[i]")?
                    .iter()
                    .map(hop_from_js)
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect()
    }

    /// `amountMsat`: a bigint or a safe integer.
    fn amount(&self) -> Result<Option<Msat>, JsValue> {
        Ok(self.big("amountMsat")?.map(Msat))
    }

    /// A non-negative bigint or safe integer.
    pub(super) fn big(&self, key: &str) -> Result<Option<u64>, JsValue> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        let err = || bad_arg(&format!("{key} must be a non-negative bigint or integer"));
        let m = if v.is_bigint() {
            u64::try_from(v.dyn_into::<BigInt>().map_err(|_| err())?).map_err(|_| err())?
        } else {
            js_uint(&v).ok_or_else(err)?
        };
        Ok(Some(m))
    }
}

fn js_uint(v: &JsValue) -> Option<u64> {
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(n))
        .map(|n| n as u64)
}

pub(super) fn array(v: JsValue, what: &str) -> Result<Array, JsValue> {
    if Array::is_array(&v) {
        Ok(v.unchecked_into())
    } else {
        Err(bad_arg(&format!("{what} must be an array")))
    }
}

pub(super) fn hex32(s: &str, what: &str) -> Result<[u8; 32], JsValue> {
    from_hex_array::<32>(s).ok_or_else(|| bad_arg(&format!("{what} must be 32 bytes of hex")))
}

fn hop_from_js(v: JsValue) -> Result<RouteHintHop, JsValue> {
    let f = Fields(
        v.dyn_into::<Object>()
            .map_err(|_| bad_arg("route hint hops must be objects"))?,
    );
    let node_id = f
        .string("nodeId")?
        .and_then(|h| from_hex(&h))
        .and_then(|b| PublicKey::from_slice(&b).ok())
        .ok_or_else(|| bad_arg("nodeId must be a 33-byte public key in hex"))?;
    let scid: ShortChannelId = f
        .string("shortChannelId")?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_arg("shortChannelId must be BLOCKxTXxOUTPUT"))?;
    let u32_field = |k: &str| -> Result<u32, JsValue> {
        f.uint(k)?
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad_arg(&format!("{k} must be a 32-bit unsigned integer")))
    };
    Ok(RouteHintHop {
        node_id,
        short_channel_id: scid,
        fee_base_msat: u32_field("feeBaseMsat")?,
        fee_proportional_millionths: u32_field("feeProportionalMillionths")?,
        cltv_expiry_delta: u16::try_from(u32_field("cltvExpiryDelta")?)
            .map_err(|_| bad_arg("cltvExpiryDelta must be a 16-bit unsigned integer"))?,
    })
}
