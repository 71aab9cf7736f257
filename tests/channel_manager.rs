//! The channel manager: several lnwasm nodes, each a `ChannelManager` with
//! its own `MemoryStore`, wired back to back through their actions.

#[path = "channel_harness.rs"]
mod harness;
#[path = "manager_net.rs"]
mod manager_net;

use std::collections::VecDeque;

use bitcoin::{Network, Transaction};
use harness::{config, funding_tx, hash, onion, preimage};
use lnwasm::channel::{
    ChannelInfo, ChannelManager, Command, Event, Link, ManagerAction, ManagerConfig, ManagerError,
    ManagerEvent, ManagerInput, OpenRequest, PendingLimits, Refusal, Status,
};
use lnwasm::error::ErrorCode;
use lnwasm::keys::WalletKeys;
use lnwasm::store::{Batch, MemoryStore, Op, Store};
use lnwasm::tx::{ChannelType, FeeratePerKw};
use lnwasm::types::{Msat, Sat};
use lnwasm::wire::{
    lnwasm_init_features, ChannelId, ErrorMessage, Message, UpdateAddHtlc, WarningMessage,
};
use manager_net::ManagerNode;
use secp256k1::PublicKey;

struct Node {
    seed: u8,
    id: PublicKey,
    m: ChannelManager,
    store: MemoryStore,
    outbox: VecDeque<(PublicKey, Message)>,
    sent: Vec<(PublicKey, Message)>,
    published: Vec<Transaction>,
    events: Vec<ManagerEvent>,
    batches: Vec<Batch>,
    watches: Vec<ManagerAction>,
    disconnects: Vec<PublicKey>,
}

fn wallet(seed: u8) -> WalletKeys {
    WalletKeys::from_seed(&[seed; 32], Network::Regtest).unwrap()
}

fn mconfig(limits: PendingLimits) -> ManagerConfig {
    let mut c = ManagerConfig::new(config());
    c.pending = limits;
    c
}

fn roomy() -> PendingLimits {
    PendingLimits {
        per_peer: 10,
        total: 10,
        timeout_secs: 600,
    }
}

impl Node {
    fn new(seed: u8, limits: PendingLimits) -> Node {
        let w = wallet(seed);
        let id = w.node_id().unwrap();
        Node {
            seed,
            id,
            m: ChannelManager::new(w, mconfig(limits), 100, 1000),
            store: MemoryStore::new(),
            outbox: VecDeque::new(),
            sent: vec![],
            published: vec![],
            events: vec![],
            batches: vec![],
            watches: vec![],
            disconnects: vec![],
        }
    }

    /// Carries out the actions of one input, checking the persist rule:
    /// at most one batch, and it comes first.
    fn run(&mut self, acts: Vec<ManagerAction>) {
        for (i, a) in acts.iter().enumerate() {
            if matches!(a, ManagerAction::Persist(_)) {
                assert_eq!(i, 0, "the batch comes before everything else");
            }
        }
        for a in acts {
            match a {
                ManagerAction::Persist(b) => {
                    self.store
                        .apply(b.clone())
                        .expect("store accepts the batch");
                    self.batches.push(b);
                }
                ManagerAction::Send { node_id, msg } => {
                    self.sent.push((node_id, msg.clone()));
                    self.outbox.push_back((node_id, msg));
                }
                ManagerAction::Publish(t) => self.published.push(t),
                ManagerAction::PublishLater { tx, .. } => self.published.push(tx),
                ManagerAction::Event(e) => self.events.push(e),
                ManagerAction::Disconnect { node_id } => self.disconnects.push(node_id),
                w @ (ManagerAction::WatchFunding { .. }
                | ManagerAction::WatchSpent { .. }
                | ManagerAction::WatchConfirmed { .. }) => self.watches.push(w),
            }
        }
    }

    fn input(&mut self, i: ManagerInput) -> Vec<ManagerAction> {
        let acts = self.m.handle(i).expect("input accepted");
        self.run(acts.clone());
        acts
    }

    fn command(&mut self, channel_id: ChannelId, command: Command) -> Vec<ManagerAction> {
        self.input(ManagerInput::Command {
            channel_id,
            command,
        })
    }

    fn info(&self, id: ChannelId) -> ChannelInfo {
        self.m.channel_info(&id).expect("channel known")
    }

    /// Drop the manager and rebuild it from the store, as after a restart.
    fn restart(&mut self) -> Vec<ManagerAction> {
        let (m, acts) = ChannelManager::load(
            wallet(self.seed),
            mconfig(roomy()),
            &self.store,
            self.m.best_height(),
            5000,
        )
        .expect("load");
        self.m = m;
        self.outbox.clear();
        acts
    }

    fn funding_required(&self, temp: ChannelId) -> (bitcoin::ScriptBuf, Sat) {
        manager_net::funding_required(&self.events, temp)
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
        self.input(i);
    }
}

type Net = manager_net::Net<Node>;

impl Net {
    fn new(limits: &[PendingLimits]) -> Net {
        Net::with_nodes(
            limits
                .iter()
                .enumerate()
                .map(|(i, l)| Node::new(i as u8 + 1, *l))
                .collect(),
        )
    }

    /// The funder answers `FundingRequired`; returns the funding tx.
    fn fund(&mut self, x: usize, temp: ChannelId, salt: u8) -> Transaction {
        let (script, amount) = self.nodes[x].funding_required(temp);
        let tx = funding_tx(script, amount, salt);
        self.nodes[x].command(
            temp,
            Command::FundingTx {
                tx: tx.clone(),
                output_index: 0,
            },
        );
        tx
    }

    /// Confirms `tx` at `height` (position `tx_index`) on both sides and
    /// connects blocks up to `height + 2`.
    fn confirm(&mut self, nodes: &[usize], tx: &Transaction, height: u32, tx_index: u32) {
        for &n in nodes {
            self.nodes[n].input(ManagerInput::TxConfirmed {
                txid: tx.compute_txid(),
                height,
                tx_index,
            });
            self.nodes[n].input(ManagerInput::BlockConnected { height: height + 2 });
        }
    }

