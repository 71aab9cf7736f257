//! The payment layer when the outgoing channel of a forward goes on chain:
//! three in-process nodes A → B → C (each a `ChannelManager` and a
//! `Payments`), a hand-fed chain, and C going silent while it holds the
//! HTLC. B closes B–C at the HTLC's expiry; either its timeout confirms and
//! B fails A's HTLC back before A's own expiry, or C claims the HTLC on
//! chain with the preimage and B fulfils A's HTLC with it.
#![cfg(not(target_arch = "wasm32"))]

#[path = "channel_harness.rs"]
mod harness;

use std::collections::{BTreeMap, VecDeque};

use bitcoin::{Network, OutPoint, Transaction, Txid};
use harness::{config, funding_tx};
use lnwasm::channel::{
    ChannelManager, Command, Event, ManagerAction, ManagerConfig, ManagerEvent, ManagerInput,
    OpenRequest, HTLC_RESOLUTION_DEPTH,
};
use lnwasm::invoice::{self, Description};
use lnwasm::keys::WalletKeys;
use lnwasm::onion::FailureMessage;
use lnwasm::payment::{
    invoice_secrets, ChannelView, InvoiceRequest, PayFailure, PayParams, PaymentAction,
    PaymentConfig, PaymentEvent, PaymentInput, PaymentRecord, Payments, Route, RouteFailure,
    RouteHop, OUTGOING_GRACE_BLOCKS,
};
use lnwasm::store::{MemoryStore, Store};
use lnwasm::tx::FeeratePerKw;
use lnwasm::types::{Msat, PaymentHash, Sat, ShortChannelId};
use lnwasm::wire::{lnwasm_init_features, ChannelId, Message};
use secp256k1::{PublicKey, SecretKey};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const HEIGHT: u32 = 103;
const NOW: u64 = 1000;
const AMOUNT: u64 = 100_000_000;
/// B's fee on AMOUNT: 1000 + 100 ppm.
const FEE: u64 = 11_000;
/// The HTLC B offers C: height + min_final_cltv_expiry_delta (18) + 3.
const OUT_CLTV: u32 = HEIGHT + 18 + 3;
/// The HTLC A offers B: 40 blocks more (B's delta).
const IN_CLTV: u32 = OUT_CLTV + 40;

fn wallet(seed: u8) -> WalletKeys {
    WalletKeys::from_seed(&[seed; 32], Network::Regtest).unwrap()
}

fn pconfig() -> PaymentConfig {
    PaymentConfig::new(invoice::Network::Regtest)
}

struct Node {
    seed: u8,
    id: PublicKey,
    secret: SecretKey,
    m: ChannelManager,
    p: Payments,
    store: MemoryStore,
    pstore: BTreeMap<Vec<u8>, Vec<u8>>,
    outbox: VecDeque<(PublicKey, Message)>,
    events: Vec<PaymentEvent>,
    mevents: Vec<ManagerEvent>,
    /// Transactions handed out (`Publish` and `PublishLater`).
    published: Vec<Transaction>,
    spent_watches: Vec<OutPoint>,
    confirm_watches: Vec<Txid>,
    /// The payment layer ignores every input (the node's owner is away).
    payments_off: bool,
    /// Messages after our first `update_fulfill_htlc` are lost.
    lose_after_fulfill: bool,
    muted: bool,
    height: u32,
}

impl Node {
    fn new(seed: u8) -> Node {
        let w = wallet(seed);
        let id = w.node_id().unwrap();
        let secret = w.node_secret().unwrap();
        Node {
            seed,
            id,
            secret,
            m: ChannelManager::new(w, ManagerConfig::new(config()), 100, NOW),
            p: Payments::new(secret, pconfig(), 100, NOW),
            store: MemoryStore::new(),
            pstore: BTreeMap::new(),
            outbox: VecDeque::new(),
            events: vec![],
            mevents: vec![],
            published: vec![],
            spent_watches: vec![],
            confirm_watches: vec![],
            payments_off: false,
            lose_after_fulfill: false,
            muted: false,
            height: 100,
        }
    }

    fn views(&self) -> Vec<ChannelView> {
        ChannelView::from_manager(&self.m)
    }

    fn manager(&mut self, i: ManagerInput) {
        let acts = self.m.handle(i).expect("input accepted");
        self.run_manager(acts);
    }

