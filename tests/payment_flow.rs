//! The payment layer on three in-process nodes A → B → C: each a
//! `ChannelManager` and a `Payments` with their own stores, wired back to
//! back through their actions.

#[path = "channel_harness.rs"]
mod harness;

use std::collections::{BTreeMap, VecDeque};

use bitcoin::{Network, Transaction};
use harness::{config, funding_tx};
use lnwasm::channel::{
    ChannelManager, Command, Event, ManagerAction, ManagerConfig, ManagerEvent, ManagerInput,
    OpenRequest,
};
use lnwasm::error::ErrorCode;
use lnwasm::invoice::{self, Description, NewInvoice};
use lnwasm::keys::WalletKeys;
use lnwasm::onion::FailureMessage;
use lnwasm::payment::{
    invoice_secrets, ChannelView, InvoiceRequest, PayFailure, PayParams, PaymentAction,
    PaymentConfig, PaymentError, PaymentEvent, PaymentInput, PaymentRecord, Payments, Route,
    RouteFailure, RouteHop,
};
use lnwasm::store::{MemoryStore, Store};
use lnwasm::tx::FeeratePerKw;
use lnwasm::types::{Msat, PaymentHash, Sat, ShortChannelId};
use lnwasm::wire::{lnwasm_init_features, ChannelId, Features, Message};
use secp256k1::{PublicKey, SecretKey};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const HEIGHT: u32 = 103;
const NOW: u64 = 1000;

fn wallet(seed: u8) -> WalletKeys {
    WalletKeys::from_seed(&[seed; 32], Network::Regtest).unwrap()
}

