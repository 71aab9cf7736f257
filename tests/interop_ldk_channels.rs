//! lnwasm's BOLT 2 channel state machine against a real LDK node (the
//! workspace's `ldk-peer`, in process, over TCP): opening both ways with
//! both channel types (and zero-conf), `update_fee` both ways, reconnection
//! in the middle of an update (also after a crash), cooperative close
//! initiated by each side (also interrupted by a disconnection), force close
//! by each side, HTLCs both ways, and recovery from an old backup, with the
//! chain fed by hand to both (LDK checks neither proof of work nor inputs).
//!
//! The driver here (`Ln`) is deliberately small: it carries out a channel's
//! [`Action`]s in order (persist into a [`MemoryStore`] first, then send over
//! the peer connection, collect published transactions and events) and
//! hands every channel message from the peer to [`Channel::handle`].
#![cfg(not(target_arch = "wasm32"))]

#[path = "channel_harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, Witness};
use harness::funding_tx;
use ldk_peer::lightning::chain::channelmonitor::Balance;
use ldk_peer::lightning::events::{ClosureReason, Event as LdkEvent};
use ldk_peer::lightning::ln::channel_state::ChannelDetails;
use ldk_peer::lightning::ln::types::ChannelId as LdkChannelId;
use ldk_peer::lightning::util::config::UserConfig;
use ldk_peer::{Config, LdkNode};
use lnwasm::channel::{Action, Channel, ChannelConfig, Command, Event, Link, OpenRequest};
use lnwasm::keys::{ChannelKeyIndex, WalletKeys};
use lnwasm::peer::{PeerConfig, PeerEvent};
use lnwasm::store::{Batch, MemoryStore, Store};
use lnwasm::transport::tcp::{self, TcpPeer};
use lnwasm::transport::PeerUri;
use lnwasm::tx::FeeratePerKw;
use lnwasm::types::{Msat, Sat, ShortChannelId};
use lnwasm::wire::{ChannelId, ErrorMessage, Features, Message};

const T: Duration = Duration::from_secs(15);
const FUNDING: Sat = Sat(1_000_000);
/// LDK's default `minimum_depth` as fundee.
const LDK_MIN_DEPTH: u32 = 6;

fn pubkey(k: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), k)
}

fn lnwasm_peer_config() -> PeerConfig {
    let mut c = PeerConfig::new(ChainHash::REGTEST);
    c.ping_interval = None;
    c
}

/// lnwasm's side: one channel with one peer, driven by hand.
struct Ln {
    key: SecretKey,
    wallet: WalletKeys,
    config: ChannelConfig,
    peer: Option<TcpPeer>,
    peer_features: Features,
    ch: Option<Channel>,
    store: MemoryStore,
    published: Vec<Transaction>,
    /// Transactions to publish once their timelocks allow.
    published_later: Vec<Transaction>,
    events: Vec<Event>,
    sent: Vec<Message>,
    received: Vec<Message>,
    peer_errors: Vec<String>,
    /// Messages we send are lost (not written to the connection).
    mute: bool,
    /// Channel messages from the peer are lost (read and dropped).
    deaf: bool,
    /// Messages of these types we send are lost.
    lose_types: Vec<u16>,
    /// Messages of these types from the peer are lost.
    lose_in_types: Vec<u16>,
    dropped_out: Vec<Message>,
    dropped_in: Vec<Message>,
}

impl Ln {
    fn node_id(&self) -> PublicKey {
        pubkey(&self.key)
    }

    fn ch(&self) -> &Channel {
        self.ch.as_ref().expect("a channel")
    }

    /// Carries out `actions` in order; every `Persist` is applied before
    /// the messages after it leave.
    fn run(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Persist(r) => self
                    .store
                    .apply(Batch::new().put(r))
                    .expect("store accepts monotonic updates"),
                Action::Send(m) if self.mute || self.lose_types.contains(&m.msg_type()) => {
                    self.dropped_out.push(m)
                }
                Action::Send(m) => {
                    self.sent.push(m.clone());
                    if let Some(p) = &mut self.peer {
                        let _ = p.send(&m);
                    }
                }
                Action::Publish(t) => self.published.push(t),
                Action::Event(e) => self.events.push(e),
                Action::Disconnect => {
                    if let Some(p) = &mut self.peer {
                        p.disconnect();
                    }
                }
                Action::PublishLater { tx, .. } => self.published_later.push(tx),
                Action::WatchFunding { .. }
                | Action::WatchSpent { .. }
                | Action::WatchConfirmed { .. } => {}
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        let ch = self.ch.as_mut().expect("a channel");
        let actions = ch
            .handle(cmd.clone())
            .unwrap_or_else(|e| panic!("lnwasm refused {cmd:?}: {e}"));
        self.run(actions);
    }

    /// Reads from the peer for at most `wait` and processes what arrived.
    fn step(&mut self, wait: Duration) {
        let Some(p) = &mut self.peer else {
            std::thread::sleep(wait);
            return;
        };
        let mut evs = Vec::new();
        if let Some(e) = p.next_event(wait) {
            evs.push(e);
            while let Some(e) = p.next_event(Duration::ZERO) {
                evs.push(e);
            }
        }
        for e in evs {
            self.on_peer_event(e);
        }
    }

    fn on_peer_event(&mut self, e: PeerEvent) {
        match e {
            PeerEvent::Message(Message::OpenChannel(open)) if self.ch.is_none() => {
                self.received.push(Message::OpenChannel(open.clone()));
                let idx = ChannelKeyIndex::new(0).unwrap();
                let (ch, actions) = Channel::accept(
                    self.config.clone(),
                    self.wallet.channel_keys(idx).unwrap(),
                    idx,
                    &self.config.init_features(),
                    &self.peer_features,
                    &open,
                    None,
                    1_000,
                )
                .unwrap_or_else(|(e, _)| panic!("lnwasm refused LDK's open_channel: {e}"));
                self.ch = Some(ch);
                self.run(actions);
            }
            PeerEvent::Message(m) if self.deaf || self.lose_in_types.contains(&m.msg_type()) => {
                self.dropped_in.push(m)
            }
            PeerEvent::Message(m) => {
                self.received.push(m.clone());
                if self.ch.is_some() {
                    self.handle(Command::Message(m));
                }
            }
            PeerEvent::Error { channel_id, text } => {
                self.peer_errors.push(text.clone());
                if self.ch.is_some() {
                    self.handle(Command::Message(Message::Error(ErrorMessage::new(
                        channel_id, &text,
                    ))));
                }
            }
            PeerEvent::Warning { text, .. } => self.peer_errors.push(text),
            PeerEvent::Disconnected(_) => {
                self.peer = None;
                if self.ch.is_some() {
                    self.handle(Command::Disconnected);
                }
            }
            PeerEvent::Connected(_) | PeerEvent::Pong { .. } | PeerEvent::PingReceived { .. } => {}
        }
    }

    fn ready_events(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::ChannelReady { .. }))
            .count()
    }
}

/// LDK and lnwasm connected over TCP (lnwasm dials LDK), a test chain.
struct Rig {
    ln: Ln,
    ldk: LdkNode,
    /// Runs LDK's tasks; dropped last.
    _rt: tokio::runtime::Runtime,
}

impl Rig {
    /// A rig whose lnwasm negotiates anchors, so that a test picks either
    /// channel type.
    fn new(seed: u8) -> Rig {
        let mut config = ChannelConfig::new(ChainHash::REGTEST);
        config.anchors = true;
        Rig::with_config(seed, config)
    }

    fn with_config(seed: u8, config: ChannelConfig) -> Rig {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ldk = rt
            .block_on(LdkNode::start(Config {
                accept_inbound_channels: true,
                anchors: true,
                channel_tick: Duration::from_secs(3600),
                ..Config::with_seed_byte(seed)
            }))
            .expect("LDK starts");
        let key = SecretKey::from_slice(&[seed.wrapping_add(100); 32]).unwrap();
        let mut rig = Rig {
            ln: Ln {
                key,
                wallet: WalletKeys::from_seed(&[seed.wrapping_add(50); 32], Network::Regtest)
                    .unwrap(),
                config,
                peer: None,
                peer_features: Features::empty(),
                ch: None,
                store: MemoryStore::new(),
                published: vec![],
                published_later: vec![],
                events: vec![],
                sent: vec![],
                received: vec![],
                peer_errors: vec![],
                mute: false,
                deaf: false,
                lose_types: vec![],
                lose_in_types: vec![],
                dropped_out: vec![],
                dropped_in: vec![],
            },
            ldk,
            _rt: rt,
        };
        rig.connect();
        rig
    }