    /// A full open from `x` to `y`, confirmed and NORMAL; returns the channel id.
    fn open(&mut self, x: usize, y: usize, temp: u8, funding: u64) -> ChannelId {
        let t = self.start_open(x, y, temp, funding);
        self.settle();
        let tx = self.fund(x, t, temp);
        self.settle();
        let id = ChannelId::from_funding_outpoint(&tx.compute_txid(), 0);
        self.confirm(&[x, y], &tx, 101, u32::from(temp));
        self.settle();
        assert_eq!(self.nodes[x].info(id).state, "NORMAL");
        assert_eq!(self.nodes[y].info(id).state, "NORMAL");
        id
    }
}

fn sends_to(acts: &[ManagerAction]) -> Vec<(PublicKey, Message)> {
    acts.iter()
        .filter_map(|a| match a {
            ManagerAction::Send { node_id, msg } => Some((*node_id, msg.clone())),
            _ => None,
        })
        .collect()
}

fn error_text(m: &Message) -> (ChannelId, String) {
    match m {
        Message::Error(e) => (e.channel_id, e.text()),
        other => panic!("expected error, got {}", other.name()),
    }
}

fn refusals(n: &Node) -> Vec<(ChannelId, Refusal)> {
    n.events
        .iter()
        .filter_map(|e| match e {
            ManagerEvent::OpenRefused {
                temporary_channel_id,
                reason,
                ..
            } => Some((*temporary_channel_id, reason.clone())),
            _ => None,
        })
        .collect()
}

fn add_htlc(n: &mut Node, id: ChannelId, amount: u64, k: u64) -> u64 {
    let acts = n.command(
        id,
        Command::AddHtlc {
            amount: Msat(amount),
            payment_hash: hash(k),
            cltv_expiry: 500,
            onion: onion(),
        },
    );
    acts.iter()
        .find_map(|a| match a {
            ManagerAction::Event(ManagerEvent::Channel {
                event: Event::HtlcOffered { id, .. },
                ..
            }) => Some(*id),
            _ => None,
        })
        .expect("HtlcOffered")
}

#[test]
fn concurrent_opens_route_by_temporary_then_final_id() {
    let mut net = Net::new(&[roomy(), roomy()]);
    net.connect(0, 1);
    // Three opens from A and one from B, all in flight at once.
    let temps: Vec<ChannelId> = (1..=3u8)
        .map(|t| net.start_open(0, 1, t, 500_000 + u64::from(t)))
        .collect();
    let tb = net.start_open(1, 0, 4, 600_000);
    net.settle();
    assert_eq!(net.nodes[1].m.list_channels().len(), 4);
    for t in &temps {
        assert_eq!(net.nodes[0].info(*t).state, "WAIT_FUNDING_TX");
        assert_eq!(net.nodes[1].info(*t).state, "WAIT_FUNDING_CREATED");
    }
    assert_eq!(net.nodes[1].info(tb).state, "WAIT_FUNDING_TX");
    // Funding in reverse order, messages interleaved.
    let mut txs = vec![];
    for (k, t) in temps.iter().enumerate().rev() {
        txs.push((*t, net.fund(0, *t, 10 + k as u8)));
    }
    txs.push((tb, net.fund(1, tb, 20)));
    for (t, tx) in &txs {
        let id = ChannelId::from_funding_outpoint(&tx.compute_txid(), 0);
        // The funder switches to the final id at its funding transaction.
        let funder = if *t == tb { 1 } else { 0 };
        assert!(net.nodes[funder]
            .events
            .contains(&ManagerEvent::ChannelIdChanged {
                node_id: net.nodes[1 - funder].id,
                temporary_channel_id: *t,
                channel_id: id,
            }));
        assert_eq!(net.nodes[funder].info(id).temporary_channel_id, Some(*t));
    }
    net.settle();
    for (k, (t, tx)) in txs.iter().enumerate() {
        let id = ChannelId::from_funding_outpoint(&tx.compute_txid(), 0);
        let fundee = if *t == tb { 0 } else { 1 };
        assert!(net.nodes[fundee]
            .events
            .contains(&ManagerEvent::ChannelIdChanged {
                node_id: net.nodes[1 - fundee].id,
                temporary_channel_id: *t,
                channel_id: id,
            }));
        for n in 0..2 {
            let i = net.nodes[n].info(id);
            assert_eq!(i.state, "OPENING");
            assert_eq!(i.temporary_channel_id, None);
            assert!(net.nodes[n].m.channel_info(t).is_none(), "temp id gone");
        }
        net.confirm(&[0, 1], tx, 200, k as u32 + 1);
    }
    net.settle();
    for (k, (t, tx)) in txs.iter().enumerate() {
        let id = ChannelId::from_funding_outpoint(&tx.compute_txid(), 0);
        let funding = if *t == tb {
            600_000
        } else {
            500_000 + u64::from(t.0[0])
        };
        let funder = if *t == tb { 1 } else { 0 };
        let i = net.nodes[funder].info(id);
        assert_eq!(i.state, "NORMAL");
        assert!(i.outbound);
        assert_eq!(i.capacity, Sat(funding));
        assert_eq!(i.local_balance, Msat(funding * 900));
        assert_eq!(i.remote_balance, Msat(funding * 100));
        assert_eq!(i.node_id, net.nodes[1 - funder].id);
        assert_eq!(i.link, Link::Online);
        assert_eq!(i.funding_txid, Some(tx.compute_txid()));
        let scid = lnwasm::types::ShortChannelId::new(200, k as u32 + 1, 0);
        assert_eq!(i.short_channel_id, scid);
        let j = net.nodes[1 - funder].info(id);
        assert!(!j.outbound);
        assert_eq!(
            (j.local_balance, j.remote_balance),
            (i.remote_balance, i.local_balance)
        );
        assert_eq!(j.short_channel_id, scid);
    }
    // Each side holds four records, under the final ids, plus the key counter.
    for n in &net.nodes {
        let recs = n.store.list().unwrap();
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[0].channel_id, ChannelId::ALL);
        assert_eq!(recs[0].update_number, 4, "four key sets handed out");
    }
    // Distinct key sets.
    let mut idx: Vec<u32> = net.nodes[0]
        .m
        .list_channels()
        .iter()
        .map(|c| {
            net.nodes[0]
                .m
                .channel(&c.channel_id)
                .unwrap()
                .funded()
                .unwrap()
                .key_index
                .get()
        })
        .collect();
    idx.sort();
    assert_eq!(idx, vec![0, 1, 2, 3]);
}

