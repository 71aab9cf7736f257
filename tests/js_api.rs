//! The wasm-bindgen surface in a real browser: the objects `decodeInvoice`
//! returns, the `code` on thrown errors, `encodeInvoice` argument handling.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use js_sys::{Array, BigInt, Function, Object, Reflect};
use lnwasm::js::{decode_invoice, encode_invoice};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const PRIV_KEY: &str = "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734";
const DONATION: &str = "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql";
const PICO: &str = "lnbc9678785340p1pwmna7lpp5gc3xfm08u9qy06djf8dfflhugl6p7lgza6dsjxq454gxhj9t7a0sd8dgfkx7cmtwd68yetpd5s9xar0wfjn5gpc8qhrsdfq24f5ggrxdaezqsnvda3kkum5wfjkzmfqf3jkgem9wgsyuctwdus9xgrcyqcjcgpzgfskx6eqf9hzqnteypzxz7fzypfhg6trddjhygrcyqezcgpzfysywmm5ypxxjemgw3hxjmn8yptk7untd9hxwg3q2d6xjcmtv4ezq7pqxgsxzmnyyqcjqmt0wfjjq6t5v4khxsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygsxqyjw5qcqp2rzjq0gxwkzc8w6323m55m4jyxcjwmy7stt9hwkwe2qxmy8zpsgg7jcuwz87fcqqeuqqqyqqqqlgqqqqn3qq9q9qrsgqrvgkpnmps664wgkp43l22qsgdw4ve24aca4nymnxddlnp8vh9v2sdxlu5ywdxefsfvm0fq3sesf08uf6q9a2ke0hc9j6z6wlxg5z5kqpu2v9wz";
const BAD_CHECKSUM: &str = "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt";

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

fn code(e: &JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>());
    get(e, "code").as_string().unwrap()
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