    /// lnwasm dials LDK; an existing channel is told it is connected.
    fn connect(&mut self) {
        let uri = PeerUri::parse(&self.ldk.uri()).unwrap();
        let mut config = lnwasm_peer_config();
        config.features = self.ln.config.init_features();
        let (peer, info) = tcp::connect(&uri, &self.ln.key, config, T).expect("connect to LDK");
        self.ln.peer_features = info.features;
        self.ln.peer = Some(peer);
        let id = self.ln.node_id();
        self.until("LDK sees lnwasm", |r| r.ldk.peer(&id).is_some());
        if self.ln.ch.is_some() {
            self.ln.handle(Command::Connected);
        }
    }

    /// Drops the TCP connection from lnwasm's side without reading what
    /// LDK may have sent meanwhile.
    fn disconnect(&mut self) {
        if let Some(mut p) = self.ln.peer.take() {
            p.disconnect();
        }
        if self.ln.ch.is_some() {
            self.ln.handle(Command::Disconnected);
        }
        let id = self.ln.node_id();
        self.until("LDK sees lnwasm leave", |r| r.ldk.peer(&id).is_none());
    }

    /// Runs both sides until `f` holds.
    fn until(&mut self, what: &str, mut f: impl FnMut(&Rig) -> bool) {
        let start = Instant::now();
        loop {
            if f(self) {
                return;
            }
            if start.elapsed() > T {
                panic!(
                    "timed out waiting for: {what}\nlnwasm state: {:?}\nlnwasm events: {:?}\nlnwasm received: {:?}\npeer errors: {:?}\nLDK events: {:?}\nLDK channels: {:?}",
                    self.ln.ch.as_ref().map(Channel::state_name),
                    self.ln.events,
                    self.ln.received,
                    self.ln.peer_errors,
                    self.ldk.ldk_events(),
                    self.ldk.channel_manager().list_channels(),
                );
            }
            self.ln.step(Duration::from_millis(10));
        }
    }

    /// Lets both sides talk for `d` (to see that nothing more happens).
    fn settle(&mut self, d: Duration) {
        let start = Instant::now();
        while start.elapsed() < d {
            self.ln.step(Duration::from_millis(10));
        }
    }

    fn ldk_channel(&self) -> ChannelDetails {
        let chans = self.ldk.channel_manager().list_channels();
        assert_eq!(chans.len(), 1, "LDK has one channel: {chans:?}");
        chans[0].clone()
    }

    fn ldk_channel_id(&self) -> LdkChannelId {
        LdkChannelId(self.ln.ch().channel_id().0)
    }

    fn ldk_event(&self, f: impl Fn(&LdkEvent) -> bool) -> Option<LdkEvent> {
        self.ldk.ldk_events().into_iter().find(|e| f(e))
    }

    /// lnwasm opens a channel to LDK and funds it (not yet confirmed).
    fn lnwasm_opens(&mut self, anchors: bool, push: Msat) -> Transaction {
        self.ln.config.anchors = anchors;
        let idx = ChannelKeyIndex::new(0).unwrap();
        let (ch, actions) = Channel::open(
            self.ln.config.clone(),
            self.ln.wallet.channel_keys(idx).unwrap(),
            idx,
            OpenRequest {
                temporary_channel_id: ChannelId([0x5a; 32]),
                funding: FUNDING,
                push,
                feerate: FeeratePerKw(1000),
                announce: false,
                peer_features: self.ln.peer_features.clone(),
                our_features: self.ln.config.init_features(),
                now: 1_000,
            },
        )
        .expect("open");
        self.ln.ch = Some(ch);
        self.ln.run(actions);
        self.until("accept_channel from LDK", |r| {
            r.ln.events
                .iter()
                .any(|e| matches!(e, Event::FundingRequired { .. }))
        });
        let Some(Event::FundingRequired {
            script_pubkey,
            amount,
            ..
        }) = self.ln.events.last().cloned()
        else {
            panic!("FundingRequired is the last event: {:?}", self.ln.events)
        };
        assert_eq!(amount, FUNDING);
        let tx = funding_tx(script_pubkey, amount, 0x11);
        self.ln.handle(Command::FundingTx {
            tx: tx.clone(),
            output_index: 0,
        });
        self.until("funding_signed from LDK", |r| !r.ln.published.is_empty());
        assert_eq!(
            self.ln.published,
            vec![tx.clone()],
            "lnwasm publishes the funding tx"
        );
        assert!(self.ln.events.contains(&Event::ChannelFunded {
            channel_id: ChannelId::from_funding_outpoint(&tx.compute_txid(), 0),
            funding_txid: tx.compute_txid(),
        }));
        self.ln.published.clear();
        tx
    }

    /// LDK opens a channel to lnwasm and funds it (not yet confirmed).
    fn ldk_opens(&mut self, push: Msat, anchors: bool) -> Transaction {
        let id = self.ln.node_id();
        let mut config = UserConfig::default();
        config
            .channel_handshake_config
            .negotiate_anchors_zero_fee_htlc_tx = anchors;
        self.ldk
            .channel_manager()
            .create_channel(id, FUNDING.0, push.0, 7, None, Some(config))
            .expect("LDK create_channel");
        self.until("FundingGenerationReady", |r| {
            r.ldk_event(|e| matches!(e, LdkEvent::FundingGenerationReady { .. }))
                .is_some()
        });
        let Some(LdkEvent::FundingGenerationReady {
            temporary_channel_id,
            counterparty_node_id,
            channel_value_satoshis,
            output_script,
            ..
        }) = self.ldk_event(|e| matches!(e, LdkEvent::FundingGenerationReady { .. }))
        else {
            unreachable!()
        };
        assert_eq!(counterparty_node_id, id);
        assert_eq!(channel_value_satoshis, FUNDING.0);
        assert_eq!(self.ln.ch().state_name(), "WAIT_FUNDING_CREATED");
        let mut tx = funding_tx(output_script, FUNDING, 0x22);
        // LDK wants signed segwit inputs; it cannot check them.
        tx.input[0].witness = Witness::from_slice(&[vec![0x30; 72], vec![0x02; 33]]);
        self.ldk
            .channel_manager()
            .funding_transaction_generated(temporary_channel_id, counterparty_node_id, tx.clone())
            .expect("LDK takes the funding tx");
        let txid = tx.compute_txid();
        self.until("LDK broadcasts the funding tx", |r| {
            r.ldk
                .broadcast_transactions()
                .iter()
                .any(|t| t.compute_txid() == txid)
        });
        assert_eq!(self.ln.ch().state_name(), "OPENING");
        assert!(self.ln.events.contains(&Event::ChannelFunded {
            channel_id: ChannelId::from_funding_outpoint(&txid, 0),
            funding_txid: txid,
        }));
        tx
    }

    /// Mines `tx` and enough blocks on top for LDK, tells lnwasm the depth,
    /// and waits until both sides are ready.
    fn confirm_and_ready(&mut self, tx: &Transaction) {
        let (tip, _) = self.ldk.best_block();
        self.ldk.mine_blocks(LDK_MIN_DEPTH, vec![tx.clone()]);
        let scid = ShortChannelId::new(tip + 1, 0, 0);
        self.ln.handle(Command::FundingDepth {
            depth: LDK_MIN_DEPTH,
            scid,
        });
        self.until("both sides ready", |r| {
            let c = r.ldk.channel_manager().list_channels();
            r.ln.ready_events() == 1 && c.len() == 1 && c[0].is_usable
        });
        let c = self.ldk_channel();
        assert!(c.is_channel_ready);
        assert_eq!(c.channel_id, self.ldk_channel_id());
        assert_eq!(
            c.funding_txo.map(|o| o.into_bitcoin_outpoint()),
            Some(OutPoint {
                txid: tx.compute_txid(),
                vout: 0
            })
        );
        assert_eq!(c.short_channel_id, scid.map(|s| s.0));
        assert_eq!(self.ln.ch().state_name(), "NORMAL");
        assert_eq!(*self.ln.ch().link(), Link::Online);
        let id = self.ldk_channel_id();
        self.until("LDK's ChannelReady event", |r| {
            r.ldk_event(
                |e| matches!(e, LdkEvent::ChannelReady { channel_id, .. } if *channel_id == id),
            )
            .is_some()
        });
        assert!(self.ln.events.contains(&Event::ChannelReady {
            channel_id: self.ln.ch().channel_id(),
            scid,
            alias: self.ln.ch().funded().unwrap().our_alias,
        }));
    }