/// Two nodes with three NORMAL channels between them.
fn three_channels() -> (Net, Vec<ChannelId>) {
    let mut net = Net::new(&[roomy(), roomy()]);
    net.connect(0, 1);
    let ids = vec![
        net.open(0, 1, 1, 1_000_000),
        net.open(0, 1, 2, 1_000_000),
        net.open(1, 0, 3, 2_000_000),
    ];
    (net, ids)
}

/// Each channel lists its commitment format (static_remotekey with the
/// default configuration) and feerate, on both sides.
#[test]
fn channels_list_their_type_and_feerate() {
    let (net, ids) = three_channels();
    for n in &net.nodes {
        for id in &ids {
            let i = n.info(*id);
            assert_eq!(i.channel_type, Some(ChannelType::StaticRemoteKey));
            assert_eq!(i.feerate, Some(FeeratePerKw(2500)));
        }
    }
}

#[test]
fn htlc_on_one_channel_leaves_the_others_alone() {
    let (mut net, ids) = three_channels();
    let before: Vec<(ChannelInfo, u64)> = ids
        .iter()
        .map(|id| {
            (
                net.nodes[1].info(*id),
                net.nodes[1].m.channel(id).unwrap().update_number(),
            )
        })
        .collect();
    let h = add_htlc(&mut net.nodes[0], ids[1], 30_000_000, 1);
    net.nodes[0].command(ids[1], Command::Sign);
    net.settle();
    assert_eq!(net.nodes[1].info(ids[1]).in_flight, Msat(30_000_000));
    assert!(net.nodes[1].events.iter().any(|e| matches!(
        e,
        ManagerEvent::Channel { channel_id, event: Event::HtlcReceived(a), .. }
            if *channel_id == ids[1] && a.id == h
    )));
    net.nodes[1].command(
        ids[1],
        Command::FulfillHtlc {
            id: h,
            preimage: preimage(1),
        },
    );
    net.nodes[1].command(ids[1], Command::Sign);
    net.settle();
    assert!(net.nodes[0].events.contains(&ManagerEvent::Channel {
        node_id: net.nodes[1].id,
        channel_id: ids[1],
        event: Event::HtlcFulfilled {
            id: h,
            preimage: preimage(1)
        }
    }));
    let i = net.nodes[1].info(ids[1]);
    assert_eq!(i.in_flight, Msat(0));
    assert_eq!(i.local_balance, Msat(100_000_000 + 30_000_000));
    for (k, id) in ids.iter().enumerate() {
        if k == 1 {
            continue;
        }
        assert_eq!(net.nodes[1].info(*id), before[k].0);
        assert_eq!(
            net.nodes[1].m.channel(id).unwrap().update_number(),
            before[k].1,
            "no state change on the other channels"
        );
    }
    // Each store write of the cycle touched only that channel.
    let writes: Vec<&Batch> = net.nodes[1].batches.iter().rev().take(3).collect();
    for b in writes {
        for op in &b.ops {
            match op {
                Op::Put(r) => assert_eq!(r.channel_id, ids[1]),
                Op::Delete(_) => panic!("nothing deleted"),
            }
        }
    }
}

#[test]
fn disconnect_forgets_unfunded_and_reconnect_reestablishes_all() {
    let (mut net, ids) = three_channels();
    // An opening in progress, and an HTLC whose commitment_signed is lost.
    let t = net.start_open(0, 1, 9, 300_000);
    add_htlc(&mut net.nodes[0], ids[0], 10_000_000, 7);
    net.nodes[0].command(ids[0], Command::Sign);
    net.step(0); // open_channel
    net.step(0); // update_add_htlc; commitment_signed is lost
    assert_eq!(net.nodes[1].info(t).state, "WAIT_FUNDING_CREATED");
    net.disconnect(0, 1);
    for n in 0..2 {
        assert!(
            net.nodes[n].m.channel_info(&t).is_none(),
            "unfunded forgotten"
        );
        assert_eq!(net.nodes[n].m.list_channels().len(), 3);
        for id in &ids {
            assert_eq!(net.nodes[n].info(*id).link, Link::Offline);
        }
    }
    for (x, y) in [(0, 1), (1, 0)] {
        assert!(net.nodes[x].events.contains(&ManagerEvent::Channel {
            node_id: net.nodes[y].id,
            channel_id: t,
            event: Event::Forgotten
        }));
    }
    for n in 0..2 {
        net.nodes[n].sent.clear();
    }
    net.links.push((0, 1));
    let b = net.nodes[1].id;
    let acts = net.nodes[0].input(ManagerInput::PeerConnected {
        node_id: b,
        features: lnwasm_init_features(),
    });
    let re: Vec<ChannelId> = sends_to(&acts)
        .iter()
        .map(|(to, m)| {
            assert_eq!(*to, b);
            match m {
                Message::ChannelReestablish(r) => r.channel_id,
                other => panic!("unexpected {}", other.name()),
            }
        })
        .collect();
    assert_eq!(re, ids, "one channel_reestablish per channel, in order");
    let a = net.nodes[0].id;
    net.nodes[1].input(ManagerInput::PeerConnected {
        node_id: a,
        features: lnwasm_init_features(),
    });
    net.settle();
    for n in 0..2 {
        for id in &ids {
            assert_eq!(net.nodes[n].info(*id).link, Link::Online);
        }
    }
    assert_eq!(net.nodes[1].info(ids[0]).in_flight, Msat(10_000_000));
    // The channels work after the reconnection.
    let h = add_htlc(&mut net.nodes[1], ids[2], 5_000_000, 8);
    net.nodes[1].command(ids[2], Command::Sign);
    net.settle();
    assert_eq!(net.nodes[0].info(ids[2]).in_flight, Msat(5_000_000));
    assert_eq!(h, 0);
}

