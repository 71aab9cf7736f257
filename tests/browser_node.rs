//! In headless Chromium: the `LnNode` JS API against an LDK node process
//! (`ldk-peer`), through `lnwasm-proxy`, as a wallet page would use it:
//! every call goes through the JS object (`Reflect`), and the node runs on
//! its own in the page's event loop while the test awaits.
//!
//! One node, with its state in IndexedDB: connect, open a channel (funded
//! by the `fund` callback, published through the `publish` event), confirm
//! it with `blockConnected`, be paid by LDK (`createInvoice`), pay LDK
//! (`payInvoice`), refuse a second payment of the same invoice, fail a
//! payment at LDK with the code LDK returned, reconnect by itself when LDK
//! drops the connection, refuse a second node on the same database, stop,
//! and resume from IndexedDB in a new `LnNode` that reconnects by itself and
//! pays again over the same channel, then again after enough payments for
//! the peer's revoked commitments to be stored in sealed chunks; after
//! `disconnect`, a restart does not reconnect. A database of another seed
//! is refused.
//!
//! `scripts/test.sh` starts the helpers and passes their addresses at
//! compile time (see tests/browser_support); without them the test prints
//! a notice and passes.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod browser_support;

use std::cell::RefCell;
use std::rc::Rc;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::{OutPoint, ScriptBuf, Transaction};
use browser_support::{
    control, funding_tx, get, get_num, get_str, hex, ldk_channel, ldk_invoice, random_bytes, show,
    sleep, CONTROL, LDK, LDK_MIN_DEPTH, PROXY,
};
use js_sys::{Array, BigInt, Function, Object, Promise, Reflect};
use lnwasm::js::{decode_invoice, encode_invoice, LnNode};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

const FUNDING_SAT: u64 = 1_000_000;
const PUSH_MSAT: u64 = 400_000_000;
/// How long any one wait may take, in milliseconds.
const T: f64 = 30_000.0;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn get_big(o: &JsValue, k: &str) -> u64 {
    let v = get(o, k);
    assert!(v.is_bigint(), "{k} is not a bigint in {}", show(o));
    u64::try_from(v.dyn_into::<BigInt>().unwrap()).unwrap()
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn big(n: u64) -> JsValue {
    BigInt::from(n).into()
}

/// Calls `o[name](...args)`.
fn call(o: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    let f: Function = get(o, name)
        .dyn_into()
        .unwrap_or_else(|_| panic!("no method {name}"));
    f.apply(o, &args.iter().collect::<Array>())
        .unwrap_or_else(|e| panic!("{name} threw {e:?}"))
}

/// Calls a method returning a promise and awaits it.
async fn call_async(o: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let p: Promise = call(o, name, args)
        .dyn_into()
        .unwrap_or_else(|_| panic!("{name} did not return a promise"));
    JsFuture::from(p).await
}

async fn ok(o: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    call_async(o, name, args).await.unwrap_or_else(|e| {
        panic!(
            "{name} rejected: {} {}",
            get(&e, "code").as_string().unwrap_or_default(),
            get(&e, "message").as_string().unwrap_or_default()
        )
    })
}

/// The rejection of a call that must fail.
async fn rejected(o: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    match call_async(o, name, args).await {
        Ok(v) => panic!("{name} resolved with {}", show(&v)),
        Err(e) => {
            assert!(e.is_instance_of::<js_sys::Error>());
            assert_eq!(get_str(&e, "name"), "LnwasmError");
            e
        }
    }
}

/// Waits until `f` holds (the node works in the background meanwhile).
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = js_sys::Date::now();
    while !f() {
        assert!(
            js_sys::Date::now() - start < T,
            "timed out waiting for {what}"
        );
        sleep(10).await;
    }
}

type Events = Rc<RefCell<Vec<JsValue>>>;

/// Creates an `LnNode` and records its events.
async fn create(options: JsValue) -> Result<(JsValue, Events), JsValue> {
    let node = JsFuture::from(LnNode::create(options)).await?;
    let events: Events = Rc::default();
    let sink = events.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| sink.borrow_mut().push(e));
    call(&node, "onEvent", &[listener.into_js_value()]);
    Ok((node, events))
}