fn pconfig() -> PaymentConfig {
    PaymentConfig::new(invoice::Network::Regtest)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CrashAt {
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

struct Node {
    seed: u8,
    id: PublicKey,
    secret: SecretKey,
    m: ChannelManager,
    p: Payments,
    store: MemoryStore,
    pstore: BTreeMap<Vec<u8>, Vec<u8>>,
    outbox: VecDeque<(PublicKey, Message)>,
    sent: Vec<(PublicKey, Message)>,
    events: Vec<PaymentEvent>,
    mevents: Vec<ManagerEvent>,
    refused: Vec<String>,
    crash: CrashAt,
    crashed: bool,
    now: u64,
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
            sent: vec![],
            events: vec![],
            mevents: vec![],
            refused: vec![],
            crash: CrashAt::Never,
            crashed: false,
            now: NOW,
        }
    }

    fn views(&self) -> Vec<ChannelView> {
        ChannelView::from_manager(&self.m)
    }

    fn manager(&mut self, i: ManagerInput) {
        if self.crashed {
            return;
        }
        let acts = self.m.handle(i).expect("input accepted");
        self.run_manager(acts);
    }

    /// Carries out manager actions; HTLC events go to the payment layer
    /// once the whole list is done.
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
                    self.sent.push((node_id, msg.clone()));
                    self.outbox.push_back((node_id, msg));
                }
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
        if self.crashed {
            return;
        }
        let v = self.views();
        let acts = self.p.handle(i, &v);
        self.run_payment(acts);
    }

    /// Carries out payment actions in order, a persist before what follows.
    fn run_payment(&mut self, acts: Vec<PaymentAction>) {
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

    fn block(&mut self, height: u32) {
        self.manager(ManagerInput::BlockConnected { height });
        self.payment_input(PaymentInput::BlockConnected { height });
    }

    fn tick(&mut self, now: u64) {
        self.now = now;
        self.payment_input(PaymentInput::Tick { now });
    }

    fn invoice(&mut self, amount: u64, expiry: u64, entropy: u8) -> String {
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

    fn pay(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64) -> Result<(), PaymentError> {
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

    fn balance(&self, id: ChannelId) -> (Msat, Msat, Msat) {
        let i = self.m.channel_info(&id).unwrap();
        (i.local_balance, i.remote_balance, i.in_flight)
    }

    /// Crash: drop the manager and the payment layer, rebuild both from
    /// their stores.
    fn restart(&mut self) {
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

struct Net {
    nodes: Vec<Node>,
    links: Vec<(usize, usize)>,
}

impl Net {
    fn idx(&self, id: &PublicKey) -> usize {
        self.nodes.iter().position(|n| n.id == *id).unwrap()
    }

    fn linked(&self, x: usize, y: usize) -> bool {
        self.links.contains(&(x.min(y), x.max(y)))
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

    fn step(&mut self, x: usize) -> bool {
        let Some((to, msg)) = self.nodes[x].outbox.pop_front() else {
            return false;
        };
        let y = self.idx(&to);
        if self.linked(x, y) && !self.nodes[x].crashed {
            let from = self.nodes[x].id;
            self.nodes[y].manager(ManagerInput::PeerMessage { node_id: from, msg });
        }
        true
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for x in 0..self.nodes.len() {
                while self.step(x) {
                    any = true;
                }
            }
            if !any {
                return;
            }
        }
        panic!("no convergence");
    }

    /// Settles, then has every node sign what is unsigned (after a
    /// reconnection), until quiet.
    fn settle_and_sign(&mut self) {
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
}

struct World {
    net: Net,
    ab: ChannelId,
    bc: ChannelId,
    scid_ab: ShortChannelId,
    scid_bc: ShortChannelId,
}

/// A —(2 000 000 sat, A funds)— B —(1 000 000 sat, B funds)— C, every
/// node at height 103 and time 1000.
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
    fn pay(&mut self, inv: &str, routes: Vec<Route>, max_fee: u64) -> Result<(), PaymentError> {
        self.net.nodes[A].pay(inv, routes, max_fee)
    }

    fn id(&self, n: usize) -> PublicKey {
        self.net.nodes[n].id
    }

    /// A → B → C with B's policy as given.
    fn route_with(&self, base: u32, prop: u32, delta: u16, scid_bc: ShortChannelId) -> Route {
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
    fn route(&self) -> Route {
        self.route_with(1000, 100, 40, self.scid_bc)
    }

    fn a_events(&self) -> &[PaymentEvent] {
        &self.net.nodes[A].events
    }

    fn final_failure(&self, h: PaymentHash) -> PayFailure {
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

    fn sent(&self, h: PaymentHash) -> Vec<&PaymentEvent> {
        self.a_events()
            .iter()
            .filter(|e| matches!(e, PaymentEvent::PaymentSent { payment_hash, .. } if *payment_hash == h))
            .collect()
    }

    /// Balances untouched by a failed payment.
    fn assert_initial_balances(&self) {
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

fn hash_of(inv: &str) -> PaymentHash {
    *invoice::decode(inv).unwrap().payment_hash()
}

const AMOUNT: u64 = 100_000_000;
/// B's fee on AMOUNT: 1000 + 100 ppm.
const FEE: u64 = 11_000;

#[test]
fn a_pays_c_through_b() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc1);
    let h = hash_of(&inv);
    let (pre, secret) = invoice_secrets(&[0xc1; 32]);
    assert_eq!(pre.payment_hash(), h);
    assert_eq!(invoice::decode(&inv).unwrap().payment_secret(), &secret);
    // The invoice is stored before it is handed out.
    assert_eq!(w.net.nodes[C].pstore.len(), 1);

    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    // The payment record is stored before the add, with the HTLC's values.
    let o = w.net.nodes[A].p.outgoing(&h).unwrap().clone();
    let a = o.attempt.clone().unwrap();
    assert_eq!(a.amount, Msat(AMOUNT + FEE));
    assert_eq!(a.cltv_expiry, HEIGHT + 18 + 3 + 40);
    assert_eq!(a.fee, Msat(FEE));
    assert_eq!(a.channel_id, w.ab);
    assert_eq!(a.shared_secrets.len(), 2);
    w.net.settle_and_sign();

    assert_eq!(
        w.sent(h),
        vec![&PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: pre,
            amount: Msat(AMOUNT),
            fee: Msat(FEE),
            attempts: 1,
        }]
    );
    assert!(w.net.nodes[C]
        .events
        .contains(&PaymentEvent::PaymentReceived {
            payment_hash: h,
            amount: Msat(AMOUNT),
        }));
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardSettled {
            payment_hash: h,
            fee: Msat(FEE),
        }));
    // Balances, exact: A paid amount + fee, B earned the fee, C got the amount.
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[B].balance(w.ab),
        (
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[B].balance(w.bc),
        (
            Msat(900_000_000 - AMOUNT),
            Msat(100_000_000 + AMOUNT),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[C].balance(w.bc),
        (
            Msat(100_000_000 + AMOUNT),
            Msat(900_000_000 - AMOUNT),
            Msat(0)
        )
    );
    // B keeps the preimage of the forward; C its claim.
    let f = w.net.nodes[B].p.forwards();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].preimage, Some(pre));
    assert_eq!(f[0].in_amount, Msat(AMOUNT + FEE));
    assert_eq!(f[0].out_amount, Msat(AMOUNT));
    assert_eq!(f[0].in_cltv, HEIGHT + 61);
    assert_eq!(f[0].out_cltv, HEIGHT + 21);
    // Settled on both sides: B forgets the forward at the next block.
    assert_eq!(w.net.nodes[B].pstore.len(), 1);
    w.net.nodes[B].block(HEIGHT + 1);
    assert!(w.net.nodes[B].p.forwards().is_empty());
    assert!(w.net.nodes[B].pstore.is_empty());
    let claim = w.net.nodes[C].p.invoice(&h).unwrap().claim.clone().unwrap();
    assert_eq!(claim.amount, Msat(AMOUNT));
    assert_eq!(claim.htlcs, vec![(w.bc, 0, HEIGHT + 21)]);

    // Never twice.
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPaid)
    );
    assert_eq!(w.sent(h).len(), 1);
}

