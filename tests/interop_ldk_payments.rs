//! lnwasm's payment layer against real LDK nodes (the workspace's
//! `ldk-peer`, in process, over TCP): BOLT 11 invoices paid both ways over
//! a direct channel (with and without an amount, in two parts), forwarding
//! through LDK (lnwasm → LDK → lnwasm) and through lnwasm (LDK → lnwasm →
//! LDK, a circular route), BOLT 4 failures read on each side
//! (`incorrect_or_unknown_payment_details` from the final hop, directly and
//! through a forwarder; `fee_insufficient` from a forwarder), LDK's
//! in-flight limit, and updates lost with the connection and retransmitted.
//!
//! Each lnwasm node here (`Ln`) is a [`Node`] (channel manager and payment
//! layer wired together, its actions carried out in order), with one
//! [`TcpPeer`] per LDK node it is connected to. lnwasm opens every
//! channel (unannounced, pushing part of it so both sides can pay); the
//! chain is fed by hand to every node (LDK checks neither proof of work nor
//! inputs). LDK forwards over unannounced channels only with
//! `accept_forwards_to_priv_channels`; its events do not carry the failure
//! code outside LDK's own tests, so the tests read it from LDK's log line
//! ([`LdkNode::onion_errors`]).
#![cfg(not(target_arch = "wasm32"))]

#[path = "channel_harness.rs"]
mod harness;

mod node_driver;

use node_driver::{funding_required, open_request, DriveNode};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::{Network, Transaction, Txid};
use harness::funding_tx;
use ldk_peer::lightning::events::{
    Event as LdkEvent, PathFailure, PaymentFailureReason, PaymentPurpose,
};
use ldk_peer::lightning::ln::channel_state::ChannelDetails;
use ldk_peer::lightning::ln::channelmanager::{
    Bolt11InvoiceParameters, PaymentId, RecipientOnionFields, Retry,
};
use ldk_peer::lightning::ln::types::ChannelId as LdkChannelId;
use ldk_peer::lightning::routing::router::{
    Path, Route as LdkRoute, RouteHop as LdkRouteHop, RouteParametersConfig,
};
use ldk_peer::lightning::types::features::{ChannelFeatures, NodeFeatures};
use ldk_peer::lightning::types::payment::{
    PaymentHash as LdkPaymentHash, PaymentPreimage as LdkPaymentPreimage,
    PaymentSecret as LdkPaymentSecret,
};
use ldk_peer::{Config, LdkNode};
use lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description as LdkDescription};
use lnwasm::channel::{Command, Event, ManagerEvent};
use lnwasm::error::ErrorCode;
use lnwasm::invoice::{self, Description, NewInvoice};
use lnwasm::keys::WalletKeys;
use lnwasm::node::{Node, NodeAction, NodeConfig, NodeEvent, NodeInput, Watch};
use lnwasm::onion::FailureMessage;
use lnwasm::payment::{
    relay_fee, ChannelView, InvoiceRequest, PayFailure, PayParams, PaymentConfig, PaymentEvent,
    Route, RouteFailure, RouteHop,
};
use lnwasm::peer::{PeerConfig, PeerEvent};
use lnwasm::store::{MemoryStore, Store};
use lnwasm::transport::tcp::{self, TcpPeer};
use lnwasm::transport::PeerUri;
use lnwasm::types::{Msat, PaymentHash, PaymentSecret, Sat, ShortChannelId};
use lnwasm::wire::features::{Feature, Features};
use lnwasm::wire::{ChannelId, ErrorMessage, Message, PaymentPreimage};

const T: Duration = Duration::from_secs(20);
const FUNDING: Sat = Sat(1_000_000);
/// What the lnwasm funder pushes to LDK when it opens, so both sides can pay.
const PUSH: Msat = Msat(400_000_000);
/// LDK's default `minimum_depth` as fundee.
const LDK_MIN_DEPTH: u32 = 6;
/// LDK's default relay policy (`ChannelConfig::default()`).
const LDK_FEE_BASE: u32 = 1000;
const LDK_FEE_PPM: u32 = 0;
const LDK_CLTV_DELTA: u16 = 72;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn peer_config() -> PeerConfig {
    let mut c = PeerConfig::new(ChainHash::REGTEST);
    c.ping_interval = None;
    c
}

fn pconfig() -> PaymentConfig {
    PaymentConfig::new(invoice::Network::Regtest)
}

/// One lnwasm node: a channel manager and a payment layer with their
/// stores, and a TCP connection to each LDK node it knows.
struct Ln {
    id: PublicKey,
    /// The node key: it authenticates the connections and signs invoices.
    secret: SecretKey,
    node: Node,
    peers: Vec<(PublicKey, TcpPeer)>,
    store: MemoryStore,
    pstore: BTreeMap<Vec<u8>, Vec<u8>>,
    published: Vec<Transaction>,
    watched: Vec<Txid>,
    events: Vec<PaymentEvent>,
    mevents: Vec<ManagerEvent>,
    refused: Vec<String>,
    peer_errors: Vec<String>,
    next_entropy: u8,
    /// The first message of this type we send, and everything after it
    /// until the next connection, is lost.
    cut_at: Option<u16>,
    /// Messages lost by `cut_at`.
    lost: Vec<Message>,
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
    fn new(seed: u8, height: u32) -> Ln {
        let w = WalletKeys::from_seed(&[seed; 32], Network::Regtest).unwrap();
        let id = w.node_id().unwrap();
        let secret = w.node_secret().unwrap();
        let now = unix_now();
        Ln {
            id,
            secret,
            node: Node::new(w, NodeConfig::new(invoice::Network::Regtest), height, now).unwrap(),
            peers: vec![],
            store: MemoryStore::new(),
            pstore: BTreeMap::new(),
            published: vec![],
            watched: vec![],
            events: vec![],
            mevents: vec![],
            refused: vec![],
            peer_errors: vec![],
            next_entropy: seed,
            cut_at: None,
            lost: vec![],
        }
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
                    if !self.lost.is_empty() || self.cut_at == Some(msg.msg_type()) {
                        self.lost.push(msg);
                        continue;
                    }
                    let p = self.peers.iter_mut().find(|(id, _)| *id == node_id);
                    if let Some((_, p)) = p {
                        let _ = p.send(&msg);
                    }
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
                NodeAction::Disconnect { node_id } => {
                    if let Some((_, p)) = self.peers.iter_mut().find(|(id, _)| *id == node_id) {
                        p.disconnect();
                    }
                }
                NodeAction::PublishLater { .. } | NodeAction::Watch(_) => {}
            }
        }
    }

    /// Reads what each connection has for at most `wait` and processes it.
    fn step(&mut self, wait: Duration) {
        let mut got = vec![];
        for (id, p) in &mut self.peers {
            if let Some(e) = p.next_event(wait) {
                got.push((*id, e));
                while let Some(e) = p.next_event(Duration::ZERO) {
                    got.push((*id, e));
                }
            }
        }
        for (node_id, e) in got {
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
                PeerEvent::Disconnected(_) => {
                    self.peers.retain(|(id, _)| *id != node_id);
                    self.input(NodeInput::PeerDisconnected { node_id });
                }
                PeerEvent::Connected(_)
                | PeerEvent::Pong { .. }
                | PeerEvent::PingReceived { .. } => {}
            }
        }
    }

    fn block(&mut self, height: u32) {
        self.input(NodeInput::BlockConnected { height });
    }

    fn entropy(&mut self) -> [u8; 32] {
        self.next_entropy = self.next_entropy.wrapping_add(1);
        [self.next_entropy; 32]
    }

    fn invoice(&mut self, amount: u64) -> (String, PaymentHash) {
        self.invoice_for(Some(Msat(amount)))
    }

    fn invoice_for(&mut self, amount: Option<Msat>) -> (String, PaymentHash) {
        let e = self.entropy();
        let (s, acts) = self
            .node
            .create_invoice(
                InvoiceRequest {
                    amount,
                    description: Description::Direct("interop".into()),
                    expiry_secs: 3600,
                    min_final_cltv_expiry_delta: 18,
                    route_hints: vec![],
                },
                &e,
            )
            .expect("invoice");
        self.run(acts);
        let h = *invoice::decode(&s).unwrap().payment_hash();
        (s, h)
    }

    fn pay(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64) {
        self.pay_amount(inv, routes, max_fee, None)
    }

    fn pay_amount(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64, amount: Option<Msat>) {
        let inv = invoice::decode(inv).expect("lnwasm decodes the invoice");
        let e = self.entropy();
        let acts = self
            .node
            .pay_invoice(
                &inv,
                PayParams {
                    max_fee: Msat(max_fee),
                    timeout_secs: 60,
                    amount,
                },
                Some(routes),
                &e,
            )
            .expect("lnwasm pays");
        self.run(acts);
    }

    fn view(&self, id: &ChannelId) -> ChannelView {
        self.views()
            .into_iter()
            .find(|v| v.channel_id == *id)
            .expect("channel view")
    }

    fn balance(&self, id: &ChannelId) -> (Msat, Msat, Msat) {
        let i = self.node.manager().channel_info(id).unwrap();
        (i.local_balance, i.remote_balance, i.in_flight)
    }

    fn sent(&self) -> Option<PaymentEvent> {
        self.events
            .iter()
            .find(|e| matches!(e, PaymentEvent::PaymentSent { .. }))
            .cloned()
    }

    fn failed(&self) -> Option<PaymentEvent> {
        self.events
            .iter()
            .find(|e| matches!(e, PaymentEvent::PaymentFailed { .. }))
            .cloned()
    }
}

