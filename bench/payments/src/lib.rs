//! Payments benchmark: two lnwasm channels in one process, wired back to
//! back, pay each other in turn (as rust-lightning's `bench_sends` does with
//! two LDK nodes). Every payment is the whole BOLT 2 dance with real
//! signatures and revocations, a real one-hop BOLT 4 onion built by the
//! payer and peeled by the payee, and every `Action::Persist` applied to an
//! in-memory store before the messages that depend on it leave:
//!
//! ```text
//! payer: build onion, update_add_htlc, commitment_signed  ->
//! payee: revoke_and_ack, commitment_signed                ->
//! payer: revoke_and_ack                                   ->
//! payee: peel onion, check payment secret and amount,
//!        update_fulfill_htlc, commitment_signed           ->
//! payer: revoke_and_ack, commitment_signed                ->
//! payee: revoke_and_ack                                   ->  payer: preimage
//! ```
//!
//! Messages are passed as values (no wire encoding), as in `bench_sends`.
//! The same code runs natively (`src/main.rs`) and, compiled to wasm32, in
//! Node (`bench/payments.mjs`, through the exported [`wasm::LnwasmBench`]).

use std::collections::{HashMap, VecDeque};

use bitcoin::absolute::LockTime;
use bitcoin::constants::ChainHash;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use lnwasm::channel::{Action, Channel, ChannelConfig, Command, Event, OpenRequest};
use lnwasm::keys::{ChannelKeyIndex, WalletKeys};
use lnwasm::onion::{
    build_payment_onion, peel_htlc, HopPayload, IncomingHtlc, PaymentData, PeeledHtlc,
};
use lnwasm::store::{Batch, MemoryStore, Store};
use lnwasm::tx::FeeratePerKw;
use lnwasm::types::{Msat, PaymentHash, PaymentSecret, Sat, ShortChannelId};
use lnwasm::wire::{lnwasm_init_features, ChannelId, Feature, Message, PaymentPreimage};

/// The channel of `bench_sends`: 8 000 000 sat, 100 000 000 msat pushed.
pub const FUNDING: Sat = Sat(8_000_000);
pub const PUSH: Msat = Msat(100_000_000);
/// The amount of every payment in `bench_sends`.
pub const AMOUNT: Msat = Msat(10_000);
/// `TEST_FINAL_CLTV` of LDK's tests, on top of a current height.
const HEIGHT: u32 = 1000;
const FINAL_CLTV: u32 = 70;

/// One side: its keys, its channel, its store and what it has to send.
struct Node {
    node_secret: SecretKey,
    node_id: PublicKey,
    ch: Channel,
    store: MemoryStore,
    outbox: VecDeque<Message>,
    events: Vec<Event>,
    /// Invoices issued: payment hash -> (preimage, secret, amount).
    invoices: HashMap<PaymentHash, (PaymentPreimage, PaymentSecret, Msat)>,
    published: Vec<Transaction>,
}

impl Node {
    fn new(wallet: &WalletKeys, ch: Channel) -> Node {
        Node {
            node_secret: wallet.node_secret().expect("node secret"),
            node_id: wallet.node_id().expect("node id"),
            ch,
            store: MemoryStore::new(),
            outbox: VecDeque::new(),
            events: Vec::new(),
            invoices: HashMap::new(),
            published: Vec::new(),
        }
    }

    /// Runs the channel's actions in order; a persist completes before
    /// anything after it.
    fn run(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Persist(r) => self
                    .store
                    .apply(Batch::new().put(r))
                    .expect("store accepts monotonic updates"),
                Action::Send(m) => self.outbox.push_back(m),
                Action::Event(e) => self.events.push(e),
                Action::Publish(t) => self.published.push(t),
                Action::Disconnect => panic!("unexpected disconnect"),
                _ => {}
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        let acts = self.ch.handle(cmd).expect("channel accepts the command");
        self.run(acts);
    }
}

/// Delivers everything `from` has queued to `to`; false if nothing was queued.
fn deliver(from: &mut Node, to: &mut Node) -> bool {
    let mut any = false;
    while let Some(m) = from.outbox.pop_front() {
        any = true;
        to.handle(Command::Message(m));
    }
    any
}