fn route_failure(hop_index: usize, node_id: PublicKey, m: FailureMessage) -> PayFailure {
    PayFailure::Route(RouteFailure {
        hop_index,
        node_id,
        code: m.code(),
        message: Some(m),
    })
}

#[test]
fn unknown_payment_hash() {
    let mut w = world();
    // Signed by C, but C never stored it.
    let mut other = Payments::new(w.net.nodes[C].secret, pconfig(), HEIGHT, NOW);
    let (inv, _) = other
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Direct("x".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0xdd; 32],
        )
        .unwrap();
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    let h = hash_of(&inv);
    assert_eq!(
        w.final_failure(h),
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT),
                height: HEIGHT
            }
        )
    );
    assert_eq!(
        FailureMessage::IncorrectOrUnknownPaymentDetails {
            htlc_msat: Msat(0),
            height: 0
        }
        .code(),
        0x400f
    );
    w.assert_initial_balances();
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardFailed { payment_hash: h }));
    assert!(w.net.nodes[B].p.forwards().is_empty());
}

#[test]
fn amount_below_invoice() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc2);
    // A forged copy asking for half, same hash and secret, signed by C's key.
    let d = invoice::decode(&inv).unwrap();
    let mut features = Features::empty();
    features.set_required(lnwasm::wire::features::Feature::PaymentSecret);
    let forged = NewInvoice {
        network: invoice::Network::Regtest,
        amount: Some(Msat(AMOUNT / 2)),
        timestamp: NOW,
        payment_hash: *d.payment_hash(),
        payment_secret: *d.payment_secret(),
        description: Description::Direct("coffee".into()),
        include_payee_node_id: false,
        expiry: Some(3600),
        min_final_cltv_expiry_delta: Some(18),
        fallbacks: vec![],
        route_hints: vec![],
        features,
        metadata: None,
    }
    .sign(&w.net.nodes[C].secret, &[])
    .unwrap();
    w.pay(&forged, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(*d.payment_hash()),
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT / 2),
                height: HEIGHT
            }
        )
    );
    assert!(w.net.nodes[C]
        .events
        .contains(&PaymentEvent::ReceiveFailed {
            payment_hash: *d.payment_hash(),
            code: 0x400f
        }));
    w.assert_initial_balances();
}