    /// The commitment LDK publishes when it force-closes: broadcast at
    /// once, or (anchors) handed to the application in a bump event.
    fn wait_ldk_commitment(&mut self, funding: OutPoint) -> Transaction {
        use ldk_peer::lightning::events::bump_transaction::BumpTransactionEvent;
        let spends_funding = |t: &Transaction| t.input.iter().any(|i| i.previous_output == funding);
        self.until("LDK's commitment", |r| {
            r.ldk.broadcast_transactions().iter().any(spends_funding)
                || r.ldk_event(|e| matches!(e, LdkEvent::BumpTransaction(_)))
                    .is_some()
        });
        if let Some(t) = self
            .ldk
            .broadcast_transactions()
            .into_iter()
            .find(|t| spends_funding(t))
        {
            return t;
        }
        match self.ldk_event(|e| matches!(e, LdkEvent::BumpTransaction(_))) {
            Some(LdkEvent::BumpTransaction(BumpTransactionEvent::ChannelClose {
                commitment_tx,
                ..
            })) => commitment_tx,
            other => panic!("{other:?}"),
        }
    }

    /// Mines `txs` in one block (plus `extra` empty blocks) for LDK.
    fn mine(&mut self, txs: Vec<Transaction>, extra: u32) {
        self.ldk.mine_blocks(1 + extra, txs);
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(mut p) = self.ln.peer.take() {
            p.disconnect();
        }
        self.ldk.stop();
    }
}

fn check_type(c: &ChannelDetails, anchors: bool) {
    let t = c.channel_type.clone().expect("channel type");
    assert!(t.requires_static_remote_key());
    assert_eq!(t.supports_anchors_zero_fee_htlc_tx(), anchors);
    assert_eq!(t.requires_anchors_zero_fee_htlc_tx(), anchors);
}

// ---------------------------------------------------------------------------------------------
// 1. lnwasm opens

fn lnwasm_opens_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let push = Msat(100_000_000);
    let tx = r.lnwasm_opens(anchors, push);
    let c = r.ldk_channel();
    assert!(!c.is_outbound);
    assert!(!c.is_channel_ready);
    assert_eq!(c.channel_value_satoshis, FUNDING.0);
    check_type(&c, anchors);
    assert_eq!(
        r.ln.ch()
            .commitments()
            .unwrap()
            .channel_type()
            .has_anchors(),
        anchors
    );
    r.confirm_and_ready(&tx);
    let c = r.ldk_channel();
    // LDK's balance is the push; it may spend it down to the 1% reserve we impose.
    assert_eq!(c.unspendable_punishment_reserve, Some(10_000));
    assert_eq!(c.outbound_capacity_msat, push.0 - 10_000_000);
    assert_eq!(
        r.ln.ch().balances(),
        Some((Msat(FUNDING.0 * 1000 - push.0), push, Msat(0)))
    );
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

#[test]
fn lnwasm_opens_anchors_channel_to_ldk() {
    lnwasm_opens_case(11, true);
}

#[test]
fn lnwasm_opens_static_remotekey_channel_to_ldk() {
    lnwasm_opens_case(12, false);
}

// ---------------------------------------------------------------------------------------------
// 2. LDK opens

fn ldk_opens_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let push = Msat(50_000_000);
    let tx = r.ldk_opens(push, anchors);
    let c = r.ldk_channel();
    assert!(c.is_outbound);
    check_type(&c, anchors);
    let Some(Message::OpenChannel(open)) = r.ln.received.first().cloned() else {
        panic!("open_channel first: {:?}", r.ln.received)
    };
    assert_eq!(open.funding, FUNDING);
    assert_eq!(open.push, push);
    assert_eq!(
        r.ln.ch()
            .commitments()
            .unwrap()
            .channel_type()
            .has_anchors(),
        anchors
    );
    r.confirm_and_ready(&tx);
    assert_eq!(
        r.ln.ch().balances(),
        Some((push, Msat(FUNDING.0 * 1000 - push.0), Msat(0)))
    );
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

#[test]
fn ldk_opens_anchors_channel_to_lnwasm() {
    ldk_opens_case(21, true);
}

#[test]
fn ldk_opens_static_remotekey_channel_to_lnwasm() {
    ldk_opens_case(22, false);
}