#[test]
fn restart_from_store_and_converge() {
    let (mut net, ids) = three_channels();
    // An HTLC is signed by A, B's revoke_and_ack + commitment_signed are lost
    // in a crash of A.
    add_htlc(&mut net.nodes[0], ids[1], 20_000_000, 3);
    net.nodes[0].command(ids[1], Command::Sign);
    net.step(0);
    net.step(0);
    net.disconnect(0, 1);
    let watches = net.nodes[0].restart();
    // Confirmed channels only watch their funding output.
    assert_eq!(watches.len(), 3);
    assert!(watches
        .iter()
        .all(|w| matches!(w, ManagerAction::WatchSpent { .. })));
    let infos = net.nodes[0].m.list_channels();
    assert_eq!(
        infos.iter().map(|i| i.channel_id).collect::<Vec<_>>(),
        {
            let mut v = ids.clone();
            v.sort();
            v
        },
        "every record loaded (in key order)"
    );
    assert!(infos.iter().all(|i| i.link == Link::Offline));
    net.connect(0, 1);
    net.settle();
    for n in 0..2 {
        for id in &ids {
            let i = net.nodes[n].info(*id);
            assert_eq!((i.state, i.link), ("NORMAL", Link::Online));
        }
    }
    assert_eq!(net.nodes[0].info(ids[1]).in_flight, Msat(20_000_000));
    assert_eq!(net.nodes[1].info(ids[1]).in_flight, Msat(20_000_000));
    // Settle the HTLC after the restart.
    net.nodes[1].command(
        ids[1],
        Command::FulfillHtlc {
            id: 0,
            preimage: preimage(3),
        },
    );
    net.nodes[1].command(ids[1], Command::Sign);
    net.settle();
    assert_eq!(net.nodes[0].info(ids[1]).in_flight, Msat(0));
    assert_eq!(
        net.nodes[0].info(ids[1]).local_balance,
        Msat(900_000_000 - 20_000_000)
    );
    // A new channel after the restart gets a fresh key set.
    let id4 = net.open(0, 1, 4, 400_000);
    let k = net.nodes[0]
        .m
        .channel(&id4)
        .unwrap()
        .funded()
        .unwrap()
        .key_index
        .get();
    assert_eq!(k, 3);
}

#[test]
fn key_index_is_not_reused_after_a_deleted_channel() {
    let mut net = Net::new(&[roomy(), roomy()]);
    net.connect(0, 1);
    net.open(0, 1, 1, 500_000);
    net.open(0, 1, 2, 500_000);
    // Lose every channel record but keep the counter.
    let ids: Vec<ChannelId> = net.nodes[0]
        .store
        .list()
        .unwrap()
        .iter()
        .map(|r| r.channel_id)
        .filter(|id| *id != ChannelId::ALL)
        .collect();
    let mut b = Batch::new();
    for id in &ids {
        b = b.delete(*id);
    }
    net.nodes[0].store.apply(b).unwrap();
    net.disconnect(0, 1);
    net.nodes[0].restart();
    assert!(net.nodes[0].m.list_channels().is_empty());
    net.nodes[0].sent.clear();
    net.connect(0, 1);
    net.settle();
    // B's channel_reestablish for channels A no longer knows: A answers
    // with an error for each (BOLT 1), and B closes them on chain.
    let errors: Vec<(ChannelId, String)> = net.nodes[0]
        .sent
        .iter()
        .map(|(_, m)| error_text(m))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    let mut got: Vec<ChannelId> = errors.iter().map(|(id, _)| *id).collect();
    got.sort();
    assert_eq!(got, sorted);
    assert!(errors.iter().all(|(_, t)| t == "unknown channel"));
    for id in &ids {
        assert_eq!(net.nodes[1].info(*id).status, Some(Status::Closing));
    }
    let t = net.start_open(0, 1, 3, 500_000);
    let ch = net.nodes[0].m.channel(&t).unwrap();
    assert_eq!(
        ch.keys().pubkeys(),
        wallet(1)
            .channel_keys(lnwasm::keys::ChannelKeyIndex::new(2).unwrap())
            .unwrap()
            .pubkeys()
    );
}

#[test]
fn unknown_channel_ids_are_answered_as_bolt1_says() {
    let mut net = Net::new(&[roomy(), roomy(), roomy()]);
    net.connect(0, 1);
    net.connect(0, 2);
    let ab = net.open(0, 1, 1, 1_000_000);
    let ac = net.open(0, 2, 2, 1_000_000);
    let (a, b, c) = (net.nodes[0].id, net.nodes[1].id, net.nodes[2].id);
    let add = |channel_id| {
        Message::UpdateAddHtlc(UpdateAddHtlc {
            channel_id,
            id: 0,
            amount: Msat(1000),
            payment_hash: hash(1),
            cltv_expiry: 500,
            onion_routing_packet: onion(),
            blinding_point: None,
            extra_tlvs: Default::default(),
        })
    };
    let unknown = ChannelId([0x42; 32]);
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: b,
        msg: add(unknown),
    });
    assert_eq!(acts.len(), 1);
    assert_eq!(
        sends_to(&acts),
        vec![(
            b,
            Message::Error(ErrorMessage::new(unknown, "unknown channel"))
        )]
    );
    // C's channel is unknown to B's messages: same answer, C's channel untouched.
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: b,
        msg: add(ac),
    });
    assert_eq!(
        sends_to(&acts),
        vec![(b, Message::Error(ErrorMessage::new(ac, "unknown channel")))]
    );
    assert_eq!(net.nodes[0].info(ac).state, "NORMAL");
    assert_eq!(net.nodes[0].info(ac).in_flight, Msat(0));
    // An error or warning for someone else's (or no) channel is ignored.
    for msg in [
        Message::Error(ErrorMessage::new(ac, "boom")),
        Message::Warning(WarningMessage::new(ac, "hmm")),
        Message::Error(ErrorMessage::new(unknown, "boom")),
    ] {
        let acts = net.nodes[0].input(ManagerInput::PeerMessage { node_id: b, msg });
        assert!(acts.is_empty(), "{acts:?}");
    }
    assert_eq!(net.nodes[0].info(ac).state, "NORMAL");
    assert_eq!(net.nodes[0].info(ab).state, "NORMAL");
    // A channel message with the all-zero id gets a warning, never an
    // all-zero error (which would fail every channel).
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: c,
        msg: add(ChannelId::ALL),
    });
    assert_eq!(
        sends_to(&acts),
        vec![(
            c,
            Message::Warning(WarningMessage::new(ChannelId::ALL, "unknown channel"))
        )]
    );
    // Messages from a peer that is not connected are dropped.
    let stranger = wallet(9).node_id().unwrap();
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: stranger,
        msg: add(ab),
    });
    assert!(acts.is_empty());
    // User commands for unknown channels are refused with a code.
    let err = net.nodes[0]
        .m
        .handle(ManagerInput::Command {
            channel_id: unknown,
            command: Command::Sign,
        })
        .unwrap_err();
    assert_eq!(err, ManagerError::UnknownChannel(unknown));
    assert_eq!(err.code(), "UNKNOWN_CHANNEL");
    let err = net.nodes[0]
        .m
        .handle(ManagerInput::Command {
            channel_id: ab,
            command: Command::Tick { now: 1 },
        })
        .unwrap_err();
    assert_eq!(err.code(), "NOT_A_USER_COMMAND");
    let _ = a;
}