fn find_event(events: &Events, kind: &str, key: &str, value: &str) -> Option<JsValue> {
    events
        .borrow()
        .iter()
        .find(|e| {
            get(e, "type").as_string().as_deref() == Some(kind)
                && get(e, key).as_string().as_deref() == Some(value)
        })
        .cloned()
}

fn the_channel(node: &JsValue) -> JsValue {
    let list = Array::from(&call(node, "listChannels", &[]));
    assert_eq!(list.length(), 1, "{}", show(&list));
    list.get(0)
}

/// Pays an LDK invoice of `amount` msat from `node`; checks the result
/// against LDK's record of the payment.
async fn pay_ldk(node: &JsValue, amount: u64) {
    let created = ldk_invoice(amount).await;
    let bolt11 = get_str(&created, "bolt11");
    let hash = get_str(&created, "payment_hash");
    let r = ok(
        node,
        "payInvoice",
        &[bolt11.clone().into(), obj(&[("maxFeeMsat", big(0))])],
    )
    .await;
    assert_eq!(get_str(&r, "paymentHash"), hash);
    let preimage = get_str(&r, "preimage");
    assert_eq!(
        hex(&sha256::Hash::hash(&unhex(&preimage)).to_byte_array()),
        hash
    );
    assert_eq!(
        (
            get_big(&r, "amountMsat"),
            get_big(&r, "feeMsat"),
            get_num(&r, "attempts")
        ),
        (amount, 0, 1)
    );
    let sent = listed(node, "listPayments", &hash);
    assert_eq!(get_str(&sent, "status"), "succeeded");
    assert_eq!(get_str(&sent, "preimage"), preimage);
    assert_eq!(
        (get_big(&sent, "amountMsat"), get_big(&sent, "feeMsat")),
        (amount, 0)
    );
    let payee = decode_invoice(bolt11.clone().into()).unwrap();
    assert_eq!(get_str(&sent, "payee"), get_str(&payee, "payeeNodeId"));
    assert!((get_num(&sent, "createdAt") as f64 - js_sys::Date::now() / 1000.0).abs() < 600.0);
    let start = js_sys::Date::now();
    let claimed = loop {
        let list = Array::from(&control("GET", "/received", None).await);
        if let Some(c) = list
            .iter()
            .find(|c| get(c, "payment_hash").as_string().as_deref() == Some(hash.as_str()))
        {
            break c;
        }
        assert!(js_sys::Date::now() - start < T, "LDK did not claim {hash}");
        sleep(20).await;
    };
    assert_eq!(get_str(&claimed, "preimage"), preimage);
    assert_eq!(get_num(&claimed, "amount_msat"), amount);
    // The same invoice is never paid twice.
    let e = rejected(node, "payInvoice", &[bolt11.into()]).await;
    assert_eq!(get_str(&e, "code"), "PAYMENT_ALREADY_PAID");
}

/// The entry of `listInvoices` or `listPayments` (`method`) for `hash`.
fn listed(node: &JsValue, method: &str, hash: &str) -> JsValue {
    Array::from(&call(node, method, &[]))
        .iter()
        .find(|e| get_str(e, "paymentHash") == hash)
        .unwrap_or_else(|| panic!("{method} lists no {hash}"))
}

/// Opens a channel of [`FUNDING_SAT`] to `node_id`, pushing `push_msat`,
/// funded through `fund`; what `openChannel` resolved with, and the
/// funding transaction.
async fn open_funded(node: &JsValue, node_id: &str, push_msat: u64) -> (JsValue, Transaction) {
    let funding: Rc<RefCell<Option<Transaction>>> = Rc::default();
    let opened = ok(
        node,
        "openChannel",
        &[obj(&[
            ("nodeId", node_id.into()),
            ("fundingSat", big(FUNDING_SAT)),
            ("pushMsat", big(push_msat)),
            ("feeratePerKw", 1000.into()),
            ("fund", fund_into(funding.clone())),
        ])],
    )
    .await;
    let tx = funding.borrow().clone().expect("fund was called");
    (opened, tx)
}

