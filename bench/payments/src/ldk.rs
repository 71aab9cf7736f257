//! LDK's side of the benchmark: the setup and payment loop of
//! rust-lightning's `bench_sends` (`lightning/src/ln/channelmanager.rs`,
//! `mod bench`), rebuilt on the public API of the `lightning` crate from
//! crates.io (its test utilities are not public).
//!
//! Two `ChannelManager`s, each with its own `ChainMonitor` and an in-memory
//! monitor persister, call each other's message handlers directly (no wire
//! encoding, no peer manager). The channel is opened by hand and confirmed
//! with one hand-made block. Each payment: the payee creates an inbound
//! payment for a hash, the payer routes and sends it (`send_payment`, onion
//! built by LDK), `update_add_htlc` + `commitment_signed` /
//! `revoke_and_ack` both ways, `process_pending_htlc_forwards` (the payee
//! peels the onion), `PaymentClaimable`, `claim_funds`, `PaymentClaimed`,
//! `update_fulfill_htlc` + the same dance, `PaymentSent`.
//!
//! Differences from `bench_sends`: the logger drops every record (LDK's
//! `TestLogger` formats and stores each line) and the scorer is a
//! `FixedPenaltyScorer` (as `TestScorer`, no probabilistic model), both in
//! LDK's favour; the persister keeps each serialized monitor update, as
//! lnwasm's store keeps each serialized record (`bench_sends`'s
//! `TestPersister` only notes update ids; skipping the serialization was
//! measured to make no difference beyond run-to-run noise).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::transaction::Version;
use bitcoin::{Amount, Block, CompactTarget, Network, Transaction, TxMerkleNode, TxOut};
use lightning::chain::chaininterface::{BroadcasterInterface, ConfirmationTarget, FeeEstimator};
use lightning::chain::chainmonitor::{ChainMonitor, Persist};
use lightning::chain::channelmonitor::{ChannelMonitor, ChannelMonitorUpdate};
use lightning::chain::{BestBlock, ChannelMonitorUpdateStatus, Filter, Listen};
use lightning::events::{Event, EventsProvider};
use lightning::ln::channelmanager::{
    ChainParameters, ChannelManager, PaymentId, RecipientOnionFields, Retry,
};
use lightning::ln::msgs::{
    BaseMessageHandler, ChannelMessageHandler, CommitmentUpdate, Init, MessageSendEvent,
    RevokeAndACK,
};
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::gossip::NetworkGraph;
use lightning::routing::router::{DefaultRouter, PaymentParameters, RouteParameters};
use lightning::routing::scoring::FixedPenaltyScorer;
use lightning::sign::{InMemorySigner, KeysManager, NodeSigner};
use lightning::types::features::Bolt11InvoiceFeatures;
use lightning::types::payment::{PaymentHash, PaymentPreimage};
use lightning::util::config::{MaxDustHTLCExposure, UserConfig};
use lightning::util::logger::{Logger, Record};
use lightning::util::persist::MonitorName;
use lightning::util::ser::Writeable;

use bitcoin::secp256k1::PublicKey;

/// `TEST_FINAL_CLTV` in LDK's tests.
const FINAL_CLTV: u32 = 70;
/// The amount of every payment in `bench_sends`.
const AMOUNT_MSAT: u64 = 10_000;

pub struct NoLog;
impl Logger for NoLog {
    fn log(&self, _record: Record) {}
}

pub struct Fees;
impl FeeEstimator for Fees {
    fn get_est_sat_per_1000_weight(&self, _t: ConfirmationTarget) -> u32 {
        253
    }
}

#[derive(Default)]
pub struct Broadcaster(Mutex<Vec<Transaction>>);
impl BroadcasterInterface for Broadcaster {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        self.0
            .lock()
            .unwrap()
            .extend(txs.iter().map(|t| (*t).clone()));
    }
}

/// In-memory monitor persistence: the serialized monitor when a channel is
/// created (or when LDK asks for a full write), then every serialized
/// `ChannelMonitorUpdate`, as an incremental persister writes them.
#[derive(Default)]
pub struct MemoryPersister {
    monitors: Mutex<HashMap<String, Stored>>,
}

/// A serialized monitor and the serialized updates written after it.
type Stored = (Vec<u8>, Vec<Vec<u8>>);

