//! In headless Chromium: a single-hop payment both ways between lnwasm and
//! an LDK node process (`ldk-peer`), over lnwasm's WebSocket transport
//! through `lnwasm-proxy`.
//!
//! The lnwasm node here is a [`Node`] (channel manager and payment layer
//! wired together; its actions carried out in order) over a
//! [`PeerConnection`] whose bytes go through a [`WsStream`]. lnwasm opens
//! the channel (unannounced, pushing part of it so both sides can
//! pay). The LDK node is driven through its HTTP control API
//! (`ldk-peer --control`, see `ldk_peer::control`): it mines the funding
//! transaction into its own chain, creates and pays invoices, and claims
//! payments to its invoices at once.
//!
//! `scripts/test.sh` starts the helpers and passes their addresses at
//! compile time (see tests/browser_support); without them the test prints
//! a notice and passes.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod browser_support;

mod node_driver;

use node_driver::{funding_required, open_request, DriveNode};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::{Network, Transaction, Txid};
use browser_support::{
    control, funding_tx, get, get_num, get_str, hex, ldk_channel, ldk_invoice, random_bytes, show,
    sleep, CONTROL, LDK, LDK_MIN_DEPTH, PROXY,
};
use lnwasm::channel::{Command, ManagerEvent};
use lnwasm::error::ErrorCode;
use lnwasm::invoice::{self, Description};
use lnwasm::keys::WalletKeys;
use lnwasm::node::{Node, NodeAction, NodeConfig, NodeEvent, NodeInput, Watch};
use lnwasm::payment::{
    candidate_routes, ChannelView, InvoiceRequest, PayParams, PaymentEvent, Route, RouteHop,
};
use lnwasm::peer::{Millis, PeerConfig, PeerConnection, PeerEvent};
use lnwasm::store::{MemoryStore, Store};
use lnwasm::transport::websocket::{WsEvent, WsStream};
use lnwasm::transport::{random_secret_key, PeerUri};
use lnwasm::types::{Msat, Sat, ShortChannelId};
use lnwasm::wire::{ChannelId, ErrorMessage, Message, PaymentPreimage};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

/// How long any one wait may take.
const T: Duration = Duration::from_secs(30);
const FUNDING: Sat = Sat(1_000_000);
/// What lnwasm pushes to LDK when it opens, so both sides can pay.
const PUSH: Msat = Msat(400_000_000);

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn millis() -> Millis {
    Millis(now_ms().max(0.0) as u64)
}

fn unix_now() -> u64 {
    (now_ms() / 1000.0) as u64
}

/// The lnwasm node: a channel manager and a payment layer with their stores,
/// and one connection to LDK.
struct Ln {
    secret: SecretKey,
    node: Node,
    ldk_id: PublicKey,
    conn: PeerConnection,
    ws: WsStream,
    inbox: Rc<RefCell<VecDeque<WsEvent>>>,
    store: MemoryStore,
    pstore: BTreeMap<Vec<u8>, Vec<u8>>,
    published: Vec<Transaction>,
    watched: Vec<Txid>,
    events: Vec<PaymentEvent>,
    mevents: Vec<ManagerEvent>,
    refused: Vec<String>,
    peer_errors: Vec<String>,
    closed: bool,
}

impl DriveNode for Ln {
    fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }
    fn carry_out(&mut self, acts: Vec<NodeAction>) {
        self.run(acts)
    }
}