/// A `fund` callback: builds the funding transaction asked for, keeps it
/// in `slot` and returns it in hex, through a promise (as a wallet's
/// signing would).
fn fund_into(slot: Rc<RefCell<Option<Transaction>>>) -> JsValue {
    Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |req: JsValue| {
        let script = ScriptBuf::from_bytes(unhex(&get_str(&req, "scriptPubKey")));
        assert_eq!(get_str(&req, "temporaryChannelId").len(), 64);
        let tx = funding_tx(script, get_big(&req, "amountSat"));
        let hex = serialize_hex(&tx);
        *slot.borrow_mut() = Some(tx);
        Promise::resolve(&JsValue::from(hex)).into()
    })
    .into_js_value()
}

/// Closes `channel_id` with `options`, expecting a close of `kind`; waits
/// for the closing transaction's `publish` event and returns it.
async fn close(
    node: &JsValue,
    events: &Events,
    channel_id: &str,
    options: JsValue,
    kind: &str,
) -> Transaction {
    let closed = ok(node, "closeChannel", &[channel_id.into(), options]).await;
    assert_eq!(get_str(&closed, "channelId"), channel_id);
    assert_eq!(get_str(&closed, "kind"), kind);
    let txid = get_str(&closed, "txid");
    until("the closing transaction published", || {
        find_event(events, "publish", "txid", &txid).is_some()
    })
    .await;
    let published = find_event(events, "publish", "txid", &txid).unwrap();
    let tx: Transaction = deserialize_hex(&get_str(&published, "txHex")).unwrap();
    assert_eq!(tx.compute_txid().to_string(), txid);
    tx
}

/// Waits until the channel has no HTLC left; its balances.
async fn settled(node: &JsValue) -> (u64, u64) {
    until("no HTLC in flight", || {
        get_big(&the_channel(node), "inFlightMsat") == 0
    })
    .await;
    let c = the_channel(node);
    (
        get_big(&c, "localBalanceMsat"),
        get_big(&c, "remoteBalanceMsat"),
    )
}

