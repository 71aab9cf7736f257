//! Two in-process lnwasm channels wired back to back through their actions.
//! Included by the `channel_*` tests with `#[path]`; on its own it has no tests.
#![allow(dead_code)]

use std::collections::VecDeque;

use bitcoin::absolute::LockTime;
use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use lnwasm::channel::{Action, Channel, ChannelConfig, Command, Event, Link, OpenRequest};
use lnwasm::keys::{ChannelKeyIndex, WalletKeys};
use lnwasm::store::{Batch, MemoryStore, Store};
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::{Msat, PaymentHash, Sat, ShortChannelId};
use lnwasm::wire::{ChannelId, Message, OnionPacket, PaymentPreimage, ONION_PACKET_LEN};

pub fn config() -> ChannelConfig {
    let mut c = ChannelConfig::new(ChainHash::REGTEST);
    c.max_dust_exposure = Msat(50_000_000);
    c
}

pub fn onion() -> OnionPacket {
    OnionPacket(Box::new([0u8; ONION_PACKET_LEN]))
}

pub fn preimage(i: u64) -> PaymentPreimage {
    let mut p = [7u8; 32];
    p[..8].copy_from_slice(&i.to_be_bytes());
    PaymentPreimage(p)
}

/// Where a node stops while carrying out the actions of one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// Before anything (the command's persist is lost).
    BeforePersist,
    /// After the persist, before any message leaves.
    AfterPersist,
}

/// A transaction to publish later: (tx, height, confirmations of parents).
pub type Later = (Transaction, u32, Vec<(Txid, u16)>);

pub struct Node {
    pub wallet: WalletKeys,
    pub ch: Channel,
    pub store: MemoryStore,
    pub outbox: VecDeque<Message>,
    pub published: Vec<Transaction>,
    /// `Action::PublishLater`: (tx, height, confirmations of parents).
    pub later: Vec<Later>,
    pub watched: Vec<OutPoint>,
    pub events: Vec<Event>,
    pub sent: Vec<Message>,
    pub disconnect_requested: bool,
}

impl Node {
    /// Executes actions in order; `crash` stops part-way.
    pub fn run(&mut self, actions: Vec<Action>, crash: Option<Crash>) {
        if crash == Some(Crash::BeforePersist) {
            return;
        }
        for a in actions {
            match a {
                Action::Persist(r) => self
                    .store
                    .apply(Batch::new().put(r))
                    .expect("store accepts monotonic updates"),
                _ if crash == Some(Crash::AfterPersist) => {}
                Action::Send(m) => {
                    self.sent.push(m.clone());
                    self.outbox.push_back(m)
                }
                Action::Publish(t) => self.published.push(t),
                Action::Event(e) => self.events.push(e),
                Action::Disconnect => self.disconnect_requested = true,
                Action::PublishLater {
                    tx,
                    height,
                    confirmed,
                } => self.later.push((tx, height, confirmed)),
                Action::WatchSpent { outpoint } => self.watched.push(outpoint),
                Action::WatchFunding { .. } | Action::WatchConfirmed { .. } => {}
            }
        }
    }

    pub fn handle(&mut self, cmd: Command) -> Result<(), lnwasm::channel::ChannelError> {
        let acts = self.ch.handle(cmd)?;
        self.run(acts, None);
        Ok(())
    }

    /// Reloads the channel from the store, as after a crash.
    pub fn reload(&mut self) {
        let id = self.ch.channel_id();
        let rec = self.store.get(&id).unwrap().expect("channel was persisted");
        self.ch = Channel::restore(&rec, &self.wallet, config()).expect("restore");
        self.outbox.clear();
    }
}

pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub capacity: Sat,
    pub funding_tx: Transaction,
}

pub fn funding_tx(script: ScriptBuf, amount: Sat, salt: u8) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array([salt; 32]),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(amount.0),
            script_pubkey: script,
        }],
    }
}

pub struct OpenOpts {
    pub funding: Sat,
    pub push: Msat,
    pub anchors: bool,
    pub zero_conf: bool,
    pub feerate: FeeratePerKw,
}