#[test]
fn expired_invoice() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 60, 0xc3);
    // C's clock is past the expiry; A's is not (it would refuse to pay).
    w.net.nodes[C].tick(NOW + 60);
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT),
                height: HEIGHT
            }
        )
    );
    w.assert_initial_balances();
    // A refuses an invoice it sees expired.
    w.net.nodes[A].tick(NOW + 60);
    let inv2 = w.net.nodes[C].invoice(AMOUNT, 60, 0xc4);
    w.net.nodes[A].tick(NOW + 120);
    assert_eq!(
        w.pay(&inv2, vec![w.route()], 20_000),
        Err(PaymentError::InvoiceExpired)
    );
}

#[test]
fn too_little_cltv_at_the_payee() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc5);
    // C is 4 blocks ahead of A (its payment layer only), one more than
    // A's margin.
    w.net.nodes[C].payment_input(PaymentInput::BlockConnected { height: HEIGHT + 4 });
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    // 103 + 18 + 3 < 107 + 18.
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            1,
            w.id(C),
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: Msat(AMOUNT),
                height: HEIGHT + 4
            }
        )
    );
    w.assert_initial_balances();
}

#[test]
fn insufficient_capacity_b_to_c() {
    let mut w = world();
    // B can offer 900 000 000 - 10 000 000 (reserve) on B→C.
    let amount = 890_000_001;
    let inv = w.net.nodes[C].invoice(amount, 3600, 0xc6);
    w.pay(&inv, vec![w.route()], 200_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    assert!(w.net.nodes[B]
        .events
        .contains(&PaymentEvent::ForwardRefused {
            payment_hash: hash_of(&inv),
            in_channel: w.ab,
            code: 0x1007
        }));
    w.assert_initial_balances();
}

#[test]
fn b_fee_policy_violated() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc7);
    // A believes B charges 1000 msat + 99 ppm: one msat short.
    let r = w.route_with(1000, 99, 40, w.scid_bc);
    w.pay(&inv, vec![r], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::FeeInsufficient {
                htlc_msat: Msat(AMOUNT + FEE - 100),
                channel_update: vec![]
            }
        )
    );
    w.assert_initial_balances();
}

#[test]
fn b_cltv_delta_violated() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc8);
    let r = w.route_with(1000, 100, 39, w.scid_bc);
    w.pay(&inv, vec![r], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::IncorrectCltvExpiry {
                cltv_expiry: HEIGHT + 18 + 3 + 39,
                channel_update: vec![]
            }
        )
    );
    w.assert_initial_balances();
}

#[test]
fn b_offline() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xc9);
    // C unreachable from B: B answers temporary_channel_failure.
    w.net.disconnect(B, C);
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    // B itself unreachable: nothing is sent, nothing is stored.
    let inv2 = w.net.nodes[C].invoice(AMOUNT, 3600, 0xca);
    w.net.disconnect(A, B);
    assert_eq!(
        w.pay(&inv2, vec![w.route()], 20_000),
        Err(PaymentError::NoUsableRoute)
    );
    assert!(w.net.nodes[A].p.outgoing(&hash_of(&inv2)).is_none());
    assert_eq!(PaymentError::NoUsableRoute.code(), "NO_USABLE_ROUTE");
}

#[test]
fn retry_on_second_route() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcb);
    let h = hash_of(&inv);
    let bogus = ShortChannelId::new(999, 9, 9).unwrap();
    let first = w.route_with(1000, 100, 40, bogus);
    // A route over the failed channel is skipped; an over-budget one too.
    let same_bad = w.route_with(2000, 100, 40, bogus);
    let too_dear = w.route_with(30_000, 100, 40, w.scid_bc);
    w.pay(&inv, vec![first, same_bad, too_dear, w.route()], 20_000)
        .unwrap();
    w.net.settle_and_sign();
    assert!(w.a_events().contains(&PaymentEvent::AttemptFailed {
        payment_hash: h,
        failure: RouteFailure {
            hop_index: 0,
            node_id: w.id(B),
            code: 0x400a,
            message: Some(FailureMessage::UnknownNextPeer),
        }
    }));
    let (pre, _) = invoice_secrets(&[0xcb; 32]);
    assert_eq!(
        w.sent(h),
        vec![&PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: pre,
            amount: Msat(AMOUNT),
            fee: Msat(FEE),
            attempts: 2,
        }]
    );
    let o = w.net.nodes[A].p.outgoing(&h).unwrap();
    assert_eq!(o.tried, vec![0, 3]);
    assert_eq!(o.excluded_channels, vec![bogus]);
    assert_eq!(
        w.net.nodes[A].balance(w.ab).0,
        Msat(1_800_000_000 - AMOUNT - FEE)
    );
}