impl Ln {
    /// Connects to LDK through the proxy and waits for both `init`s.
    async fn connect(proxy: &str, ldk: &str, height: u32) -> Ln {
        let w = WalletKeys::from_seed(&random_bytes(), Network::Regtest).unwrap();
        let secret = w.node_secret().unwrap();
        let uri = PeerUri::parse(ldk).unwrap();
        let inbox = Rc::new(RefCell::new(VecDeque::new()));
        let sink = inbox.clone();
        let ws = WsStream::open(&uri.proxy_url(proxy), Duration::from_secs(10), move |ev| {
            sink.borrow_mut().push_back(ev)
        })
        .expect("WebSocket opens");
        let start = now_ms();
        loop {
            match inbox.borrow_mut().pop_front() {
                Some(WsEvent::Open) => break,
                Some(e) => panic!("WebSocket to the proxy: {e:?}"),
                None => {}
            }
            assert!(now_ms() - start < 10_000.0, "WebSocket did not open");
            sleep(5).await;
        }
        let mut pc = PeerConfig::new(ChainHash::REGTEST);
        pc.ping_interval = None;
        let conn =
            PeerConnection::outbound(pc, &secret, &uri.node_id, &random_secret_key(), millis());
        let now = unix_now();
        let mut ln = Ln {
            secret,
            node: Node::new(w, NodeConfig::new(invoice::Network::Regtest), height, now).unwrap(),
            ldk_id: uri.node_id,
            conn,
            ws,
            inbox,
            store: MemoryStore::new(),
            pstore: BTreeMap::new(),
            published: vec![],
            watched: vec![],
            events: vec![],
            mevents: vec![],
            refused: vec![],
            peer_errors: vec![],
            closed: false,
        };
        ln.flush();
        let start = now_ms();
        let info = loop {
            ln.pump();
            if let Some(i) = ln.conn.peer_info() {
                break i.clone();
            }
            assert!(
                !ln.conn.is_closed(),
                "connection closed: {:?}",
                ln.conn.disconnect_reason()
            );
            assert!(now_ms() - start < 10_000.0, "no init from LDK");
            sleep(5).await;
        };
        assert_eq!(info.node_id, uri.node_id);
        // The Connected event is consumed here; channel messages follow.
        while let Some(e) = ln.conn.next_event() {
            assert!(matches!(e, PeerEvent::Connected(_)), "{e:?}");
        }
        ln.input(NodeInput::PeerConnected {
            node_id: uri.node_id,
            features: info.features,
        });
        ln
    }

    fn flush(&mut self) {
        let out = self.conn.take_outbound();
        if !out.is_empty() {
            self.ws.send(&out).expect("WebSocket send");
        }
    }

    /// Feeds what the socket delivered to the connection.
    fn pump(&mut self) {
        let evs: Vec<WsEvent> = self.inbox.borrow_mut().drain(..).collect();
        for ev in evs {
            match ev {
                WsEvent::Data(d) => self.conn.read(&d, millis()),
                WsEvent::Closed { .. } | WsEvent::OpenFailed(_) => {
                    self.closed = true;
                    self.conn.stream_closed();
                }
                WsEvent::Open => {}
            }
        }
        self.conn.tick(millis());
        self.flush();
    }

    fn views(&self) -> Vec<ChannelView> {
        self.node.channel_views()
    }

    /// Carries out the node's actions in order.
    fn run(&mut self, acts: Vec<NodeAction>) {
        for a in acts {
            match a {
                NodeAction::PersistChannels(b) => self.store.apply(b).expect("batch applies"),
                NodeAction::PutPaymentRecord { key, value } => {
                    self.pstore.insert(key, value);
                }
                NodeAction::DeletePaymentRecord { key } => {
                    self.pstore.remove(&key);
                }
                NodeAction::Send { node_id, msg } => {
                    assert_eq!(node_id, self.ldk_id);
                    let _ = self.conn.send(&msg);
                }
                NodeAction::Publish(tx) => self.published.push(tx),
                NodeAction::Watch(Watch::Confirmed {
                    txid,
                    script_pubkey: Some(_),
                }) => self.watched.push(txid),
                NodeAction::Event(NodeEvent::Channel(e)) => self.mevents.push(e),
                NodeAction::Event(NodeEvent::Payment(e)) => self.events.push(e),
                NodeAction::Event(NodeEvent::CommandRefused { error, .. }) => {
                    self.refused.push(error.code().to_string())
                }
                NodeAction::Disconnect { .. } => self.conn.close(),
                NodeAction::PublishLater { .. } | NodeAction::Watch(_) => {}
            }
        }
        self.flush();
    }

