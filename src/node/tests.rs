//! Nodes wired back to back in memory: opening, paying straight and over a
//! route hint, persist-before-send order, restart from the stores.

use std::collections::{BTreeMap, VecDeque};

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};

use super::*;
use crate::channel::Event;
use crate::invoice::{self, Description};
use crate::payment::PayFailure;
use crate::store::MemoryStore;
use crate::types::{Msat, Sat};
use crate::wire::lnwasm_init_features;

const HEIGHT: u32 = 100;
const NOW: u64 = 1_700_000_000;

fn wallet(seed: u8) -> WalletKeys {
    WalletKeys::from_seed(&[seed; 32], bitcoin::Network::Regtest).unwrap()
}

struct TestNode {
    seed: u8,
    node: Node,
    store: MemoryStore,
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    outbox: VecDeque<(PublicKey, Message)>,
    events: Vec<NodeEvent>,
    published: Vec<Transaction>,
    /// Every action kind in order, for the ordering checks.
    log: Vec<&'static str>,
}

impl TestNode {
    fn new(seed: u8) -> TestNode {
        TestNode {
            seed,
            node: Node::new(wallet(seed), NodeConfig::new(Network::Regtest), HEIGHT, NOW).unwrap(),
            store: MemoryStore::new(),
            records: BTreeMap::new(),
            outbox: VecDeque::new(),
            events: vec![],
            published: vec![],
            log: vec![],
        }
    }

    fn id(&self) -> PublicKey {
        self.node.node_id()
    }

    fn run(&mut self, acts: Vec<NodeAction>) {
        for a in acts {
            match a {
                NodeAction::PersistChannels(b) => {
                    self.log.push("persist");
                    self.store.apply(b).unwrap();
                }
                NodeAction::PutPaymentRecord { key, value } => {
                    self.log.push("record");
                    self.records.insert(key, value);
                }
                NodeAction::DeletePaymentRecord { key } => {
                    self.log.push("record");
                    self.records.remove(&key);
                }
                NodeAction::Send { node_id, msg } => {
                    self.log.push(match msg {
                        Message::UpdateAddHtlc(_) => "add",
                        Message::UpdateFulfillHtlc(_) => "fulfill",
                        _ => "send",
                    });
                    self.outbox.push_back((node_id, msg));
                }
                NodeAction::Publish(tx) | NodeAction::PublishLater { tx, .. } => {
                    self.published.push(tx)
                }
                NodeAction::Event(e) => self.events.push(e),
                NodeAction::Watch(_) | NodeAction::Disconnect { .. } => {}
            }
        }
    }

    fn input(&mut self, i: NodeInput) {
        let acts = self.node.handle(i);
        self.run(acts);
    }

    fn restart(&mut self) {
        let records: Vec<Vec<u8>> = self.records.values().cloned().collect();
        let (node, acts) = Node::load(
            wallet(self.seed),
            NodeConfig::new(Network::Regtest),
            &self.store,
            &records,
            self.node.best_height(),
            NOW,
        )
        .unwrap();
        self.node = node;
        self.outbox.clear();
        self.run(acts);
    }

