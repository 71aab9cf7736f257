//! In headless Chromium: lnwasm's WebSocket transport, through
//! `lnwasm-proxy`, to an LDK node (`ldk-peer`) — handshake, `init`
//! exchange, ping/pong both ways, clean disconnect — driven through the JS
//! entry `connectPeer`; plus the errors a wallet sees on bad input.
//!
//! `scripts/test.sh` starts the two helpers and passes their addresses at
//! compile time: `LNWASM_TEST_PROXY_URL` (`ws://127.0.0.1:<port>`) and
//! `LNWASM_TEST_LDK_URI` (`<node_id>@127.0.0.1:<port>`; the node pings every
//! second). Without them the tests that need the helpers print a notice and
//! pass.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use js_sys::{Array, Function, Object, Promise, Reflect};
use lnwasm::js::connect_peer;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

const PROXY: Option<&str> = option_env!("LNWASM_TEST_PROXY_URL");
const LDK: Option<&str> = option_env!("LNWASM_TEST_LDK_URI");

fn helpers(test: &str) -> Option<(&'static str, &'static str)> {
    match (PROXY, LDK) {
        (Some(p), Some(l)) => Some((p, l)),
        _ => {
            console_log!(
                "SKIPPED {test}: LNWASM_TEST_PROXY_URL / LNWASM_TEST_LDK_URI not set at build time \
                 (scripts/test.sh starts lnwasm-proxy and ldk-peer and sets them)"
            );
            None
        }
    }
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn code(e: &JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "{e:?}");
    assert_eq!(get(e, "name").as_string().as_deref(), Some("LnwasmError"));
    get(e, "code").as_string().unwrap()
}

async fn call(o: &JsValue, method: &str) -> Result<JsValue, JsValue> {
    let f: Function = get(o, method).dyn_into().unwrap();
    let p: Promise = f.call0(o).unwrap().dyn_into().unwrap();
    JsFuture::from(p).await
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        let set_timeout: Function = Reflect::get(&js_sys::global(), &"setTimeout".into())
            .unwrap()
            .dyn_into()
            .unwrap();
        set_timeout
            .call2(&JsValue::NULL, &resolve, &ms.into())
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

async fn connect(uri: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(connect_peer(uri.into(), opts).unwrap()).await
}

fn opts(proxy: &str) -> JsValue {
    obj(&[
        ("proxyUrl", proxy.into()),
        ("network", "regtest".into()),
        ("timeoutMs", 10_000.into()),
    ])
}

#[wasm_bindgen_test]
async fn through_the_proxy_to_ldk_and_back() {
    let Some((proxy, ldk)) = helpers("through_the_proxy_to_ldk_and_back") else {
        return;
    };
    let peer = connect(ldk, opts(proxy))
        .await
        .expect("connects to LDK through the proxy");
    let ldk_id = ldk.split('@').next().unwrap();
    assert_eq!(get(&peer, "nodeId").as_string().unwrap(), ldk_id);
    let features: Vec<u32> = Array::from(&get(&peer, "features"))
        .iter()
        .map(|v| v.as_f64().unwrap() as u32)
        .collect();
    // LDK requires what lnwasm requires (data_loss_protect, var_onion, static_remotekey,
    // payment_secret, channel_type: even bits) and offers basic_mpp.
    for bit in [0, 8, 12, 14, 44] {
        assert!(
            features.contains(&bit),
            "LDK's feature {bit} in {features:?}"
        );
    }
    assert!(features.contains(&17), "basic_mpp optional in {features:?}");
    let networks: Vec<String> = Array::from(&get(&peer, "networks"))
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(networks, vec!["regtest".to_string()]);
    assert_eq!(get(&peer, "isConnected").as_bool(), Some(true));

    // lnwasm pings LDK.
    let rtt = call(&peer, "ping")
        .await
        .expect("LDK answers")
        .as_f64()
        .unwrap();
    assert!((0.0..10_000.0).contains(&rtt), "rtt {rtt}");
    // LDK pings every second (ldk-peer --peer-tick-secs 1) and drops peers
    // that do not answer: lnwasm answers, and stays connected.
    let mut answered = 0.0;
    for _ in 0..50 {
        answered = get(&peer, "pingsAnswered").as_f64().unwrap();
        if answered >= 2.0 {
            break;
        }
        sleep(100).await;
    }
    assert!(answered >= 2.0, "answered {answered} of LDK's pings");
    assert_eq!(get(&peer, "isConnected").as_bool(), Some(true));

    // Clean close.
    call(&peer, "disconnect").await.unwrap();
    assert_eq!(get(&peer, "isConnected").as_bool(), Some(false));
    let e = call(&peer, "ping").await.unwrap_err();
    assert_eq!(code(&e), "PEER_CLOSED");
    // Disconnecting twice is fine.
    call(&peer, "disconnect").await.unwrap();
}

#[wasm_bindgen_test]
async fn helpers_errors_reach_js_with_codes() {
    let Some((proxy, ldk)) = helpers("helpers_errors_reach_js_with_codes") else {
        return;
    };
    let (_, addr) = ldk.split_once('@').unwrap();
    // Wrong node id: LDK cannot decrypt act one and hangs up.
    let other = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
    let e = connect(&format!("{other}@{addr}"), opts(proxy))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "CONNECTION_CLOSED");
    // Another chain: lnwasm refuses LDK's init.
    let o = obj(&[("proxyUrl", proxy.into()), ("network", "bitcoin".into())]);
    let e = connect(ldk, o).await.unwrap_err();
    assert!(
        ["NO_COMMON_CHAIN", "CONNECTION_CLOSED"].contains(&code(&e).as_str()),
        "{}",
        code(&e)
    );
    // Nothing listens there: the proxy refuses the upgrade.
    let e = connect(&format!("{other}@127.0.0.1:1"), opts(proxy))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "CONNECT_FAILED");
}