    /// Processes everything that arrived.
    fn step(&mut self) {
        self.pump();
        let mut got = vec![];
        while let Some(e) = self.conn.next_event() {
            got.push(e);
        }
        let node_id = self.ldk_id;
        for e in got {
            match e {
                PeerEvent::Message(msg) => self.input(NodeInput::PeerMessage { node_id, msg }),
                PeerEvent::Error { channel_id, text } => {
                    self.peer_errors.push(text.clone());
                    self.input(NodeInput::PeerMessage {
                        node_id,
                        msg: Message::Error(ErrorMessage::new(channel_id, &text)),
                    });
                }
                PeerEvent::Warning { text, .. } => self.peer_errors.push(text),
                PeerEvent::Disconnected(r) => {
                    self.peer_errors.push(format!("disconnected: {r:?}"));
                    self.input(NodeInput::PeerDisconnected { node_id });
                }
                PeerEvent::Connected(_)
                | PeerEvent::Pong { .. }
                | PeerEvent::PingReceived { .. } => {}
            }
        }
        self.flush();
    }

    /// Runs the node until `f` holds.
    async fn until(&mut self, what: &str, mut f: impl FnMut(&Ln) -> bool) {
        let start = now_ms();
        loop {
            self.step();
            if f(self) {
                return;
            }
            if now_ms() - start > T.as_millis() as f64 {
                panic!(
                    "timed out waiting for: {what}\nevents {:?}\nrefused {:?}\npeer errors {:?}\nchannels {:?}\n\
                     LDK channels {}",
                    self.events,
                    self.refused,
                    self.peer_errors,
                    self.node.list_channels(),
                    show(&control("GET", "/channels", None).await),
                );
            }
            sleep(5).await;
        }
    }

    /// Runs the node while `req` is under way; its answer.
    async fn during(
        &mut self,
        what: &str,
        req: impl std::future::Future<Output = JsValue> + 'static,
    ) -> JsValue {
        let slot = Rc::new(RefCell::new(None));
        let s = slot.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let v = req.await;
            *s.borrow_mut() = Some(v);
        });
        self.until(what, |_| slot.borrow().is_some()).await;
        let v = slot.borrow_mut().take().unwrap();
        v
    }

    fn block(&mut self, height: u32) {
        self.input(NodeInput::BlockConnected { height });
    }

    fn view(&self, id: &ChannelId) -> ChannelView {
        self.views()
            .into_iter()
            .find(|v| v.channel_id == *id)
            .expect("channel view")
    }

    fn node_id(&self) -> PublicKey {
        PublicKey::from_secret_key(bitcoin::secp256k1::SECP256K1, &self.secret)
    }

    fn balance(&self, id: &ChannelId) -> (Msat, Msat, Msat) {
        let i = self.node.manager().channel_info(id).unwrap();
        (i.local_balance, i.remote_balance, i.in_flight)
    }
}