#[test]
fn final_failure_is_not_retried() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcc);
    w.net.nodes[C].tick(NOW + 3600);
    w.pay(&inv, vec![w.route(), w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    let h = hash_of(&inv);
    assert!(matches!(
        w.final_failure(h),
        PayFailure::Route(RouteFailure {
            hop_index: 1,
            code: 0x400f,
            ..
        })
    ));
    assert_eq!(w.net.nodes[A].p.outgoing(&h).unwrap().attempts, 1);
    assert!(!w
        .a_events()
        .iter()
        .any(|e| matches!(e, PaymentEvent::AttemptFailed { .. })));
}

#[test]
fn pending_payment_is_not_paid_again() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcd);
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPending)
    );
    w.net.settle_and_sign();
    assert_eq!(w.sent(hash_of(&inv)).len(), 1);
    assert_eq!(
        w.net.nodes[A].balance(w.ab).0,
        Msat(1_800_000_000 - AMOUNT - FEE)
    );
}

#[test]
fn payee_crash_after_claim_fulfils_after_restart() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xce);
    let h = hash_of(&inv);
    w.net.nodes[C].crash = CrashAt::ClaimPersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert!(w.net.nodes[C].crashed);
    assert!(w.sent(h).is_empty());
    // The HTLC is still in flight on both channels.
    assert_eq!(w.net.nodes[B].balance(w.bc).2, Msat(AMOUNT));
    assert_eq!(w.net.nodes[A].balance(w.ab).2, Msat(AMOUNT + FEE));

    w.net.disconnect(B, C);
    w.net.nodes[C].restart();
    w.net.connect(B, C);
    w.net.settle_and_sign();
    let (pre, _) = invoice_secrets(&[0xce; 32]);
    assert_eq!(
        w.sent(h),
        vec![&PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage: pre,
            amount: Msat(AMOUNT),
            fee: Msat(FEE),
            attempts: 1,
        }]
    );
    assert_eq!(
        w.net.nodes[C].balance(w.bc),
        (
            Msat(100_000_000 + AMOUNT),
            Msat(900_000_000 - AMOUNT),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
}

#[test]
fn payer_crash_mid_payment_is_not_paid_twice() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xcf);
    let h = hash_of(&inv);
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    // The add and its signature reach B; A dies before anything comes back.
    while w.net.step(A) {}
    w.net.nodes[A].crashed = true;
    w.net.settle();
    w.net.disconnect(A, B);
    w.net.nodes[A].restart();
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPending)
    );
    w.net.connect(A, B);
    w.net.settle_and_sign();
    assert_eq!(w.sent(h).len(), 1);
    assert_eq!(
        w.pay(&inv, vec![w.route()], 20_000),
        Err(PaymentError::AlreadyPaid)
    );
    assert_eq!(
        w.net.nodes[A].balance(w.ab),
        (
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(0)
        )
    );
    assert_eq!(w.net.nodes[C].balance(w.bc).0, Msat(100_000_000 + AMOUNT));
}

#[test]
fn payer_crash_before_the_add_reports_not_sent() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd0);
    let h = hash_of(&inv);
    w.net.nodes[A].crash = CrashAt::PaymentPersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    assert!(w.net.nodes[A].crashed);
    w.net.disconnect(A, B);
    w.net.nodes[A].restart();
    assert!(w.a_events().contains(&PaymentEvent::PaymentFailed {
        payment_hash: h,
        failure: PayFailure::NotSent
    }));
    w.net.connect(A, B);
    w.net.settle_and_sign();
    w.assert_initial_balances();
    // Nothing left: it may be paid now, once.
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(w.sent(h).len(), 1);
}