    fn run_manager(&mut self, acts: Vec<ManagerAction>) {
        for (i, a) in acts.iter().enumerate() {
            if matches!(a, ManagerAction::Persist(_)) {
                assert_eq!(i, 0, "the batch comes first");
            }
        }
        let mut inputs = vec![];
        for a in acts {
            match a {
                ManagerAction::Persist(b) => self.store.apply(b).expect("batch applies"),
                ManagerAction::Send { node_id, msg } => {
                    if self.lose_after_fulfill && matches!(msg, Message::UpdateFulfillHtlc(_)) {
                        self.muted = true;
                    }
                    if !self.muted {
                        self.outbox.push_back((node_id, msg));
                    }
                }
                ManagerAction::Publish(tx) | ManagerAction::PublishLater { tx, .. } => {
                    self.published.push(tx)
                }
                ManagerAction::WatchSpent { outpoint, .. } => self.spent_watches.push(outpoint),
                ManagerAction::WatchConfirmed { txid, .. } => self.confirm_watches.push(txid),
                ManagerAction::Event(e) => {
                    inputs.extend(PaymentInput::from_event(&e));
                    self.mevents.push(e);
                }
                _ => {}
            }
        }
        for i in inputs {
            self.payment_input(i);
        }
    }

    fn payment_input(&mut self, i: PaymentInput) {
        if self.payments_off {
            return;
        }
        let v = self.views();
        let acts = self.p.handle(i, &v);
        self.run_payment(acts);
    }

    fn run_payment(&mut self, acts: Vec<PaymentAction>) {
        for a in acts {
            match a {
                PaymentAction::Persist(r) => {
                    self.pstore.insert(r.key(), r.encode());
                }
                PaymentAction::Delete(k) => {
                    self.pstore.remove(&k);
                }
                PaymentAction::Command {
                    channel_id,
                    command,
                } => {
                    // A refusal (a `Sign` on a closed channel) changes nothing.
                    if let Ok(acts) = self.m.handle(ManagerInput::Command {
                        channel_id,
                        command,
                    }) {
                        self.run_manager(acts);
                    }
                }
                PaymentAction::Event(e) => self.events.push(e),
            }
        }
    }

    fn block(&mut self, height: u32) {
        self.height = height;
        self.manager(ManagerInput::BlockConnected { height });
        self.payment_input(PaymentInput::BlockConnected { height });
    }

    /// `tx` is mined at `height`: the watches it touches are reported.
    fn mined(&mut self, tx: &Transaction, height: u32) {
        for i in &tx.input {
            if self.spent_watches.contains(&i.previous_output) {
                self.manager(ManagerInput::OutputSpent {
                    outpoint: i.previous_output,
                    tx: tx.clone(),
                });
            }
        }
        if self.confirm_watches.contains(&tx.compute_txid()) {
            self.manager(ManagerInput::TxConfirmed {
                txid: tx.compute_txid(),
                height,
                tx_index: 1,
            });
        }
    }

    fn balance(&self, id: ChannelId) -> (Msat, Msat, Msat) {
        let i = self.m.channel_info(&id).unwrap();
        (i.local_balance, i.remote_balance, i.in_flight)
    }

    /// Crash and rebuild both layers from their stores; the watches come
    /// back from the manager's load.
    fn restart(&mut self) {
        let (m, acts) = ChannelManager::load(
            wallet(self.seed),
            ManagerConfig::new(config()),
            &self.store,
            self.height,
            NOW,
        )
        .expect("load");
        self.m = m;
        self.outbox.clear();
        self.spent_watches.clear();
        self.confirm_watches.clear();
        self.run_manager(acts);
        let records: Vec<PaymentRecord> = self
            .pstore
            .values()
            .map(|b| PaymentRecord::decode(b).expect("record decodes"))
            .collect();
        let pending = self.m.pending_htlcs();
        let v = self.views();
        let (p, acts) = Payments::load(
            self.secret,
            pconfig(),
            &records,
            &pending,
            &v,
            self.height,
            NOW,
        );
        self.p = p;
        self.run_payment(acts);
    }
}

struct Net {
    nodes: Vec<Node>,
    links: Vec<(usize, usize)>,
}

impl Net {
    fn idx(&self, id: &PublicKey) -> usize {
        self.nodes.iter().position(|n| n.id == *id).unwrap()
    }

