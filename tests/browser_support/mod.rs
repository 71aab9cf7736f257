//! What the browser tests against an LDK node share (`browser_payments`,
//! `browser_node`): the helpers' addresses, reading JS values, timers, and
//! LDK's HTTP control API (`ldk-peer --control`, see `ldk_peer::control`).
//!
//! `scripts/test.sh` starts `lnwasm-proxy` and `ldk-peer --control` and
//! passes their addresses at compile time: `LNWASM_TEST_PROXY_URL`,
//! `LNWASM_TEST_LDK_URI` and `LNWASM_TEST_LDK_CONTROL`
//! (`http://127.0.0.1:<port>`). Without them the tests print a notice and
//! pass.
#![cfg(target_arch = "wasm32")]

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub const PROXY: Option<&str> = option_env!("LNWASM_TEST_PROXY_URL");
pub const LDK: Option<&str> = option_env!("LNWASM_TEST_LDK_URI");
pub const CONTROL: Option<&str> = option_env!("LNWASM_TEST_LDK_CONTROL");

/// LDK's default `minimum_depth` as fundee.
pub const LDK_MIN_DEPTH: u32 = 6;

/// Test randomness (node seeds, made-up funding inputs): fresh each run,
/// as the LDK process outlives one run.
pub fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for x in &mut b {
        *x = (js_sys::Math::random() * 256.0) as u8;
    }
    b
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

pub fn get_str(o: &JsValue, k: &str) -> String {
    get(o, k)
        .as_string()
        .unwrap_or_else(|| panic!("no string {k} in {}", show(o)))
}

pub fn get_num(o: &JsValue, k: &str) -> u64 {
    get(o, k)
        .as_f64()
        .unwrap_or_else(|| panic!("no number {k} in {}", show(o))) as u64
}

/// A value as JSON, for messages.
pub fn show(v: &JsValue) -> String {
    // JSON.stringify cannot write bigints: show them as strings.
    let replacer = Function::new_with_args(
        "k, v",
        "return typeof v === 'bigint' ? v.toString() + 'n' : v",
    );
    JSON::stringify_with_replacer(v, &replacer)
        .map(String::from)
        .unwrap_or_else(|_| format!("{v:?}"))
}

pub async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        let set_timeout: Function = get(&js_sys::global(), "setTimeout").dyn_into().unwrap();
        set_timeout
            .call2(&JsValue::NULL, &resolve, &ms.into())
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// One request to LDK's control API; the answer's JSON. A `body` is sent as
/// `text/plain` (a "simple" cross-origin request: no preflight needed).
pub async fn control(method: &str, path: &str, body: Option<String>) -> JsValue {
    let url = format!("{}{path}", CONTROL.unwrap().trim_end_matches('/'));
    let init = Object::new();
    Reflect::set(&init, &"method".into(), &method.into()).unwrap();
    if let Some(b) = body {
        Reflect::set(&init, &"body".into(), &b.into()).unwrap();
    }
    let fetch: Function = get(&js_sys::global(), "fetch").dyn_into().unwrap();
    let p: Promise = fetch
        .call2(&JsValue::NULL, &url.clone().into(), &init)
        .unwrap()
        .dyn_into()
        .unwrap();
    let resp = JsFuture::from(p)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"));
    let status = get_num(&resp, "status");
    let text: Function = get(&resp, "text").dyn_into().unwrap();
    let p: Promise = text.call0(&resp).unwrap().dyn_into().unwrap();
    let text = JsFuture::from(p).await.unwrap().as_string().unwrap();
    assert_eq!(status, 200, "{method} {url}: {text}");
    JSON::parse(&text).unwrap_or_else(|e| panic!("{method} {url}: {text}: {e:?}"))
}

/// LDK's view of the channel `channel_id` (hex), from its control API.
pub async fn ldk_channel(channel_id: &str) -> JsValue {
    let list = Array::from(&control("GET", "/channels", None).await);
    list.iter()
        .find(|c| get(c, "channel_id").as_string().as_deref() == Some(channel_id))
        .unwrap_or_else(|| panic!("LDK has no channel {channel_id}: {}", show(&list)))
}

/// A new LDK invoice of `amount_msat`: its `bolt11` and `payment_hash`.
pub async fn ldk_invoice(amount_msat: u64) -> JsValue {
    control(
        "POST",
        "/invoice",
        Some(format!("{{\"amount_msat\":{amount_msat}}}")),
    )
    .await
}

/// A funding transaction paying `amount_sat` to `script` from a made-up
/// output (LDK checks no inputs).
pub fn funding_tx(script: ScriptBuf, amount_sat: u64) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array(random_bytes()),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(amount_sat),
            script_pubkey: script,
        }],
    }
}