#[test]
fn all_zero_error_fails_every_channel_with_that_peer() {
    let mut net = Net::new(&[roomy(), roomy(), roomy()]);
    net.connect(0, 1);
    net.connect(0, 2);
    let ab1 = net.open(0, 1, 1, 1_000_000);
    let ab2 = net.open(1, 0, 2, 1_000_000);
    let ac = net.open(0, 2, 3, 1_000_000);
    let t = net.start_open(0, 1, 4, 500_000);
    net.settle();
    let b = net.nodes[1].id;
    let writes = net.nodes[0].store.writes;
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: b,
        msg: Message::Error(ErrorMessage::new(ChannelId::ALL, "bye")),
    });
    // Both funded channels with B publish their commitment; the records of
    // both are in the one batch at the front.
    let ManagerAction::Persist(batch) = &acts[0] else {
        panic!("batch first")
    };
    let put: Vec<ChannelId> = batch
        .ops
        .iter()
        .map(|o| match o {
            Op::Put(r) => r.channel_id,
            Op::Delete(_) => panic!("no delete"),
        })
        .collect();
    // ...with the key counter, raised by the opening in progress.
    assert_eq!(put, vec![ab1, ab2, ChannelId::ALL]);
    assert_eq!(net.nodes[0].store.writes, writes + 1);
    let published = acts
        .iter()
        .filter(|a| matches!(a, ManagerAction::Publish(_)))
        .count();
    assert!(published >= 2);
    assert_eq!(net.nodes[0].info(ab1).status, Some(Status::Closing));
    assert_eq!(net.nodes[0].info(ab2).status, Some(Status::Closing));
    assert!(
        net.nodes[0].m.channel_info(&t).is_none(),
        "unfunded forgotten"
    );
    assert_eq!(net.nodes[0].info(ac).state, "NORMAL");
    assert!(net.nodes[0].events.contains(&ManagerEvent::PeerError {
        node_id: b,
        text: "bye".into(),
        fatal: true
    }));
    // An all-zero warning fails nothing.
    let c = net.nodes[2].id;
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: c,
        msg: Message::Warning(WarningMessage::new(ChannelId::ALL, "careful")),
    });
    assert_eq!(acts.len(), 1);
    assert_eq!(net.nodes[0].info(ac).state, "NORMAL");
}

fn limited(per_peer: usize, total: usize) -> PendingLimits {
    PendingLimits {
        per_peer,
        total,
        timeout_secs: 600,
    }
}

#[test]
fn pending_inbound_limit_per_peer() {
    let mut net = Net::new(&[roomy(), limited(2, 3)]);
    net.connect(0, 1);
    let t1 = net.start_open(0, 1, 1, 500_000);
    let t2 = net.start_open(0, 1, 2, 500_000);
    let t3 = net.start_open(0, 1, 3, 500_000);
    net.settle();
    let a = net.nodes[0].id;
    assert_eq!(net.nodes[1].m.pending_inbound(&a), (2, 2));
    let r = refusals(&net.nodes[1]);
    assert_eq!(r, vec![(t3, Refusal::TooManyFromPeer { limit: 2 })]);
    assert_eq!(r[0].1.code(), "TOO_MANY_PENDING_CHANNELS_FROM_PEER");
    let err = net.nodes[1]
        .sent
        .iter()
        .find(|(_, m)| matches!(m, Message::Error(_)))
        .unwrap();
    assert_eq!(
        error_text(&err.1),
        (
            t3,
            "too many pending channels from this peer (limit 2)".into()
        )
    );
    // A forgot its refused channel on the error.
    assert!(net.nodes[0].m.channel_info(&t3).is_none());
    // Funded but unconfirmed channels still count.
    let tx1 = net.fund(0, t1, 1);
    net.fund(0, t2, 2);
    net.settle();
    net.start_open(0, 1, 5, 500_000);
    net.settle();
    assert_eq!(
        refusals(&net.nodes[1]).last().unwrap().1,
        Refusal::TooManyFromPeer { limit: 2 }
    );
    // Once confirmed, a channel no longer counts.
    net.confirm(&[0, 1], &tx1, 101, 1);
    net.settle();
    assert_eq!(net.nodes[1].m.pending_inbound(&a), (1, 1));
    let t6 = net.start_open(0, 1, 6, 500_000);
    net.settle();
    assert_eq!(net.nodes[1].info(t6).state, "WAIT_FUNDING_CREATED");
    assert_eq!(refusals(&net.nodes[1]).len(), 2);
    // A duplicate temporary id is refused too.
    let acts = {
        let open = net.nodes[0]
            .sent
            .iter()
            .rev()
            .find_map(|(_, m)| match m {
                Message::OpenChannel(o) => Some(o.clone()),
                _ => None,
            })
            .unwrap();
        net.nodes[1].input(ManagerInput::PeerMessage {
            node_id: a,
            msg: Message::OpenChannel(open),
        })
    };
    assert_eq!(
        error_text(&sends_to(&acts)[0].1),
        (t6, "temporary_channel_id in use".into())
    );
}