#[test]
fn malformed_downstream_reported_by_b_as_invalid_onion_hmac() {
    let mut w = world();
    // An invoice of a node X that is not C: B forwards over B→C, and C
    // cannot read a layer encrypted to X.
    let x = wallet(9);
    let mut xp = Payments::new(x.node_secret().unwrap(), pconfig(), HEIGHT, NOW);
    let (inv, _) = xp
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Direct("x".into()),
                expiry_secs: 3600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![],
            },
            &[0xee; 32],
        )
        .unwrap();
    let mut r = w.route();
    r.hops[1].node_id = x.node_id().unwrap();
    w.pay(&inv, vec![r], 20_000).unwrap();
    w.net.settle_and_sign();
    let to_c = w.net.nodes[B]
        .sent
        .iter()
        .find_map(|(to, m)| match m {
            Message::UpdateAddHtlc(a) if *to == w.id(C) => Some(a.onion_routing_packet.clone()),
            _ => None,
        })
        .expect("B forwarded");
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::InvalidOnionHmac {
                sha256_of_onion: lnwasm::onion::sha256_of_onion(&to_c)
            }
        )
    );
    // C answered update_fail_malformed_htlc.
    assert!(w.net.nodes[C].sent.iter().any(|(_, m)| matches!(
        m,
        Message::UpdateFailMalformedHtlc(f) if f.failure_code == 0xc005
    )));
    w.assert_initial_balances();
}

#[test]
fn malformed_incoming_onion_answered_with_fail_malformed() {
    let mut w = world();
    let h = PaymentHash([3; 32]);
    let zero = lnwasm::wire::OnionPacket(Box::new([0u8; lnwasm::wire::ONION_PACKET_LEN]));
    let ab = w.ab;
    let acts = w.net.nodes[A]
        .m
        .handle(ManagerInput::Command {
            channel_id: ab,
            command: Command::AddHtlc {
                amount: Msat(5_000_000),
                payment_hash: h,
                cltv_expiry: 200,
                onion: zero.clone(),
            },
        })
        .unwrap();
    w.net.nodes[A].run_manager(acts);
    w.net.settle_and_sign();
    let sent = w.net.nodes[B]
        .sent
        .iter()
        .find_map(|(_, m)| match m {
            Message::UpdateFailMalformedHtlc(f) => Some(f.clone()),
            _ => None,
        })
        .expect("fail_malformed");
    assert_eq!(sent.failure_code, 0xc006);
    assert_eq!(sent.sha256_of_onion, lnwasm::onion::sha256_of_onion(&zero));
    assert!(w.net.nodes[A].mevents.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { event: Event::HtlcFailedMalformed { id: 0, failure_code: 0xc006, sha256_of_onion }, .. }
            if *sha256_of_onion == lnwasm::onion::sha256_of_onion(&zero)
    )));
    w.assert_initial_balances();
}

#[test]
fn paid_over_the_invoice_route_hint() {
    let mut w = world();
    let hint = vec![invoice::RouteHintHop {
        node_id: w.id(B),
        short_channel_id: w.scid_bc,
        fee_base_msat: 1000,
        fee_proportional_millionths: 100,
        cltv_expiry_delta: 40,
    }];
    let (inv, acts) = w.net.nodes[C]
        .p
        .create_invoice(
            InvoiceRequest {
                amount: Some(Msat(AMOUNT)),
                description: Description::Hash([0xab; 32]),
                expiry_secs: 600,
                min_final_cltv_expiry_delta: 18,
                route_hints: vec![hint.clone()],
            },
            &[0xd1; 32],
        )
        .unwrap();
    w.net.nodes[C].run_payment(acts);
    let d = invoice::decode(&inv).unwrap();
    assert_eq!(d.route_hints(), std::slice::from_ref(&hint));
    assert_eq!(d.expiry_seconds(), 600);
    assert_eq!(d.min_final_cltv_expiry_delta(), 18);
    assert_eq!(d.description(), &Description::Hash([0xab; 32]));
    assert_eq!(d.payee(), &w.id(C));
    assert_eq!(d.timestamp(), NOW);
    let r = Route::from_hint(w.scid_ab, &d.route_hints()[0], *d.payee());
    assert_eq!(r, w.route());
    w.pay(&inv, vec![r], FEE).unwrap();
    w.net.settle_and_sign();
    assert_eq!(w.sent(*d.payment_hash()).len(), 1);
    assert_eq!(w.net.nodes[C].balance(w.bc).0, Msat(100_000_000 + AMOUNT));
}