#[wasm_bindgen_test]
async fn single_hop_payments_both_ways_with_ldk() {
    let (Some(proxy), Some(ldk), Some(_)) = (PROXY, LDK, CONTROL) else {
        console_log!(
            "SKIPPED single_hop_payments_both_ways_with_ldk: LNWASM_TEST_PROXY_URL / LNWASM_TEST_LDK_URI / \
             LNWASM_TEST_LDK_CONTROL not set at build time (scripts/test.sh starts lnwasm-proxy and \
             ldk-peer --control and sets them)"
        );
        return;
    };
    let info = control("GET", "/info", None).await;
    assert_eq!(get_str(&info, "uri"), ldk);
    let height = get_num(&info, "height") as u32;
    let mut ln = Ln::connect(proxy, ldk, height).await;

    // lnwasm opens a channel to LDK, pushing PUSH.
    let temporary_channel_id = ChannelId(random_bytes());
    ln.open(
        ln.ldk_id,
        open_request(temporary_channel_id, FUNDING, PUSH, unix_now()),
    );
    let funding_required = |l: &Ln| funding_required(&l.mevents, temporary_channel_id);
    ln.until("accept_channel from LDK", |l| funding_required(l).is_some())
        .await;
    let (script, amount) = funding_required(&ln).unwrap();
    assert_eq!(amount, FUNDING);
    let tx = funding_tx(script, amount.0);
    let txid = tx.compute_txid();
    ln.command(
        temporary_channel_id,
        Command::FundingTx {
            tx: tx.clone(),
            output_index: 0,
        },
    );
    ln.until("funding_signed from LDK", |l| {
        l.published.iter().any(|t| t.compute_txid() == txid)
    })
    .await;
    assert!(ln.watched.contains(&txid));
    let id = ChannelId::from_funding_outpoint(&txid, 0);

    // LDK mines the funding transaction and LDK_MIN_DEPTH - 1 blocks on it;
    // lnwasm is told the same.
    let body = format!(
        "{{\"tx\":\"{}\",\"blocks\":{LDK_MIN_DEPTH}}}",
        bitcoin::consensus::encode::serialize_hex(&tx)
    );
    let confirmed = control("POST", "/confirm", Some(body)).await;
    let conf_height = get_num(&confirmed, "height") as u32;
    let tip = get_num(&confirmed, "tip") as u32;
    assert_eq!((conf_height, tip), (height + 1, height + LDK_MIN_DEPTH));
    assert_eq!(get_num(&confirmed, "tx_index"), 0);
    for h in conf_height..=tip {
        if h == conf_height {
            ln.input(NodeInput::TxConfirmed {
                txid,
                height: h,
                tx_index: 0,
            });
        }
        ln.block(h);
    }
    let scid = ShortChannelId::new(conf_height, 0, 0).unwrap();
    let start = now_ms();
    loop {
        ln.until("channel usable on lnwasm's side", |l| l.view(&id).usable)
            .await;
        let c = ldk_channel(&hex(&id.0)).await;
        if get(&c, "is_usable").as_bool() == Some(true) {
            assert_eq!(get_num(&c, "short_channel_id"), scid.0);
            assert_eq!(get_str(&c, "counterparty"), ln.node_id().to_string());
            break;
        }
        assert!(
            now_ms() - start < T.as_millis() as f64,
            "LDK's channel not usable: {}",
            show(&c)
        );
        sleep(20).await;
    }
    assert!(ln.view(&id).scids.contains(&scid));
    assert_eq!(
        ln.balance(&id),
        (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
    );

    // (a) LDK pays an lnwasm invoice.
    let a_amount = 30_000_000;
    let (inv, acts) = ln
        .node
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(a_amount)),
                description: Description::Direct("browser".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &random_bytes(),
        )
        .expect("invoice");
    ln.run(acts);
    let a_hash = *invoice::decode(&inv).unwrap().payment_hash();
    let paid = ln
        .during(
            "LDK pays lnwasm's invoice",
            control("POST", "/pay", Some(format!("{{\"bolt11\":\"{inv}\"}}"))),
        )
        .await;
    assert_eq!(get_str(&paid, "status"), "sent", "{}", show(&paid));
    assert_eq!(get_str(&paid, "payment_hash"), hex(&a_hash.0));
    assert_eq!(
        (get_num(&paid, "amount_msat"), get_num(&paid, "fee_msat")),
        (a_amount, 0)
    );
    let rec = ln
        .node
        .payments()
        .invoice(&a_hash)
        .expect("invoice record")
        .clone();
    assert_eq!(get_str(&paid, "preimage"), hex(&rec.preimage.0));
    assert_eq!(rec.preimage.payment_hash(), a_hash);
    ln.until("lnwasm's PaymentReceived", |l| !l.events.is_empty())
        .await;
    assert_eq!(
        ln.events,
        vec![PaymentEvent::PaymentReceived {
            payment_hash: a_hash,
            amount: Msat(a_amount)
        }]
    );
    ln.until("no HTLC left on lnwasm's side", |l| {
        l.balance(&id).2 == Msat(0)
    })
    .await;
    assert_eq!(
        ln.balance(&id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + a_amount),
            Msat(PUSH.0 - a_amount),
            Msat(0)
        )
    );

    // (b) lnwasm pays an LDK invoice over the direct channel.
    let b_amount = 25_000_000;
    let created = ldk_invoice(b_amount).await;
    let bolt11 = get_str(&created, "bolt11");
    let decoded = invoice::decode(&bolt11).expect("lnwasm decodes LDK's invoice");
    assert_eq!(*decoded.payee(), ln.ldk_id);
    assert_eq!(decoded.amount(), Some(Msat(b_amount)));
    let b_hash = *decoded.payment_hash();
    assert_eq!(get_str(&created, "payment_hash"), hex(&b_hash.0));
    let route = Route {
        hops: vec![RouteHop {
            node_id: ln.ldk_id,
            short_channel_id: scid,
            fee_base_msat: 0,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 0,
        }],
    };
    // The node finds the same route from its channels by itself.
    assert_eq!(candidate_routes(&decoded, &ln.views()), vec![route]);
    let acts = ln
        .node
        .pay_invoice(
            &decoded,
            PayParams {
                max_fee: Msat(0),
                timeout_secs: 60,
                amount: None,
            },
            None,
            &random_bytes(),
        )
        .expect("lnwasm pays");
    ln.run(acts);
    let sent = |l: &Ln| {
        l.events
            .iter()
            .find(|e| matches!(e, PaymentEvent::PaymentSent { .. }))
            .cloned()
    };
    ln.until("lnwasm's PaymentSent", |l| {
        sent(l).is_some()
            || l.events
                .iter()
                .any(|e| matches!(e, PaymentEvent::PaymentFailed { .. }))
    })
    .await;
    let Some(PaymentEvent::PaymentSent {
        payment_hash,
        preimage,
        amount,
        fee,
        attempts,
    }) = sent(&ln)
    else {
        panic!("lnwasm's payment failed: {:?}", ln.events)
    };
    assert_eq!(
        (payment_hash, amount, fee, attempts),
        (b_hash, Msat(b_amount), Msat(0), 1)
    );
    assert_eq!(preimage.payment_hash(), b_hash);
    let start = now_ms();
    let claimed = loop {
        ln.step();
        let list = js_sys::Array::from(&control("GET", "/received", None).await);
        let want = hex(&b_hash.0);
        if let Some(r) = list
            .iter()
            .find(|r| get(r, "payment_hash").as_string().as_deref() == Some(want.as_str()))
        {
            break r;
        }
        assert!(
            now_ms() - start < T.as_millis() as f64,
            "LDK did not claim: {}",
            show(&list)
        );
        sleep(20).await;
    };
    assert_eq!(get_num(&claimed, "amount_msat"), b_amount);
    assert_eq!(
        get_str(&claimed, "preimage"),
        hex(&PaymentPreimage(preimage.0).0)
    );
    assert_eq!(ln.events.len(), 2, "{:?}", ln.events);
    ln.until("no HTLC left on lnwasm's side", |l| {
        l.balance(&id).2 == Msat(0)
    })
    .await;
    assert_eq!(
        ln.balance(&id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + a_amount - b_amount),
            Msat(PUSH.0 - a_amount + b_amount),
            Msat(0)
        )
    );
    let start = now_ms();
    loop {
        ln.step();
        let c = ldk_channel(&hex(&id.0)).await;
        if get_num(&c, "pending_inbound_htlcs") == 0 && get_num(&c, "pending_outbound_htlcs") == 0 {
            // LDK's balance less the 1% reserve lnwasm imposes.
            assert_eq!(
                get_num(&c, "outbound_capacity_msat"),
                PUSH.0 - a_amount + b_amount - 10_000_000
            );
            break;
        }
        assert!(
            now_ms() - start < T.as_millis() as f64,
            "LDK's HTLCs not removed: {}",
            show(&c)
        );
        sleep(20).await;
    }
    assert!(ln.refused.is_empty(), "{:?}", ln.refused);
    assert!(ln.peer_errors.is_empty(), "{:?}", ln.peer_errors);
    assert!(!ln.closed);
    ln.conn.close();
    ln.flush();
    ln.ws.close();
}