#[test]
fn pending_inbound_limit_in_total() {
    let mut net = Net::new(&[roomy(), limited(2, 3), roomy()]);
    net.connect(0, 1);
    net.connect(2, 1);
    net.start_open(0, 1, 1, 500_000);
    net.start_open(0, 1, 2, 500_000);
    net.start_open(2, 1, 1, 500_000); // same temporary id, other peer: fine
    net.settle();
    let c = net.nodes[2].id;
    assert_eq!(net.nodes[1].m.pending_inbound(&c), (1, 3));
    let t = net.start_open(2, 1, 4, 500_000);
    net.settle();
    let r = refusals(&net.nodes[1]);
    assert_eq!(r, vec![(t, Refusal::TooManyTotal { limit: 3 })]);
    assert_eq!(r[0].1.code(), "TOO_MANY_PENDING_CHANNELS");
    let (to, m) = net.nodes[1]
        .sent
        .iter()
        .find(|(_, m)| matches!(m, Message::Error(_)))
        .unwrap();
    assert_eq!(*to, c);
    assert_eq!(
        error_text(m),
        (t, "too many pending channels (limit 3)".into())
    );
    // Disconnecting A frees its two slots.
    net.disconnect(0, 1);
    assert_eq!(net.nodes[1].m.pending_inbound(&c), (1, 1));
    let t5 = net.start_open(2, 1, 5, 500_000);
    net.settle();
    assert_eq!(net.nodes[1].info(t5).state, "WAIT_FUNDING_CREATED");
}

#[test]
fn unfunded_inbound_channel_times_out() {
    let mut net = Net::new(&[roomy(), limited(2, 3)]);
    net.connect(0, 1);
    net.nodes[1].input(ManagerInput::Tick { now: 10_000 });
    let t = net.start_open(0, 1, 1, 500_000);
    net.settle();
    assert_eq!(net.nodes[1].info(t).state, "WAIT_FUNDING_CREATED");
    let acts = net.nodes[1].input(ManagerInput::Tick { now: 10_600 });
    assert!(acts.is_empty(), "not yet: {acts:?}");
    let acts = net.nodes[1].input(ManagerInput::Tick { now: 10_601 });
    assert_eq!(
        error_text(&sends_to(&acts)[0].1),
        (t, "funding_created not received within 600 seconds".into())
    );
    assert!(net.nodes[1].m.channel_info(&t).is_none());
    let a = net.nodes[0].id;
    assert!(net.nodes[1].events.contains(&ManagerEvent::PendingExpired {
        node_id: a,
        channel_id: t,
        reason: Refusal::FundingTimeout { secs: 600 },
    }));
    assert_eq!(
        Refusal::FundingTimeout { secs: 600 }.code(),
        "FUNDING_TIMEOUT"
    );
    assert!(!acts.iter().any(|a| matches!(a, ManagerAction::Persist(_))));
    net.settle();
    assert!(
        net.nodes[0].m.channel_info(&t).is_none(),
        "funder failed it too"
    );
    // Outbound unfunded channels are the user's: no timeout.
    let t2 = net.start_open(1, 0, 2, 500_000);
    net.settle();
    net.nodes[1].input(ManagerInput::Tick { now: 100_000 });
    assert_eq!(net.nodes[1].info(t2).state, "WAIT_FUNDING_TX");
}

#[test]
fn unconfirmed_fundee_channel_is_forgotten_after_2016_blocks() {
    let mut net = Net::new(&[roomy(), limited(2, 3)]);
    net.connect(0, 1);
    let t1 = net.start_open(0, 1, 1, 500_000);
    let t2 = net.start_open(0, 1, 2, 500_000);
    net.settle();
    let tx1 = net.fund(0, t1, 1);
    let tx2 = net.fund(0, t2, 2);
    net.settle();
    let id1 = ChannelId::from_funding_outpoint(&tx1.compute_txid(), 0);
    let id2 = ChannelId::from_funding_outpoint(&tx2.compute_txid(), 0);
    assert!(net.nodes[1].store.get(&id1).unwrap().is_some());
    // tx2 is seen in a block (but not deep enough yet): it is kept.
    net.nodes[1].input(ManagerInput::TxConfirmed {
        txid: tx2.compute_txid(),
        height: 2000,
        tx_index: 1,
    });
    // Funded at height 100.
    let acts = net.nodes[1].input(ManagerInput::BlockConnected { height: 2115 });
    // Only channel 2's channel_ready (it is deep enough now).
    let sent: Vec<&str> = sends_to(&acts).iter().map(|(_, m)| m.name()).collect();
    assert_eq!(sent, vec!["channel_ready"]);
    assert_eq!(net.nodes[1].info(id1).state, "OPENING");
    let acts = net.nodes[1].input(ManagerInput::BlockConnected { height: 2116 });
    let ManagerAction::Persist(batch) = &acts[0] else {
        panic!("record deleted first")
    };
    assert_eq!(batch.ops, vec![Op::Delete(id1)]);
    assert!(net.nodes[1].store.get(&id1).unwrap().is_none());
    assert_eq!(
        error_text(&sends_to(&acts)[0].1),
        (
            id1,
            "funding transaction not confirmed within 2016 blocks".into()
        )
    );
    let a = net.nodes[0].id;
    assert!(net.nodes[1].events.contains(&ManagerEvent::PendingExpired {
        node_id: a,
        channel_id: id1,
        reason: Refusal::ConfirmationTimeout { blocks: 2016 },
    }));
    assert!(net.nodes[1].m.channel_info(&id1).is_none());
    assert_eq!(net.nodes[1].info(id2).state, "OPENING");
    // The funder keeps its channel (its money is in it): the error makes it close.
    net.nodes[0].input(ManagerInput::BlockConnected { height: 2116 });
    assert!(net.nodes[0].m.channel_info(&id1).is_some());
    net.settle();
    assert_eq!(net.nodes[0].info(id1).status, Some(Status::Closing));
    assert_eq!(net.nodes[0].info(id2).state, "OPENING");
}