/// lnwasm nodes, LDK nodes on one test chain.
struct Rig {
    ln: Vec<Ln>,
    ldk: Vec<LdkNode>,
    /// Runs LDK's tasks; dropped last.
    _rt: tokio::runtime::Runtime,
}

/// A channel opened by an lnwasm node to an LDK node and confirmed.
#[derive(Clone, Copy, Debug)]
struct Chan {
    ln: usize,
    ldk: usize,
    id: ChannelId,
    scid: ShortChannelId,
}

impl Rig {
    fn new(seed: u8, lns: u8, ldks: u8) -> Rig {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ldk: Vec<LdkNode> = (0..ldks)
            .map(|i| {
                rt.block_on(LdkNode::start(Config {
                    accept_inbound_channels: true,
                    anchors: true,
                    forward_to_private_channels: true,
                    channel_tick: Duration::from_secs(3600),
                    ..Config::with_seed_byte(seed.wrapping_add(i))
                }))
                .expect("LDK starts")
            })
            .collect();
        let height = ldk[0].best_block().0;
        let ln = (0..lns)
            .map(|i| Ln::new(seed.wrapping_add(100).wrapping_add(i), height))
            .collect();
        let mut r = Rig { ln, ldk, _rt: rt };
        for i in 0..r.ln.len() {
            for j in 0..r.ldk.len() {
                r.connect(i, j);
            }
        }
        r
    }

    fn connect(&mut self, i: usize, j: usize) {
        let uri = PeerUri::parse(&self.ldk[j].uri()).unwrap();
        let (peer, info) =
            tcp::connect(&uri, &self.ln[i].secret, peer_config(), T).expect("connect to LDK");
        let node_id = self.ldk[j].node_id();
        self.ln[i].peers.push((node_id, peer));
        self.ln[i].input(NodeInput::PeerConnected {
            node_id,
            features: info.features,
        });
        let id = self.ln[i].id;
        self.until("LDK sees lnwasm", |r| r.ldk[j].peer(&id).is_some());
    }

    /// Drops lnwasm node `i`'s connection to LDK node `j` and dials again;
    /// lost messages stay lost.
    fn reconnect(&mut self, i: usize, j: usize) {
        let node_id = self.ldk[j].node_id();
        if let Some(k) = self.ln[i].peers.iter().position(|(id, _)| *id == node_id) {
            let (_, mut p) = self.ln[i].peers.remove(k);
            p.disconnect();
        }
        self.ln[i].input(NodeInput::PeerDisconnected { node_id });
        let id = self.ln[i].id;
        self.until("LDK sees lnwasm leave", |r| r.ldk[j].peer(&id).is_none());
        self.ln[i].cut_at = None;
        self.ln[i].lost.clear();
        self.connect(i, j);
    }

    /// Runs every node until `f` holds.
    fn until(&mut self, what: &str, mut f: impl FnMut(&Rig) -> bool) {
        let start = Instant::now();
        loop {
            if f(self) {
                return;
            }
            if start.elapsed() > T {
                let ln: Vec<_> = self
                    .ln
                    .iter()
                    .map(|l| {
                        (
                            &l.events,
                            &l.refused,
                            &l.peer_errors,
                            l.node.list_channels(),
                        )
                    })
                    .collect();
                let ldk: Vec<_> = self
                    .ldk
                    .iter()
                    .map(|l| (l.ldk_events(), l.onion_errors()))
                    .collect();
                panic!("timed out waiting for: {what}\nlnwasm: {ln:#?}\nLDK: {ldk:#?}");
            }
            for l in &mut self.ln {
                l.step(Duration::from_millis(3));
            }
        }
    }

    /// Lets every node talk for `d` (to see that nothing more happens).
    fn settle(&mut self, d: Duration) {
        let start = Instant::now();
        while start.elapsed() < d {
            for l in &mut self.ln {
                l.step(Duration::from_millis(3));
            }
        }
    }

    /// Mines `n` blocks, the first with `txs`, for every node.
    fn mine(&mut self, n: u32, txs: Vec<Transaction>) {
        let (tip, _) = self.ldk[0].best_block();
        let blocks = self.ldk[0].mine_blocks(n, txs);
        for l in &self.ldk[1..] {
            for (k, b) in blocks.iter().enumerate() {
                l.connect_block(b, tip + 1 + k as u32);
            }
        }
        for ln in &mut self.ln {
            for (k, b) in blocks.iter().enumerate() {
                let height = tip + 1 + k as u32;
                for (idx, tx) in b.txdata.iter().enumerate() {
                    let txid = tx.compute_txid();
                    if ln.watched.contains(&txid) {
                        ln.input(NodeInput::TxConfirmed {
                            txid,
                            height,
                            tx_index: idx as u32,
                        });
                    }
                }
                ln.block(height);
            }
        }
    }

