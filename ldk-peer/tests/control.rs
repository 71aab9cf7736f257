//! The HTTP control API (`ldk_peer::control`, `ldk-peer --control`): its answers, CORS headers
//! and errors, and a payment each way between a node driven only through it and another LDK
//! node in process.

use std::process::Stdio;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use ldk_peer::control::{json_str, parse_object, serve_control, Value};
use ldk_peer::lightning::bolt11_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};
use ldk_peer::lightning::events::Event;
use ldk_peer::lightning::ln::channelmanager::{Bolt11InvoiceParameters, PaymentId, Retry};
use ldk_peer::lightning::routing::router::RouteParametersConfig;
use ldk_peer::{Config, LdkNode, NodeEvent};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(20);

/// One request; (status, headers, body).
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://127.0.0.1:1\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(T, s.read_to_string(&mut out))
        .await
        .expect("answer in time")
        .unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    (status, head.to_string(), body.to_string())
}

async fn ok(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> String {
    let (status, head, body) = http(addr, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {body}");
    assert!(
        head.contains("\r\nAccess-Control-Allow-Origin: *\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nContent-Type: application/json\r\n"),
        "{head}"
    );
    body
}

/// A JSON field's raw text in a flat answer (strings without quotes).
fn field(json: &str, key: &str) -> String {
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    if let Some(r) = rest.strip_prefix('"') {
        r[..r.find('"').unwrap()].to_string()
    } else {
        rest[..rest.find([',', '}']).unwrap()].to_string()
    }
}

fn fast(seed: u8) -> Config {
    Config {
        peer_tick: Duration::from_secs(1),
        ..Config::with_seed_byte(seed)
    }
}

#[test]
fn flat_json_objects() {
    let o = parse_object(
        r#" { "a" : "x\"y\\z", "n": 18446744073709551615, "t": true, "f": false, "z": null } "#,
    )
    .unwrap();
    assert_eq!(o["a"], Value::Str("x\"y\\z".into()));
    assert_eq!(o["n"], Value::Num(u64::MAX));
    assert_eq!(o["t"], Value::Bool(true));
    assert_eq!(o["f"], Value::Bool(false));
    assert_eq!(o["z"], Value::Null);
    assert!(parse_object("").unwrap().is_empty());
    assert!(parse_object("{}").unwrap().is_empty());
    for bad in [
        "{",
        "[]",
        r#"{"a":1,}"#,
        r#"{"a":18446744073709551616}"#,
        r#"{"a":-1}"#,
        r#"{"a":1.5}"#,
        r#"{"a":"x}"#,
        r#"{"a":{}}"#,
        r#"{"a":1} x"#,
        r#"{"a":"\u0041"}"#,
    ] {
        assert!(parse_object(bad).is_err(), "{bad}");
    }
    assert_eq!(json_str("a\"b\\c\nd"), r#""a\"b\\c\u000ad""#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_errors() {
    let node = Arc::new(LdkNode::start(fast(0x21)).await.unwrap());
    let (addr, _task) = serve_control(node.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let info = ok(addr, "GET", "/info", "").await;
    assert_eq!(
        info,
        format!(
            "{{\"node_id\":\"{}\",\"uri\":\"{}\",\"height\":0}}",
            node.node_id(),
            node.uri()
        )
    );
    assert_eq!(ok(addr, "GET", "/channels", "").await, "[]");
    assert_eq!(ok(addr, "GET", "/received", "").await, "[]");
    assert_eq!(
        ok(addr, "POST", "/mine", r#"{"blocks":3}"#).await,
        r#"{"tip":3}"#
    );
    assert_eq!(ok(addr, "POST", "/mine", "").await, r#"{"tip":4}"#);
    assert_eq!(node.best_block().0, 4);

    // A CORS preflight.
    let (status, head, body) = http(addr, "OPTIONS", "/pay", "").await;
    assert_eq!((status, body.as_str()), (204, ""));
    for h in [
        "Access-Control-Allow-Origin: *",
        "Access-Control-Allow-Methods: GET, POST, OPTIONS",
        "Access-Control-Allow-Headers: content-type",
    ] {
        assert!(head.contains(&format!("\r\n{h}\r\n")), "{head}");
    }

    // An invoice for 1234 msat, signed by the node.
    let inv = ok(
        addr,
        "POST",
        "/invoice",
        r#"{"amount_msat":1234,"description":"d"}"#,
    )
    .await;
    let parsed = Bolt11Invoice::from_str(&field(&inv, "bolt11")).unwrap();
    assert_eq!(parsed.amount_milli_satoshis(), Some(1234));
    assert_eq!(parsed.recover_payee_pub_key(), node.node_id());
    assert_eq!(
        field(&inv, "payment_hash"),
        parsed.payment_hash().to_byte_array().as_hex().to_string()
    );
    let none = ok(addr, "POST", "/invoice", "{}").await;
    let parsed = Bolt11Invoice::from_str(&field(&none, "bolt11")).unwrap();
    assert_eq!(parsed.amount_milli_satoshis(), None);

    // Paying with no channel: LDK finds no route.
    let other = LdkNode::start(fast(0x22)).await.unwrap();
    let theirs = other
        .channel_manager()
        .create_bolt11_invoice(Bolt11InvoiceParameters {
            amount_msats: Some(5000),
            description: Bolt11InvoiceDescription::Direct(Description::new("x".into()).unwrap()),
            invoice_expiry_delta_secs: Some(3600),
            min_final_cltv_expiry_delta: None,
            payment_hash: None,
        })
        .unwrap();
    let paid = ok(
        addr,
        "POST",
        "/pay",
        &format!("{{\"bolt11\":\"{theirs}\"}}"),
    )
    .await;
    assert_eq!(
        paid,
        format!(
            "{{\"status\":\"failed\",\"payment_hash\":\"{}\",\"reason\":\"RouteNotFound\"}}",
            theirs.payment_hash().to_byte_array().as_hex()
        )
    );

    // Errors: status and {"error": ...}.
    for (method, path, body, status) in [
        ("GET", "/nope", "", 404),
        ("POST", "/info", "", 404),
        ("POST", "/invoice", "{", 400),
        ("POST", "/invoice", r#"{"amount_msat":"1"}"#, 400),
        ("POST", "/pay", "{}", 400),
        ("POST", "/pay", r#"{"bolt11":"lnbcrt1"}"#, 400),
        ("POST", "/confirm", r#"{"tx":"00"}"#, 400),
        ("POST", "/confirm", r#"{"blocks":1}"#, 400),
        ("POST", "/mine", r#"{"blocks":0}"#, 400),
        ("POST", "/mine", r#"{"blocks":1001}"#, 400),
    ] {
        let (s, head, b) = http(addr, method, path, body).await;
        assert_eq!(s, status, "{method} {path} {body}: {b}");
        assert!(b.starts_with("{\"error\":\""), "{b}");
        assert!(head.contains("\r\nAccess-Control-Allow-Origin: *\r\n"));
    }
    assert_eq!(node.best_block().0, 4);
}

/// A funding transaction spending a made-up segwit output (LDK checks no inputs, only that
/// they carry witnesses).
fn funding_tx(script: ScriptBuf, sats: u64) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array([7; 32]),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[1u8; 72].as_slice(), [2u8; 33].as_slice()]),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(sats),
            script_pubkey: script,
        }],
    }
}

/// `a` is driven only through its control API; `b` opens a channel to it (pushing part of it)
/// and they pay each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_both_ways_through_the_api() {
    let a = Arc::new(
        LdkNode::start(Config {
            accept_inbound_channels: true,
            ..fast(0x23)
        })
        .await
        .unwrap(),
    );
    let (addr, _task) = serve_control(a.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let b = LdkNode::start(fast(0x24)).await.unwrap();
    b.set_auto_claim(true);
    b.connect_outbound(a.node_id(), a.listen_addr(), T)
        .await
        .unwrap();
    b.channel_manager()
        .create_channel(a.node_id(), 1_000_000, 400_000_000, 1, None, None)
        .unwrap();
    let Some(NodeEvent::Ldk(Event::FundingGenerationReady {
        temporary_channel_id,
        output_script,
        ..
    })) = b
        .wait_for_event(T, |e| {
            matches!(e, NodeEvent::Ldk(Event::FundingGenerationReady { .. }))
        })
        .await
    else {
        panic!("no FundingGenerationReady")
    };
    let tx = funding_tx(output_script, 1_000_000);
    b.channel_manager()
        .funding_transaction_generated(temporary_channel_id, a.node_id(), tx.clone())
        .unwrap();
    let deadline = Instant::now() + T;
    while !b.broadcast_transactions().contains(&tx) {
        assert!(Instant::now() < deadline, "funding never broadcast");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tx_hex = bitcoin::consensus::encode::serialize_hex(&tx);
    let confirmed = ok(
        addr,
        "POST",
        "/confirm",
        &format!("{{\"tx\":\"{tx_hex}\",\"blocks\":6}}"),
    )
    .await;
    assert_eq!(confirmed, r#"{"height":1,"tx_index":0,"tip":6}"#);
    b.mine_blocks(6, vec![tx.clone()]);
    let deadline = Instant::now() + T;
    let chan = loop {
        let list = ok(addr, "GET", "/channels", "").await;
        if list.contains("\"is_usable\":true") {
            break list;
        }
        assert!(Instant::now() < deadline, "channel never usable: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // BOLT 2: the funding txid (internal byte order) with its output index XORed in.
    // (output 0: nothing to XOR).
    let channel_id = tx.compute_txid().to_byte_array();
    assert_eq!(field(&chan, "channel_id"), channel_id.as_hex().to_string());
    assert_eq!(field(&chan, "counterparty"), b.node_id().to_string());
    assert_eq!(field(&chan, "short_channel_id"), (1u64 << 40).to_string());
    assert_eq!(field(&chan, "is_channel_ready"), "true");

    // b pays a's invoice; a claims it at once.
    let inv = ok(addr, "POST", "/invoice", r#"{"amount_msat":30000000}"#).await;
    let inv = Bolt11Invoice::from_str(&field(&inv, "bolt11")).unwrap();
    b.channel_manager()
        .pay_for_bolt11_invoice(
            &inv,
            PaymentId([1; 32]),
            None,
            RouteParametersConfig::default(),
            Retry::Attempts(0),
        )
        .unwrap();
    let Some(NodeEvent::Ldk(Event::PaymentSent {
        payment_preimage, ..
    })) = b
        .wait_for_event(T, |e| {
            matches!(e, NodeEvent::Ldk(Event::PaymentSent { .. }))
        })
        .await
    else {
        panic!("b's payment not sent")
    };
    assert_eq!(
        ok(addr, "GET", "/received", "").await,
        format!(
            "[{{\"payment_hash\":\"{}\",\"amount_msat\":30000000,\"preimage\":\"{}\"}}]",
            inv.payment_hash().to_byte_array().as_hex(),
            payment_preimage.0.as_hex()
        )
    );

    // a pays b's invoice through the API.
    let theirs = b
        .channel_manager()
        .create_bolt11_invoice(Bolt11InvoiceParameters {
            amount_msats: Some(25_000_000),
            description: Bolt11InvoiceDescription::Direct(Description::new("b".into()).unwrap()),
            invoice_expiry_delta_secs: Some(3600),
            min_final_cltv_expiry_delta: None,
            payment_hash: None,
        })
        .unwrap();
    let paid = ok(
        addr,
        "POST",
        "/pay",
        &format!("{{\"bolt11\":\"{theirs}\"}}"),
    )
    .await;
    assert_eq!(field(&paid, "status"), "sent", "{paid}");
    assert_eq!(field(&paid, "amount_msat"), "25000000");
    assert_eq!(field(&paid, "fee_msat"), "0");
    let preimage = <[u8; 32]>::from_hex(&field(&paid, "preimage")).unwrap();
    assert_eq!(
        bitcoin::hashes::sha256::Hash::hash(&preimage).to_byte_array(),
        theirs.payment_hash().to_byte_array()
    );
    assert!(b
        .wait_for_event(T, |e| matches!(
            e,
            NodeEvent::Ldk(Event::PaymentClaimed {
                amount_msat: 25_000_000,
                ..
            })
        ))
        .await
        .is_some());
}

/// The binary prints `CONTROL <addr>` before `READY` and serves the API there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_and_serves_the_control_address() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ldk-peer"))
        .args(["--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ldk-peer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let control = tokio::time::timeout(T, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("a line");
    let control: std::net::SocketAddr = control
        .strip_prefix("CONTROL ")
        .unwrap_or_else(|| panic!("{control:?}"))
        .parse()
        .unwrap();
    let ready = tokio::time::timeout(T, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("a line");
    let uri = ready
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("{ready:?}"));
    let info = ok(control, "GET", "/info", "").await;
    assert_eq!(field(&info, "uri"), uri);
    drop(child.stdin.take());
    let status = tokio::time::timeout(T, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