#[test]
fn one_input_one_batch_before_its_sends() {
    let mut net = Net::new(&[roomy(), roomy()]);
    net.connect(0, 1);
    let t1 = net.start_open(0, 1, 1, 500_000);
    let t2 = net.start_open(0, 1, 2, 500_000);
    net.settle();
    // One transaction funds both channels (outputs 0 and 1).
    let (s1, a1) = net.nodes[0].funding_required(t1);
    let (s2, a2) = net.nodes[0].funding_required(t2);
    let mut tx = funding_tx(s1, a1, 9);
    tx.output.push(funding_tx(s2, a2, 9).output[0].clone());
    for (t, o) in [(t1, 0u16), (t2, 1)] {
        net.nodes[0].command(
            t,
            Command::FundingTx {
                tx: tx.clone(),
                output_index: o,
            },
        );
    }
    net.settle();
    let id1 = ChannelId::from_funding_outpoint(&tx.compute_txid(), 0);
    let id2 = ChannelId::from_funding_outpoint(&tx.compute_txid(), 1);
    for n in 0..2 {
        let writes = net.nodes[n].store.writes;
        net.nodes[n].input(ManagerInput::TxConfirmed {
            txid: tx.compute_txid(),
            height: 101,
            tx_index: 5,
        });
        let acts = net.nodes[n].input(ManagerInput::BlockConnected { height: 103 });
        // Both channels persist their confirmation and send channel_ready:
        // one batch, first, with both records.
        let ManagerAction::Persist(batch) = &acts[0] else {
            panic!("batch first: {acts:?}")
        };
        let ids: Vec<ChannelId> = batch
            .ops
            .iter()
            .map(|o| match o {
                Op::Put(r) => r.channel_id,
                Op::Delete(_) => panic!(),
            })
            .collect();
        assert_eq!(ids, vec![id1, id2]);
        assert_eq!(
            acts.iter()
                .filter(|a| matches!(a, ManagerAction::Persist(_)))
                .count(),
            1
        );
        let ready: Vec<ChannelId> = sends_to(&acts)
            .iter()
            .map(|(_, m)| match m {
                Message::ChannelReady(r) => r.channel_id,
                other => panic!("unexpected {}", other.name()),
            })
            .collect();
        assert_eq!(ready, vec![id1, id2]);
        assert_eq!(net.nodes[n].store.writes, writes + 2);
    }
    net.settle();
    for n in 0..2 {
        assert_eq!(net.nodes[n].info(id1).state, "NORMAL");
        assert_eq!(net.nodes[n].info(id2).state, "NORMAL");
        assert_eq!(
            net.nodes[n].info(id2).short_channel_id,
            lnwasm::types::ShortChannelId::new(101, 5, 1)
        );
    }
    // A channel that persists twice within one input keeps one record, the last.
    let before = net.nodes[0].m.channel(&id1).unwrap().update_number();
    let acts = net.nodes[0].command(id1, Command::ForceClose);
    let ManagerAction::Persist(batch) = &acts[0] else {
        panic!()
    };
    assert_eq!(batch.ops.len(), 1);
    let Op::Put(r) = &batch.ops[0] else { panic!() };
    assert_eq!(r.update_number, before + 1);
    assert!(acts[1..]
        .iter()
        .all(|a| !matches!(a, ManagerAction::Persist(_))));
}

#[test]
fn corrupt_or_foreign_records_are_refused_at_load() {
    let mut store = MemoryStore::new();
    store
        .apply(Batch::new().put(lnwasm::channel::ChannelRecord::new(
            ChannelId([5; 32]),
            1,
            vec![7, 1, 2],
        )))
        .unwrap();
    let err = ChannelManager::load(wallet(1), mconfig(roomy()), &store, 100, 0).unwrap_err();
    assert_eq!(
        err,
        ManagerError::CorruptRecord {
            channel_id: ChannelId([5; 32]),
            reason: "unknown record version"
        }
    );
    assert_eq!(err.code(), "CORRUPT_CHANNEL_RECORD");
}

#[test]
fn funding_created_reusing_a_channel_id_is_refused() {
    let mut net = Net::new(&[roomy(), roomy(), roomy()]);
    net.connect(0, 1);
    net.connect(2, 0);
    let ab = net.open(0, 1, 1, 1_000_000);
    let ab_txid = net.nodes[0].info(ab).funding_txid.unwrap();
    // C opens to A and, in its funding_created, claims A-B's funding outpoint.
    let t = net.start_open(2, 0, 2, 500_000);
    net.settle();
    net.fund(2, t, 3);
    let (to, msg) = net.nodes[2].outbox.pop_back().unwrap();
    assert_eq!(to, net.nodes[0].id);
    let Message::FundingCreated(mut fc) = msg else {
        panic!("funding_created")
    };
    fc.funding_txid = ab_txid;
    fc.funding_output_index = 0;
    let c = net.nodes[2].id;
    let acts = net.nodes[0].input(ManagerInput::PeerMessage {
        node_id: c,
        msg: Message::FundingCreated(fc),
    });
    assert!(!acts.iter().any(|a| matches!(a, ManagerAction::Persist(_))));
    assert_eq!(
        sends_to(&acts),
        vec![(c, Message::Error(ErrorMessage::new(t, "channel_id in use")))]
    );
    assert_eq!(refusals(&net.nodes[0]), vec![(t, Refusal::ChannelIdInUse)]);
    assert!(net.nodes[0].m.channel_info(&t).is_none());
    let i = net.nodes[0].info(ab);
    assert_eq!((i.state, i.node_id), ("NORMAL", net.nodes[1].id));
    assert_eq!(
        net.nodes[0].store.get(&ab).unwrap().unwrap().update_number,
        { net.nodes[0].m.channel(&ab).unwrap().update_number() }
    );
    // C's channel (already under its final id) hears the error by its
    // temporary id and forgets the opening.
    net.settle();
    assert!(net.nodes[2].m.list_channels().is_empty());
    // The user cannot reuse a temporary id either.
    let t2 = net.start_open(2, 0, 4, 500_000);
    net.settle();
    let a = net.nodes[0].id;
    let err = net.nodes[2]
        .m
        .handle(ManagerInput::OpenChannel {
            node_id: a,
            request: OpenRequest {
                temporary_channel_id: t2,
                funding: Sat(500_000),
                push: Msat(0),
                feerate: FeeratePerKw(2500),
                announce: false,
                peer_features: lnwasm_init_features(),
                our_features: lnwasm_init_features(),
                now: 1000,
            },
        })
        .unwrap_err();
    assert_eq!(err, ManagerError::ChannelIdInUse(t2));
    assert_eq!(err.code(), "CHANNEL_ID_IN_USE");
}