    fn connect(&mut self, x: usize, y: usize) {
        self.links.push((x.min(y), x.max(y)));
        let (ix, iy) = (self.nodes[x].id, self.nodes[y].id);
        self.nodes[x].manager(ManagerInput::PeerConnected {
            node_id: iy,
            features: lnwasm_init_features(),
        });
        self.nodes[y].manager(ManagerInput::PeerConnected {
            node_id: ix,
            features: lnwasm_init_features(),
        });
    }

    fn disconnect(&mut self, x: usize, y: usize) {
        self.links.retain(|l| *l != (x.min(y), x.max(y)));
        let (ix, iy) = (self.nodes[x].id, self.nodes[y].id);
        for (n, other) in [(x, iy), (y, ix)] {
            self.nodes[n].outbox.retain(|(to, _)| *to != other);
        }
        self.nodes[x].manager(ManagerInput::PeerDisconnected { node_id: iy });
        self.nodes[y].manager(ManagerInput::PeerDisconnected { node_id: ix });
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for x in 0..self.nodes.len() {
                while let Some((to, msg)) = self.nodes[x].outbox.pop_front() {
                    any = true;
                    let y = self.idx(&to);
                    if self.links.contains(&(x.min(y), x.max(y))) {
                        let from = self.nodes[x].id;
                        self.nodes[y].manager(ManagerInput::PeerMessage { node_id: from, msg });
                    }
                }
            }
            if !any {
                return;
            }
        }
        panic!("no convergence");
    }

    fn open(&mut self, x: usize, y: usize, temp: u8, funding: u64) -> (ChannelId, ShortChannelId) {
        let temporary_channel_id = ChannelId([temp; 32]);
        let peer = self.nodes[y].id;
        self.nodes[x].manager(ManagerInput::OpenChannel {
            node_id: peer,
            request: OpenRequest {
                temporary_channel_id,
                funding: Sat(funding),
                push: Msat(funding * 100),
                feerate: FeeratePerKw(2500),
                announce: false,
                peer_features: lnwasm_init_features(),
                our_features: lnwasm_init_features(),
                now: NOW,
            },
        });
        self.settle();
        let (script, amount) = self.nodes[x]
            .mevents
            .iter()
            .find_map(|e| match e {
                ManagerEvent::Channel {
                    event:
                        Event::FundingRequired {
                            temporary_channel_id: t,
                            script_pubkey,
                            amount,
                        },
                    ..
                } if *t == temporary_channel_id => Some((script_pubkey.clone(), *amount)),
                _ => None,
            })
            .expect("funding required");
        let tx: Transaction = funding_tx(script, amount, temp);
        self.nodes[x].manager(ManagerInput::Command {
            channel_id: temporary_channel_id,
            command: Command::FundingTx {
                tx: tx.clone(),
                output_index: 0,
            },
        });
        self.settle();
        let id = ChannelId::from_funding_outpoint(&tx.compute_txid(), 0);
        for n in [x, y] {
            self.nodes[n].manager(ManagerInput::TxConfirmed {
                txid: tx.compute_txid(),
                height: 101,
                tx_index: u32::from(temp),
            });
            self.nodes[n].manager(ManagerInput::BlockConnected { height: HEIGHT });
        }
        self.settle();
        assert_eq!(self.nodes[x].m.channel_info(&id).unwrap().state, "NORMAL");
        (id, ShortChannelId::new(101, u32::from(temp), 0).unwrap())
    }

    /// A new block for the nodes in `who`, then their messages.
    fn block(&mut self, who: &[usize], height: u32) {
        for &n in who {
            self.nodes[n].block(height);
        }
        self.settle();
    }

    /// `tx` mined at `height`, as seen by the nodes in `who`.
    fn mine(&mut self, who: &[usize], tx: &Transaction, height: u32) {
        for &n in who {
            self.nodes[n].mined(tx, height);
        }
        self.settle();
    }
}

struct World {
    net: Net,
    ab: ChannelId,
    bc: ChannelId,
    scid_ab: ShortChannelId,
    scid_bc: ShortChannelId,
}

/// A —(2 000 000 sat, A funds)— B —(1 000 000 sat, B funds)— C, at height 103.
fn world() -> World {
    let mut net = Net {
        nodes: (1..=3).map(Node::new).collect(),
        links: vec![],
    };
    net.connect(A, B);
    net.connect(B, C);
    let (ab, scid_ab) = net.open(A, B, 1, 2_000_000);
    let (bc, scid_bc) = net.open(B, C, 2, 1_000_000);
    for n in &mut net.nodes {
        n.block(HEIGHT);
    }
    World {
        net,
        ab,
        bc,
        scid_ab,
        scid_bc,
    }
}