/// lnwasm's default configuration does not advertise `option_anchors`, so
/// an LDK that would negotiate anchors opens a static_remotekey channel.
#[test]
fn ldk_opens_static_remotekey_channel_to_a_default_lnwasm() {
    let mut r = Rig::with_config(23, ChannelConfig::new(ChainHash::REGTEST));
    assert!(!r.ln.peer_features.is_empty());
    let tx = r.ldk_opens(Msat(0), true);
    let c = r.ldk_channel();
    check_type(&c, false);
    assert!(!r
        .ln
        .ch()
        .commitments()
        .unwrap()
        .channel_type()
        .has_anchors());
    r.confirm_and_ready(&tx);
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

// ---------------------------------------------------------------------------------------------
// 5. Cooperative close

/// Both sides agree on one closing transaction, both publish it, LDK says
/// why it closed, and confirming it ends the channel on both sides.
fn check_mutual_close(r: &mut Rig, reason: ClosureReason) {
    let id = r.ldk_channel_id();
    r.until("lnwasm agrees on a closing tx", |r| {
        r.ln.events
            .iter()
            .any(|e| matches!(e, Event::MutualClose { .. }))
    });
    let Some(Event::MutualClose { txid }) =
        r.ln.events
            .iter()
            .find(|e| matches!(e, Event::MutualClose { .. }))
            .cloned()
    else {
        unreachable!()
    };
    assert_eq!(r.ln.published.len(), 1);
    let closing = r.ln.published[0].clone();
    assert_eq!(closing.compute_txid(), txid);
    r.until("LDK broadcasts the same closing tx", |r| {
        r.ldk
            .broadcast_transactions()
            .iter()
            .any(|t| t.compute_txid() == txid)
    });
    r.until("LDK's ChannelClosed", |r| {
        r.ldk_event(
            |e| matches!(e, LdkEvent::ChannelClosed { channel_id, .. } if *channel_id == id),
        )
        .is_some()
    });
    let Some(LdkEvent::ChannelClosed {
        reason: got,
        channel_capacity_sats,
        ..
    }) = r.ldk_event(
        |e| matches!(e, LdkEvent::ChannelClosed { channel_id, .. } if *channel_id == id),
    )
    else {
        unreachable!()
    };
    assert_eq!(got, reason);
    assert_eq!(channel_capacity_sats, Some(FUNDING.0));
    assert!(r.ldk.channel_manager().list_channels().is_empty());
    assert_eq!(r.ln.ch().state_name(), "CLOSING");
    // The closing tx spends the funding output, and its outputs pay both
    // sides' shutdown scripts what they own minus the fee for the funder.
    let f = r.ln.ch().funded().unwrap();
    assert_eq!(closing.input.len(), 1);
    assert_eq!(
        closing.input[0].previous_output,
        f.c.params.funding_outpoint
    );
    let ours = f.local_shutdown.clone().unwrap();
    let theirs = f.remote_shutdown.clone().unwrap();
    assert!(closing.output.iter().any(|o| o.script_pubkey == ours));
    assert!(closing.output.iter().any(|o| o.script_pubkey == theirs));
    r.mine(vec![closing.clone()], 0);
    r.ln.handle(Command::FundingSpent { tx: closing });
    assert_eq!(r.ln.ch().state_name(), "CLOSED");
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

#[test]
fn cooperative_close_initiated_by_lnwasm() {
    let mut r = Rig::new(51);
    let tx = r.lnwasm_opens(true, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    r.ln.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    });
    check_mutual_close(
        &mut r,
        ClosureReason::CounterpartyInitiatedCooperativeClosure,
    );
}

#[test]
fn cooperative_close_initiated_by_ldk() {
    let mut r = Rig::new(52);
    let tx = r.ldk_opens(Msat(100_000_000), true);
    r.confirm_and_ready(&tx);
    let (id, node) = (r.ldk_channel_id(), r.ln.node_id());
    r.ldk
        .channel_manager()
        .close_channel(&id, &node)
        .expect("LDK close_channel");
    check_mutual_close(&mut r, ClosureReason::LocallyInitiatedCooperativeClosure);
}

// ---------------------------------------------------------------------------------------------
// 3. update_fee

/// Both sides' current commitments are at `feerate`, with no update pending.
fn check_feerate(r: &Rig, feerate: u32) {
    let c = r.ldk_channel();
    assert_eq!(c.feerate_sat_per_1000_weight, Some(feerate));
    assert!(c.is_usable);
    let cm = r.ln.ch().commitments().unwrap();
    assert_eq!(cm.local_commit.spec.feerate, FeeratePerKw(feerate));
    assert_eq!(cm.remote_commit.spec.feerate, FeeratePerKw(feerate));
    assert!(!cm.local_has_unsigned());
    assert_eq!(cm.local_commit.index, cm.remote_commit.index);
}

fn count(msgs: &[Message], f: impl Fn(&Message) -> bool) -> usize {
    msgs.iter().filter(|m| f(m)).count()
}

#[test]
fn update_fee_from_lnwasm_accepted_by_ldk() {
    update_fee_from_lnwasm_case(31, true);
}

#[test]
fn update_fee_from_lnwasm_accepted_by_ldk_static_remotekey() {
    update_fee_from_lnwasm_case(33, false);
}

fn update_fee_from_lnwasm_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let tx = r.lnwasm_opens(anchors, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    check_feerate(&r, 1000);
    r.ln.handle(Command::UpdateFee(FeeratePerKw(2500)));
    r.ln.handle(Command::Sign);
    // LDK revokes and signs back, lnwasm revokes: both at commitment #1.
    r.until("LDK's commitment at the new feerate", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.index == 1
            && cm.remote_commit.index == 1
            && r.ldk_channel().feerate_sat_per_1000_weight == Some(2500)
    });
    r.settle(Duration::from_millis(100));
    check_feerate(&r, 2500);
    assert_eq!(
        count(
            &r.ln.sent,
            |m| matches!(m, Message::UpdateFee(u) if u.feerate_per_kw == 2500)
        ),
        1
    );
    assert_eq!(
        count(&r.ln.sent, |m| matches!(m, Message::CommitmentSigned(_))),
        1
    );
    assert_eq!(
        count(&r.ln.sent, |m| matches!(m, Message::RevokeAndAck(_))),
        1
    );
    assert_eq!(
        count(&r.ln.received, |m| matches!(
            m,
            Message::CommitmentSigned(_)
        )),
        1
    );
    assert_eq!(
        count(&r.ln.received, |m| matches!(m, Message::RevokeAndAck(_))),
        1
    );
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

/// lnwasm, the funder, follows its fee estimate with `update_fee` on its
/// own: up as the estimate rises, down once it falls below half; LDK
/// accepts each.
#[test]
fn lnwasm_commitments_follow_its_fee_estimate() {
    lnwasm_commitments_follow_its_fee_estimate_case(35, false);
}

#[test]
fn lnwasm_commitments_follow_its_fee_estimate_anchors() {
    lnwasm_commitments_follow_its_fee_estimate_case(36, true);
}

fn lnwasm_commitments_follow_its_fee_estimate_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let tx = r.lnwasm_opens(anchors, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    check_feerate(&r, 1000);
    for (i, estimate) in [(1, 2600), (2, 1200)] {
        r.ln.handle(Command::FeeEstimate(FeeratePerKw(estimate)));
        r.until("both commitments at the estimate", |r| {
            let cm = r.ln.ch().commitments().unwrap();
            cm.local_commit.index == i
                && cm.remote_commit.index == i
                && r.ldk_channel().feerate_sat_per_1000_weight == Some(estimate)
        });
        r.settle(Duration::from_millis(100));
        check_feerate(&r, estimate);
    }
    // Within the band: no update.
    r.ln.handle(Command::FeeEstimate(FeeratePerKw(1300)));
    r.settle(Duration::from_millis(100));
    check_feerate(&r, 1200);
    assert_eq!(count(&r.ln.sent, |m| matches!(m, Message::UpdateFee(_))), 2);
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

#[test]
fn update_fee_from_ldk_accepted_by_lnwasm() {
    update_fee_from_ldk_case(32, true);
}

#[test]
fn update_fee_from_ldk_accepted_by_lnwasm_static_remotekey() {
    update_fee_from_ldk_case(34, false);
}

fn update_fee_from_ldk_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let tx = r.ldk_opens(Msat(100_000_000), anchors);
    r.confirm_and_ready(&tx);
    check_feerate(&r, 1000);
    r.ldk.set_feerate_sat_per_kw(3000);
    r.ldk.channel_manager().timer_tick_occurred();
    r.until("lnwasm at LDK's new feerate", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.index == 1
            && cm.remote_commit.index == 1
            && cm.local_commit.spec.feerate == FeeratePerKw(3000)
    });
    r.settle(Duration::from_millis(100));
    check_feerate(&r, 3000);
    assert_eq!(
        count(
            &r.ln.received,
            |m| matches!(m, Message::UpdateFee(u) if u.feerate_per_kw == 3000)
        ),
        1
    );
    assert_eq!(
        count(&r.ln.sent, |m| matches!(m, Message::CommitmentSigned(_))),
        1
    );
    assert_eq!(
        count(&r.ln.sent, |m| matches!(m, Message::RevokeAndAck(_))),
        1
    );
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

// ---------------------------------------------------------------------------------------------
// 6. Force close

#[test]
fn lnwasm_force_closes_and_ldk_claims_its_output() {
    use ldk_peer::lightning::sign::SpendableOutputDescriptor;
    let mut r = Rig::new(61);
    let push = Msat(100_000_000);
    let tx = r.lnwasm_opens(true, push);
    r.confirm_and_ready(&tx);
    let id = r.ldk_channel_id();
    r.ln.handle(Command::ForceClose);
    assert_eq!(r.ln.ch().state_name(), "CLOSING");
    assert_eq!(r.ln.published.len(), 1, "the commitment alone (no HTLC)");
    let commitment = r.ln.published[0].clone();
    let ctxid = commitment.compute_txid();
    assert!(r.ln.events.contains(&Event::ForceClosed {
        txid: ctxid,
        ours: true
    }));
    // The commitment is fully signed and valid against the funding output.
    commitment
        .verify(|op| {
            (op == &OutPoint {
                txid: tx.compute_txid(),
                vout: 0,
            })
                .then(|| tx.output[0].clone())
        })
        .expect("lnwasm's commitment verifies");
    // LDK's to_remote in it: the push, exactly (lnwasm, the funder, pays the fee).
    let to_ldk: Vec<usize> = commitment
        .output
        .iter()
        .enumerate()
        .filter(|(_, o)| o.value == Amount::from_sat(push.0 / 1000))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(to_ldk.len(), 1);
    let vout = to_ldk[0] as u32;

    r.mine(vec![commitment.clone()], 0);
    r.ln.handle(Command::FundingSpent {
        tx: commitment.clone(),
    });
    assert_eq!(r.ln.ch().state_name(), "CLOSED");
    r.until("LDK's ChannelClosed", |r| {
        r.ldk_event(
            |e| matches!(e, LdkEvent::ChannelClosed { channel_id, .. } if *channel_id == id),
        )
        .is_some()
    });
    let Some(LdkEvent::ChannelClosed { reason, .. }) = r.ldk_event(
        |e| matches!(e, LdkEvent::ChannelClosed { channel_id, .. } if *channel_id == id),
    ) else {
        unreachable!()
    };
    assert_eq!(reason, ClosureReason::CommitmentTxConfirmed);
    assert!(r.ldk.channel_manager().list_channels().is_empty());
    let balances = r.ldk.chain_monitor().get_claimable_balances(&[]);
    assert_eq!(balances.len(), 1, "{balances:?}");
    assert_eq!(balances[0].claimable_amount_satoshis(), push.0 / 1000);
    assert!(
        matches!(balances[0], Balance::ClaimableAwaitingConfirmations { .. }),
        "{balances:?}"
    );
    // After LDK's reorg safety delay it hands its output to the wallet.
    r.mine(vec![], 6);
    r.until("LDK's SpendableOutputs", |r| {
        r.ldk_event(|e| matches!(e, LdkEvent::SpendableOutputs { .. }))
            .is_some()
    });
    let Some(LdkEvent::SpendableOutputs {
        outputs,
        channel_id,
    }) = r.ldk_event(|e| matches!(e, LdkEvent::SpendableOutputs { .. }))
    else {
        unreachable!()
    };
    assert_eq!(channel_id, Some(id));
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let SpendableOutputDescriptor::StaticPaymentOutput(d) = &outputs[0] else {
        panic!("{outputs:?}")
    };
    assert_eq!(
        d.outpoint.into_bitcoin_outpoint(),
        OutPoint { txid: ctxid, vout }
    );
    assert_eq!(d.output, commitment.output[vout as usize]);
}

fn ldk_force_closes_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let push = Msat(100_000_000);
    let ftx = r.lnwasm_opens(anchors, push);
    r.confirm_and_ready(&ftx);
    let (id, node) = (r.ldk_channel_id(), r.ln.node_id());
    let funding_op = OutPoint {
        txid: ftx.compute_txid(),
        vout: 0,
    };
    r.ldk
        .channel_manager()
        .force_close_broadcasting_latest_txn(&id, &node, "test force close".into())
        .expect("LDK force closes");
    // LDK broadcasts its commitment (with anchors, also through a bump event).
    let theirs = r.wait_ldk_commitment(funding_op);
    // LDK told lnwasm with an `error`; lnwasm published its own commitment in turn.
    r.until("lnwasm hears LDK's error", |r| !r.ln.peer_errors.is_empty());
    let cm = r.ln.ch().commitments().unwrap().clone();
    assert_eq!(
        theirs.compute_txid(),
        cm.remote_commit.txid,
        "LDK published the commitment lnwasm knows as the peer's current one"
    );
    let before = r.ln.published.len();
    // lnwasm's own commitment (published on LDK's error) came with its delayed
    // to_local sweep; only what follows LDK's commitment counts here.
    let later_before = r.ln.published_later.len();
    let events_before = r.ln.events.len();
    r.mine(vec![theirs.clone()], 0);
    r.ln.handle(Command::FundingSpent { tx: theirs.clone() });
    assert_eq!(r.ln.ch().state_name(), "CLOSED");
    assert_eq!(
        r.ln.events[events_before..],
        [Event::ForceClosed {
            txid: theirs.compute_txid(),
            ours: false
        }]
    );
    let (ours, _, _) = r.ln.ch().balances().unwrap();
    let expected_fee = if anchors {
        1000 * 1124 / 1000 + 660
    } else {
        1000 * 724 / 1000
    };
    let default_script = ScriptBuf::new_p2wpkh(
        &bitcoin::CompressedPublicKey(r.ln.ch().keys().pubkeys().payment_basepoint.0)
            .wpubkey_hash(),
    );
    if !anchors {
        // static_remotekey: to_remote already pays lnwasm's own P2WPKH (the
        // channel's default close script), so there is nothing to sweep.
        assert_eq!(r.ln.published.len(), before, "no sweep needed");
        assert_eq!(r.ln.published_later.len(), later_before);
        let out = theirs
            .output
            .iter()
            .find(|o| o.script_pubkey == default_script)
            .expect("to_remote pays lnwasm's close script");
        // lnwasm's balance (funder) minus the commitment fee.
        assert_eq!(ours.0 / 1000 - out.value.to_sat(), expected_fee);
        return;
    }
    // anchors: to_remote has a 1-block CSV, so its sweep waits for one confirmation.
    assert_eq!(r.ln.published.len(), before, "nothing valid right away");
    assert_eq!(
        r.ln.published_later.len(),
        later_before + 1,
        "one sweep, later"
    );
    let sweep = r.ln.published_later[later_before].clone();
    assert_eq!(sweep.input.len(), 1);
    let op = sweep.input[0].previous_output;
    assert_eq!(op.txid, theirs.compute_txid());
    let spent = theirs.output[op.vout as usize].clone();
    // lnwasm's balance (funder, minus the commitment fee and the anchors).
    assert_eq!(
        ours.0 / 1000 - spent.value.to_sat(),
        expected_fee,
        "commitment fee and anchors"
    );
    assert_eq!(
        sweep.input[0].sequence,
        Sequence(1),
        "to_remote has a 1-block CSV"
    );
    assert_eq!(sweep.output[0].script_pubkey, default_script);
    assert!(sweep.output[0].value < spent.value);
    assert!(spent.value - sweep.output[0].value < Amount::from_sat(2_000));
    sweep
        .verify(|o| (o == &op).then(|| spent.clone()))
        .expect("lnwasm's sweep of its to_remote verifies");
}