impl MemoryPersister {
    /// (monitors, updates) stored.
    pub fn counts(&self) -> (usize, usize) {
        let m = self.monitors.lock().unwrap();
        (m.len(), m.values().map(|(_, u)| u.len()).sum())
    }
}

impl Persist<InMemorySigner> for MemoryPersister {
    fn persist_new_channel(
        &self,
        name: MonitorName,
        monitor: &ChannelMonitor<InMemorySigner>,
    ) -> ChannelMonitorUpdateStatus {
        self.monitors
            .lock()
            .unwrap()
            .insert(name.to_string(), (monitor.encode(), Vec::new()));
        ChannelMonitorUpdateStatus::Completed
    }
    fn update_persisted_channel(
        &self,
        name: MonitorName,
        update: Option<&ChannelMonitorUpdate>,
        monitor: &ChannelMonitor<InMemorySigner>,
    ) -> ChannelMonitorUpdateStatus {
        let mut m = self.monitors.lock().unwrap();
        let e = m.entry(name.to_string()).or_default();
        match update {
            Some(u) => e.1.push(u.encode()),
            None => *e = (monitor.encode(), Vec::new()),
        }
        ChannelMonitorUpdateStatus::Completed
    }
    fn archive_persisted_channel(&self, name: MonitorName) {
        self.monitors.lock().unwrap().remove(&name.to_string());
    }
}

type Monitor = ChainMonitor<
    InMemorySigner,
    Arc<dyn Filter + Send + Sync>,
    Arc<Broadcaster>,
    Arc<Fees>,
    Arc<NoLog>,
    Arc<MemoryPersister>,
    Arc<KeysManager>,
>;
type Graph = NetworkGraph<Arc<NoLog>>;
type Router = DefaultRouter<
    Arc<Graph>,
    Arc<NoLog>,
    Arc<KeysManager>,
    Arc<RwLock<FixedPenaltyScorer>>,
    (),
    FixedPenaltyScorer,
>;
type Manager = ChannelManager<
    Arc<Monitor>,
    Arc<Broadcaster>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<Fees>,
    Arc<Router>,
    Arc<DefaultMessageRouter<Arc<Graph>, Arc<NoLog>, Arc<KeysManager>>>,
    Arc<NoLog>,
>;

struct LdkNode {
    cm: Manager,
    monitor: Arc<Monitor>,
    persister: Arc<MemoryPersister>,
    id: PublicKey,
}

fn node(seed: u8, network: Network, broadcaster: &Arc<Broadcaster>) -> LdkNode {
    let logger = Arc::new(NoLog);
    let fees = Arc::new(Fees);
    let keys = Arc::new(KeysManager::new(&[seed; 32], 42, 42, true));
    let persister = Arc::new(MemoryPersister::default());
    let chain_monitor = Arc::new(ChainMonitor::new(
        None,
        broadcaster.clone(),
        logger.clone(),
        fees.clone(),
        persister.clone(),
        keys.clone(),
        keys.get_peer_storage_key(),
    ));
    let graph = Arc::new(NetworkGraph::new(network, logger.clone()));
    let router = Arc::new(DefaultRouter::new(
        graph.clone(),
        logger.clone(),
        keys.clone(),
        Arc::new(RwLock::new(FixedPenaltyScorer::with_penalty(0))),
        (),
    ));
    let message_router = Arc::new(DefaultMessageRouter::new(graph, keys.clone()));
    let mut config = UserConfig::default();
    config.channel_config.max_dust_htlc_exposure =
        MaxDustHTLCExposure::FeeRateMultiplier(5_000_000 / 253);
    config.channel_handshake_config.minimum_depth = 1;
    let genesis = bitcoin::constants::genesis_block(network);
    let cm = ChannelManager::new(
        fees,
        chain_monitor.clone(),
        broadcaster.clone(),
        router,
        message_router,
        logger,
        keys.clone(),
        keys.clone(),
        keys,
        config,
        ChainParameters {
            network,
            best_block: BestBlock::from_network(network),
        },
        genesis.header.time,
    );
    let id = cm.get_our_node_id();
    LdkNode {
        cm,
        monitor: chain_monitor,
        persister,
        id,
    }
}

fn events(n: &LdkNode) -> Vec<Event> {
    let evs = RefCell::new(Vec::new());
    n.cm.process_pending_events(&|e: Event| {
        evs.borrow_mut().push(e);
        Ok(())
    });
    evs.into_inner()
}

fn msgs(n: &LdkNode) -> Vec<MessageSendEvent> {
    n.cm.get_and_clear_pending_msg_events()
}