#[wasm_bindgen_test]
async fn bad_arguments_are_refused() {
    let id = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
    for (uri, opts, want) in [
        (JsValue::from(1), JsValue::UNDEFINED, "INVALID_ARGUMENT"),
        ("nonsense".into(), JsValue::UNDEFINED, "INVALID_PEER_URI"),
        (
            format!("{id}@host").into(),
            JsValue::UNDEFINED,
            "INVALID_PEER_URI",
        ),
        (
            "02@1.2.3.4:9735".into(),
            JsValue::UNDEFINED,
            "INVALID_PEER_URI",
        ),
        (
            format!("{id}@1.2.3.4:9735").into(),
            JsValue::UNDEFINED,
            "INVALID_ARGUMENT",
        ),
        (
            format!("{id}@1.2.3.4:9735").into(),
            obj(&[("proxyUrl", "http://x".into())]),
            "INVALID_URL",
        ),
        (
            format!("{id}@1.2.3.4:9735").into(),
            obj(&[
                ("websocketUrl", "ws://x".into()),
                ("timeoutMs", (-1).into()),
            ]),
            "INVALID_ARGUMENT",
        ),
        (
            format!("{id}@1.2.3.4:9735").into(),
            obj(&[
                ("websocketUrl", "ws://x".into()),
                ("nodeSecretKey", "00".into()),
            ]),
            "INVALID_ARGUMENT",
        ),
    ] {
        let e = JsFuture::from(connect_peer(uri.clone(), opts).unwrap())
            .await
            .unwrap_err();
        assert_eq!(code(&e), want, "{uri:?}");
    }
}

#[wasm_bindgen_test]
async fn an_unreachable_websocket_fails_with_a_code() {
    // Port 9 on loopback: nothing listens, the socket never opens.
    let id = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
    let o = obj(&[
        ("websocketUrl", "ws://127.0.0.1:9/".into()),
        ("timeoutMs", 5000.into()),
    ]);
    let e = connect(&format!("{id}@127.0.0.1:9"), o).await.unwrap_err();
    assert!(["CONNECT_FAILED", "CONNECT_TIMEOUT"].contains(&code(&e).as_str()));
}