#[test]
fn ldk_force_closes_and_lnwasm_sweeps_anchors() {
    ldk_force_closes_case(62, true);
}

#[test]
fn ldk_force_closes_and_lnwasm_sweeps_static_remotekey() {
    ldk_force_closes_case(63, false);
}

// ---------------------------------------------------------------------------------------------
// 4. channel_reestablish in the middle of an update

/// lnwasm (funder) sends update_fee + commitment_signed; what happens next
/// is lost according to `lose`; then reconnection (and, with `crash`,
/// lnwasm restarting from its store) must converge.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lose {
    /// LDK's revoke_and_ack and commitment_signed never reach lnwasm.
    TheirReply,
    /// Our update_fee and commitment_signed never reach LDK.
    OurUpdate,
}

fn reestablish_case(seed: u8, lose: Lose, crash: bool) {
    let mut r = Rig::new(seed);
    let tx = r.lnwasm_opens(true, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    let id = r.ldk_channel_id();
    match lose {
        Lose::TheirReply => r.ln.deaf = true,
        Lose::OurUpdate => r.ln.mute = true,
    }
    r.ln.handle(Command::UpdateFee(FeeratePerKw(2500)));
    r.ln.handle(Command::Sign);
    match lose {
        Lose::TheirReply => {
            r.until(
                "LDK's revoke_and_ack and commitment_signed (dropped)",
                |r| {
                    count(&r.ln.dropped_in, |m| matches!(m, Message::RevokeAndAck(_))) == 1
                        && count(&r.ln.dropped_in, |m| {
                            matches!(m, Message::CommitmentSigned(_))
                        }) == 1
                },
            );
        }
        Lose::OurUpdate => {
            assert_eq!(r.ln.dropped_out.len(), 2);
            assert!(matches!(r.ln.dropped_out[0], Message::UpdateFee(_)));
            assert!(matches!(r.ln.dropped_out[1], Message::CommitmentSigned(_)));
        }
    }
    let cm = r.ln.ch().commitments().unwrap();
    assert_eq!((cm.local_commit.index, cm.remote_commit.index), (0, 0));
    r.disconnect();
    r.ln.deaf = false;
    r.ln.mute = false;
    if crash {
        let rec =
            r.ln.store
                .get(&r.ln.ch().channel_id())
                .unwrap()
                .expect("stored");
        assert_eq!(rec.update_number, r.ln.ch().update_number());
        let restored = Channel::restore(&rec, &r.ln.wallet, r.ln.config.clone()).expect("restore");
        assert_eq!(*restored.link(), Link::Offline);
        r.ln.ch = Some(restored);
    }
    let (sent, received) = (r.ln.sent.len(), r.ln.received.len());
    r.connect();
    r.until("both sides at the new feerate", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.index == 1
            && cm.remote_commit.index == 1
            && *r.ln.ch().link() == Link::Online
            && r.ldk_channel().feerate_sat_per_1000_weight == Some(2500)
            && r.ldk_channel().is_usable
    });
    r.settle(Duration::from_millis(100));
    check_feerate(&r, 2500);
    // Message types, leaving out LDK's channel_update (258) for the private channel.
    let kinds = |ms: &[Message]| {
        ms.iter()
            .map(|m| m.msg_type())
            .filter(|t| *t != 258)
            .collect::<Vec<_>>()
    };
    let (re, ready, fee, cs, raa) = (136u16, 36u16, 134u16, 132u16, 133u16);
    // What lnwasm sent after reconnecting, and what LDK sent back.
    let sent_now = kinds(&r.ln.sent[sent..]);
    let received_now = kinds(&r.ln.received[received..]);
    match lose {
        Lose::TheirReply => {
            assert_eq!(sent_now, vec![re, raa]);
            assert_eq!(received_now, vec![re, raa, cs]);
        }
        Lose::OurUpdate => {
            // Neither side has received a commitment_signed since the
            // funding: BOLT 2 says to retransmit channel_ready.
            assert_eq!(sent_now, vec![re, ready, fee, cs, raa]);
            assert_eq!(received_now, vec![re, ready, raa, cs]);
        }
    }
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
    // Still usable: another fee update goes through.
    r.ln.handle(Command::UpdateFee(FeeratePerKw(1500)));
    r.ln.handle(Command::Sign);
    r.until("second update", |r| {
        r.ldk_channel().feerate_sat_per_1000_weight == Some(1500)
            && r.ln.ch().commitments().unwrap().local_commit.index == 2
    });
    r.settle(Duration::from_millis(100));
    check_feerate(&r, 1500);
    assert!(r
        .ldk_event(|e| matches!(e, LdkEvent::ChannelClosed { channel_id, .. } if *channel_id == id))
        .is_none());
}

#[test]
fn reestablish_after_losing_ldks_revoke_and_ack() {
    reestablish_case(41, Lose::TheirReply, false);
}

#[test]
fn reestablish_after_losing_ldks_revoke_and_ack_and_restoring_from_store() {
    reestablish_case(42, Lose::TheirReply, true);
}