/// The single message event of `n`, which must be the expected kind.
macro_rules! one_msg {
    ($n:expr, $kind:ident) => {{
        let mut m = msgs($n);
        assert_eq!(m.len(), 1, "one message expected: {m:?}");
        match m.pop() {
            Some(MessageSendEvent::$kind { msg, .. }) => msg,
            other => panic!("{} expected, got {other:?}", stringify!($kind)),
        }
    }};
}

fn updates(n: &LdkNode) -> CommitmentUpdate {
    let mut m = msgs(n);
    assert_eq!(m.len(), 1, "one message expected: {m:?}");
    match m.pop() {
        Some(MessageSendEvent::UpdateHTLCs { updates, .. }) => updates,
        other => panic!("UpdateHTLCs expected, got {other:?}"),
    }
}

/// `revoke_and_ack` then `commitment_signed`, as sent after a `commitment_signed`.
fn revoke_commit(n: &LdkNode) -> (RevokeAndACK, CommitmentUpdate) {
    let m = msgs(n);
    assert_eq!(m.len(), 2, "raa + commitment expected: {m:?}");
    let mut it = m.into_iter();
    let raa = match it.next() {
        Some(MessageSendEvent::SendRevokeAndACK { msg, .. }) => msg,
        other => panic!("raa expected, got {other:?}"),
    };
    let cu = match it.next() {
        Some(MessageSendEvent::UpdateHTLCs { updates, .. }) => updates,
        other => panic!("commitment expected, got {other:?}"),
    };
    (raa, cu)
}

/// The features of a BOLT 11 invoice from a `ChannelManager`
/// (`bolt11_invoice_features` is not public outside LDK's tests).
fn invoice_features() -> Bolt11InvoiceFeatures {
    let mut f = Bolt11InvoiceFeatures::empty();
    f.set_variable_length_onion_required();
    f.set_payment_secret_required();
    f.set_basic_mpp_optional();
    f
}

/// Two LDK nodes with one open channel, as `bench_sends` sets them up.
pub struct LdkPair {
    a: LdkNode,
    b: LdkNode,
    count: u64,
}

impl LdkPair {
    pub fn open() -> LdkPair {
        let network = Network::Testnet;
        let broadcaster = Arc::new(Broadcaster::default());
        let a = node(1, network, &broadcaster);
        let b = node(2, network, &broadcaster);
        a.cm.peer_connected(
            b.id,
            &Init {
                features: b.cm.init_features(),
                networks: None,
                remote_network_address: None,
            },
            true,
        )
        .unwrap();
        b.cm.peer_connected(
            a.id,
            &Init {
                features: a.cm.init_features(),
                networks: None,
                remote_network_address: None,
            },
            false,
        )
        .unwrap();
        a.cm.create_channel(b.id, 8_000_000, 100_000_000, 42, None, None)
            .unwrap();
        b.cm.handle_open_channel(a.id, &one_msg!(&a, SendOpenChannel));
        a.cm.handle_accept_channel(b.id, &one_msg!(&b, SendAcceptChannel));
        let ev = events(&a);
        let Some(Event::FundingGenerationReady {
            temporary_channel_id,
            output_script,
            ..
        }) = ev.into_iter().next()
        else {
            panic!("FundingGenerationReady expected")
        };
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: Vec::new(),
            output: vec![TxOut {
                value: Amount::from_sat(8_000_000),
                script_pubkey: output_script,
            }],
        };
        a.cm.funding_transaction_generated(temporary_channel_id, b.id, tx.clone())
            .unwrap();
        b.cm.handle_funding_created(a.id, &one_msg!(&a, SendFundingCreated));
        assert!(matches!(events(&b)[..], [Event::ChannelPending { .. }]));
        a.cm.handle_funding_signed(b.id, &one_msg!(&b, SendFundingSigned));
        assert!(matches!(events(&a)[..], [Event::ChannelPending { .. }]));
        assert_eq!(
            broadcaster.0.lock().unwrap()[..],
            *std::slice::from_ref(&tx)
        );

