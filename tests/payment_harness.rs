//! Three in-process nodes A → B → C for the payment tests: each a
//! `ChannelManager` and a `Payments` with their own stores, wired back to
//! back through their actions, with a hand-fed chain (watches and
//! published transactions) and crash points.
//! Included by the `payment_*` tests with `#[path]`; on its own it has no
//! tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use bitcoin::{Network, OutPoint, Transaction, Txid};
use lnwasm::channel::{
    ChannelManager, Command, ManagerAction, ManagerConfig, ManagerEvent, ManagerInput,
};
use lnwasm::error::ErrorCode;
use lnwasm::invoice::{self, Description};
use lnwasm::keys::WalletKeys;
use lnwasm::payment::{
    ChannelView, InvoiceRequest, PayFailure, PayParams, PaymentAction, PaymentConfig, PaymentError,
    PaymentEvent, PaymentInput, PaymentRecord, Payments, Route, RouteHop,
};
use lnwasm::store::{MemoryStore, Store};
use lnwasm::types::{Msat, PaymentHash, ShortChannelId};
use lnwasm::wire::{ChannelId, Message};
use secp256k1::{PublicKey, SecretKey};

#[path = "channel_harness.rs"]
mod harness;
#[path = "manager_net.rs"]
mod manager_net;

use harness::{config, funding_tx};
use manager_net::ManagerNode;

pub const A: usize = 0;
pub const B: usize = 1;
pub const C: usize = 2;
pub const HEIGHT: u32 = 103;
pub const NOW: u64 = 1000;
pub const AMOUNT: u64 = 100_000_000;
/// B's fee on AMOUNT: 1000 + 100 ppm.
pub const FEE: u64 = 11_000;

pub fn wallet(seed: u8) -> WalletKeys {
    WalletKeys::from_seed(&[seed; 32], Network::Regtest).unwrap()
}