impl World {
    fn route(&self) -> Route {
        Route {
            hops: vec![
                RouteHop {
                    node_id: self.net.nodes[B].id,
                    short_channel_id: self.scid_ab,
                    fee_base_msat: 0,
                    fee_proportional_millionths: 0,
                    cltv_expiry_delta: 0,
                },
                RouteHop {
                    node_id: self.net.nodes[C].id,
                    short_channel_id: self.scid_bc,
                    fee_base_msat: 1000,
                    fee_proportional_millionths: 100,
                    cltv_expiry_delta: 40,
                },
            ],
        }
    }

    /// C issues an invoice, A pays it through B; the HTLCs are committed
    /// on both channels and C keeps its HTLC (its owner is away, or its
    /// fulfill is lost). Returns the payment hash.
    fn pay_and_let_c_hold(&mut self) -> PaymentHash {
        let (s, acts) = self.net.nodes[C]
            .p
            .create_invoice(
                InvoiceRequest {
                    amount: Some(Msat(AMOUNT)),
                    description: Description::Direct("coffee".into()),
                    expiry_secs: 3600,
                    min_final_cltv_expiry_delta: 18,
                    route_hints: vec![],
                },
                &[0xc1; 32],
            )
            .unwrap();
        self.net.nodes[C].run_payment(acts);
        let inv = invoice::decode(&s).unwrap();
        let v = self.net.nodes[A].views();
        let route = self.route();
        let acts = self.net.nodes[A]
            .p
            .pay_invoice(
                &inv,
                PayParams {
                    max_fee: Msat(20_000),
                    timeout_secs: 60,
                    amount: None,
                },
                vec![route],
                &v,
                &[0x5e; 32],
            )
            .unwrap();
        self.net.nodes[A].run_payment(acts);
        self.net.settle();
        *inv.payment_hash()
    }

    /// B's HTLC to C is committed on both sides; C is then cut off.
    fn c_goes_silent(&mut self) {
        let htlcs = self.net.nodes[B].m.pending_htlcs();
        assert!(htlcs.iter().any(|(ch, _, a, _)| *ch == self.bc
            && a.amount == Msat(AMOUNT)
            && a.cltv_expiry == OUT_CLTV));
        self.net.disconnect(B, C);
    }

    /// Blocks up to B's force close of B–C: OUT_CLTV + OUTGOING_GRACE_BLOCKS.
    /// Returns B's commitment and its HTLC-timeout.
    fn b_closes_bc(&mut self) -> (Transaction, Transaction) {
        let close_at = OUT_CLTV + OUTGOING_GRACE_BLOCKS;
        let before = self.net.nodes[B].published.len();
        for h in HEIGHT + 1..close_at {
            self.net.block(&[A, B], h);
        }
        assert_eq!(self.net.nodes[B].published.len(), before, "no close yet");
        self.net.block(&[A, B], close_at);
        let h = self.net.nodes[C].p.invoice(&hash_c()).unwrap().payment_hash;
        assert!(self.net.nodes[B]
            .events
            .contains(&PaymentEvent::HtlcTimedOut {
                channel_id: self.bc,
                payment_hash: h,
            }));
        let funding = self.net.nodes[B]
            .m
            .channel(&self.bc)
            .unwrap()
            .commitments()
            .unwrap()
            .params
            .funding_outpoint;
        let commit = self.net.nodes[B]
            .published
            .iter()
            .find(|t| t.input[0].previous_output == funding)
            .cloned()
            .expect("B's commitment");
        let timeout = self.net.nodes[B]
            .published
            .iter()
            .find(|t| {
                t.input[0].previous_output.txid == commit.compute_txid()
                    && t.lock_time.to_consensus_u32() == OUT_CLTV
            })
            .cloned()
            .expect("B's HTLC-timeout");
        // B follows the commitment and the HTLC-timeout, and watches the
        // HTLC output (C may claim it with the preimage).
        let b = &self.net.nodes[B];
        assert!(b.confirm_watches.contains(&commit.compute_txid()));
        assert!(b.confirm_watches.contains(&timeout.compute_txid()));
        assert!(b.spent_watches.contains(&timeout.input[0].previous_output));
        (commit, timeout)
    }
}

fn hash_c() -> PaymentHash {
    invoice_secrets(&[0xc1; 32]).0.payment_hash()
}