        let genesis = BestBlock::from_network(network).block_hash;
        let block = Block {
            header: Header {
                version: BlockVersion::NO_SOFT_FORK_SIGNALLING,
                prev_blockhash: genesis,
                merkle_root: TxMerkleNode::all_zeros(),
                time: 42,
                bits: CompactTarget::from_consensus(0x207fffff),
                nonce: 42,
            },
            txdata: vec![tx],
        };
        Listen::block_connected(&a.cm, &block, 1);
        Listen::block_connected(&b.cm, &block, 1);
        a.cm.handle_channel_ready(b.id, &one_msg!(&b, SendChannelReady));
        for m in msgs(&a) {
            if let MessageSendEvent::SendChannelReady { msg, .. } = m {
                b.cm.handle_channel_ready(a.id, &msg);
            }
        }
        msgs(&b);
        assert!(matches!(events(&a)[..], [Event::ChannelReady { .. }]));
        assert!(matches!(events(&b)[..], [Event::ChannelReady { .. }]));
        LdkPair { a, b, count: 0 }
    }

    /// One payment of 10 000 msat, A -> B if `a_pays`, else B -> A.
    pub fn pay(&mut self, a_pays: bool) {
        let (x, y) = if a_pays {
            (&self.a, &self.b)
        } else {
            (&self.b, &self.a)
        };
        let mut preimage = PaymentPreimage([0; 32]);
        preimage.0[0..8].copy_from_slice(&self.count.to_le_bytes());
        self.count += 1;
        let hash = PaymentHash(sha256::Hash::hash(&preimage.0).to_byte_array());
        let secret =
            y.cm.create_inbound_payment_for_hash(hash, None, 7200, None)
                .unwrap();
        let params = PaymentParameters::from_node_id(y.id, FINAL_CLTV)
            .with_bolt11_features(invoice_features())
            .unwrap();
        x.cm.send_payment(
            hash,
            RecipientOnionFields::secret_only(secret),
            PaymentId(hash.0),
            RouteParameters::from_payment_params_and_value(params, AMOUNT_MSAT),
            Retry::Attempts(0),
        )
        .unwrap();

        let add = updates(x);
        y.cm.handle_update_add_htlc(x.id, &add.update_add_htlcs[0]);
        y.cm.handle_commitment_signed(x.id, &add.commitment_signed[0]);
        let (raa, cs) = revoke_commit(y);
        x.cm.handle_revoke_and_ack(y.id, &raa);
        x.cm.handle_commitment_signed(y.id, &cs.commitment_signed[0]);
        y.cm.handle_revoke_and_ack(x.id, &one_msg!(x, SendRevokeAndACK));

        y.cm.process_pending_htlc_forwards();
        match &events(y)[..] {
            [Event::PaymentClaimable {
                payment_hash,
                amount_msat,
                ..
            }] if *payment_hash == hash && *amount_msat == AMOUNT_MSAT => {}
            other => panic!("PaymentClaimable expected, got {other:?}"),
        }
        y.cm.claim_funds(preimage);
        match &events(y)[..] {
            [Event::PaymentClaimed { payment_hash, .. }] if *payment_hash == hash => {}
            other => panic!("PaymentClaimed expected, got {other:?}"),
        }

        let mut ful = updates(y);
        x.cm.handle_update_fulfill_htlc(y.id, ful.update_fulfill_htlcs.remove(0));
        x.cm.handle_commitment_signed(y.id, &ful.commitment_signed[0]);
        let (raa, cs) = revoke_commit(x);
        y.cm.handle_revoke_and_ack(x.id, &raa);
        y.cm.handle_commitment_signed(x.id, &cs.commitment_signed[0]);
        x.cm.handle_revoke_and_ack(y.id, &one_msg!(y, SendRevokeAndACK));

        let sent = events(x).into_iter().any(|e| {
            matches!(e, Event::PaymentSent { payment_preimage, .. } if payment_preimage == preimage)
        });
        assert!(sent, "PaymentSent expected");
    }

    /// `n` payments alternating direction; returns how many completed.
    pub fn run(&mut self, n: u32) -> u32 {
        for i in 0..n {
            self.pay(i % 2 == 0);
        }
        n
    }

    /// The size of A's channel monitor, serialized (bytes).
    pub fn monitor_bytes(&self) -> usize {
        let ids = self.a.monitor.list_monitors();
        ids.first()
            .and_then(|id| self.a.monitor.get_monitor(*id).ok())
            .map_or(0, |m| m.encode().len())
    }

    /// Monitors and monitor updates stored by A and B.
    pub fn stored(&self) -> ((usize, usize), (usize, usize)) {
        (self.a.persister.counts(), self.b.persister.counts())
    }
}