#[test]
fn reestablish_after_losing_our_update_and_restoring_from_store() {
    reestablish_case(43, Lose::OurUpdate, true);
}

/// LDK (funder) sends update_fee + commitment_signed, lnwasm's
/// revoke_and_ack + commitment_signed are lost: on reconnection lnwasm
/// sends them again, in the right order.
#[test]
fn reestablish_after_losing_our_reply_to_ldks_update_fee() {
    ldk_update_interrupted_case(44, false, false);
}

/// LDK's update_fee and commitment_signed never reach lnwasm: LDK sends
/// them again after the reestablish.
#[test]
fn reestablish_after_losing_ldks_update_fee() {
    ldk_update_interrupted_case(45, true, false);
}

/// As above, lnwasm crashing before its answer left: restarted from its
/// store, it sends the same revoke_and_ack and commitment_signed again.
#[test]
fn reestablish_after_losing_our_reply_to_ldks_update_fee_and_restoring_from_store() {
    ldk_update_interrupted_case(46, false, true);
}

fn ldk_update_interrupted_case(seed: u8, lose_theirs: bool, crash: bool) {
    let mut r = Rig::new(seed);
    let tx = r.ldk_opens(Msat(100_000_000), true);
    r.confirm_and_ready(&tx);
    if lose_theirs {
        r.ln.deaf = true;
    } else {
        r.ln.mute = true;
    }
    r.ldk.set_feerate_sat_per_kw(3000);
    r.ldk.channel_manager().timer_tick_occurred();
    if lose_theirs {
        let lost = |r: &Rig| {
            r.ln.dropped_in
                .iter()
                .map(|m| m.msg_type())
                .filter(|t| *t != 258)
                .collect::<Vec<_>>()
        };
        r.until("LDK's update (lost)", |r| lost(r).len() == 2);
        assert_eq!(lost(&r), vec![134, 132]);
    } else {
        r.until("lnwasm's answer (lost)", |r| r.ln.dropped_out.len() == 2);
        assert!(matches!(r.ln.dropped_out[0], Message::RevokeAndAck(_)));
        assert!(matches!(r.ln.dropped_out[1], Message::CommitmentSigned(_)));
    }
    r.disconnect();
    r.ln.mute = false;
    r.ln.deaf = false;
    if crash {
        let rec = r.ln.store.get(&r.ln.ch().channel_id()).unwrap().unwrap();
        r.ln.ch = Some(Channel::restore(&rec, &r.ln.wallet, r.ln.config.clone()).unwrap());
    }
    let lost = r.ln.dropped_out.clone();
    let sent = r.ln.sent.len();
    let received = r.ln.received.len();
    r.connect();
    r.until("both sides at LDK's feerate", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.index == 1
            && cm.remote_commit.index == 1
            && r.ldk_channel().feerate_sat_per_1000_weight == Some(3000)
            && r.ldk_channel().is_usable
    });
    r.settle(Duration::from_millis(100));
    check_feerate(&r, 3000);
    let kinds = |ms: &[Message]| {
        ms.iter()
            .map(|m| m.msg_type())
            .filter(|t| *t != 258)
            .collect::<Vec<_>>()
    };
    if lose_theirs {
        assert_eq!(
            kinds(&r.ln.received[received..]),
            vec![136, 36, 134, 132, 133]
        );
        // channel_ready again: neither side had a commitment_signed since the funding.
        assert_eq!(kinds(&r.ln.sent[sent..]), vec![136, 36, 133, 132]);
    } else {
        assert_eq!(kinds(&r.ln.received[received..]), vec![136, 133]);
        assert_eq!(kinds(&r.ln.sent[sent..]), vec![136, 133, 132]);
        // Exactly the lost messages (same secret, same signatures).
        assert_eq!(r.ln.sent[sent + 1..sent + 3], lost[..]);
    }
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

// ---------------------------------------------------------------------------------------------
// HTLCs: a payment from LDK that lnwasm settles, and an HTLC from lnwasm that
// LDK fails (lnwasm has no onion of its own here), so that both sides check
// each other's HTLC signatures.

fn ldk_pays_lnwasm_case(seed: u8, anchors: bool, amount: u64) {
    use ldk_peer::lightning::ln::channelmanager::{PaymentId, RecipientOnionFields};
    use ldk_peer::lightning::routing::router::{Path, Route, RouteHop};
    use ldk_peer::lightning::types::features::{ChannelFeatures, NodeFeatures};
    use ldk_peer::lightning::types::payment::{PaymentHash, PaymentPreimage, PaymentSecret};
    let mut r = Rig::new(seed);
    let tx = r.ldk_opens(Msat(0), anchors);
    r.confirm_and_ready(&tx);
    let preimage = lnwasm::wire::PaymentPreimage([0x77; 32]);
    let hash = preimage.payment_hash();
    let c = r.ldk_channel();
    let route = Route {
        paths: vec![Path {
            hops: vec![RouteHop {
                pubkey: r.ln.node_id(),
                node_features: NodeFeatures::empty(),
                short_channel_id: c.get_outbound_payment_scid().expect("scid"),
                channel_features: ChannelFeatures::empty(),
                fee_msat: amount,
                cltv_expiry_delta: 40,
                maybe_announced_channel: false,
            }],
            blinded_tail: None,
        }],
        route_params: None,
    };
    r.ldk
        .channel_manager()
        .send_payment_with_route(
            route,
            PaymentHash(hash.0),
            RecipientOnionFields::secret_only(PaymentSecret([9; 32])),
            PaymentId([1; 32]),
        )
        .expect("LDK sends");
    r.until("lnwasm receives the HTLC", |r| {
        r.ln.events
            .iter()
            .any(|e| matches!(e, Event::HtlcReceived(_)))
    });
    let Some(Event::HtlcReceived(add)) =
        r.ln.events
            .iter()
            .find(|e| matches!(e, Event::HtlcReceived(_)))
            .cloned()
    else {
        unreachable!()
    };
    let (tip, _) = r.ldk.best_block();
    // LDK counts the final hop's delta from the next block.
    assert_eq!(
        (add.id, add.amount, add.payment_hash, add.cltv_expiry),
        (0, Msat(amount), hash, tip + 1 + 40)
    );
    assert_eq!(r.ln.ch().balances().unwrap().2, Msat(amount));
    // The HTLC as an output (with its second-stage transaction) on each
    // side's commitment: trimmed below each side's own dust threshold.
    let cm = r.ln.ch().commitments().unwrap();
    let ours = cm
        .local_tx(
            r.ln.ch().keys(),
            cm.local_commit.index,
            &cm.local_commit.spec,
        )
        .unwrap();
    let theirs = cm.remote_tx(&cm.remote_commit).unwrap();
    let untrimmed = |a: u64| {
        let (dust, fee) = if anchors { (546, 0) } else { (546, 703) };
        let (ldk_dust, ldk_fee) = if anchors { (354, 0) } else { (354, 663) };
        (a / 1000 >= dust + fee, a / 1000 >= ldk_dust + ldk_fee)
    };
    assert_eq!(
        (
            ours.htlc_txs().unwrap().len() == 1,
            theirs.htlc_txs().unwrap().len() == 1
        ),
        untrimmed(amount)
    );
    assert_eq!(
        cm.local_commit.htlc_sigs.len(),
        ours.htlc_txs().unwrap().len()
    );
    r.ln.handle(Command::FulfillHtlc { id: 0, preimage });
    r.ln.handle(Command::Sign);
    r.until("LDK's PaymentSent", |r| {
        r.ldk_event(|e| matches!(e, LdkEvent::PaymentSent { .. }))
            .is_some()
    });
    let Some(LdkEvent::PaymentSent {
        payment_preimage,
        amount_msat,
        ..
    }) = r.ldk_event(|e| matches!(e, LdkEvent::PaymentSent { .. }))
    else {
        unreachable!()
    };
    assert_eq!(payment_preimage, PaymentPreimage(preimage.0));
    assert_eq!(amount_msat, Some(amount));
    r.until("commitments settle", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.spec.htlcs.is_empty()
            && cm.remote_commit.spec.htlcs.is_empty()
            && r.ldk_channel().pending_outbound_htlcs.is_empty()
    });
    r.settle(Duration::from_millis(100));
    assert_eq!(
        r.ln.ch().balances(),
        Some((Msat(amount), Msat(FUNDING.0 * 1000 - amount), Msat(0)))
    );
    assert_eq!(
        r.ldk_channel().inbound_capacity_msat,
        amount - 10_000_000u64.min(amount)
    );
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