#[wasm_bindgen_test]
fn decode_gives_a_typed_object() {
    let inv = decode_invoice(JsValue::from_str(PICO)).unwrap();
    assert_eq!(get(&inv, "network").as_string().unwrap(), "bitcoin");
    let amount = get(&inv, "amountMsat");
    assert!(amount.is_bigint());
    assert_eq!(
        amount.dyn_into::<BigInt>().unwrap(),
        BigInt::from(967_878_534u64)
    );
    assert_eq!(get(&inv, "timestamp").as_f64(), Some(1572468703.0));
    assert_eq!(
        get(&inv, "paymentHash").as_string().unwrap(),
        "462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f"
    );
    assert!(get(&inv, "descriptionHash").is_null());
    assert_eq!(get(&inv, "expirySeconds").as_f64(), Some(604800.0));
    assert_eq!(get(&inv, "minFinalCltvExpiryDelta").as_f64(), Some(10.0));
    assert_eq!(
        get(&inv, "payeeNodeId").as_string().unwrap(),
        "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad"
    );
    assert_eq!(get(&inv, "paymentRequest").as_string().unwrap(), PICO);
    let hints: Array = get(&inv, "routeHints").dyn_into().unwrap();
    assert_eq!(hints.length(), 1);
    let hop = Array::from(&hints.get(0)).get(0);
    assert_eq!(
        get(&hop, "shortChannelId").as_string().unwrap(),
        "589390x3312x1"
    );
    assert_eq!(get(&hop, "feeBaseMsat").as_f64(), Some(1000.0));
    assert_eq!(
        get(&hop, "feeProportionalMillionths").as_f64(),
        Some(2500.0)
    );
    assert_eq!(get(&hop, "cltvExpiryDelta").as_f64(), Some(40.0));
    let features: Vec<f64> = Array::from(&get(&inv, "features"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(features, vec![8.0, 14.0]);
    assert!(get(&inv, "metadata").is_null());

    let is_expired: Function = get(&inv, "isExpired").dyn_into().unwrap();
    let at = |t: f64| {
        is_expired
            .call1(&inv, &JsValue::from_f64(t))
            .unwrap()
            .as_bool()
            .unwrap()
    };
    assert!(!at(1572468703.0 + 604799.0));
    assert!(at(1572468703.0 + 604800.0));
    // Without an argument: now, long after 2019.
    assert_eq!(is_expired.call0(&inv).unwrap().as_bool(), Some(true));
}

#[wasm_bindgen_test]
fn no_amount_is_null_and_uri_prefix_is_stripped() {
    let inv = decode_invoice(JsValue::from_str(&format!(
        " LIGHTNING:{}",
        DONATION.to_uppercase()
    )))
    .unwrap();
    assert!(get(&inv, "amountMsat").is_null());
    assert_eq!(get(&inv, "paymentRequest").as_string().unwrap(), DONATION);
    assert_eq!(
        get(&inv, "description").as_string().unwrap(),
        "Please consider supporting this project"
    );
}

#[wasm_bindgen_test]
fn errors_carry_their_code() {
    assert_eq!(
        code(&decode_invoice(JsValue::from_str(BAD_CHECKSUM)).unwrap_err()),
        "BAD_CHECKSUM"
    );
    assert_eq!(
        code(&decode_invoice(JsValue::from_str("")).unwrap_err()),
        "MISSING_SEPARATOR"
    );
    assert_eq!(
        code(&decode_invoice(JsValue::from_f64(1.0)).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    let e = decode_invoice(JsValue::from_str(BAD_CHECKSUM)).unwrap_err();
    assert_eq!(get(&e, "name").as_string().unwrap(), "LnwasmError");
}

fn donation_fields() -> Vec<(&'static str, JsValue)> {
    vec![
        ("network", "bitcoin".into()),
        ("timestamp", 1496314658.0.into()),
        (
            "paymentHash",
            "0001020304050607080900010203040506070809000102030405060708090102".into(),
        ),
        (
            "paymentSecret",
            "1111111111111111111111111111111111111111111111111111111111111111".into(),
        ),
        (
            "description",
            "Please consider supporting this project".into(),
        ),
    ]
}

#[wasm_bindgen_test]
fn encode_reproduces_spec_vectors() {
    let mut fields = donation_fields();
    let order: Array = ["s", "p", "d", "9"]
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
    fields.push(("fieldOrder", order.into()));
    assert_eq!(encode_invoice(obj(&fields), PRIV_KEY).unwrap(), DONATION);

    // The pico-BTC example: amount, expiry, cltv delta, a route hint.
    let hop = obj(&[
        (
            "nodeId",
            "03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7".into(),
        ),
        ("shortChannelId", "589390x3312x1".into()),
        ("feeBaseMsat", 1000.0.into()),
        ("feeProportionalMillionths", 2500.0.into()),
        ("cltvExpiryDelta", 40.0.into()),
    ]);
    let hints: Array = [Array::of1(&hop)].iter().collect();
    let order: Array = ["p", "d", "s", "x", "c", "r", "9"]
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
    let fields = obj(&[
        ("network", "bitcoin".into()),
        ("amountMsat", BigInt::from(967_878_534u64).into()),
        ("timestamp", 1572468703.0.into()),
        ("paymentHash", "462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f".into()),
        ("paymentSecret", "1111111111111111111111111111111111111111111111111111111111111111".into()),
        ("description", "Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, \"Back In My Day\" Sticker x 2, \"I Got Lightning Working\" Sticker x 2 and 1 more items".into()),
        ("expirySeconds", 604800.0.into()),
        ("minFinalCltvExpiryDelta", 10.0.into()),
        ("routeHints", hints.into()),
        ("fieldOrder", order.into()),
    ]);
    assert_eq!(encode_invoice(fields, PRIV_KEY).unwrap(), PICO);
}

#[wasm_bindgen_test]
fn encode_round_trips_and_rejects_bad_arguments() {
    let mut fields = donation_fields();
    fields.push(("amountMsat", 1500.0.into()));
    fields.push(("includePayeeNodeId", true.into()));
    fields.push((
        "fallbackAddresses",
        Array::of1(&"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".into()).into(),
    ));
    let s = encode_invoice(obj(&fields), PRIV_KEY).unwrap();
    assert!(s.starts_with("lnbc15n1"), "{s}");
    let inv = decode_invoice(JsValue::from_str(&s)).unwrap();
    assert_eq!(
        get(&inv, "amountMsat").dyn_into::<BigInt>().unwrap(),
        BigInt::from(1500u32)
    );
    assert_eq!(
        Array::from(&get(&inv, "fallbackAddresses"))
            .get(0)
            .as_string()
            .unwrap(),
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    );

    let bad = |k: &str, v: JsValue| {
        let mut f = donation_fields();
        f.retain(|(name, _)| *name != k);
        f.push((k, v));
        code(&encode_invoice(obj(&f), PRIV_KEY).unwrap_err())
    };
    assert_eq!(bad("network", "mainnet".into()), "INVALID_ARGUMENT");
    assert_eq!(bad("paymentHash", "00".into()), "INVALID_ARGUMENT");
    assert_eq!(bad("amountMsat", (-1.0).into()), "INVALID_ARGUMENT");
    assert_eq!(bad("timestamp", 1.5.into()), "INVALID_ARGUMENT");
    assert_eq!(
        bad("descriptionHash", "00".repeat(32).into()),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        bad("features", Array::of1(&100.0.into()).into()),
        "MISSING_PAYMENT_SECRET_FEATURE"
    );
    assert_eq!(
        bad("features", Array::of2(&14.0.into(), &100.0.into()).into()),
        "UNKNOWN_REQUIRED_FEATURE"
    );
    assert_eq!(
        bad(
            "fallbackAddresses",
            Array::of1(&"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx".into()).into()
        ),
        "FALLBACK_NETWORK_MISMATCH"
    );
    assert_eq!(bad("description", "x".repeat(640).into()), "FIELD_TOO_LONG");
    assert_eq!(
        code(&encode_invoice(obj(&donation_fields()), "00").unwrap_err()),
        "INVALID_SECRET_KEY"
    );
    assert_eq!(
        code(&encode_invoice(JsValue::from_str("x"), PRIV_KEY).unwrap_err()),
        "INVALID_ARGUMENT"
    );
}