pub fn pconfig() -> PaymentConfig {
    PaymentConfig::new(invoice::Network::Regtest)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CrashAt {
    Never,
    /// Right after an invoice's claim is stored (before any fulfill).
    ClaimPersisted,
    /// Right after a payment's record is stored (before its add).
    PaymentPersisted,
    /// Right after a new forward is stored (before its outgoing add).
    ForwardPersisted,
    /// Right after a forward's preimage is stored (before the upstream fulfill).
    PreimagePersisted,
}

pub struct Node {
    pub seed: u8,
    pub id: PublicKey,
    pub secret: SecretKey,
    pub m: ChannelManager,
    pub p: Payments,
    pub store: MemoryStore,
    pub pstore: BTreeMap<Vec<u8>, Vec<u8>>,
    pub outbox: VecDeque<(PublicKey, Message)>,
    pub sent: Vec<(PublicKey, Message)>,
    pub events: Vec<PaymentEvent>,
    pub mevents: Vec<ManagerEvent>,
    pub refused: Vec<String>,
    /// Transactions handed out (`Publish` and `PublishLater`).
    pub published: Vec<Transaction>,
    pub spent_watches: Vec<OutPoint>,
    pub confirm_watches: Vec<Txid>,
    /// The payment layer ignores every input (the node's owner is away).
    pub payments_off: bool,
    /// Messages after our first `update_fulfill_htlc` are lost.
    pub lose_after_fulfill: bool,
    pub muted: bool,
    pub crash: CrashAt,
    pub crashed: bool,
    pub now: u64,
}

impl Node {
    pub fn new(seed: u8) -> Node {
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
            sent: vec![],
            events: vec![],
            mevents: vec![],
            refused: vec![],
            published: vec![],
            spent_watches: vec![],
            confirm_watches: vec![],
            payments_off: false,
            lose_after_fulfill: false,
            muted: false,
            crash: CrashAt::Never,
            crashed: false,
            now: NOW,
        }
    }

    pub fn views(&self) -> Vec<ChannelView> {
        ChannelView::from_manager(&self.m)
    }

    pub fn manager(&mut self, i: ManagerInput) {
        if self.crashed {
            return;
        }
        let acts = self.m.handle(i).expect("input accepted");
        self.run_manager(acts);
    }

    /// Carries out manager actions; HTLC events go to the payment layer
    /// once the whole list is done.
    pub fn run_manager(&mut self, acts: Vec<ManagerAction>) {
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
                    self.sent.push((node_id, msg.clone()));
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

    pub fn payment_input(&mut self, i: PaymentInput) {
        if self.crashed || self.payments_off {
            return;
        }
        let v = self.views();
        let acts = self.p.handle(i, &v);
        self.run_payment(acts);
    }

    /// Carries out payment actions in order, a persist before what follows.
    pub fn run_payment(&mut self, acts: Vec<PaymentAction>) {
        for a in acts {
            if self.crashed {
                return;
            }
            match a {
                PaymentAction::Persist(r) => {
                    let claim = matches!(&r, PaymentRecord::Invoice(i) if i.claim.is_some());
                    let payment = matches!(&r, PaymentRecord::Outgoing(_));
                    let forward = matches!(&r, PaymentRecord::Forward(f) if f.preimage.is_none());
                    let preimage = matches!(&r, PaymentRecord::Forward(f) if f.preimage.is_some());
                    self.pstore.insert(r.key(), r.encode());
                    if (claim && self.crash == CrashAt::ClaimPersisted)
                        || (payment && self.crash == CrashAt::PaymentPersisted)
                        || (forward && self.crash == CrashAt::ForwardPersisted)
                        || (preimage && self.crash == CrashAt::PreimagePersisted)
                    {
                        self.crashed = true;
                        self.outbox.clear();
                        return;
                    }
                }
                PaymentAction::Delete(k) => {
                    self.pstore.remove(&k);
                }
                PaymentAction::Command {
                    channel_id,
                    command,
                } => {
                    let add = match &command {
                        Command::AddHtlc { payment_hash, .. } => Some(*payment_hash),
                        _ => None,
                    };
                    match self.m.handle(ManagerInput::Command {
                        channel_id,
                        command,
                    }) {
                        Ok(acts) => self.run_manager(acts),
                        // A refused add fails its attempt; any other refusal
                        // (a `Sign` on a closed channel) changes nothing.
                        Err(e) => {
                            self.refused.push(e.code().to_string());
                            if let Some(payment_hash) = add {
                                self.payment_input(PaymentInput::AddRefused {
                                    channel_id,
                                    payment_hash,
                                });
                            }
                        }
                    }
                }
                PaymentAction::Event(e) => self.events.push(e),
            }
        }
    }

    pub fn block(&mut self, height: u32) {
        self.manager(ManagerInput::BlockConnected { height });
        self.payment_input(PaymentInput::BlockConnected { height });
    }

    pub fn tick(&mut self, now: u64) {
        self.now = now;
        self.payment_input(PaymentInput::Tick { now });
    }

    /// `tx` is mined at `height`: the watches it touches are reported.
    pub fn mined(&mut self, tx: &Transaction, height: u32) {
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

    pub fn invoice(&mut self, amount: u64, expiry: u64, entropy: u8) -> String {
        let (s, acts) = self
            .p
            .create_invoice(
                InvoiceRequest {
                    amount: Some(Msat(amount)),
                    description: Description::Direct("coffee".into()),
                    expiry_secs: expiry,
                    min_final_cltv_expiry_delta: 18,
                    route_hints: vec![],
                },
                &[entropy; 32],
            )
            .expect("invoice");
        self.run_payment(acts);
        s
    }

    pub fn pay(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64) -> Result<(), PaymentError> {
        let inv = invoice::decode(inv).unwrap();
        let v = self.views();
        let acts = self.p.pay_invoice(
            &inv,
            PayParams {
                max_fee: Msat(max_fee),
                timeout_secs: 60,
                amount: None,
            },
            routes,
            &v,
            &[0x5e; 32],
        )?;
        self.run_payment(acts);
        Ok(())
    }

    pub fn balance(&self, id: ChannelId) -> (Msat, Msat, Msat) {
        let i = self.m.channel_info(&id).unwrap();
        (i.local_balance, i.remote_balance, i.in_flight)
    }

    /// Crash: drop the manager and the payment layer, rebuild both from
    /// their stores; the watches come back from the manager's load.
    pub fn restart(&mut self) {
        let height = self.m.best_height();
        let (m, acts) = ChannelManager::load(
            wallet(self.seed),
            ManagerConfig::new(config()),
            &self.store,
            height,
            self.now,
        )
        .expect("load");
        self.m = m;
        self.outbox.clear();
        self.spent_watches.clear();
        self.confirm_watches.clear();
        self.crashed = false;
        self.crash = CrashAt::Never;
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
            height,
            self.now,
        );
        self.p = p;
        self.run_payment(acts);
    }
}

impl ManagerNode for Node {
    fn node_id(&self) -> PublicKey {
        self.id
    }
    fn outbox(&mut self) -> &mut VecDeque<(PublicKey, Message)> {
        &mut self.outbox
    }
    fn feed(&mut self, i: ManagerInput) {
        self.manager(i);
    }
    fn down(&self) -> bool {
        self.crashed
    }
}

pub type Net = manager_net::Net<Node>;

impl Net {
    /// Settles, then has every node sign what is unsigned (after a
    /// reconnection), until quiet.
    pub fn settle_and_sign(&mut self) {
        for _ in 0..5 {
            self.settle();
            for n in &mut self.nodes {
                let ids: Vec<ChannelId> =
                    n.m.list_channels().iter().map(|c| c.channel_id).collect();
                for id in ids {
                    if !n.crashed {
                        let acts =
                            n.m.handle(ManagerInput::Command {
                                channel_id: id,
                                command: Command::Sign,
                            })
                            .unwrap_or_default();
                        n.run_manager(acts);
                    }
                }
            }
        }
        self.settle();
    }

    pub fn open(
        &mut self,
        x: usize,
        y: usize,
        temp: u8,
        funding: u64,
    ) -> (ChannelId, ShortChannelId) {
        let temporary_channel_id = self.start_open(x, y, temp, funding);
        self.settle();
        let (script, amount) =
            manager_net::funding_required(&self.nodes[x].mevents, temporary_channel_id);
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
    pub fn block(&mut self, who: &[usize], height: u32) {
        for &n in who {
            self.nodes[n].block(height);
        }
        self.settle();
    }

    /// `tx` mined at `height`, as seen by the nodes in `who`.
    pub fn mine(&mut self, who: &[usize], tx: &Transaction, height: u32) {
        for &n in who {
            self.nodes[n].mined(tx, height);
        }
        self.settle();
    }
}

pub struct World {
    pub net: Net,
    pub ab: ChannelId,
    pub bc: ChannelId,
    pub scid_ab: ShortChannelId,
    pub scid_bc: ShortChannelId,
}

/// A —(2 000 000 sat, A funds)— B —(1 000 000 sat, B funds)— C, every
/// node at height 103 and time 1000.
pub fn world() -> World {
    let mut net = Net::with_nodes((1..=3).map(Node::new).collect());
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
    pub fn pay(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64) -> Result<(), PaymentError> {
        self.net.nodes[A].pay(inv, routes, max_fee)
    }

    pub fn id(&self, n: usize) -> PublicKey {
        self.net.nodes[n].id
    }

    /// A → B → C with B's policy as given.
    pub fn route_with(&self, base: u32, prop: u32, delta: u16, scid_bc: ShortChannelId) -> Route {
        Route {
            hops: vec![
                RouteHop {
                    node_id: self.id(B),
                    short_channel_id: self.scid_ab,
                    fee_base_msat: 0,
                    fee_proportional_millionths: 0,
                    cltv_expiry_delta: 0,
                },
                RouteHop {
                    node_id: self.id(C),
                    short_channel_id: scid_bc,
                    fee_base_msat: base,
                    fee_proportional_millionths: prop,
                    cltv_expiry_delta: delta,
                },
            ],
        }
    }

    /// B's real policy (the default: 1000 msat + 100 ppm, delta 40).
    pub fn route(&self) -> Route {
        self.route_with(1000, 100, 40, self.scid_bc)
    }

    pub fn a_events(&self) -> &[PaymentEvent] {
        &self.net.nodes[A].events
    }

    pub fn final_failure(&self, h: PaymentHash) -> PayFailure {
        self.a_events()
            .iter()
            .find_map(|e| match e {
                PaymentEvent::PaymentFailed {
                    payment_hash,
                    failure,
                } if *payment_hash == h => Some(failure.clone()),
                _ => None,
            })
            .expect("payment failed")
    }

    /// A pays `inv` over `routes`, everything settles, and the payment
    /// has failed for good: its failure.
    pub fn pay_until_failed(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64) -> PayFailure {
        self.pay(inv, routes, max_fee).unwrap();
        self.net.settle_and_sign();
        self.final_failure(hash_of(inv))
    }

    pub fn sent(&self, h: PaymentHash) -> Vec<&PaymentEvent> {
        self.a_events()
            .iter()
            .filter(|e| matches!(e, PaymentEvent::PaymentSent { payment_hash, .. } if *payment_hash == h))
            .collect()
    }

    /// Balances untouched by a failed payment.
    pub fn assert_initial_balances(&self) {
        assert_eq!(
            self.net.nodes[A].balance(self.ab),
            (Msat(1_800_000_000), Msat(200_000_000), Msat(0))
        );
        assert_eq!(
            self.net.nodes[B].balance(self.bc),
            (Msat(900_000_000), Msat(100_000_000), Msat(0))
        );
    }
}

pub fn hash_of(inv: &str) -> PaymentHash {
    *invoice::decode(inv).unwrap().payment_hash()
}