    fn payment_events(&self) -> Vec<&PaymentEvent> {
        self.events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::Payment(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn invoice(&mut self, amount: u64, hints: Vec<Vec<crate::invoice::RouteHintHop>>) -> Invoice {
        let (s, acts) = self
            .node
            .create_invoice(
                InvoiceRequest {
                    amount: Some(Msat(amount)),
                    description: Description::Direct("tea".into()),
                    expiry_secs: 3600,
                    min_final_cltv_expiry_delta: 18,
                    route_hints: hints,
                },
                &[self.seed ^ 0x55; 32],
            )
            .unwrap();
        self.run(acts);
        invoice::decode(&s).unwrap()
    }
}

struct Net {
    nodes: Vec<TestNode>,
}

impl Net {
    fn new(n: u8) -> Net {
        Net {
            nodes: (1..=n).map(TestNode::new).collect(),
        }
    }

    fn idx(&self, id: &PublicKey) -> usize {
        self.nodes.iter().position(|n| n.id() == *id).unwrap()
    }

    fn connect(&mut self, x: usize, y: usize) {
        let (ix, iy) = (self.nodes[x].id(), self.nodes[y].id());
        for (n, other) in [(x, iy), (y, ix)] {
            self.nodes[n].input(NodeInput::PeerConnected {
                node_id: other,
                features: lnwasm_init_features(),
            });
        }
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for x in 0..self.nodes.len() {
                while let Some((to, msg)) = self.nodes[x].outbox.pop_front() {
                    any = true;
                    let from = self.nodes[x].id();
                    let y = self.idx(&to);
                    self.nodes[y].input(NodeInput::PeerMessage { node_id: from, msg });
                }
            }
            if !any {
                return;
            }
        }
        panic!("no convergence");
    }

    fn block(&mut self, height: u32, txs: Vec<(u32, Transaction)>) {
        for n in &mut self.nodes {
            n.input(NodeInput::Block {
                height,
                txs: txs.clone(),
            });
        }
        self.settle();
    }

    /// `x` opens a channel of `funding` sat to `y` (a tenth pushed), funded
    /// and confirmed at `height`, ready after three blocks.
    fn open(&mut self, x: usize, y: usize, temp: u8, funding: u64, height: u32) -> ChannelId {
        let temporary_channel_id = ChannelId([temp; 32]);
        let peer = self.nodes[y].id();
        let acts = self.nodes[x]
            .node
            .open_channel(
                peer,
                OpenRequest {
                    temporary_channel_id,
                    funding: Sat(funding),
                    push: Msat(funding * 100),
                    feerate: FeeratePerKw(2500),
                    announce: false,
                    peer_features: Features::default(),
                    our_features: Features::default(),
                    now: NOW,
                },
            )
            .unwrap();
        self.nodes[x].run(acts);
        self.settle();
        let (script, amount) = self.nodes[x]
            .events
            .iter()
            .find_map(|e| match e {
                NodeEvent::Channel(ManagerEvent::Channel {
                    event:
                        Event::FundingRequired {
                            temporary_channel_id: t,
                            script_pubkey,
                            amount,
                        },
                    ..
                }) if *t == temporary_channel_id => Some((script_pubkey.clone(), *amount)),
                _ => None,
            })
            .unwrap();
        let tx = funding_tx(script, amount, temp);
        let acts = self.nodes[x]
            .node
            .command(
                temporary_channel_id,
                Command::FundingTx {
                    tx: tx.clone(),
                    output_index: 0,
                },
            )
            .unwrap();
        self.nodes[x].run(acts);
        self.settle();
        // The funder's watch names the funding output's script.
        assert!(self.nodes[x].node.watches().any(|w| matches!(
            w,
            Watch::Confirmed { txid, script_pubkey: Some(_) } if *txid == tx.compute_txid()
        )));
        self.block(height, vec![(1, tx.clone())]);
        self.block(height + 1, vec![]);
        self.block(height + 2, vec![]);
        let id = self.nodes[x]
            .node
            .list_channels()
            .into_iter()
            .find(|c| c.funding_txid == Some(tx.compute_txid()))
            .unwrap()
            .channel_id;
        assert!(
            self.nodes[x]
                .node
                .channel_views()
                .iter()
                .any(|v| v.channel_id == id && v.usable),
            "channel ready"
        );
        id
    }
}

fn funding_tx(script: ScriptBuf, amount: Sat, salt: u8) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: bitcoin::Txid::from_byte_array([salt; 32]),
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

fn params() -> PayParams {
    PayParams {
        max_fee: Msat(50_000),
        timeout_secs: 60,
        amount: None,
    }
}

#[test]
fn pays_a_peer_straight_over_our_channel() {
    let mut net = Net::new(2);
    net.connect(0, 1);
    let id = net.open(0, 1, 7, 1_000_000, HEIGHT + 1);
    let inv = net.nodes[1].invoice(5_000_000, vec![]);
    let routes = candidate_routes(&inv, &net.nodes[0].node.channel_views());
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].hops.len(), 1);
    assert_eq!(routes[0].hops[0].node_id, net.nodes[1].id());

    net.nodes[0].log.clear();
    let acts = net.nodes[0]
        .node
        .pay_invoice(&inv, params(), None, &[9; 32])
        .unwrap();
    net.nodes[0].run(acts);
    // The payment's record, then the channel's, then the add.
    assert_eq!(net.nodes[0].log[..3], ["record", "persist", "add"]);
    assert!(net.nodes[0].node.payment_pending(inv.payment_hash()));
    net.settle();

    let sent = net.nodes[0].payment_events();
    assert!(
        matches!(sent.last(), Some(PaymentEvent::PaymentSent { amount, fee, attempts: 1, .. })
            if *amount == Msat(5_000_000) && *fee == Msat(0)),
        "{sent:?}"
    );
    assert!(net.nodes[1].payment_events().iter().any(
        |e| matches!(e, PaymentEvent::PaymentReceived { amount, .. } if *amount == Msat(5_000_000))
    ));
    // The payee stored its claim before its fulfil left.
    let log = &net.nodes[1].log;
    let fulfil = log.iter().position(|l| *l == "fulfill").unwrap();
    assert!(log[..fulfil].contains(&"record"));
    assert!(!net.nodes[0].node.payment_pending(inv.payment_hash()));

    let info = net.nodes[0].node.manager().channel_info(&id).unwrap();
    assert_eq!(info.remote_balance, Msat(100_000_000 + 5_000_000));
    assert_eq!(info.in_flight, Msat(0));

    // Paid once, across a restart too.
    assert_eq!(
        net.nodes[0]
            .node
            .pay_invoice(&inv, params(), None, &[9; 32])
            .unwrap_err()
            .code(),
        "PAYMENT_ALREADY_PAID"
    );
    net.nodes[0].restart();
    let err = net.nodes[0]
        .node
        .pay_invoice(&inv, params(), None, &[9; 32])
        .unwrap_err();
    assert_eq!(err, NodeError::Payment(PaymentError::AlreadyPaid));
    assert_eq!(
        net.nodes[0]
            .node
            .manager()
            .channel_info(&id)
            .unwrap()
            .remote_balance,
        Msat(105_000_000)
    );
}