    fn ldk_channel(&self, j: usize, id: &ChannelId) -> ChannelDetails {
        self.ldk[j]
            .channel_manager()
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id == LdkChannelId(id.0))
            .expect("LDK has the channel")
    }

    fn ldk_event(&self, j: usize, f: impl Fn(&LdkEvent) -> bool) -> Option<LdkEvent> {
        self.ldk[j].ldk_events().into_iter().find(|e| f(e))
    }

    /// lnwasm node `i` opens a channel to LDK node `j` (pushing [`PUSH`])
    /// and funds it; returns the channel id and the funding transaction.
    fn open(&mut self, i: usize, j: usize, temp: u8) -> (ChannelId, Transaction) {
        let temporary_channel_id = ChannelId([temp; 32]);
        let node_id = self.ldk[j].node_id();
        self.ln[i].open(
            node_id,
            open_request(temporary_channel_id, FUNDING, PUSH, unix_now()),
        );
        let funding_required = |l: &Ln| funding_required(&l.mevents, temporary_channel_id);
        self.until("accept_channel from LDK", |r| {
            funding_required(&r.ln[i]).is_some()
        });
        let (script, amount) = funding_required(&self.ln[i]).unwrap();
        assert_eq!(amount, FUNDING);
        let tx = funding_tx(script, amount, temp);
        let txid = tx.compute_txid();
        self.ln[i].command(
            temporary_channel_id,
            Command::FundingTx {
                tx: tx.clone(),
                output_index: 0,
            },
        );
        self.until("funding_signed from LDK", |r| {
            r.ln[i].published.iter().any(|t| t.compute_txid() == txid)
        });
        (ChannelId::from_funding_outpoint(&txid, 0), tx)
    }

    /// Opens the channels `(lnwasm, LDK)`, confirms them all in one block
    /// (the funding transaction of channel `k` at index `k`) and waits
    /// until every one is usable on both sides.
    fn channels(&mut self, pairs: &[(usize, usize)]) -> Vec<Chan> {
        let mut opened = vec![];
        for (k, &(i, j)) in pairs.iter().enumerate() {
            let (id, tx) = self.open(i, j, 0x10 + k as u8);
            opened.push((i, j, id, tx));
        }
        let (tip, _) = self.ldk[0].best_block();
        let txs = opened.iter().map(|o| o.3.clone()).collect();
        self.mine(LDK_MIN_DEPTH, txs);
        let chans: Vec<Chan> = opened
            .iter()
            .enumerate()
            .map(|(k, &(ln, ldk, id, _))| Chan {
                ln,
                ldk,
                id,
                scid: ShortChannelId::new(tip + 1, k as u32, 0).unwrap(),
            })
            .collect();
        for c in &chans {
            let c = *c;
            self.until("channel usable on both sides", |r| {
                let v = r.ln[c.ln].view(&c.id);
                v.usable && r.ldk_channel(c.ldk, &c.id).is_usable
            });
            let d = self.ldk_channel(c.ldk, &c.id);
            assert_eq!(d.short_channel_id, Some(c.scid.0));
            assert!(self.ln[c.ln].view(&c.id).scids.contains(&c.scid));
            assert_eq!(
                self.ln[c.ln].balance(&c.id),
                (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
            );
        }
        chans
    }

    /// Waits for LDK's `PaymentClaimable` of `hash` and claims it with the
    /// preimage it carries; returns (amount, preimage).
    fn ldk_claims(&mut self, j: usize, hash: PaymentHash) -> (u64, LdkPaymentPreimage) {
        let h = LdkPaymentHash(hash.0);
        let claimable = |e: &LdkEvent| matches!(e, LdkEvent::PaymentClaimable { payment_hash, .. } if *payment_hash == h);
        self.until("LDK's PaymentClaimable", |r| {
            r.ldk_event(j, claimable).is_some()
        });
        let Some(LdkEvent::PaymentClaimable {
            amount_msat,
            purpose,
            ..
        }) = self.ldk_event(j, claimable)
        else {
            unreachable!()
        };
        let preimage = purpose.preimage().expect("LDK knows the preimage");
        assert!(matches!(
            purpose,
            PaymentPurpose::Bolt11InvoicePayment { .. }
        ));
        self.ldk[j].channel_manager().claim_funds(preimage);
        let claimed = |e: &LdkEvent| matches!(e, LdkEvent::PaymentClaimed { payment_hash, .. } if *payment_hash == h);
        self.until("LDK's PaymentClaimed", |r| {
            r.ldk_event(j, claimed).is_some()
        });
        (amount_msat, preimage)
    }

    /// LDK node `j` pays lnwasm's invoice `inv` over `route`, under the
    /// payment hash `hash` (the invoice's, or another).
    fn ldk_pays_invoice(&mut self, j: usize, route: LdkRoute, inv: &str, hash: PaymentHash) {
        let secret = *invoice::decode(inv).unwrap().payment_secret();
        self.ldk[j]
            .channel_manager()
            .send_payment_with_route(
                route,
                LdkPaymentHash(hash.0),
                RecipientOnionFields::secret_only(LdkPaymentSecret(secret.0)),
                PaymentId(hash.0),
            )
            .expect("LDK sends");
    }

    /// LDK's `PaymentSent` for `hash`: (preimage, amount, fee).
    fn ldk_sent(&mut self, j: usize, hash: PaymentHash) -> (LdkPaymentPreimage, u64, u64) {
        let h = LdkPaymentHash(hash.0);
        let sent = |e: &LdkEvent| matches!(e, LdkEvent::PaymentSent { payment_hash, .. } if *payment_hash == h);
        self.until("LDK's PaymentSent", |r| r.ldk_event(j, sent).is_some());
        let Some(LdkEvent::PaymentSent {
            payment_preimage,
            amount_msat,
            fee_paid_msat,
            ..
        }) = self.ldk_event(j, sent)
        else {
            unreachable!()
        };
        (
            payment_preimage,
            amount_msat.expect("amount"),
            fee_paid_msat.expect("fee"),
        )
    }

    /// LDK's failure of its payment `hash`: the `PaymentPathFailed`
    /// (permanently?, failing scid) and the `PaymentFailed` reason.
    fn ldk_failed(
        &mut self,
        j: usize,
        hash: PaymentHash,
    ) -> (bool, Option<u64>, Option<PaymentFailureReason>) {
        let h = LdkPaymentHash(hash.0);
        let failed = |e: &LdkEvent| matches!(e, LdkEvent::PaymentFailed { payment_hash: Some(p), .. } if *p == h);
        let path_failed = |e: &LdkEvent| matches!(e, LdkEvent::PaymentPathFailed { payment_hash, .. } if *payment_hash == h);
        self.until("LDK's PaymentFailed", |r| {
            r.ldk_event(j, failed).is_some() && r.ldk_event(j, path_failed).is_some()
        });
        let Some(LdkEvent::PaymentPathFailed {
            payment_failed_permanently,
            failure,
            short_channel_id,
            ..
        }) = self.ldk_event(j, path_failed)
        else {
            unreachable!()
        };
        assert!(matches!(failure, PathFailure::OnPath { .. }), "{failure:?}");
        let Some(LdkEvent::PaymentFailed { reason, .. }) = self.ldk_event(j, failed) else {
            unreachable!()
        };
        (payment_failed_permanently, short_channel_id, reason)
    }

    /// Waits until no HTLC is left on channel `c` on either side.
    fn htlcs_gone(&mut self, c: Chan) {
        self.until("HTLCs removed on both sides", |r| {
            let d = r.ldk_channel(c.ldk, &c.id);
            r.ln[c.ln].balance(&c.id).2 == Msat(0)
                && d.pending_outbound_htlcs.is_empty()
                && d.pending_inbound_htlcs.is_empty()
        });
        self.settle(Duration::from_millis(50));
    }

    fn check_clean(&self) {
        for l in &self.ln {
            assert!(l.refused.is_empty(), "{:?}", l.refused);
            assert!(l.peer_errors.is_empty(), "{:?}", l.peer_errors);
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for l in &mut self.ln {
            for (_, p) in &mut l.peers {
                p.disconnect();
            }
        }
        for l in &mut self.ldk {
            l.stop();
        }
    }
}

/// The direct route to LDK node `j` over our channel `c`.
fn direct(r: &Rig, c: Chan) -> Route {
    Route {
        hops: vec![RouteHop {
            node_id: r.ldk[c.ldk].node_id(),
            short_channel_id: c.scid,
            fee_base_msat: 0,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 0,
        }],
    }
}

/// An LDK route of one path with these hops `(node, scid, fee, delta)`.
fn ldk_route(hops: &[(PublicKey, ShortChannelId, u64, u32)]) -> LdkRoute {
    LdkRoute {
        paths: vec![Path {
            hops: hops
                .iter()
                .map(|&(pubkey, scid, fee_msat, cltv_expiry_delta)| LdkRouteHop {
                    pubkey,
                    node_features: NodeFeatures::empty(),
                    short_channel_id: scid.0,
                    channel_features: ChannelFeatures::empty(),
                    fee_msat,
                    cltv_expiry_delta,
                    maybe_announced_channel: false,
                })
                .collect(),
            blinded_tail: None,
        }],
        route_params: None,
    }
}

fn ldk_invoice(r: &Rig, j: usize, amount: u64) -> Bolt11Invoice {
    r.ldk[j]
        .channel_manager()
        .create_bolt11_invoice(Bolt11InvoiceParameters {
            amount_msats: Some(amount),
            description: Bolt11InvoiceDescription::Direct(
                LdkDescription::new("ldk interop".into()).unwrap(),
            ),
            invoice_expiry_delta_secs: Some(3600),
            min_final_cltv_expiry_delta: None,
            payment_hash: None,
        })
        .expect("LDK creates an invoice")
}

// ---------------------------------------------------------------------------------------------
// 1. LDK pays an lnwasm invoice

#[test]
fn ldk_pays_lnwasm_invoice() {
    let mut r = Rig::new(1, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let amount = 30_000_000;
    let (inv, hash) = r.ln[0].invoice(amount);
    let parsed = Bolt11Invoice::from_str(&inv).expect("LDK parses lnwasm's invoice");
    assert_eq!(parsed.recover_payee_pub_key(), r.ln[0].id);
    r.ldk[0]
        .channel_manager()
        .pay_for_bolt11_invoice(
            &parsed,
            PaymentId(hash.0),
            None,
            RouteParametersConfig::default(),
            Retry::Attempts(0),
        )
        .expect("LDK pays");
    let (preimage, sent, fee) = r.ldk_sent(0, hash);
    assert_eq!((sent, fee), (amount, 0));
    let rec = r.ln[0]
        .node
        .payments()
        .invoice(&hash)
        .expect("invoice record")
        .clone();
    assert_eq!(preimage, LdkPaymentPreimage(rec.preimage.0));
    assert_eq!(rec.preimage.payment_hash(), hash);
    assert_eq!(
        r.ln[0].events,
        vec![PaymentEvent::PaymentReceived {
            payment_hash: hash,
            amount: Msat(amount),
        }]
    );
    r.htlcs_gone(c);
    assert_eq!(
        r.ln[0].balance(&c.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + amount),
            Msat(PUSH.0 - amount),
            Msat(0)
        )
    );
    let d = r.ldk_channel(0, &c.id);
    // LDK's balance less the 1% reserve lnwasm imposes.
    assert_eq!(d.outbound_capacity_msat, PUSH.0 - amount - 10_000_000);
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// 2. lnwasm pays an LDK invoice

#[test]
fn lnwasm_pays_ldk_invoice() {
    let mut r = Rig::new(2, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let amount = 25_000_000;
    let inv = ldk_invoice(&r, 0, amount);
    let hash = PaymentHash(inv.payment_hash().to_byte_array());
    let decoded = invoice::decode(&inv.to_string()).unwrap();
    assert_eq!(*decoded.payee(), r.ldk[0].node_id());
    assert_eq!(decoded.amount(), Some(Msat(amount)));
    let route = direct(&r, c);
    r.ln[0].pay(&inv.to_string(), vec![route], 0);
    let (claimed, preimage) = r.ldk_claims(0, hash);
    assert_eq!(claimed, amount);
    r.until("lnwasm's PaymentSent", |r| r.ln[0].sent().is_some());
    assert_eq!(
        r.ln[0].sent(),
        Some(PaymentEvent::PaymentSent {
            payment_hash: hash,
            preimage: PaymentPreimage(preimage.0),
            amount: Msat(amount),
            fee: Msat(0),
            attempts: 1,
        })
    );
    assert_eq!(PaymentPreimage(preimage.0).payment_hash(), hash);
    r.htlcs_gone(c);
    assert_eq!(
        r.ln[0].balance(&c.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 - amount),
            Msat(PUSH.0 + amount),
            Msat(0)
        )
    );
    assert_eq!(r.ln[0].events.len(), 1, "{:?}", r.ln[0].events);
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// 5. Failures

/// LDK pays an lnwasm invoice with less than its amount, then a hash
/// lnwasm does not know: lnwasm refuses both with
/// `incorrect_or_unknown_payment_details`, which LDK reads from lnwasm,
/// the final hop, as a permanent failure.
#[test]
fn ldk_payment_refused_by_lnwasm_with_incorrect_payment_details() {
    let mut r = Rig::new(5, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let amount = 10_000_000;
    let (inv, hash) = r.ln[0].invoice(amount);
    let unknown = PaymentPreimage([0x99; 32]).payment_hash();
    let ln_id = r.ln[0].id;
    for (k, (h, paid)) in [(hash, amount - 1000), (unknown, amount)]
        .into_iter()
        .enumerate()
    {
        r.ldk_pays_invoice(0, ldk_route(&[(ln_id, c.scid, paid, 40)]), &inv, h);
        let (permanent, scid, reason) = r.ldk_failed(0, h);
        assert!(permanent);
        assert_eq!(scid, None, "a failure of the final node blames no channel");
        assert_eq!(reason, Some(PaymentFailureReason::RecipientRejected));
        let errors = r.ldk[0].onion_errors();
        assert_eq!(errors.len(), k + 1, "{errors:?}");
        assert!(
            errors[k].starts_with(&format!("Onion Error[from {ln_id}: "))
                && errors[k].contains("(0x400f)"),
            "{errors:?}"
        );
        assert_eq!(
            r.ln[0].events[k],
            PaymentEvent::ReceiveFailed {
                payment_hash: h,
                code: 0x400f,
            }
        );
        r.htlcs_gone(c);
    }
    assert_eq!(r.ln[0].events.len(), 2, "{:?}", r.ln[0].events);
    // Nothing moved; the invoice is still open.
    assert_eq!(
        r.ln[0].balance(&c.id),
        (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
    );
    assert_eq!(r.ln[0].node.payments().invoice(&hash).unwrap().claim, None);
    r.check_clean();
}

/// lnwasm pays an invoice for LDK's payment hash with a wrong payment
/// secret, then one below the amount LDK expects (both invoices signed with
/// LDK's node key by lnwasm's encoder): LDK refuses both with
/// `incorrect_or_unknown_payment_details`, which lnwasm attributes to LDK,
/// the final hop, and does not retry.
#[test]
fn lnwasm_payment_refused_by_ldk_with_incorrect_payment_details() {
    let mut r = Rig::new(6, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let amount = 12_000_000;
    let ldk_id = r.ldk[0].node_id();
    let ldk_key = r.ldk[0].keys_manager().get_node_secret_key();
    let forged = |inv: &Bolt11Invoice, secret: PaymentSecret, amount: u64| {
        let d = invoice::decode(&inv.to_string()).unwrap();
        let mut features = Features::empty();
        features.set_optional(Feature::VarOnionOptin);
        features.set_required(Feature::PaymentSecret);
        NewInvoice {
            network: invoice::Network::Regtest,
            amount: Some(Msat(amount)),
            timestamp: unix_now(),
            payment_hash: *d.payment_hash(),
            payment_secret: secret,
            description: Description::Direct("forged".into()),
            include_payee_node_id: false,
            expiry: Some(3600),
            min_final_cltv_expiry_delta: Some(d.min_final_cltv_expiry_delta()),
            fallbacks: vec![],
            route_hints: vec![],
            features,
            metadata: None,
        }
        .sign(&ldk_key, &[])
        .unwrap()
    };
    let a = ldk_invoice(&r, 0, amount);
    let b = ldk_invoice(&r, 0, amount);
    let b_secret = PaymentSecret(b.payment_secret().0);
    let cases = [
        (forged(&a, PaymentSecret([0x13; 32]), amount), amount),
        (forged(&b, b_secret, amount - 1000), amount - 1000),
    ];
    for (k, (inv, paid)) in cases.into_iter().enumerate() {
        let h = *invoice::decode(&inv).unwrap().payment_hash();
        let route = direct(&r, c);
        r.ln[0].events.clear();
        r.ln[0].pay(&inv, vec![route], 0);
        r.until("lnwasm's PaymentFailed", |r| r.ln[0].failed().is_some());
        let (tip, _) = r.ldk[0].best_block();
        assert_eq!(
            r.ln[0].events,
            vec![PaymentEvent::PaymentFailed {
                payment_hash: h,
                failure: PayFailure::Route(RouteFailure {
                    hop_index: 0,
                    node_id: ldk_id,
                    code: 0x400f,
                    message: Some(FailureMessage::IncorrectOrUnknownPaymentDetails {
                        htlc_msat: Msat(paid),
                        height: tip,
                    }),
                }),
            }],
            "case {k}"
        );
        r.htlcs_gone(c);
    }
    assert_eq!(
        r.ln[0].balance(&c.id),
        (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
    );
    assert!(r
        .ldk_event(0, |e| matches!(e, LdkEvent::PaymentClaimable { .. }))
        .is_none());
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// 3. LDK forwards between two lnwasm nodes

/// The HTLC a node received on `id` (its first one there).
fn received_htlc(l: &Ln, id: &ChannelId) -> lnwasm::channel::HtlcAdd {
    l.mevents
        .iter()
        .find_map(|e| match e {
            ManagerEvent::Channel {
                channel_id,
                event: Event::HtlcReceived(add),
                ..
            } if channel_id == id => Some(add.clone()),
            _ => None,
        })
        .expect("an HTLC received")
}

/// lnwasm A → LDK → lnwasm C over unannounced channels: A's explicit route
/// uses LDK's scid and relay policy for the LDK–C channel (read from LDK's
/// `ChannelDetails`, after setting a fee with a proportional part).
#[test]
fn ldk_forwards_between_lnwasm_nodes() {
    use ldk_peer::lightning::util::config::ChannelConfigUpdate;
    let mut r = Rig::new(3, 2, 1);
    let chans = r.channels(&[(0, 0), (1, 0)]);
    let (ac, cc) = (chans[0], chans[1]);
    let (a_id, c_id) = (r.ln[0].id, r.ln[1].id);
    r.ldk[0]
        .channel_manager()
        .update_partial_channel_config(
            &c_id,
            &[LdkChannelId(cc.id.0)],
            &ChannelConfigUpdate {
                forwarding_fee_base_msat: Some(1500),
                forwarding_fee_proportional_millionths: Some(2500),
                ..Default::default()
            },
        )
        .expect("LDK updates its policy");
    let policy = r.ldk_channel(0, &cc.id).config.expect("LDK's policy");
    assert_eq!(
        (
            policy.forwarding_fee_base_msat,
            policy.forwarding_fee_proportional_millionths,
            policy.cltv_expiry_delta
        ),
        (1500, 2500, LDK_CLTV_DELTA)
    );
    let amount = 20_000_000;
    let fee = 1500 + amount * 2500 / 1_000_000;
    assert_eq!(relay_fee(1500, 2500, Msat(amount)), Msat(fee), "BOLT 7 fee");
    let (inv, hash) = r.ln[1].invoice(amount);
    let ldk_id = r.ldk[0].node_id();
    let route = Route {
        hops: vec![
            RouteHop {
                node_id: ldk_id,
                short_channel_id: ac.scid,
                fee_base_msat: 0,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: 0,
            },
            RouteHop {
                node_id: c_id,
                short_channel_id: cc.scid,
                fee_base_msat: policy.forwarding_fee_base_msat,
                fee_proportional_millionths: policy.forwarding_fee_proportional_millionths,
                cltv_expiry_delta: policy.cltv_expiry_delta,
            },
        ],
    };
    let (tip, _) = r.ldk[0].best_block();
    r.ln[0].pay(&inv, vec![route], fee);
    r.until("A's PaymentSent", |r| r.ln[0].sent().is_some());
    let preimage = r.ln[1].node.payments().invoice(&hash).unwrap().preimage;
    assert_eq!(
        r.ln[0].sent(),
        Some(PaymentEvent::PaymentSent {
            payment_hash: hash,
            preimage,
            amount: Msat(amount),
            fee: Msat(fee),
            attempts: 1,
        })
    );
    assert_eq!(
        r.ln[1].events,
        vec![PaymentEvent::PaymentReceived {
            payment_hash: hash,
            amount: Msat(amount),
        }]
    );
    // C got exactly the amount, with the final expiry A chose
    // (height + invoice delta 18 + margin 3); A offered amount + fee with
    // LDK's delta on top.
    let at_c = received_htlc(&r.ln[1], &cc.id);
    assert_eq!(
        (at_c.amount, at_c.payment_hash, at_c.cltv_expiry),
        (Msat(amount), hash, tip + 18 + 3)
    );
    let fwd = |e: &LdkEvent| matches!(e, LdkEvent::PaymentForwarded { .. });
    r.until("LDK's PaymentForwarded", |r| r.ldk_event(0, fwd).is_some());
    let Some(LdkEvent::PaymentForwarded {
        prev_channel_id,
        next_channel_id,
        prev_node_id,
        next_node_id,
        total_fee_earned_msat,
        outbound_amount_forwarded_msat,
        claim_from_onchain_tx,
        ..
    }) = r.ldk_event(0, fwd)
    else {
        unreachable!()
    };
    assert_eq!(
        (prev_channel_id, next_channel_id),
        (Some(LdkChannelId(ac.id.0)), Some(LdkChannelId(cc.id.0)))
    );
    assert_eq!((prev_node_id, next_node_id), (Some(a_id), Some(c_id)));
    assert_eq!(total_fee_earned_msat, Some(fee));
    assert_eq!(outbound_amount_forwarded_msat, Some(amount));
    assert!(!claim_from_onchain_tx);
    r.htlcs_gone(ac);
    r.htlcs_gone(cc);
    assert_eq!(
        r.ln[0].balance(&ac.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 - amount - fee),
            Msat(PUSH.0 + amount + fee),
            Msat(0)
        )
    );
    assert_eq!(
        r.ln[1].balance(&cc.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + amount),
            Msat(PUSH.0 - amount),
            Msat(0)
        )
    );
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// 4. lnwasm forwards for LDK

/// One lnwasm node with two channels to one LDK node, and the payment
/// hash and secret of an LDK inbound payment of `amount`.
fn circular(seed: u8, amount: u64) -> (Rig, Chan, Chan, LdkPaymentHash, LdkPaymentSecret) {
    let mut r = Rig::new(seed, 1, 1);
    let chans = r.channels(&[(0, 0), (0, 0)]);
    let (hash, secret) = r.ldk[0]
        .channel_manager()
        .create_inbound_payment(Some(amount), 3600, None)
        .expect("LDK inbound payment");
    (r, chans[0], chans[1], hash, secret)
}

/// lnwasm's fee for forwarding `amount` msat under its relay policy.
fn lnwasm_fee(amount: u64) -> Msat {
    let policy = pconfig().forwarding;
    relay_fee(
        policy.fee_base_msat,
        policy.fee_proportional_millionths,
        Msat(amount),
    )
}

/// The CLTV delta of the final hop (LDK) on the circular route.
const CIRCULAR_FINAL_DELTA: u32 = 40;

/// LDK sends `amount` msat to itself over the circular route: to lnwasm
/// over `c1`, offering it `fee` msat and its CLTV delta, then back to LDK
/// over `c2`.
fn ldk_pays_around(
    r: &mut Rig,
    (c1, c2): (Chan, Chan),
    fee: u64,
    amount: u64,
    hash: LdkPaymentHash,
    secret: LdkPaymentSecret,
) {
    let delta = u32::from(pconfig().forwarding.cltv_expiry_delta);
    let (ln_id, ldk_id) = (r.ln[0].id, r.ldk[0].node_id());
    r.ldk[0]
        .channel_manager()
        .send_payment_with_route(
            ldk_route(&[
                (ln_id, c1.scid, fee, delta),
                (ldk_id, c2.scid, amount, CIRCULAR_FINAL_DELTA),
            ]),
            hash,
            RecipientOnionFields::secret_only(secret),
            PaymentId(hash.0),
        )
        .expect("LDK sends");
}

/// LDK pays itself over a circular route through lnwasm (LDK → lnwasm
/// over the first channel, lnwasm → LDK over the second): lnwasm forwards
/// with its relay policy and earns its fee.
#[test]
fn lnwasm_forwards_for_ldk() {
    let amount = 15_000_000;
    let (mut r, c1, c2, hash, secret) = circular(4, amount);
    let policy = pconfig().forwarding;
    let fee = lnwasm_fee(amount);
    assert_eq!(fee, Msat(1000 + 1500), "1000 msat + 100 ppm");
    let (tip, _) = r.ldk[0].best_block();
    ldk_pays_around(&mut r, (c1, c2), fee.0, amount, hash, secret);
    let h = PaymentHash(hash.0);
    let (claimed, preimage) = r.ldk_claims(0, h);
    assert_eq!(claimed, amount);
    let (sent_preimage, sent, fee_paid) = r.ldk_sent(0, h);
    assert_eq!((sent_preimage, sent, fee_paid), (preimage, amount, fee.0));
    r.until("lnwasm's ForwardSettled", |r| {
        r.ln[0]
            .events
            .iter()
            .any(|e| matches!(e, PaymentEvent::ForwardSettled { .. }))
    });
    assert_eq!(
        r.ln[0].events,
        vec![
            PaymentEvent::Forwarded {
                payment_hash: h,
                in_channel: c1.id,
                out_channel: c2.id,
            },
            PaymentEvent::ForwardSettled {
                payment_hash: h,
                fee,
            },
        ]
    );
    // LDK counts the final delta from the next block; lnwasm's delta on top.
    let incoming = received_htlc(&r.ln[0], &c1.id);
    assert_eq!(
        (incoming.amount, incoming.payment_hash, incoming.cltv_expiry),
        (
            Msat(amount + fee.0),
            h,
            tip + 1 + CIRCULAR_FINAL_DELTA + u32::from(policy.cltv_expiry_delta)
        )
    );
    r.htlcs_gone(c1);
    r.htlcs_gone(c2);
    assert_eq!(
        r.ln[0].balance(&c1.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + amount + fee.0),
            Msat(PUSH.0 - amount - fee.0),
            Msat(0)
        )
    );
    assert_eq!(
        r.ln[0].balance(&c2.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 - amount),
            Msat(PUSH.0 + amount),
            Msat(0)
        )
    );
    // The settled forward is forgotten at the next block.
    assert_eq!(r.ln[0].node.payments().forwards().len(), 1);
    r.mine(1, vec![]);
    assert!(r.ln[0].node.payments().forwards().is_empty());
    r.check_clean();
}

/// The same circular route paying lnwasm one msat less than its fee:
/// lnwasm refuses the forward with `fee_insufficient` and LDK reads it
/// from lnwasm, blaming lnwasm's outgoing channel (temporarily).
#[test]
fn lnwasm_refuses_insufficient_fee_from_ldk() {
    use ldk_peer::lightning::routing::gossip::NetworkUpdate;
    let amount = 15_000_000;
    let (mut r, c1, c2, hash, secret) = circular(7, amount);
    let fee = lnwasm_fee(amount);
    let ln_id = r.ln[0].id;
    ldk_pays_around(&mut r, (c1, c2), fee.0 - 1, amount, hash, secret);
    let h = PaymentHash(hash.0);
    let (permanent, scid, reason) = r.ldk_failed(0, h);
    assert!(!permanent);
    assert_eq!(scid, Some(c2.scid.0));
    assert_eq!(reason, Some(PaymentFailureReason::RetriesExhausted));
    let Some(LdkEvent::PaymentPathFailed { failure, .. }) =
        r.ldk_event(0, |e| matches!(e, LdkEvent::PaymentPathFailed { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        failure,
        PathFailure::OnPath {
            network_update: Some(NetworkUpdate::ChannelFailure {
                short_channel_id: c2.scid.0,
                is_permanent: false,
            })
        }
    );
    let errors = r.ldk[0].onion_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("Onion Error[from {ln_id}: "))
            && errors[0].contains("(0x100c)"),
        "{errors:?}"
    );
    assert_eq!(
        r.ln[0].events,
        vec![PaymentEvent::ForwardRefused {
            payment_hash: h,
            in_channel: c1.id,
            code: 0x100c,
        }]
    );
    r.htlcs_gone(c1);
    for c in [c1, c2] {
        assert_eq!(
            r.ln[0].balance(&c.id),
            (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
        );
    }
    assert!(r
        .ldk_event(0, |e| matches!(e, LdkEvent::PaymentClaimable { .. }))
        .is_none());
    r.check_clean();
}

/// lnwasm A pays lnwasm C through LDK with a route that gives LDK less than
/// its fee: LDK refuses with `fee_insufficient` (the HTLC amount, no
/// `channel_update`), which A attributes to LDK (hop 0) and parses; no
/// other route is left.
#[test]
fn ldk_refuses_insufficient_fee_from_lnwasm() {
    let mut r = Rig::new(8, 2, 1);
    let chans = r.channels(&[(0, 0), (1, 0)]);
    let (ac, cc) = (chans[0], chans[1]);
    let c_id = r.ln[1].id;
    let ldk_id = r.ldk[0].node_id();
    let policy = r.ldk_channel(0, &cc.id).config.expect("LDK's policy");
    assert_eq!(
        (
            policy.forwarding_fee_base_msat,
            policy.forwarding_fee_proportional_millionths
        ),
        (LDK_FEE_BASE, LDK_FEE_PPM)
    );
    let amount = 20_000_000;
    let (inv, hash) = r.ln[1].invoice(amount);
    let route = Route {
        hops: vec![
            RouteHop {
                node_id: ldk_id,
                short_channel_id: ac.scid,
                fee_base_msat: 0,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: 0,
            },
            RouteHop {
                node_id: c_id,
                short_channel_id: cc.scid,
                fee_base_msat: LDK_FEE_BASE - 1,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: policy.cltv_expiry_delta,
            },
        ],
    };
    r.ln[0].pay(&inv, vec![route], 10_000);
    r.until("A's PaymentFailed", |r| r.ln[0].failed().is_some());
    let Some(PaymentEvent::PaymentFailed {
        payment_hash,
        failure: PayFailure::Route(f),
    }) = r.ln[0].failed()
    else {
        panic!("{:?}", r.ln[0].events)
    };
    assert_eq!(payment_hash, hash);
    assert_eq!((f.hop_index, f.node_id, f.code), (0, ldk_id, 0x100c));
    let Some(FailureMessage::FeeInsufficient {
        htlc_msat,
        channel_update,
    }) = f.message
    else {
        panic!("{f:?}")
    };
    assert_eq!(htlc_msat, Msat(amount + u64::from(LDK_FEE_BASE) - 1));
    // LDK 0.2 leaves the (now optional) channel_update out: length 0.
    assert!(channel_update.is_empty());
    assert_eq!(r.ln[0].events.len(), 1, "{:?}", r.ln[0].events);
    assert!(r.ln[1].events.is_empty(), "{:?}", r.ln[1].events);
    r.htlcs_gone(ac);
    assert_eq!(
        r.ln[0].balance(&ac.id),
        (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
    );
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Multi-part

/// LDK pays an lnwasm invoice in two parts, one over each of its two
/// channels to lnwasm: lnwasm waits for both, then claims them together.
#[test]
fn ldk_pays_lnwasm_invoice_in_two_parts() {
    let mut r = Rig::new(9, 1, 1);
    let chans = r.channels(&[(0, 0), (0, 0)]);
    let (c1, c2) = (chans[0], chans[1]);
    let amount = 30_000_000;
    let (part1, part2) = (18_000_000, amount - 18_000_000);
    let (inv, hash) = r.ln[0].invoice(amount);
    let ln_id = r.ln[0].id;
    let mut route = ldk_route(&[(ln_id, c1.scid, part1, 40)]);
    let second = ldk_route(&[(ln_id, c2.scid, part2, 40)]);
    route.paths.extend(second.paths);
    r.ldk_pays_invoice(0, route, &inv, hash);
    let (preimage, sent, fee) = r.ldk_sent(0, hash);
    assert_eq!((sent, fee), (amount, 0));
    assert_eq!(
        preimage,
        LdkPaymentPreimage(r.ln[0].node.payments().invoice(&hash).unwrap().preimage.0)
    );
    assert_eq!(
        r.ln[0].events,
        vec![PaymentEvent::PaymentReceived {
            payment_hash: hash,
            amount: Msat(amount),
        }]
    );
    for (c, part) in [(c1, part1), (c2, part2)] {
        let add = received_htlc(&r.ln[0], &c.id);
        assert_eq!((add.amount, add.payment_hash), (Msat(part), hash));
        r.htlcs_gone(c);
        assert_eq!(
            r.ln[0].balance(&c.id),
            (
                Msat(FUNDING.0 * 1000 - PUSH.0 + part),
                Msat(PUSH.0 - part),
                Msat(0)
            )
        );
    }
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Failures behind a forwarder: error packets wrapped by the other side

/// lnwasm A pays, through LDK, an invoice of C's that C does not know: C
/// fails with `incorrect_or_unknown_payment_details`, LDK wraps the error
/// once more, and A attributes it to C (hop 1).
#[test]
fn final_failure_at_lnwasm_returned_through_ldk() {
    let mut r = Rig::new(10, 2, 1);
    let chans = r.channels(&[(0, 0), (1, 0)]);
    let (ac, cc) = (chans[0], chans[1]);
    let c_id = r.ln[1].id;
    let ldk_id = r.ldk[0].node_id();
    let amount = 9_000_000;
    let unknown = PaymentPreimage([0x66; 32]).payment_hash();
    let mut features = Features::empty();
    features.set_optional(Feature::VarOnionOptin);
    features.set_required(Feature::PaymentSecret);
    let inv = NewInvoice {
        network: invoice::Network::Regtest,
        amount: Some(Msat(amount)),
        timestamp: unix_now(),
        payment_hash: unknown,
        payment_secret: PaymentSecret([0x44; 32]),
        description: Description::Direct("unknown".into()),
        include_payee_node_id: false,
        expiry: Some(3600),
        min_final_cltv_expiry_delta: Some(18),
        fallbacks: vec![],
        route_hints: vec![],
        features,
        metadata: None,
    }
    .sign(&r.ln[1].secret, &[])
    .unwrap();
    let route = Route {
        hops: vec![
            RouteHop {
                node_id: ldk_id,
                short_channel_id: ac.scid,
                fee_base_msat: 0,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: 0,
            },
            RouteHop {
                node_id: c_id,
                short_channel_id: cc.scid,
                fee_base_msat: LDK_FEE_BASE,
                fee_proportional_millionths: LDK_FEE_PPM,
                cltv_expiry_delta: LDK_CLTV_DELTA,
            },
        ],
    };
    r.ln[0].pay(&inv, vec![route], 10_000);
    r.until("A's PaymentFailed", |r| r.ln[0].failed().is_some());
    let (tip, _) = r.ldk[0].best_block();
    assert_eq!(
        r.ln[0].events,
        vec![PaymentEvent::PaymentFailed {
            payment_hash: unknown,
            failure: PayFailure::Route(RouteFailure {
                hop_index: 1,
                node_id: c_id,
                code: 0x400f,
                message: Some(FailureMessage::IncorrectOrUnknownPaymentDetails {
                    htlc_msat: Msat(amount),
                    height: tip,
                }),
            }),
        }]
    );
    assert_eq!(
        r.ln[1].events,
        vec![PaymentEvent::ReceiveFailed {
            payment_hash: unknown,
            code: 0x400f,
        }]
    );
    let failed = |e: &LdkEvent| matches!(e, LdkEvent::HTLCHandlingFailed { .. });
    r.until("LDK's HTLCHandlingFailed", |r| {
        r.ldk_event(0, failed).is_some()
    });
    r.htlcs_gone(ac);
    r.htlcs_gone(cc);
    assert_eq!(
        r.ln[0].balance(&ac.id),
        (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
    );
    r.check_clean();
}

/// LDK pays itself through lnwasm with a wrong payment secret: LDK, the
/// final hop, fails with `incorrect_or_unknown_payment_details`; lnwasm
/// wraps the error back and LDK reads it as its own recipient's refusal.
#[test]
fn final_failure_at_ldk_returned_through_lnwasm() {
    let amount = 8_000_000;
    let (mut r, c1, c2, hash, _) = circular(11, amount);
    let fee = lnwasm_fee(amount);
    let ldk_id = r.ldk[0].node_id();
    let wrong_secret = LdkPaymentSecret([0x21; 32]);
    ldk_pays_around(&mut r, (c1, c2), fee.0, amount, hash, wrong_secret);
    let h = PaymentHash(hash.0);
    let (permanent, scid, reason) = r.ldk_failed(0, h);
    assert!(permanent);
    assert_eq!(scid, None);
    assert_eq!(reason, Some(PaymentFailureReason::RecipientRejected));
    let errors = r.ldk[0].onion_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("Onion Error[from {ldk_id}: "))
            && errors[0].contains("(0x400f)"),
        "{errors:?}"
    );
    r.until("lnwasm's ForwardFailed", |r| {
        r.ln[0]
            .events
            .iter()
            .any(|e| matches!(e, PaymentEvent::ForwardFailed { .. }))
    });
    assert_eq!(
        r.ln[0].events,
        vec![
            PaymentEvent::Forwarded {
                payment_hash: h,
                in_channel: c1.id,
                out_channel: c2.id,
            },
            PaymentEvent::ForwardFailed { payment_hash: h },
        ]
    );
    r.htlcs_gone(c1);
    r.htlcs_gone(c2);
    for c in [c1, c2] {
        assert_eq!(
            r.ln[0].balance(&c.id),
            (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
        );
    }
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Reconnection in the middle of a payment

/// LDK pays an lnwasm invoice; lnwasm's `update_fulfill_htlc` (and what
/// follows) is lost with the connection. After reconnecting, the channel
/// retransmits it and LDK learns the preimage.
#[test]
fn lnwasm_fulfill_lost_then_retransmitted_after_reconnection() {
    let mut r = Rig::new(12, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let amount = 7_000_000;
    let (inv, hash) = r.ln[0].invoice(amount);
    r.ln[0].cut_at = Some(130);
    let ln_id = r.ln[0].id;
    r.ldk_pays_invoice(0, ldk_route(&[(ln_id, c.scid, amount, 40)]), &inv, hash);
    r.until("lnwasm fulfils (the message is lost)", |r| {
        !r.ln[0].lost.is_empty()
    });
    r.settle(Duration::from_millis(100));
    assert!(matches!(r.ln[0].lost[0], Message::UpdateFulfillHtlc(_)));
    assert!(r
        .ldk_event(0, |e| matches!(e, LdkEvent::PaymentSent { .. }))
        .is_none());
    r.reconnect(0, 0);
    let (preimage, sent, fee) = r.ldk_sent(0, hash);
    assert_eq!((sent, fee), (amount, 0));
    assert_eq!(
        preimage,
        LdkPaymentPreimage(r.ln[0].node.payments().invoice(&hash).unwrap().preimage.0)
    );
    r.htlcs_gone(c);
    assert_eq!(
        r.ln[0].balance(&c.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + amount),
            Msat(PUSH.0 - amount),
            Msat(0)
        )
    );
    r.check_clean();
}

/// lnwasm pays an LDK invoice; its `update_add_htlc` (and the
/// `commitment_signed` after it) is lost with the connection. After
/// reconnecting, the channel retransmits both and the payment completes.
#[test]
fn lnwasm_add_lost_then_retransmitted_after_reconnection() {
    let mut r = Rig::new(13, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let amount = 6_000_000;
    let inv = ldk_invoice(&r, 0, amount);
    let hash = PaymentHash(inv.payment_hash().to_byte_array());
    r.ln[0].cut_at = Some(128);
    let route = direct(&r, c);
    r.ln[0].pay(&inv.to_string(), vec![route], 0);
    assert_eq!(r.ln[0].lost.len(), 2, "{:?}", r.ln[0].lost);
    assert!(matches!(r.ln[0].lost[0], Message::UpdateAddHtlc(_)));
    assert!(matches!(r.ln[0].lost[1], Message::CommitmentSigned(_)));
    r.reconnect(0, 0);
    let (claimed, preimage) = r.ldk_claims(0, hash);
    assert_eq!(claimed, amount);
    r.until("lnwasm's PaymentSent", |r| r.ln[0].sent().is_some());
    assert_eq!(
        r.ln[0].sent(),
        Some(PaymentEvent::PaymentSent {
            payment_hash: hash,
            preimage: PaymentPreimage(preimage.0),
            amount: Msat(amount),
            fee: Msat(0),
            attempts: 1,
        })
    );
    r.htlcs_gone(c);
    assert_eq!(
        r.ln[0].balance(&c.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 - amount),
            Msat(PUSH.0 + amount),
            Msat(0)
        )
    );
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// LDK's channel limits

/// LDK accepts at most 10% of the channel in flight towards it: lnwasm's
/// channel refuses a larger add locally (nothing reaches LDK) and the
/// payment fails with no usable route; a payment at the limit goes through.
#[test]
fn lnwasm_respects_ldks_max_htlc_value_in_flight() {
    let mut r = Rig::new(14, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    let limit = FUNDING.0 * 1000 / 10;
    let over = ldk_invoice(&r, 0, limit + 1000);
    let over_hash = PaymentHash(over.payment_hash().to_byte_array());
    let route = direct(&r, c);
    r.ln[0].pay(&over.to_string(), vec![route.clone()], 0);
    assert_eq!(
        r.ln[0].events,
        vec![PaymentEvent::PaymentFailed {
            payment_hash: over_hash,
            failure: PayFailure::NoUsableRoute,
        }]
    );
    // The manager's refusal of the `AddHtlc`, by its stable code.
    assert_eq!(
        r.ln[0].refused,
        vec!["IN_FLIGHT_LIMIT_EXCEEDED".to_string()]
    );
    r.ln[0].refused.clear();
    r.settle(Duration::from_millis(100));
    assert!(r.ldk_channel(0, &c.id).pending_inbound_htlcs.is_empty());
    assert_eq!(
        r.ln[0].balance(&c.id),
        (Msat(FUNDING.0 * 1000 - PUSH.0), PUSH, Msat(0))
    );
    r.ln[0].events.clear();
    let at = ldk_invoice(&r, 0, limit);
    let at_hash = PaymentHash(at.payment_hash().to_byte_array());
    r.ln[0].pay(&at.to_string(), vec![route], 0);
    let (claimed, _) = r.ldk_claims(0, at_hash);
    assert_eq!(claimed, limit);
    r.until("lnwasm's PaymentSent", |r| r.ln[0].sent().is_some());
    r.htlcs_gone(c);
    assert_eq!(
        r.ln[0].balance(&c.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 - limit),
            Msat(PUSH.0 + limit),
            Msat(0)
        )
    );
    r.check_clean();
}

// ---------------------------------------------------------------------------------------------
// Invoices without an amount

/// Each side pays an amount-less invoice of the other, the payer choosing
/// the amount.
#[test]
fn amountless_invoices_both_ways() {
    let mut r = Rig::new(15, 1, 1);
    let c = r.channels(&[(0, 0)])[0];
    // LDK pays lnwasm's.
    let to_ln = 4_321_000;
    let (inv, hash) = r.ln[0].invoice_for(None);
    let parsed = Bolt11Invoice::from_str(&inv).unwrap();
    assert_eq!(parsed.amount_milli_satoshis(), None);
    r.ldk[0]
        .channel_manager()
        .pay_for_bolt11_invoice(
            &parsed,
            PaymentId(hash.0),
            Some(to_ln),
            RouteParametersConfig::default(),
            Retry::Attempts(0),
        )
        .expect("LDK pays");
    let (_, sent, _) = r.ldk_sent(0, hash);
    assert_eq!(sent, to_ln);
    assert_eq!(
        r.ln[0].events,
        vec![PaymentEvent::PaymentReceived {
            payment_hash: hash,
            amount: Msat(to_ln),
        }]
    );
    r.htlcs_gone(c);
    // lnwasm pays LDK's.
    let to_ldk = 2_345_000;
    let inv = r.ldk[0]
        .channel_manager()
        .create_bolt11_invoice(Bolt11InvoiceParameters {
            amount_msats: None,
            description: Bolt11InvoiceDescription::Direct(
                LdkDescription::new("any amount".into()).unwrap(),
            ),
            invoice_expiry_delta_secs: Some(3600),
            min_final_cltv_expiry_delta: None,
            payment_hash: None,
        })
        .unwrap();
    let h = PaymentHash(inv.payment_hash().to_byte_array());
    assert_eq!(invoice::decode(&inv.to_string()).unwrap().amount(), None);
    let route = direct(&r, c);
    r.ln[0].pay_amount(&inv.to_string(), vec![route], 0, Some(Msat(to_ldk)));
    let (claimed, preimage) = r.ldk_claims(0, h);
    assert_eq!(claimed, to_ldk);
    r.until("lnwasm's PaymentSent", |r| r.ln[0].sent().is_some());
    assert_eq!(
        r.ln[0].sent(),
        Some(PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: PaymentPreimage(preimage.0),
            amount: Msat(to_ldk),
            fee: Msat(0),
            attempts: 1,
        })
    );
    r.htlcs_gone(c);
    assert_eq!(
        r.ln[0].balance(&c.id),
        (
            Msat(FUNDING.0 * 1000 - PUSH.0 + to_ln - to_ldk),
            Msat(PUSH.0 - to_ln + to_ldk),
            Msat(0)
        )
    );
    r.check_clean();
}