fn a_failure(w: &World, h: PaymentHash) -> Option<PayFailure> {
    w.net.nodes[A].events.iter().find_map(|e| match e {
        PaymentEvent::PaymentFailed {
            payment_hash,
            failure,
        } if *payment_hash == h => Some(failure.clone()),
        _ => None,
    })
}

fn b_failed_upstream(w: &World) -> bool {
    w.net.nodes[B]
        .events
        .iter()
        .any(|e| matches!(e, PaymentEvent::ForwardFailed { .. }))
}

fn timeout_confirms_and_b_fails_back(restart_b: bool) {
    let mut w = world();
    w.net.nodes[C].payments_off = true;
    let h = w.pay_and_let_c_hold();
    assert_eq!(h, hash_c());
    w.c_goes_silent();
    let (commit, timeout) = w.b_closes_bc();
    let commit_height = OUT_CLTV + OUTGOING_GRACE_BLOCKS + 1;
    w.net.mine(&[B], &commit, commit_height);
    w.net.block(&[A, B], commit_height);
    if restart_b {
        w.net.nodes[B].restart();
        // The close's watches are registered again.
        let b = &w.net.nodes[B];
        assert!(b.confirm_watches.contains(&commit.compute_txid()));
        assert!(b.confirm_watches.contains(&timeout.compute_txid()));
        assert!(b.spent_watches.contains(&timeout.input[0].previous_output));
        // B's channels come back offline: A and B reconnect.
        w.net.disconnect(A, B);
        w.net.connect(A, B);
        w.net.settle();
    }
    // The HTLC-timeout (nLockTime OUT_CLTV, one confirmation of the
    // commitment under anchors) confirms in the next block.
    let timeout_height = commit_height + 1;
    w.net.mine(&[B], &timeout, timeout_height);
    let resolved = timeout_height + HTLC_RESOLUTION_DEPTH - 1;
    for height in timeout_height..resolved {
        w.net.block(&[A, B], height);
        assert!(!b_failed_upstream(&w), "not yet at {height}");
        assert_eq!(a_failure(&w, h), None);
    }
    w.net.block(&[A, B], resolved);
    assert!(w.net.nodes[B].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { channel_id, event: Event::HtlcFailedOnChain { id: 0 }, .. }
            if *channel_id == w.bc
    )));
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardFailed { payment_hash: h }));
    // A's HTLC failed back well before its expiry (and before A would
    // close A–B for it): B's own permanent_channel_failure reaches A.
    assert!(resolved + OUTGOING_GRACE_BLOCKS < IN_CLTV);
    assert_eq!(
        a_failure(&w, h),
        Some(PayFailure::Route(RouteFailure {
            hop_index: 0,
            node_id: w.net.nodes[B].id,
            code: 0x4000 | 8,
            message: Some(FailureMessage::PermanentChannelFailure),
        }))
    );
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (Msat(1_800_000_000), Msat(200_000_000), Msat(0))
    );
    assert_eq!(
        w.net.nodes[A].m.channel_info(&w.ab).unwrap().state,
        "NORMAL"
    );
    assert!(w.net.nodes[B].p.forwards().is_empty());
    // Nothing more: later blocks change nothing.
    let before = (w.net.nodes[A].events.len(), w.net.nodes[B].events.len());
    for height in resolved + 1..IN_CLTV + 10 {
        w.net.block(&[A, B], height);
    }
    assert_eq!(
        (w.net.nodes[A].events.len(), w.net.nodes[B].events.len()),
        before
    );
}

#[test]
fn timeout_on_chain_fails_the_forward_back_before_the_incoming_expiry() {
    timeout_confirms_and_b_fails_back(false);
}

#[test]
fn timeout_on_chain_fails_the_forward_back_after_a_restart_of_b() {
    timeout_confirms_and_b_fails_back(true);
}