#[test]
fn fee_budget_too_small_is_refused_before_sending() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd2);
    assert_eq!(
        w.pay(&inv, vec![w.route()], FEE - 1),
        Err(PaymentError::NoUsableRoute)
    );
    assert!(w.net.nodes[A].p.outgoing(&hash_of(&inv)).is_none());
}

#[test]
fn forwarder_crash_before_the_outgoing_add_fails_back() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd3);
    w.net.nodes[B].crash = CrashAt::ForwardPersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert!(w.net.nodes[B].crashed);
    w.net.disconnect(A, B);
    w.net.disconnect(B, C);
    w.net.nodes[B].restart();
    w.net.connect(A, B);
    w.net.connect(B, C);
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(
            0,
            w.id(B),
            FailureMessage::TemporaryChannelFailure {
                channel_update: vec![]
            }
        )
    );
    assert!(w.net.nodes[B].pstore.is_empty());
    w.assert_initial_balances();
}

#[test]
fn forwarder_crash_after_the_preimage_fulfils_upstream_after_restart() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd4);
    let h = hash_of(&inv);
    w.net.nodes[B].crash = CrashAt::PreimagePersisted;
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert!(w.net.nodes[B].crashed);
    assert!(w.sent(h).is_empty());
    w.net.disconnect(A, B);
    w.net.disconnect(B, C);
    w.net.nodes[B].restart();
    w.net.connect(A, B);
    w.net.connect(B, C);
    w.net.settle_and_sign();
    assert_eq!(w.sent(h).len(), 1);
    assert_eq!(
        w.net.nodes[B].balance(w.ab),
        (
            Msat(200_000_000 + AMOUNT + FEE),
            Msat(1_800_000_000 - AMOUNT - FEE),
            Msat(0)
        )
    );
    assert_eq!(
        w.net.nodes[B].balance(w.bc),
        (
            Msat(900_000_000 - AMOUNT),
            Msat(100_000_000 + AMOUNT),
            Msat(0)
        )
    );
}

#[test]
fn payee_up_to_three_blocks_ahead_still_accepts() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd5);
    w.net.nodes[C].payment_input(PaymentInput::BlockConnected { height: HEIGHT + 3 });
    w.pay(&inv, vec![w.route()], 20_000).unwrap();
    w.net.settle_and_sign();
    assert_eq!(w.sent(hash_of(&inv)).len(), 1);
}

#[test]
fn no_retry_after_the_payment_timeout() {
    let mut w = world();
    let inv = w.net.nodes[C].invoice(AMOUNT, 3600, 0xd6);
    let bogus = ShortChannelId::new(999, 9, 9).unwrap();
    let first = w.route_with(1000, 100, 40, bogus);
    w.pay(&inv, vec![first, w.route()], 20_000).unwrap();
    // timeout_secs is 60: the failure comes back too late for a retry.
    w.net.nodes[A].tick(NOW + 60);
    w.net.settle_and_sign();
    assert_eq!(
        w.final_failure(hash_of(&inv)),
        route_failure(0, w.id(B), FailureMessage::UnknownNextPeer)
    );
    assert_eq!(
        w.net.nodes[A].p.outgoing(&hash_of(&inv)).unwrap().attempts,
        1
    );
    w.assert_initial_balances();
}