#[test]
fn zero_temporary_id_and_gossip_for_unknown_channels() {
    let mut net = Net::new(&[roomy(), roomy()]);
    net.connect(0, 1);
    let t = net.start_open(0, 1, 1, 500_000);
    let Some((_, Message::OpenChannel(mut open))) = net.nodes[0].outbox.pop_front() else {
        panic!("open_channel")
    };
    assert_eq!(open.temporary_channel_id, t);
    open.temporary_channel_id = ChannelId::ALL;
    let a = net.nodes[0].id;
    let acts = net.nodes[1].input(ManagerInput::PeerMessage {
        node_id: a,
        msg: Message::OpenChannel(open),
    });
    // Refused with a warning: an all-zero error would fail every channel.
    assert_eq!(
        sends_to(&acts),
        vec![(
            a,
            Message::Warning(WarningMessage::new(
                ChannelId::ALL,
                "all-zero temporary_channel_id"
            ))
        )]
    );
    assert_eq!(
        refusals(&net.nodes[1])[0].1.code(),
        "ZERO_TEMPORARY_CHANNEL_ID"
    );
    assert!(net.nodes[1].m.list_channels().is_empty());
    // announcement_signatures (type 259) for an unknown channel: ignored.
    let sig = secp256k1::ecdsa::Signature::from_compact(&[1u8; 64]).unwrap();
    let acts = net.nodes[1].input(ManagerInput::PeerMessage {
        node_id: a,
        msg: Message::AnnouncementSignatures(lnwasm::wire::AnnouncementSignatures {
            channel_id: ChannelId([3; 32]),
            short_channel_id: lnwasm::types::ShortChannelId::new(1, 1, 1).unwrap(),
            node_signature: sig,
            bitcoin_signature: sig,
        }),
    });
    assert!(acts.is_empty());
}

#[test]
fn inbound_channels_can_be_disabled() {
    let mut net = Net::new(&[roomy(), roomy()]);
    let mut c = mconfig(roomy());
    c.accept_inbound = false;
    net.nodes[1].m = ChannelManager::new(wallet(2), c, 100, 1000);
    net.connect(0, 1);
    let t = net.start_open(0, 1, 1, 500_000);
    net.settle();
    let r = refusals(&net.nodes[1]);
    assert_eq!(r, vec![(t, Refusal::InboundDisabled)]);
    assert_eq!(r[0].1.code(), "INBOUND_CHANNELS_DISABLED");
    assert_eq!(
        error_text(&net.nodes[1].sent[0].1),
        (t, "not accepting inbound channels".into())
    );
    assert!(net.nodes[0].m.list_channels().is_empty());
    // Outbound channels still work.
    net.open(1, 0, 2, 500_000);
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_batch_replays_into_a_file_store_and_loads() {
    use lnwasm::store::FileStore;
    let (mut net, ids) = three_channels();
    add_htlc(&mut net.nodes[0], ids[0], 10_000_000, 1);
    net.nodes[0].command(ids[0], Command::Sign);
    net.settle();
    let dir = std::env::temp_dir().join(format!("lnwasm-manager-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut f = FileStore::open(&dir).unwrap();
        for b in &net.nodes[0].batches {
            f.apply(b.clone()).expect("the same batches, in order");
        }
    }
    let f = FileStore::open(&dir).unwrap();
    assert_eq!(f.list().unwrap(), net.nodes[0].store.list().unwrap());
    let (m, _) = ChannelManager::load(wallet(1), mconfig(roomy()), &f, 103, 0).unwrap();
    let mut want = net.nodes[0].m.list_channels();
    for w in &mut want {
        w.link = Link::Offline;
    }
    want.sort_by_key(|i| i.channel_id);
    assert_eq!(m.list_channels(), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn spends_reach_the_channel_that_watches_them() {
    let (mut net, ids) = three_channels();
    let acts = net.nodes[0].command(ids[1], Command::ForceClose);
    let commitment = acts
        .iter()
        .find_map(|a| match a {
            ManagerAction::Publish(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    let outpoint = commitment.input[0].previous_output;
    assert!(net.nodes[1].watches.iter().any(|w| matches!(
        w,
        ManagerAction::WatchSpent { channel_id, outpoint: o } if *channel_id == ids[1] && *o == outpoint
    )));
    let before = net.nodes[1].published.len();
    let acts = net.nodes[1].input(ManagerInput::OutputSpent {
        outpoint,
        tx: commitment.clone(),
    });
    let a = net.nodes[0].id;
    assert!(acts.iter().any(|x| matches!(
        x,
        ManagerAction::Event(ManagerEvent::Channel {
            node_id,
            channel_id,
            event: Event::ForceClosed { ours: false, .. },
        }) if *node_id == a && *channel_id == ids[1]
    )));
    assert!(matches!(acts[0], ManagerAction::Persist(_)));
    assert_eq!(net.nodes[1].info(ids[1]).status, Some(Status::Closed));
    // A static_remotekey to_remote already pays our wallet script: nothing to sweep.
    assert_eq!(net.nodes[1].published.len(), before, "no to_remote sweep");
    for id in [ids[0], ids[2]] {
        assert_eq!(net.nodes[1].info(id).state, "NORMAL");
    }
    // A spend nobody watches reaches nobody.
    let mut other = outpoint;
    other.vout += 7;
    let acts = net.nodes[1].input(ManagerInput::OutputSpent {
        outpoint: other,
        tx: commitment,
    });
    assert!(acts.is_empty());
}