#[test]
fn preimage_claimed_on_chain_by_c_fulfils_upstream() {
    let mut w = world();
    // C fulfils, but its update_fulfill_htlc (and everything after) is lost.
    w.net.nodes[C].lose_after_fulfill = true;
    let h = w.pay_and_let_c_hold();
    assert!(w.net.nodes[C].muted, "C fulfilled");
    w.c_goes_silent();
    let (commit, timeout) = w.b_closes_bc();
    let commit_height = OUT_CLTV + OUTGOING_GRACE_BLOCKS + 1;
    // C sees B's commitment: it claims the HTLC with the preimage.
    w.net.nodes[C].muted = false;
    let c_before = w.net.nodes[C].published.len();
    w.net.mine(&[B, C], &commit, commit_height);
    w.net.block(&[A, B], commit_height);
    let (preimage, _) = invoice_secrets(&[0xc1; 32]);
    let htlc_out = timeout.input[0].previous_output;
    let claim = w.net.nodes[C].published[c_before..]
        .iter()
        .find(|t| t.input.iter().any(|i| i.previous_output == htlc_out))
        .cloned()
        .expect("C's preimage claim");
    assert!(claim.input[0].witness.iter().any(|x| x == preimage.0));
    // The claim confirms before B's timeout could: B learns the preimage.
    w.net.mine(&[B], &claim, commit_height + 1);
    assert!(w.net.nodes[B].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { channel_id, event: Event::HtlcFulfilled { id: 0, preimage: p }, .. }
            if *channel_id == w.bc && *p == preimage
    )));
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardSettled {
            payment_hash: h,
            fee: Msat(FEE),
        }));
    assert!(w.net.nodes[A].events.iter().any(|e| matches!(
        e,
        PaymentEvent::PaymentSent { payment_hash, preimage: p, amount, fee, .. }
            if *payment_hash == h && *p == preimage && *amount == Msat(AMOUNT) && *fee == Msat(FEE)
    )));
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
    // Later blocks never fail it.
    for height in commit_height + 1..IN_CLTV + 10 {
        w.net.block(&[A, B], height);
    }
    assert!(!b_failed_upstream(&w));
    assert!(!w.net.nodes[B].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel {
            event: Event::HtlcFailedOnChain { .. },
            ..
        }
    )));
    assert_eq!(a_failure(&w, h), None);
}

#[test]
fn own_payment_timed_out_on_chain_fails_for_good() {
    // A pays B's invoice directly; B's owner is then away (B holds the
    // HTLC) and B goes silent.
    let mut w = world();
    let (s, acts) = w.net.nodes[B]
        .p
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Direct("tea".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0xb1; 32],
        )
        .unwrap();
    w.net.nodes[B].run_payment(acts);
    w.net.nodes[B].payments_off = true;
    let inv = invoice::decode(&s).unwrap();
    let route = Route {
        hops: vec![RouteHop {
            node_id: w.net.nodes[B].id,
            short_channel_id: w.scid_ab,
            fee_base_msat: 0,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 0,
        }],
    };
    let v = w.net.nodes[A].views();
    let acts = w.net.nodes[A]
        .p
        .pay_invoice(
            &inv,
            PayParams {
                max_fee: Msat(0),
                timeout_secs: 60,
                amount: None,
            },
            vec![route],
            &v,
            &[0x77; 32],
        )
        .unwrap();
    w.net.nodes[A].run_payment(acts);
    w.net.settle();
    let h = *inv.payment_hash();
    assert!(w.net.nodes[B]
        .m
        .pending_htlcs()
        .iter()
        .any(|(ch, _, a, _)| *ch == w.ab && a.payment_hash == h));
    w.net.disconnect(A, B);
    let close_at = OUT_CLTV + OUTGOING_GRACE_BLOCKS;
    let before = w.net.nodes[A].published.len();
    for height in HEIGHT + 1..=close_at {
        w.net.block(&[A], height);
    }
    assert!(w.net.nodes[A].events.contains(&PaymentEvent::HtlcTimedOut {
        channel_id: w.ab,
        payment_hash: h,
    }));
    let new: Vec<Transaction> = w.net.nodes[A].published[before..].to_vec();
    let commit = new[0].clone();
    let timeout = new
        .iter()
        .find(|t| {
            t.input[0].previous_output.txid == commit.compute_txid()
                && t.lock_time.to_consensus_u32() == OUT_CLTV
        })
        .cloned()
        .expect("A's HTLC-timeout");
    w.net.mine(&[A], &commit, close_at + 1);
    w.net.mine(&[A], &timeout, close_at + 2);
    let resolved = close_at + 2 + HTLC_RESOLUTION_DEPTH - 1;
    for height in close_at + 1..resolved {
        w.net.block(&[A], height);
        assert_eq!(a_failure(&w, h), None, "not yet at {height}");
    }
    w.net.block(&[A], resolved);
    assert_eq!(a_failure(&w, h), Some(PayFailure::OnChain));
    assert_eq!(
        w.net.nodes[A].p.outgoing(&h).unwrap().status,
        lnwasm::payment::OutgoingStatus::Failed
    );
}