#[test]
fn ldk_pays_lnwasm_anchors() {
    ldk_pays_lnwasm_case(71, true, 5_000_000);
}

/// 400 sat: above LDK's dust limit (354), below lnwasm's (546): the HTLC
/// is an output on LDK's commitment only.
#[test]
fn ldk_pays_lnwasm_htlc_trimmed_on_one_side_anchors() {
    ldk_pays_lnwasm_case(77, true, 400_000);
}

/// 1100 sat without anchors: LDK's commitment keeps it (354 + 663 for the
/// HTLC-timeout fee at 1000 sat/kw), lnwasm's trims it (546 + 703).
#[test]
fn ldk_pays_lnwasm_htlc_trimmed_on_one_side_static_remotekey() {
    ldk_pays_lnwasm_case(78, false, 1_100_000);
}

#[test]
fn ldk_pays_lnwasm_static_remotekey() {
    ldk_pays_lnwasm_case(72, false, 5_000_000);
}

fn lnwasm_htlc_failed_by_ldk_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let tx = r.lnwasm_opens(anchors, Msat(0));
    r.confirm_and_ready(&tx);
    let (tip, _) = r.ldk.best_block();
    let hash = lnwasm::wire::PaymentPreimage([0x55; 32]).payment_hash();
    r.ln.handle(Command::AddHtlc {
        amount: Msat(7_000_000),
        payment_hash: hash,
        cltv_expiry: tip + 50,
        onion: lnwasm::wire::OnionPacket(Box::new([0u8; lnwasm::wire::ONION_PACKET_LEN])),
    });
    r.ln.handle(Command::Sign);
    r.until("LDK fails the HTLC", |r| {
        r.ln.events
            .iter()
            .any(|e| matches!(e, Event::HtlcFailedMalformed { id: 0, .. }))
    });
    r.until("commitments settle", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.spec.htlcs.is_empty()
            && cm.remote_commit.spec.htlcs.is_empty()
            && cm.local_commit.index == cm.remote_commit.index
    });
    r.settle(Duration::from_millis(100));
    // An onion LDK cannot read is failed as malformed.
    assert_eq!(
        count(&r.ln.received, |m| matches!(
            m,
            Message::UpdateFailMalformedHtlc(_)
        )),
        1
    );
    let Some(Message::UpdateFailMalformedHtlc(m)) =
        r.ln.received
            .iter()
            .find(|m| matches!(m, Message::UpdateFailMalformedHtlc(_)))
            .cloned()
    else {
        unreachable!()
    };
    assert_eq!(m.id, 0);
    assert_eq!(m.failure_code & 0x8000, 0x8000, "BADONION");
    assert_eq!(
        r.ln.ch().balances(),
        Some((Msat(FUNDING.0 * 1000), Msat(0), Msat(0)))
    );
    assert!(r.ldk_channel().is_usable);
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

#[test]
fn lnwasm_htlc_failed_by_ldk_anchors() {
    lnwasm_htlc_failed_by_ldk_case(73, true);
}

#[test]
fn lnwasm_htlc_failed_by_ldk_static_remotekey() {
    lnwasm_htlc_failed_by_ldk_case(74, false);
}

/// LDK, the funder, wants a closing fee well above lnwasm's estimate: the
/// fee is LDK's money, so lnwasm (fundee) agrees to it.
#[test]
fn cooperative_close_with_funder_paying_more_than_lnwasm_estimates() {
    let mut r = Rig::new(53);
    let tx = r.ldk_opens(Msat(100_000_000), true);
    r.confirm_and_ready(&tx);
    r.ln.handle(Command::FeeEstimate(FeeratePerKw(1000)));
    r.ldk.set_feerate_sat_per_kw(5000);
    let (id, node) = (r.ldk_channel_id(), r.ln.node_id());
    r.ldk
        .channel_manager()
        .close_channel(&id, &node)
        .expect("LDK close_channel");
    check_mutual_close(&mut r, ClosureReason::LocallyInitiatedCooperativeClosure);
    // lnwasm took LDK's first proposal as it was.
    let Some(Message::ClosingSigned(first)) =
        r.ln.received
            .iter()
            .find(|m| matches!(m, Message::ClosingSigned(_)))
            .cloned()
    else {
        panic!("LDK sent closing_signed")
    };
    let closing = &r.ln.published[0];
    let total: u64 = closing.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(FUNDING.0 - total, first.fee.0);
    assert_eq!(
        count(&r.ln.received, |m| matches!(m, Message::ClosingSigned(_))),
        1
    );
}

/// The connection drops in the middle of the fee negotiation (lnwasm's
/// first closing_signed is lost): on reconnection both sides send
/// shutdown again and the negotiation restarts (BOLT 2).
#[test]
fn cooperative_close_restarts_after_reconnection() {
    let mut r = Rig::new(54);
    let tx = r.lnwasm_opens(true, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    r.ln.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    });
    r.ln.mute = true;
    r.until("lnwasm's closing_signed (lost)", |r| {
        r.ln.dropped_out
            .iter()
            .any(|m| matches!(m, Message::ClosingSigned(_)))
    });
    assert_eq!(r.ln.ch().state_name(), "NEGOTIATING");
    r.disconnect();
    r.ln.mute = false;
    r.connect();
    check_mutual_close(
        &mut r,
        ClosureReason::CounterpartyInitiatedCooperativeClosure,
    );
}

/// lnwasm (fundee) agrees to LDK's closing fee and publishes, but its
/// closing_signed is lost: LDK restarts the negotiation on reconnection and
/// both end with the same closing transaction.
#[test]
fn cooperative_close_completes_after_losing_our_final_closing_signed() {
    let mut r = Rig::new(55);
    let tx = r.ldk_opens(Msat(100_000_000), true);
    r.confirm_and_ready(&tx);
    r.ln.lose_types = vec![39];
    let (id, node) = (r.ldk_channel_id(), r.ln.node_id());
    r.ldk
        .channel_manager()
        .close_channel(&id, &node)
        .expect("LDK close_channel");
    r.until("lnwasm agrees (its closing_signed is lost)", |r| {
        !r.ln.dropped_out.is_empty()
    });
    assert_eq!(r.ln.ch().state_name(), "CLOSING");
    r.disconnect();
    r.ln.lose_types.clear();
    r.connect();
    check_mutual_close(&mut r, ClosureReason::LocallyInitiatedCooperativeClosure);
}

/// lnwasm comes back from an old backup: LDK's channel_reestablish proves
/// it (option_data_loss_protect), lnwasm stops without publishing its
/// (revoked) commitment and asks LDK to close; LDK publishes its own
/// commitment, in which lnwasm finds and sweeps its output.
#[test]
fn lnwasm_restored_from_an_old_backup_gets_its_funds_from_ldks_commitment() {
    old_backup_case(81, false);
}

#[test]
fn lnwasm_restored_from_an_old_backup_gets_its_funds_from_ldks_commitment_anchors() {
    old_backup_case(82, true);
}

fn old_backup_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let tx = r.lnwasm_opens(anchors, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    let id = r.ln.ch().channel_id();
    let old = r.ln.store.get(&id).unwrap().unwrap();
    for (i, fee) in [2000u32, 3000].into_iter().enumerate() {
        r.ln.handle(Command::UpdateFee(FeeratePerKw(fee)));
        r.ln.handle(Command::Sign);
        r.until("fee update", |r| {
            r.ln.ch().commitments().unwrap().local_commit.index == i as u64 + 1
                && r.ldk_channel().feerate_sat_per_1000_weight == Some(fee)
        });
    }
    r.settle(Duration::from_millis(100));
    let (ours, _, _) = r.ln.ch().balances().unwrap();
    r.disconnect();
    // The backup replaces the store and the channel.
    r.ln.store = MemoryStore::new();
    r.ln.store.apply(Batch::new().put(old.clone())).unwrap();
    r.ln.ch = Some(Channel::restore(&old, &r.ln.wallet, r.ln.config.clone()).unwrap());
    r.connect();
    r.until("lnwasm learns it is behind", |r| {
        r.ln.events
            .iter()
            .any(|e| matches!(e, Event::DataLoss { .. }))
    });
    assert_eq!(r.ln.ch().state_name(), "WAITING_FOR_REMOTE_CLOSE");
    assert!(
        r.ln.published.is_empty(),
        "never publish a revoked commitment"
    );
    let funding_op = OutPoint {
        txid: tx.compute_txid(),
        vout: 0,
    };
    let theirs = r.wait_ldk_commitment(funding_op);
    r.ln.handle(Command::FundingSpent { tx: theirs.clone() });
    assert_eq!(r.ln.ch().state_name(), "CLOSED");
    // Our balance on LDK's commitment: ours minus the commitment fee (we are the funder).
    let commit_fee = if anchors {
        3000 * 1124 / 1000 + 660
    } else {
        3000 * 724 / 1000
    };
    assert!(r.ln.published.is_empty(), "nothing valid at once");
    let our_script = ScriptBuf::new_p2wpkh(
        &bitcoin::CompressedPublicKey(r.ln.ch().keys().pubkeys().payment_basepoint.0)
            .wpubkey_hash(),
    );
    if !anchors {
        // static_remotekey: our output already pays our own P2WPKH.
        assert!(r.ln.published_later.is_empty(), "nothing to sweep");
        let out = theirs
            .output
            .iter()
            .find(|o| o.script_pubkey == our_script)
            .expect("our output on LDK's commitment");
        assert_eq!(out.value.to_sat(), ours.0 / 1000 - commit_fee);
        return;
    }
    assert_eq!(
        r.ln.published_later.len(),
        1,
        "a sweep of our output after its CSV: {:?}",
        r.ln.events
    );
    let sweep = r.ln.published_later[0].clone();
    let op = sweep.input[0].previous_output;
    assert_eq!(op.txid, theirs.compute_txid());
    let spent = theirs.output[op.vout as usize].clone();
    assert_eq!(spent.value.to_sat(), ours.0 / 1000 - commit_fee);
    assert_eq!(sweep.input[0].sequence, Sequence(1));
    assert_eq!(sweep.output[0].script_pubkey, our_script);
    sweep
        .verify(|o| (o == &op).then(|| spent.clone()))
        .expect("the sweep verifies");
}