#[wasm_bindgen_test]
async fn lnnode_pays_and_is_paid_by_ldk_and_resumes_from_indexeddb() {
    let (Some(proxy), Some(ldk), Some(_)) = (PROXY, LDK, CONTROL) else {
        console_log!(
            "SKIPPED lnnode_pays_and_is_paid_by_ldk_and_resumes_from_indexeddb: \
             LNWASM_TEST_PROXY_URL / LNWASM_TEST_LDK_URI / LNWASM_TEST_LDK_CONTROL not set at \
             build time (scripts/test.sh sets them)"
        );
        return;
    };
    let ldk_id = ldk.split('@').next().unwrap().to_string();
    let height = get_num(&control("GET", "/info", None).await, "height") as u32;
    let seed = hex(&random_bytes());
    let db = format!("lnwasm-test-{}", &hex(&random_bytes())[..16]);
    let options = |seed: &str, height: u32| {
        obj(&[
            ("seed", seed.into()),
            ("network", "regtest".into()),
            ("bestHeight", height.into()),
            ("storage", obj(&[("indexedDb", db.as_str().into())])),
            ("proxyUrl", proxy.into()),
        ])
    };
    let (node, events) = create(options(&seed, height)).await.expect("LnNode.create");
    let our_id = get_str(&node, "nodeId");
    let info = call(&node, "info", &[]);
    assert_eq!(get_str(&info, "nodeId"), our_id);
    assert_eq!(get_str(&info, "network"), "regtest");
    assert_eq!(get_num(&info, "bestHeight"), height as u64);
    assert_eq!(Array::from(&call(&node, "listChannels", &[])).length(), 0);

    // Bad arguments and a peer we are not connected to are refused with codes.
    let e = rejected(
        &node,
        "openChannel",
        &[obj(&[("nodeId", ldk_id.clone().into())])],
    )
    .await;
    assert_eq!(get_str(&e, "code"), "INVALID_ARGUMENT");
    let noop = Function::new_no_args("return ''");
    let e = rejected(
        &node,
        "openChannel",
        &[obj(&[
            ("nodeId", ldk_id.clone().into()),
            ("fundingSat", big(FUNDING_SAT)),
            ("fund", noop.into()),
        ])],
    )
    .await;
    assert_eq!(get_str(&e, "code"), "PEER_NOT_CONNECTED");

    let peer = ok(&node, "connect", &[ldk.into()]).await;
    assert_eq!(get_str(&peer, "nodeId"), ldk_id);
    assert_eq!(
        Array::from(&get(&call(&node, "info", &[]), "peers")).to_vec(),
        vec![JsValue::from_str(&ldk_id)]
    );

    // Open, funded through `fund`.
    let (opened, tx) = open_funded(&node, &ldk_id, PUSH_MSAT).await;
    assert_eq!(tx.output[0].value.to_sat(), FUNDING_SAT);
    let txid = tx.compute_txid().to_string();
    let channel_id = get_str(&opened, "channelId");
    assert_eq!(get_str(&opened, "fundingTxid"), txid);
    let published = find_event(&events, "publish", "txid", &txid).expect("funding published");
    assert_eq!(get_str(&published, "txHex"), serialize_hex(&tx));
    assert!(find_event(&events, "channelFunded", "channelId", &channel_id).is_some());
    let watches = Array::from(&call(&node, "watches", &[]));
    let w = watches
        .iter()
        .find(|w| get(w, "txid").as_string().as_deref() == Some(txid.as_str()))
        .expect("funding watched");
    assert_eq!(get_str(&w, "type"), "confirmed");
    assert_eq!(
        get_str(&w, "scriptPubKey"),
        hex(tx.output[0].script_pubkey.as_bytes())
    );
    let c = the_channel(&node);
    assert_eq!(get_str(&c, "channelId"), channel_id);
    assert_eq!(get_str(&c, "status"), "opening");
    assert_eq!(get_big(&c, "capacitySat"), FUNDING_SAT);
    assert!(get(&c, "outbound").as_bool().unwrap());

    // LDK mines it; the node hears of the same blocks.
    let confirmed = control(
        "POST",
        "/confirm",
        Some(format!(
            "{{\"tx\":\"{}\",\"blocks\":{LDK_MIN_DEPTH}}}",
            get_str(&published, "txHex")
        )),
    )
    .await;
    let conf_height = get_num(&confirmed, "height") as u32;
    let tip = get_num(&confirmed, "tip") as u32;
    for h in conf_height..=tip {
        let txs: Array = if h == conf_height {
            Array::of1(&get(&published, "txHex"))
        } else {
            Array::new()
        };
        ok(&node, "blockConnected", &[h.into(), txs.into()]).await;
    }
    assert_eq!(get_num(&call(&node, "info", &[]), "bestHeight"), tip as u64);
    let scid = format!("{conf_height}x0x0");
    until("channel usable", || {
        get(&the_channel(&node), "usable").as_bool() == Some(true)
    })
    .await;
    let start = js_sys::Date::now();
    while get(&ldk_channel(&channel_id).await, "is_usable").as_bool() != Some(true) {
        assert!(js_sys::Date::now() - start < T, "LDK's channel not usable");
        sleep(20).await;
    }
    let c = the_channel(&node);
    assert_eq!(get_str(&c, "status"), "normal");
    assert_eq!(get_str(&c, "shortChannelId"), scid);
    assert!(find_event(&events, "channelReady", "channelId", &channel_id).is_some());
    assert_eq!(
        settled(&node).await,
        (FUNDING_SAT * 1000 - PUSH_MSAT, PUSH_MSAT)
    );

    // (a) LDK pays an invoice of the node.
    let a = 30_000_000;
    let inv = ok(
        &node,
        "createInvoice",
        &[obj(&[
            ("amountMsat", big(a)),
            ("description", "browser".into()),
        ])],
    )
    .await;
    let bolt11 = get_str(&inv, "paymentRequest");
    let hash = get_str(&inv, "paymentHash");
    let decoded = decode_invoice(bolt11.clone().into()).unwrap();
    assert_eq!(get_str(&decoded, "payeeNodeId"), our_id);
    assert_eq!(get_str(&decoded, "paymentHash"), hash);
    assert_eq!(get_str(&decoded, "network"), "regtest");
    let paid = control("POST", "/pay", Some(format!("{{\"bolt11\":\"{bolt11}\"}}"))).await;
    assert_eq!(get_str(&paid, "status"), "sent", "{}", show(&paid));
    assert_eq!(get_str(&paid, "payment_hash"), hash);
    assert_eq!(
        hex(&sha256::Hash::hash(&unhex(&get_str(&paid, "preimage"))).to_byte_array()),
        hash
    );
    until("paymentReceived", || {
        find_event(&events, "paymentReceived", "paymentHash", &hash).is_some()
    })
    .await;
    let received = find_event(&events, "paymentReceived", "paymentHash", &hash).unwrap();
    assert_eq!(get_big(&received, "amountMsat"), a);
    let listed_invoice = |node: &JsValue| {
        let inv = listed(node, "listInvoices", &hash);
        assert_eq!(get_str(&inv, "status"), "paid");
        assert_eq!(
            (get_big(&inv, "amountMsat"), get_big(&inv, "receivedMsat")),
            (a, a)
        );
        assert_eq!(
            get_num(&inv, "expiresAt") - get_num(&inv, "createdAt"),
            3600
        );
    };
    listed_invoice(&node);
    assert_eq!(
        settled(&node).await,
        (FUNDING_SAT * 1000 - PUSH_MSAT + a, PUSH_MSAT - a)
    );

    // (b) The node pays an LDK invoice (and refuses to pay it again).
    let b = 25_000_000;
    pay_ldk(&node, b).await;
    assert_eq!(
        settled(&node).await,
        (FUNDING_SAT * 1000 - PUSH_MSAT + a - b, PUSH_MSAT - a + b)
    );

    // The connection drops (LDK closes it): the node reconnects by itself,
    // the channel is reestablished and pays again.
    let connected = |events: &Events| {
        events
            .borrow()
            .iter()
            .filter(|e| get(e, "type").as_string().as_deref() == Some("peerConnected"))
            .count()
    };
    assert_eq!(connected(&events), 1);
    control(
        "POST",
        "/disconnect",
        Some(format!("{{\"node_id\":\"{our_id}\"}}")),
    )
    .await;
    until("peerDisconnected", || {
        find_event(&events, "peerDisconnected", "nodeId", &ldk_id).is_some()
    })
    .await;
    let dropped = find_event(&events, "peerDisconnected", "nodeId", &ldk_id).unwrap();
    assert_eq!(get(&dropped, "reconnecting").as_bool(), Some(true));
    until("reconnected", || connected(&events) == 2).await;
    until("channel usable after reconnecting", || {
        get(&the_channel(&node), "usable").as_bool() == Some(true)
    })
    .await;
    let b2 = 2_000_000;
    pay_ldk(&node, b2).await;
    let b = b + b2;

    // (c) A payment LDK fails: a route hint through LDK over a channel it
    // does not have. The code is the one LDK returned, attributed to LDK.
    // The channel's output index is 8 or more: LDK takes a short channel id
    // whose output index is below 8 for one of its fake ones (phantom,
    // intercept) one time in eight, at random per start, and then checks
    // the CLTV first (INCORRECT_CLTV_EXPIRY) instead of failing the
    // unknown channel.
    let payee_key = hex(&random_bytes());
    let nowhere = encode_invoice(
        obj(&[
            ("network", "regtest".into()),
            ("amountMsat", big(5_000_000)),
            ("paymentHash", hex(&random_bytes()).into()),
            ("paymentSecret", hex(&random_bytes()).into()),
            ("description", "nowhere".into()),
            (
                "routeHints",
                Array::of1(&Array::of1(&obj(&[
                    ("nodeId", ldk_id.clone().into()),
                    ("shortChannelId", "1x2x8".into()),
                    ("feeBaseMsat", 0.into()),
                    ("feeProportionalMillionths", 0.into()),
                    ("cltvExpiryDelta", 40.into()),
                ])))
                .into(),
            ),
        ]),
        &payee_key,
    )
    .unwrap();
    let e = rejected(
        &node,
        "payInvoice",
        &[nowhere.into(), obj(&[("maxFeeMsat", big(0))])],
    )
    .await;
    assert_eq!(get_str(&e, "code"), "UNKNOWN_NEXT_PEER", "{}", show(&e));
    assert_eq!(get_num(&e, "failureCode"), 0x400a);
    assert_eq!(get_num(&e, "hopIndex"), 0);
    assert_eq!(get_str(&e, "nodeId"), ldk_id);
    let nowhere_hash = get_str(&e, "paymentHash");
    let failed = listed(&node, "listPayments", &nowhere_hash);
    assert_eq!(get_str(&failed, "status"), "failed");
    assert!(get(&failed, "preimage").is_null() && get(&failed, "feeMsat").is_null());
    let balances = settled(&node).await;
    assert_eq!(
        balances,
        (FUNDING_SAT * 1000 - PUSH_MSAT + a - b, PUSH_MSAT - a + b)
    );

    // A second node on the same database is refused while this one runs
    // (it would sign conflicting states of the same channel).
    let e = create(options(&seed, tip))
        .await
        .expect_err("the database is in use");
    assert_eq!(get_str(&e, "code"), "STORAGE_LOCKED");

    // (d) Stop; every call after is refused.
    ok(&node, "stop", &[]).await;
    let e = rejected(&node, "createInvoice", &[obj(&[])]).await;
    assert_eq!(get_str(&e, "code"), "NODE_STOPPED");
    assert!(get(&call(&node, "info", &[]), "stopped").as_bool().unwrap());

    // A database of another node is refused.
    let other = create(options(&hex(&random_bytes()), tip)).await;
    let e = other.expect_err("another seed is refused");
    assert_eq!(get_str(&e, "code"), "WRONG_SEED");

    // (e) A new LnNode on the same seed and database resumes the channel
    // and pays over it.
    let (node, events) = create(options(&seed, tip)).await.expect("resumed");
    assert_eq!(get_str(&node, "nodeId"), our_id);
    let c = the_channel(&node);
    assert_eq!(get_str(&c, "channelId"), channel_id);
    assert_eq!(get_str(&c, "shortChannelId"), scid);
    assert!(!get(&c, "online").as_bool().unwrap());
    // Invoices and payments are read back: (a)'s invoice paid, the
    // payments of (b) and after the reconnection, and (c)'s failure.
    listed_invoice(&node);
    let statuses: Vec<String> = Array::from(&call(&node, "listPayments", &[]))
        .iter()
        .map(|p| get_str(&p, "status"))
        .collect();
    let count = |s: &str| statuses.iter().filter(|x| *x == s).count();
    assert_eq!(
        (count("succeeded"), count("failed"), statuses.len()),
        (2, 1, 3)
    );
    assert_eq!(
        get_str(&listed(&node, "listPayments", &nowhere_hash), "status"),
        "failed"
    );
    assert_eq!(
        (
            get_big(&c, "localBalanceMsat"),
            get_big(&c, "remoteBalanceMsat")
        ),
        balances
    );
    // It reconnects by itself to the peer it was connected to.
    until("peerConnected after the restart", || {
        find_event(&events, "peerConnected", "nodeId", &ldk_id).is_some()
    })
    .await;
    until("channel usable again", || {
        get(&the_channel(&node), "usable").as_bool() == Some(true)
    })
    .await;
    let d = 1_000_000;
    pay_ldk(&node, d).await;
    assert_eq!(settled(&node).await, (balances.0 - d, balances.1 + d));

    // (f) Enough payments for the peer's revoked commitments to fill sealed
    // chunks (written to IndexedDB apart from the record); a third node
    // resumes from the record and its chunks, and pays again.
    let e = 100_000;
    for _ in 0..12 {
        pay_ldk(&node, e).await;
    }
    let balances = settled(&node).await;
    assert_eq!(
        balances.0,
        FUNDING_SAT * 1000 - PUSH_MSAT + a - b - d - 12 * e
    );
    ok(&node, "stop", &[]).await;
    let (node, events) = create(options(&seed, tip)).await.expect("resumed again");
    let c = the_channel(&node);
    assert_eq!(
        (
            get_big(&c, "localBalanceMsat"),
            get_big(&c, "remoteBalanceMsat")
        ),
        balances
    );
    until("peerConnected after the second restart", || {
        find_event(&events, "peerConnected", "nodeId", &ldk_id).is_some()
    })
    .await;
    until("channel usable once more", || {
        get(&the_channel(&node), "usable").as_bool() == Some(true)
    })
    .await;
    pay_ldk(&node, e).await;
    assert_eq!(settled(&node).await, (balances.0 - e, balances.1 + e));

    // (g) A cooperative close with LDK: resolved with the closing
    // transaction, which went out as a `publish` event; the channel is no
    // longer closed again, nor by closeAllChannels.
    let e = rejected(
        &node,
        "closeChannel",
        &[
            channel_id.clone().into(),
            obj(&[("force", true.into()), ("feeratePerKw", 1000.into())]),
        ],
    )
    .await;
    assert_eq!(get_str(&e, "code"), "INVALID_ARGUMENT");
    // The channel we funded follows the fee estimate (opened at 1000, it
    // goes up to 2000: LDK signs our commitment at it), and the estimate is
    // the close's feerate when none is given.
    assert_eq!(get_num(&the_channel(&node), "feeratePerKw"), 1000);
    // LDK would negotiate anchors; LnNode does not offer them.
    assert_eq!(
        get_str(&the_channel(&node), "channelType"),
        "staticRemoteKey"
    );
    ok(&node, "setFeeEstimate", &[2000.into()]).await;
    assert_eq!(get_num(&call(&node, "info", &[]), "feeEstimatePerKw"), 2000);
    until("our commitment at the estimate", || {
        get(&the_channel(&node), "feeratePerKw").as_f64() == Some(2000.0)
    })
    .await;
    let closing_tx = close(&node, &events, &channel_id, obj(&[]), "mutual").await;
    let closing_txid = closing_tx.compute_txid().to_string();
    let closing = find_event(&events, "channelClosing", "channelId", &channel_id).unwrap();
    assert_eq!(get_str(&closing, "txid"), closing_txid);
    assert_eq!(get_str(&the_channel(&node), "status"), "closing");
    let e = rejected(&node, "closeChannel", &[channel_id.clone().into()]).await;
    assert_eq!(get_str(&e, "code"), "INVALID_CHANNEL_STATE");
    let all = ok(&node, "closeAllChannels", &[]).await;
    assert_eq!(Array::from(&all).length(), 0);

    // After disconnect(nodeId) the peer is forgotten: a restart does not
    // reconnect to it.
    ok(&node, "disconnect", &[ldk_id.clone().into()]).await;
    until("disconnected", || {
        find_event(&events, "peerDisconnected", "nodeId", &ldk_id).is_some()
    })
    .await;
    let dropped = find_event(&events, "peerDisconnected", "nodeId", &ldk_id).unwrap();
    assert_eq!(get(&dropped, "reconnecting").as_bool(), Some(false));
    ok(&node, "stop", &[]).await;
    let (node, events) = create(options(&seed, tip))
        .await
        .expect("resumed a third time");
    // The fee estimate was kept.
    assert_eq!(get_num(&call(&node, "info", &[]), "feeEstimatePerKw"), 2000);
    sleep(1500).await;
    assert!(find_event(&events, "peerConnected", "nodeId", &ldk_id).is_none());
    assert_eq!(
        Array::from(&get(&call(&node, "info", &[]), "peers")).length(),
        0
    );

    // (h) A force close, of a second channel (funded, not confirmed):
    // resolved with our commitment, published, spending the funding output.
    ok(&node, "connect", &[ldk.into()]).await;
    let (opened, funding) = open_funded(&node, &ldk_id, 0).await;
    let second = get_str(&opened, "channelId");
    let funding_txid = funding.compute_txid();
    let commitment = close(
        &node,
        &events,
        &second,
        obj(&[("force", true.into())]),
        "localForce",
    )
    .await;
    assert_eq!(
        commitment.input[0].previous_output,
        OutPoint::new(funding_txid, 0)
    );
    let all = ok(&node, "closeAllChannels", &[obj(&[("force", true.into())])]).await;
    assert_eq!(Array::from(&all).length(), 0);
    ok(&node, "stop", &[]).await;
}