#[test]
fn pays_over_a_route_hint_and_the_middle_node_forwards() {
    let mut net = Net::new(3);
    net.connect(0, 1);
    net.connect(1, 2);
    net.open(0, 1, 7, 1_000_000, HEIGHT + 1);
    let bc = net.open(1, 2, 8, 1_000_000, HEIGHT + 4);
    let scid = net.nodes[1]
        .node
        .manager()
        .channel_info(&bc)
        .unwrap()
        .short_channel_id
        .unwrap();
    let hint = vec![crate::invoice::RouteHintHop {
        node_id: net.nodes[1].id(),
        short_channel_id: scid,
        fee_base_msat: 1000,
        fee_proportional_millionths: 100,
        cltv_expiry_delta: 40,
    }];
    let inv = net.nodes[2].invoice(2_000_000, vec![hint]);
    // No channel with the payee: only the hint's route.
    let routes = candidate_routes(&inv, &net.nodes[0].node.channel_views());
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].hops.len(), 2);

    let acts = net.nodes[0]
        .node
        .pay_invoice(&inv, params(), None, &[3; 32])
        .unwrap();
    net.nodes[0].run(acts);
    net.settle();
    let fee = Msat(1000 + 2_000_000 * 100 / 1_000_000);
    assert!(
        net.nodes[0].payment_events().iter().any(|e| matches!(
            e,
            PaymentEvent::PaymentSent { amount, fee: f, .. } if *amount == Msat(2_000_000) && *f == fee
        )),
        "{:?}",
        net.nodes[0].payment_events()
    );
    assert!(net.nodes[1]
        .payment_events()
        .iter()
        .any(|e| matches!(e, PaymentEvent::ForwardSettled { fee: f, .. } if *f == fee)));
}

#[test]
fn refused_payments_and_failures_carry_codes() {
    let mut net = Net::new(3);
    net.connect(0, 1);
    net.open(0, 1, 7, 1_000_000, HEIGHT + 1);
    // The payee is not a peer and the invoice has no hint: nothing to try.
    let inv = net.nodes[2].invoice(1_000, vec![]);
    let err = net.nodes[0]
        .node
        .pay_invoice(&inv, params(), None, &[1; 32])
        .unwrap_err();
    assert_eq!(err.code(), "NO_USABLE_ROUTE");

    // An invoice the payee forgot (a restart without its records): the
    // payee fails it with incorrect_or_unknown_payment_details.
    let inv = net.nodes[1].invoice(1_000_000, vec![]);
    net.nodes[1].records.clear();
    net.nodes[1].restart();
    net.connect(0, 1);
    net.settle();
    let acts = net.nodes[0]
        .node
        .pay_invoice(&inv, params(), None, &[2; 32])
        .unwrap();
    net.nodes[0].run(acts);
    net.settle();
    let failed = net.nodes[0]
        .payment_events()
        .into_iter()
        .find_map(|e| match e {
            PaymentEvent::PaymentFailed { failure, .. } => Some(failure.clone()),
            _ => None,
        })
        .expect("payment failed");
    match failure_code(&failed) {
        Some(code) => assert_eq!(code, 0x400f),
        None => panic!("{failed:?}"),
    }
}

fn failure_code(f: &PayFailure) -> Option<u16> {
    match f {
        PayFailure::Route(r) => Some(r.code),
        _ => None,
    }
}

#[test]
fn a_corrupt_payment_record_is_refused_at_load() {
    let n = TestNode::new(1);
    let err = Node::load(
        wallet(1),
        NodeConfig::new(Network::Regtest),
        &n.store,
        &[vec![0xff, 0x00]],
        HEIGHT,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err, NodeError::CorruptPaymentRecord);
    assert_eq!(err.code(), "STORAGE_CORRUPT");
}