/// Two funded lnwasm channels in NORMAL, connected back to back.
pub struct Pair {
    a: Node,
    b: Node,
    count: u64,
}

fn config() -> ChannelConfig {
    let mut c = ChannelConfig::new(ChainHash::REGTEST);
    c.max_dust_exposure = Msat(50_000_000);
    c.minimum_depth = 1;
    c
}

impl Pair {
    /// Opens the channel A -> B (static_remotekey, no anchors, as LDK's
    /// default) and brings it to NORMAL.
    pub fn open() -> Pair {
        let wa = WalletKeys::from_seed(&[1; 32], Network::Regtest).expect("wallet");
        let wb = WalletKeys::from_seed(&[2; 32], Network::Regtest).expect("wallet");
        let idx = ChannelKeyIndex::new(0).expect("index");
        let mut feats = lnwasm_init_features();
        feats.clear(Feature::AnchorsZeroFeeHtlcTx);
        let (cha, acts) = Channel::open(
            config(),
            wa.channel_keys(idx).expect("keys"),
            idx,
            OpenRequest {
                temporary_channel_id: ChannelId([9; 32]),
                funding: FUNDING,
                push: PUSH,
                feerate: FeeratePerKw(253),
                announce: false,
                peer_features: feats.clone(),
                our_features: feats.clone(),
                now: 1000,
            },
        )
        .expect("open");
        let mut a = Node::new(&wa, cha);
        a.run(acts);
        let Some(Message::OpenChannel(open)) = a.outbox.pop_front() else {
            panic!("open_channel expected")
        };
        let (chb, acts) = Channel::accept(
            config(),
            wb.channel_keys(idx).expect("keys"),
            idx,
            &feats,
            &feats,
            &open,
            None,
            1000,
        )
        .expect("accept");
        let mut b = Node::new(&wb, chb);
        b.run(acts);
        deliver(&mut b, &mut a);
        let Some(Event::FundingRequired {
            script_pubkey,
            amount,
            ..
        }) = a
            .events
            .drain(..)
            .find(|e| matches!(e, Event::FundingRequired { .. }))
        else {
            panic!("funding required expected")
        };
        a.handle(Command::FundingTx {
            tx: funding_tx(script_pubkey, amount),
            output_index: 0,
        });
        let mut p = Pair { a, b, count: 0 };
        p.settle();
        assert_eq!(p.a.published.len(), 1, "funding tx published");
        let scid = ShortChannelId::new(HEIGHT, 1, 0);
        for n in [&mut p.a, &mut p.b] {
            n.handle(Command::FundingDepth { depth: 1, scid });
        }
        p.settle();
        assert_eq!(p.a.ch.state_name(), "NORMAL");
        assert_eq!(p.b.ch.state_name(), "NORMAL");
        p.a.events.clear();
        p.b.events.clear();
        p
    }

    fn settle(&mut self) {
        loop {
            let x = deliver(&mut self.a, &mut self.b);
            let y = deliver(&mut self.b, &mut self.a);
            if !x && !y {
                return;
            }
        }
    }