impl Default for OpenOpts {
    fn default() -> Self {
        Self {
            funding: Sat(1_000_000),
            push: Msat(200_000_000),
            anchors: true,
            zero_conf: false,
            feerate: FeeratePerKw(2500),
        }
    }
}

fn node(seed: u8, ch: Channel) -> Node {
    Node {
        wallet: WalletKeys::from_seed(&[seed; 32], Network::Regtest).unwrap(),
        ch,
        store: MemoryStore::new(),
        outbox: VecDeque::new(),
        published: vec![],
        later: vec![],
        watched: vec![],
        events: vec![],
        sent: vec![],
        disconnect_requested: false,
    }
}

/// Opens a channel from A (funder) to B and brings it to NORMAL.
pub fn open_pair(opts: OpenOpts) -> Pair {
    open_pair_with(opts, config(), config())
}

/// [`open_pair`] with each side's own configuration.
pub fn open_pair_with(opts: OpenOpts, cfg_a: ChannelConfig, cfg_b: ChannelConfig) -> Pair {
    let wa = WalletKeys::from_seed(&[1; 32], Network::Regtest).unwrap();
    let wb = WalletKeys::from_seed(&[2; 32], Network::Regtest).unwrap();
    let idx = ChannelKeyIndex::new(0).unwrap();
    let mut cfg = cfg_a;
    cfg.zero_conf = opts.zero_conf;
    cfg.anchors = opts.anchors;
    let mut cfg_b = cfg_b;
    cfg_b.zero_conf = opts.zero_conf;
    cfg_b.anchors = opts.anchors;
    let feats = cfg.init_features();
    let (cha, acts) = Channel::open(
        cfg,
        wa.channel_keys(idx).unwrap(),
        idx,
        OpenRequest {
            temporary_channel_id: ChannelId([9; 32]),
            funding: opts.funding,
            push: opts.push,
            feerate: opts.feerate,
            announce: false,
            peer_features: feats.clone(),
            our_features: feats.clone(),
            now: 1000,
        },
    )
    .unwrap();
    let mut a = node(1, cha);
    a.run(acts, None);
    let Some(Message::OpenChannel(open)) = a.outbox.pop_front() else {
        panic!("open_channel")
    };
    let (chb, acts) = Channel::accept(
        cfg_b,
        wb.channel_keys(idx).unwrap(),
        idx,
        &feats,
        &feats,
        &open,
        None,
        1000,
    )
    .unwrap();
    let mut b = node(2, chb);
    b.run(acts, None);
    deliver(&mut b, &mut a);
    let Some(Event::FundingRequired {
        script_pubkey,
        amount,
        ..
    }) = a
        .events
        .iter()
        .rev()
        .find(|e| matches!(e, Event::FundingRequired { .. }))
        .cloned()
    else {
        panic!("funding required")
    };
    let ftx = funding_tx(script_pubkey, amount, 0x33);
    a.handle(Command::FundingTx {
        tx: ftx.clone(),
        output_index: 0,
    })
    .unwrap();
    let mut p = Pair {
        a,
        b,
        capacity: opts.funding,
        funding_tx: ftx.clone(),
    };
    p.settle();
    assert_eq!(
        p.a.published[0], ftx,
        "funder publishes the funding tx after funding_signed"
    );
    if !opts.zero_conf {
        let scid = ShortChannelId::new(100, 1, 0);
        p.a.handle(Command::FundingDepth { depth: 3, scid })
            .unwrap();
        p.b.handle(Command::FundingDepth { depth: 3, scid })
            .unwrap();
        p.settle();
    }
    assert_eq!(p.a.ch.state_name(), "NORMAL");
    assert_eq!(p.b.ch.state_name(), "NORMAL");
    p
}

/// Delivers everything `from` has queued to `to`.
pub fn deliver(from: &mut Node, to: &mut Node) -> bool {
    let mut any = false;
    while let Some(m) = from.outbox.pop_front() {
        any = true;
        to.handle(Command::Message(m)).unwrap();
    }
    any
}