/// Zero-conf with scid aliases: LDK accepts lnwasm's channel as a trusted
/// zero-conf channel; both are ready before any confirmation and each
/// side knows the other's alias.
#[test]
fn lnwasm_opens_zero_conf_channel_to_ldk() {
    let mut r = Rig::new(91);
    r.ldk.set_trust_zero_conf(true);
    r.ln.config.zero_conf = true;
    r.lnwasm_opens(true, Msat(100_000_000));
    r.until("both sides ready without confirmations", |r| {
        let c = r.ldk.channel_manager().list_channels();
        r.ln.ready_events() == 1 && c.len() == 1 && c[0].is_usable
    });
    let c = r.ldk_channel();
    let t = c.channel_type.clone().unwrap();
    assert!(t.requires_zero_conf() && t.requires_scid_privacy());
    assert_eq!(c.confirmations_required, Some(0));
    assert_eq!(c.short_channel_id, None);
    let f = r.ln.ch().funded().unwrap();
    assert!(f.zero_conf);
    assert_eq!(f.scid, None);
    assert_eq!(c.inbound_scid_alias, f.our_alias.map(|a| a.0));
    assert_eq!(c.outbound_scid_alias, f.their_alias.map(|a| a.0));
    assert!(f.our_alias.is_some() && f.their_alias.is_some());
    assert!(r.ln.events.contains(&Event::ChannelReady {
        channel_id: r.ln.ch().channel_id(),
        scid: None,
        alias: f.our_alias,
    }));
    assert_eq!(r.ln.ch().state_name(), "NORMAL");
    assert!(r.ln.peer_errors.is_empty(), "{:?}", r.ln.peer_errors);
}

/// lnwasm force-closes with an HTLC it offered still pending: its
/// commitment and its HTLC-timeout transaction (carrying LDK's HTLC
/// signature) are valid by consensus rules, and LDK sees the commitment.
fn lnwasm_force_closes_with_htlc_case(seed: u8, anchors: bool) {
    let mut r = Rig::new(seed);
    let tx = r.lnwasm_opens(anchors, Msat(0));
    r.confirm_and_ready(&tx);
    let id = r.ldk_channel_id();
    // LDK's failure of the HTLC (it cannot read the onion) never arrives.
    r.ln.lose_in_types = vec![131, 135];
    let (tip, _) = r.ldk.best_block();
    let amount = Msat(20_000_000);
    r.ln.handle(Command::AddHtlc {
        amount,
        payment_hash: lnwasm::wire::PaymentPreimage([0x66; 32]).payment_hash(),
        cltv_expiry: tip + 50,
        onion: lnwasm::wire::OnionPacket(Box::new([0u8; lnwasm::wire::ONION_PACKET_LEN])),
    });
    r.ln.handle(Command::Sign);
    r.until("the HTLC is on both commitments", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.spec.htlcs.len() == 1
            && cm.remote_commit.spec.htlcs.len() == 1
            && !r.ln.dropped_in.is_empty()
    });
    // LDK's commitment_signed for the (lost) failure may still be on its
    // way: it is lost too, so that lnwasm's force close is what LDK sees.
    r.ln.lose_in_types.push(132);
    r.ln.handle(Command::ForceClose);
    // The commitment at once; the HTLC-timeout waits for its nLockTime (and
    // the delayed sweeps for the CSV), so they come as PublishLater.
    assert_eq!(r.ln.published.len(), 1, "commitment");
    let commitment = r.ln.published[0].clone();
    let spends_commitment =
        |t: &&Transaction| t.input[0].previous_output.txid == commitment.compute_txid();
    let timeouts: Vec<Transaction> =
        r.ln.published_later
            .iter()
            .filter(spends_commitment)
            .filter(|t| t.lock_time.to_consensus_u32() != 0)
            .cloned()
            .collect();
    assert_eq!(timeouts.len(), 1, "one HTLC-timeout");
    let timeout = timeouts[0].clone();
    let funding_op = OutPoint {
        txid: tx.compute_txid(),
        vout: 0,
    };
    commitment
        .verify(|op| (op == &funding_op).then(|| tx.output[0].clone()))
        .expect("commitment verifies");
    let htlc_op = timeout.input[0].previous_output;
    assert_eq!(htlc_op.txid, commitment.compute_txid());
    let htlc_out = commitment.output[htlc_op.vout as usize].clone();
    assert_eq!(htlc_out.value.to_sat(), amount.0 / 1000);
    assert_eq!(timeout.lock_time.to_consensus_u32(), tip + 50);
    timeout
        .verify(|op| (op == &htlc_op).then(|| htlc_out.clone()))
        .expect("HTLC-timeout with LDK's signature verifies");
    r.mine(vec![commitment.clone()], 0);
    r.until("LDK's ChannelClosed", |r| {
        // CommitmentTxConfirmed; or, when lnwasm's `error` (sent on force
        // close) got there first, CounterpartyForceClosed.
        r.ldk_event(|e| matches!(e, LdkEvent::ChannelClosed { channel_id, reason: ClosureReason::CommitmentTxConfirmed | ClosureReason::CounterpartyForceClosed { .. }, .. } if *channel_id == id))
            .is_some()
    });
}

#[test]
fn lnwasm_force_closes_with_pending_htlc_anchors() {
    lnwasm_force_closes_with_htlc_case(75, true);
}

#[test]
fn lnwasm_force_closes_with_pending_htlc_static_remotekey() {
    lnwasm_force_closes_with_htlc_case(76, false);
}

/// lnwasm starts a cooperative close while its HTLC is pending: LDK fails
/// the HTLC during the shutdown, and the fee negotiation starts once both
/// commitments are clean.
#[test]
fn cooperative_close_waits_for_pending_htlc() {
    let mut r = Rig::new(56);
    let tx = r.lnwasm_opens(true, Msat(100_000_000));
    r.confirm_and_ready(&tx);
    let (tip, _) = r.ldk.best_block();
    r.ln.handle(Command::AddHtlc {
        amount: Msat(20_000_000),
        payment_hash: lnwasm::wire::PaymentPreimage([0x44; 32]).payment_hash(),
        cltv_expiry: tip + 50,
        onion: lnwasm::wire::OnionPacket(Box::new([0u8; lnwasm::wire::ONION_PACKET_LEN])),
    });
    r.ln.handle(Command::Sign);
    r.until("the HTLC is on both commitments", |r| {
        let cm = r.ln.ch().commitments().unwrap();
        cm.local_commit.spec.htlcs.len() == 1 && cm.remote_commit.spec.htlcs.len() == 1
    });
    r.ln.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    });
    check_mutual_close(
        &mut r,
        ClosureReason::CounterpartyInitiatedCooperativeClosure,
    );
    assert!(r
        .ln
        .events
        .iter()
        .any(|e| matches!(e, Event::HtlcFailedMalformed { id: 0, .. })));
    // The HTLC failed back: the closing tx pays the push to LDK.
    let closing = &r.ln.published[0];
    assert!(closing.output.iter().any(|o| o.value.to_sat() == 100_000));
}