    /// One complete payment of [`AMOUNT`], A -> B if `a_pays`, else B -> A.
    pub fn pay(&mut self, a_pays: bool) {
        let n = self.count;
        self.count += 1;
        let (payer, payee) = if a_pays {
            (&mut self.a, &mut self.b)
        } else {
            (&mut self.b, &mut self.a)
        };

        // The payee issues an invoice.
        let preimage = PaymentPreimage(sha256::Hash::hash(&n.to_le_bytes()).to_byte_array());
        let hash = preimage.payment_hash();
        let secret = PaymentSecret(sha256::Hash::hash(&preimage.0).to_byte_array());
        payee.invoices.insert(hash, (preimage, secret, AMOUNT));

        // The payer builds the onion and offers the HTLC.
        let cltv = HEIGHT + FINAL_CLTV;
        let payload = HopPayload::receive(
            AMOUNT,
            cltv,
            Some(PaymentData {
                payment_secret: secret,
                total_msat: AMOUNT,
            }),
            None,
        );
        let session_key = SecretKey::from_slice(
            &sha256::Hash::hash(&[&n.to_be_bytes()[..], b"session"].concat()).to_byte_array(),
        )
        .expect("session key");
        let onion =
            build_payment_onion(&session_key, &[(payee.node_id, payload)], &hash).expect("onion");
        payer.handle(Command::AddHtlc {
            amount: AMOUNT,
            payment_hash: hash,
            cltv_expiry: cltv,
            onion: onion.packet,
        });
        payer.handle(Command::Sign);
        self.settle();

        // The payee peels the onion of the irrevocably committed HTLC,
        // checks it against its invoice and settles.
        let (payer, payee) = if a_pays {
            (&mut self.a, &mut self.b)
        } else {
            (&mut self.b, &mut self.a)
        };
        let add = payee
            .events
            .drain(..)
            .find_map(|e| match e {
                Event::HtlcReceived(add) => Some(add),
                _ => None,
            })
            .expect("HTLC received");
        let peeled = peel_htlc(
            &payee.node_secret,
            &IncomingHtlc {
                onion: &add.onion,
                payment_hash: add.payment_hash,
                amount: add.amount,
                cltv_expiry: add.cltv_expiry,
                path_key: None,
            },
        )
        .expect("onion peels");
        let PeeledHtlc::Receive(info) = peeled else {
            panic!("final hop expected")
        };
        let (preimage, secret, amount) = payee
            .invoices
            .remove(&add.payment_hash)
            .expect("known invoice");
        assert_eq!(info.payment_data.map(|d| d.payment_secret), Some(secret));
        assert!(info.amt_to_forward == add.amount && add.amount >= amount);
        assert!(info.outgoing_cltv_value <= add.cltv_expiry);
        payee.handle(Command::FulfillHtlc {
            id: add.id,
            preimage,
        });
        payee.handle(Command::Sign);
        let _ = payer;
        self.settle();

        let payer = if a_pays { &mut self.a } else { &mut self.b };
        let got = payer.events.drain(..).find_map(|e| match e {
            Event::HtlcFulfilled { preimage, .. } => Some(preimage),
            _ => None,
        });
        assert_eq!(got, Some(preimage), "payment sent");
        self.a.events.clear();
        self.b.events.clear();
    }

    /// `n` payments alternating direction; returns how many completed.
    pub fn run(&mut self, n: u32) -> u32 {
        for i in 0..n {
            self.pay(i % 2 == 0);
        }
        n
    }

    /// The size of A's stored channel record (bytes).
    pub fn record_bytes(&self) -> usize {
        let id = self.a.ch.channel_id();
        self.a
            .store
            .get(&id)
            .ok()
            .flatten()
            .map_or(0, |r| r.data.len())
    }

    /// A's balance on its current commitment (msat), for a final check.
    pub fn balance_a(&self) -> u64 {
        self.a.ch.balances().expect("funded").0 .0
    }
}

fn funding_tx(script: ScriptBuf, amount: Sat) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array([0x33; 32]),
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

#[cfg(not(target_arch = "wasm32"))]
pub mod ldk;

#[cfg(target_arch = "wasm32")]
pub mod wasm {
    use wasm_bindgen::prelude::wasm_bindgen;

    /// The lnwasm pair, for Node: open once, then time `run`.
    #[wasm_bindgen]
    pub struct LnwasmBench(super::Pair);

    #[wasm_bindgen]
    impl LnwasmBench {
        #[wasm_bindgen(constructor)]
        #[allow(clippy::new_without_default)] // a JS constructor
        pub fn new() -> LnwasmBench {
            LnwasmBench(super::Pair::open())
        }

        /// Makes `n` payments, alternating direction; returns how many completed.
        pub fn run(&mut self, n: u32) -> u32 {
            self.0.run(n)
        }

        #[wasm_bindgen(js_name = balanceA)]
        pub fn balance_a(&self) -> f64 {
            self.0.balance_a() as f64
        }
    }
}