impl Pair {
    /// Delivers messages both ways until both outboxes are empty.
    pub fn settle(&mut self) {
        for _ in 0..1000 {
            let x = deliver(&mut self.a, &mut self.b);
            let y = deliver(&mut self.b, &mut self.a);
            if !x && !y {
                return;
            }
        }
        panic!("no convergence");
    }

    pub fn node(&mut self, side: Side) -> (&mut Node, &mut Node) {
        match side {
            Side::Holder => (&mut self.a, &mut self.b),
            Side::Counterparty => (&mut self.b, &mut self.a),
        }
    }

    pub fn disconnect(&mut self) {
        self.a.outbox.clear();
        self.b.outbox.clear();
        self.a.handle(Command::Disconnected).unwrap();
        self.b.handle(Command::Disconnected).unwrap();
    }

    pub fn reconnect(&mut self) {
        self.a.handle(Command::Connected).unwrap();
        self.b.handle(Command::Connected).unwrap();
        self.settle();
        assert_eq!(*self.a.ch.link(), Link::Online);
        assert_eq!(*self.b.ch.link(), Link::Online);
    }

    /// Adds an HTLC from `side`, returns its id.
    pub fn add(
        &mut self,
        side: Side,
        amount: Msat,
        n: u64,
    ) -> Result<u64, lnwasm::channel::ChannelError> {
        let (x, _) = self.node(side);
        let before = x.events.len();
        x.handle(Command::AddHtlc {
            amount,
            payment_hash: preimage(n).payment_hash(),
            cltv_expiry: 500,
            onion: onion(),
        })?;
        match x.events[before..]
            .iter()
            .find(|e| matches!(e, Event::HtlcOffered { .. }))
        {
            Some(Event::HtlcOffered { id, .. }) => Ok(*id),
            _ => panic!("no HtlcOffered"),
        }
    }

    /// Full signature round from `side` and delivery.
    pub fn sign(&mut self, side: Side) {
        let (x, _) = self.node(side);
        x.handle(Command::Sign).unwrap();
        self.settle();
    }

    /// Checks everything that must always hold.
    pub fn check(&self) {
        for n in [&self.a, &self.b] {
            let (l, r, h) = n.ch.balances().unwrap();
            assert_eq!(
                l.0 + r.0 + h.0,
                self.capacity.0 * 1000,
                "balances + htlcs = capacity"
            );
            verify_local(&n.ch);
        }
        // Both sides agree on both commitments (when neither has a signature in flight,
        // each side's view of the other's current commitment is that commitment).
        for (x, y) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let cx = x.ch.commitments().unwrap();
            let cy = y.ch.commitments().unwrap();
            if cy.remote_commit.index == cx.local_commit.index {
                let mine = cx
                    .local_tx(x.ch.keys(), cx.local_commit.index, &cx.local_commit.spec)
                    .unwrap();
                assert_eq!(
                    mine.txid(),
                    cy.remote_commit.txid,
                    "peer's view of our commitment matches"
                );
                assert_eq!(
                    cx.local_commit.spec, cy.remote_commit.spec,
                    "same spec, owner view"
                );
            }
        }
    }
}

/// Every signature the peer gave us on our current commitment verifies.
pub fn verify_local(ch: &Channel) {
    let c = ch.commitments().unwrap();
    let tx = c
        .local_tx(ch.keys(), c.local_commit.index, &c.local_commit.spec)
        .unwrap();
    tx.verify(&c.local_commit.sig, Side::Counterparty)
        .expect("commitment signature verifies");
    let htlcs = tx.htlc_txs().unwrap();
    assert_eq!(htlcs.len(), c.local_commit.htlc_sigs.len());
    for (h, s) in htlcs.iter().zip(&c.local_commit.htlc_sigs) {
        h.verify_countersignatory(s)
            .expect("htlc signature verifies");
    }
    let (_, signed) = c.signed_local_tx(ch.keys()).unwrap();
    assert_eq!(signed.input[0].witness.len(), 4);
}

pub fn hash(n: u64) -> PaymentHash {
    preimage(n).payment_hash()
}
