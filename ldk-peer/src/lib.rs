//! `ldk-peer`: an in-memory [LDK](https://lightningdevkit.org) node used as the independent
//! implementation in lnwasm's interop tests. Test tool only: nothing here is ever linked into the
//! wasm crate.
//!
//! [`LdkNode::start`] builds a complete LDK node (keys, chain monitor, channel manager, router,
//! peer manager), listens for BOLT 8 connections on 127.0.0.1 and drives LDK from a background
//! tokio task. Nothing is persisted and no chain source is attached: blocks are fed by hand with
//! [`LdkNode::connect_block`] / [`LdkNode::mine_blocks`].
//!
//! # What can be observed
//! - Peers: [`LdkNode::list_peers`] lists peers whose `init` LDK has received, with the features
//!   they sent. [`NodeEvent::PeerConnected`] / [`NodeEvent::PeerDisconnected`] are recorded from
//!   LDK's own message-handler callbacks (a custom message handler that handles no messages).
//! - Pings: LDK offers no API to send one ping or to read pongs. It sends
//!   `ping(num_pong_bytes=0, 64 bytes of padding)` to every peer on each
//!   `PeerManager::timer_tick_occurred` (see [`Config::peer_tick`]) unless it is still waiting for
//!   a pong, and at the next tick disconnects a peer that sent nothing since. It answers every
//!   ping whose `num_pong_bytes < 65532`. [`LdkNode::ping_peers`] runs a tick now, and
//!   [`LdkNode::ping_stats`] counts pings/pongs in each direction, read from LDK's trace log lines
//!   ("Received message Ping(..) from ..", "Enqueueing message Pong { .. } to ..").
//! - LDK [`Event`]s are recorded as [`NodeEvent::Ldk`] (see [`LdkNode::events`],
//!   [`LdkNode::subscribe`], [`LdkNode::wait_for_event`]).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, CompactTarget, Network, Transaction, TxMerkleNode};
use lightning::chain::chaininterface::{BroadcasterInterface, ConfirmationTarget, FeeEstimator};
use lightning::chain::chainmonitor::{ChainMonitor, Persist};
use lightning::chain::channelmonitor::{ChannelMonitor, ChannelMonitorUpdate};
use lightning::chain::{BestBlock, ChannelMonitorUpdateStatus, Confirm, Filter};
use lightning::events::{Event, EventsProvider, ReplayEvent};
use lightning::ln::channelmanager::{ChainParameters, ChannelManager};
use lightning::ln::msgs::{Init, LightningError, SocketAddress};
use lightning::ln::peer_handler::{
    CustomMessageHandler, IgnoringMessageHandler, MessageHandler, PeerManager,
};
use lightning::ln::wire::CustomMessageReader;
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::gossip::NetworkGraph;
use lightning::routing::router::DefaultRouter;
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
};
use lightning::sign::{EntropySource, InMemorySigner, KeysManager, NodeSigner, Recipient};
use lightning::types::features::{InitFeatures, NodeFeatures};
use lightning::util::config::UserConfig;
use lightning::util::logger::{Level, Logger, Record};
use lightning::util::persist::MonitorName;
use lightning::util::ser::LengthLimitedRead;
use lightning_net_tokio::SocketDescriptor;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use bitcoin::secp256k1::PublicKey;
pub use lightning;
pub use lightning_net_tokio;

/// The seed used when [`Config::seed`] is left at its default.
pub const DEFAULT_SEED: [u8; 32] = [0x42; 32];

/// How an [`LdkNode`] is started.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen for inbound BOLT 8 connections (port 0 picks a free one).
    pub listen: SocketAddr,
    /// KeysManager seed; fixes the node id.
    pub seed: [u8; 32],
    /// The chain LDK puts in `init.networks` and channel messages.
    pub network: Network,
    /// How often `PeerManager::timer_tick_occurred` runs: LDK pings every peer each tick and
    /// disconnects peers that did not answer (sent nothing) within one tick, or that did not
    /// finish the handshake + init within one to two ticks.
    pub peer_tick: Duration,
    /// How often `ChannelManager::timer_tick_occurred` runs (LDK suggests once a minute).
    pub channel_tick: Duration,
    /// Accept inbound `open_channel` requests (they are always recorded as events).
    pub accept_inbound_channels: bool,
    /// `negotiate_anchors_zero_fee_htlc_tx` in LDK's channel handshake config.
    pub anchors: bool,
    /// Accept inbound channels from any peer as trusted zero-conf
    /// (`accept_inbound_channel_from_trusted_peer_0conf`: `minimum_depth` 0,
    /// `channel_ready` at once; needed for a `zero_conf` channel type).
    pub trust_zero_conf: bool,
    /// `accept_forwards_to_priv_channels`: forward HTLCs over unannounced
    /// channels (LDK refuses them by default with `unknown_next_peer`).
    pub forward_to_private_channels: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: DEFAULT_SEED,
            network: Network::Regtest,
            peer_tick: Duration::from_secs(10),
            channel_tick: Duration::from_secs(60),
            accept_inbound_channels: false,
            anchors: true,
            trust_zero_conf: false,
            forward_to_private_channels: false,
        }
    }
}

impl Config {
    /// The default config with a seed of 32 copies of `b`: a quick way to get distinct nodes.
    pub fn with_seed_byte(b: u8) -> Self {
        Config {
            seed: [b; 32],
            ..Config::default()
        }
    }
}

/// Something that happened to the node, in order.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a test tool's event log; clarity over size
pub enum NodeEvent {
    /// LDK received the peer's `init` and accepted it (features compatible, chain shared).
    PeerConnected {
        node_id: PublicKey,
        features: InitFeatures,
        networks: Option<Vec<bitcoin::constants::ChainHash>>,
        remote_network_address: Option<SocketAddress>,
        inbound: bool,
    },
    /// A peer that had been reported connected went away (either side closed, or LDK dropped it).
    PeerDisconnected { node_id: PublicKey },
    /// An event from the ChannelManager or ChainMonitor.
    Ldk(Event),
}

/// A connected peer as LDK sees it.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub node_id: PublicKey,
    /// The features from the peer's `init`.
    pub init_features: InitFeatures,
    pub inbound: bool,
    pub socket_address: Option<SocketAddress>,
}

/// Ping/pong counts for one peer, from LDK's trace log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PingStats {
    pub pings_sent: u64,
    pub pongs_received: u64,
    pub pings_received: u64,
    pub pongs_sent: u64,
}

/// Errors from [`LdkNode`] operations.
#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
    /// TCP connect failed or timed out.
    ConnectFailed(String),
    /// The connection was set up but LDK did not report the peer within the timeout (handshake
    /// or init failed, or the peer's features were refused).
    PeerNotConnected(String),
    Parse(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "io: {e}"),
            Error::ConnectFailed(s) => write!(f, "connect failed: {s}"),
            Error::PeerNotConnected(s) => write!(f, "peer not connected: {s}"),
            Error::Parse(s) => write!(f, "parse: {s}"),
        }
    }
}
impl std::error::Error for Error {}
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

// ---------------------------------------------------------------------------------------------
// LDK plumbing

/// Fee estimator with one adjustable rate (sat per 1000 weight) for every target, a 253 sat/kW
/// floor for the peer's minimum and a generous ceiling.
pub struct FeeEst {
    rate: AtomicU32,
}

impl FeeEstimator for FeeEst {
    fn get_est_sat_per_1000_weight(&self, target: ConfirmationTarget) -> u32 {
        match target {
            ConfirmationTarget::MinAllowedAnchorChannelRemoteFee
            | ConfirmationTarget::MinAllowedNonAnchorChannelRemoteFee => 253,
            ConfirmationTarget::MaximumFeeEstimate => {
                self.rate.load(Ordering::Relaxed).max(253) * 10
            }
            _ => self.rate.load(Ordering::Relaxed).max(253),
        }
    }
}

/// Records every transaction LDK asks to broadcast.
#[derive(Default)]
pub struct Broadcaster {
    txs: Mutex<Vec<Transaction>>,
}

impl BroadcasterInterface for Broadcaster {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        self.txs
            .lock()
            .unwrap()
            .extend(txs.iter().map(|t| (*t).clone()));
    }
}

/// Logger: to stderr when `LDK_PEER_LOG` is set (its value, if a level name, is the minimum
/// level; otherwise Debug), and always counts ping/pong traffic.
pub struct NodeLogger {
    min_level: Option<Level>,
    tag: String,
    pings: Mutex<HashMap<PublicKey, PingStats>>,
    /// Peers we sent a ping to on the current connection and got no pong from yet.
    awaiting_pong: Mutex<HashSet<PublicKey>>,
    /// LDK's "Onion Error[from <node>: <name>(<code>)...]" lines: how it
    /// read the failure of one of its payments (the event does not carry
    /// the code outside LDK's own tests).
    onion_errors: Mutex<Vec<String>>,
}

impl NodeLogger {
    fn new(tag: String) -> Self {
        let min_level =
            std::env::var("LDK_PEER_LOG")
                .ok()
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "gossip" => Level::Gossip,
                    "trace" => Level::Trace,
                    "info" => Level::Info,
                    "warn" => Level::Warn,
                    "error" => Level::Error,
                    _ => Level::Debug,
                });
        NodeLogger {
            min_level,
            tag,
            pings: Mutex::new(HashMap::new()),
            awaiting_pong: Mutex::new(HashSet::new()),
            onion_errors: Mutex::new(Vec::new()),
        }
    }
}

impl Logger for NodeLogger {
    fn log(&self, record: Record) {
        let printing = self.min_level.is_some_and(|m| record.level >= m);
        let ping_candidate =
            record.level == Level::Trace && record.module_path.ends_with("peer_handler");
        let onion_error =
            record.level == Level::Info && record.module_path.ends_with("onion_utils");
        if !printing && !ping_candidate && !onion_error {
            return;
        }
        let text = record.args.to_string();
        if onion_error && text.starts_with("Onion Error[") {
            self.onion_errors.lock().unwrap().push(text.clone());
        }
        if ping_candidate {
            if let Some(peer) = record.peer_id {
                // "Received message Ping(Ping { .. }) from ..", "Enqueueing message Ping { .. } to .."
                let is = |msg: &str, name: &str| {
                    text.strip_prefix(msg)
                        .and_then(|r| r.strip_prefix(name))
                        .is_some_and(|r| r.starts_with(['(', ' ']))
                };
                let field: Option<fn(&mut PingStats) -> &mut u64> =
                    if is("Received message ", "Ping") {
                        Some(|s| &mut s.pings_received)
                    } else if is("Received message ", "Pong") {
                        Some(|s| &mut s.pongs_received)
                    } else if is("Enqueueing message ", "Ping") {
                        Some(|s| &mut s.pings_sent)
                    } else if is("Enqueueing message ", "Pong") {
                        Some(|s| &mut s.pongs_sent)
                    } else {
                        None
                    };
                if let Some(f) = field {
                    *f(self.pings.lock().unwrap().entry(peer).or_default()) += 1;
                    if is("Enqueueing message ", "Ping") {
                        self.awaiting_pong.lock().unwrap().insert(peer);
                    } else if is("Received message ", "Pong") {
                        self.awaiting_pong.lock().unwrap().remove(&peer);
                    }
                }
            }
        }
        if printing {
            eprintln!(
                "[ldk {} {:<5} {}:{}] {}",
                self.tag, record.level, record.module_path, record.line, text
            );
        }
    }
}

/// Monitor "persistence" that keeps nothing and reports success at once.
pub struct NoPersist;

impl Persist<InMemorySigner> for NoPersist {
    fn persist_new_channel(
        &self,
        _name: MonitorName,
        _monitor: &ChannelMonitor<InMemorySigner>,
    ) -> ChannelMonitorUpdateStatus {
        ChannelMonitorUpdateStatus::Completed
    }
    fn update_persisted_channel(
        &self,
        _name: MonitorName,
        _update: Option<&ChannelMonitorUpdate>,
        _monitor: &ChannelMonitor<InMemorySigner>,
    ) -> ChannelMonitorUpdateStatus {
        ChannelMonitorUpdateStatus::Completed
    }
    fn archive_persisted_channel(&self, _name: MonitorName) {}
}

/// A custom message handler that handles no message: it only watches peers come and go (LDK
/// calls it with the peer's `init` once all other handlers accepted the peer).
pub struct PeerWatcher {
    shared: Arc<Shared>,
    logger: Arc<NodeLogger>,
}

impl CustomMessageReader for PeerWatcher {
    type CustomMessage = Infallible;
    fn read<R: LengthLimitedRead>(
        &self,
        _message_type: u16,
        _buffer: &mut R,
    ) -> Result<Option<Infallible>, lightning::ln::msgs::DecodeError> {
        Ok(None)
    }
}

impl CustomMessageHandler for PeerWatcher {
    fn handle_custom_message(
        &self,
        msg: Infallible,
        _sender: PublicKey,
    ) -> Result<(), LightningError> {
        match msg {}
    }
    fn get_and_clear_pending_msg(&self) -> Vec<(PublicKey, Infallible)> {
        Vec::new()
    }
    fn peer_disconnected(&self, their_node_id: PublicKey) {
        self.logger
            .awaiting_pong
            .lock()
            .unwrap()
            .remove(&their_node_id);
        let was_connected = self.shared.connected.lock().unwrap().remove(&their_node_id);
        if was_connected {
            self.shared.record(NodeEvent::PeerDisconnected {
                node_id: their_node_id,
            });
        }
    }
    fn peer_connected(
        &self,
        their_node_id: PublicKey,
        msg: &Init,
        inbound: bool,
    ) -> Result<(), ()> {
        self.logger
            .awaiting_pong
            .lock()
            .unwrap()
            .remove(&their_node_id);
        self.shared.connected.lock().unwrap().insert(their_node_id);
        self.shared.record(NodeEvent::PeerConnected {
            node_id: their_node_id,
            features: msg.features.clone(),
            networks: msg.networks.clone(),
            remote_network_address: msg.remote_network_address.clone(),
            inbound,
        });
        Ok(())
    }
    fn provided_node_features(&self) -> NodeFeatures {
        NodeFeatures::empty()
    }
    fn provided_init_features(&self, _their_node_id: PublicKey) -> InitFeatures {
        InitFeatures::empty()
    }
}

type Graph = NetworkGraph<Arc<NodeLogger>>;
type Scorer = ProbabilisticScorer<Arc<Graph>, Arc<NodeLogger>>;

/// The ChainMonitor type used by [`LdkNode`].
pub type LdkChainMonitor = ChainMonitor<
    InMemorySigner,
    Arc<dyn Filter + Send + Sync>,
    Arc<Broadcaster>,
    Arc<FeeEst>,
    Arc<NodeLogger>,
    Arc<NoPersist>,
    Arc<KeysManager>,
>;

/// The ChannelManager type used by [`LdkNode`].
pub type LdkChannelManager = ChannelManager<
    Arc<LdkChainMonitor>,
    Arc<Broadcaster>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<FeeEst>,
    Arc<
        DefaultRouter<
            Arc<Graph>,
            Arc<NodeLogger>,
            Arc<KeysManager>,
            Arc<RwLock<Scorer>>,
            ProbabilisticScoringFeeParameters,
            Scorer,
        >,
    >,
    Arc<DefaultMessageRouter<Arc<Graph>, Arc<NodeLogger>, Arc<KeysManager>>>,
    Arc<NodeLogger>,
>;

/// The PeerManager type used by [`LdkNode`].
pub type LdkPeerManager = PeerManager<
    SocketDescriptor,
    Arc<LdkChannelManager>,
    IgnoringMessageHandler,
    IgnoringMessageHandler,
    Arc<NodeLogger>,
    Arc<PeerWatcher>,
    Arc<KeysManager>,
    Arc<LdkChainMonitor>,
>;

/// State shared between the node handle and its tasks.
struct Shared {
    events: Mutex<Vec<NodeEvent>>,
    events_tx: broadcast::Sender<NodeEvent>,
    connected: Mutex<std::collections::HashSet<PublicKey>>,
    accept_inbound: AtomicBool,
    trust_zero_conf: AtomicBool,
    ping_requested: AtomicBool,
    /// Claim every `PaymentClaimable` whose preimage LDK knows, at once.
    auto_claim: AtomicBool,
    next_user_channel_id: AtomicU64,
    verbose: bool,
}

impl Shared {
    fn record(&self, ev: NodeEvent) {
        if self.verbose {
            eprintln!("[ldk-peer] event: {ev:?}");
        }
        self.events.lock().unwrap().push(ev.clone());
        let _ = self.events_tx.send(ev);
    }
}

struct Tip {
    hash: BlockHash,
    height: u32,
    time: u32,
}

/// A running in-memory LDK node. Dropping it stops its tasks and drops its connections.
pub struct LdkNode {
    node_id: PublicKey,
    listen_addr: SocketAddr,
    network: Network,
    keys: Arc<KeysManager>,
    fee: Arc<FeeEst>,
    broadcaster: Arc<Broadcaster>,
    logger: Arc<NodeLogger>,
    chain_monitor: Arc<LdkChainMonitor>,
    channel_manager: Arc<LdkChannelManager>,
    peer_manager: Arc<LdkPeerManager>,
    shared: Arc<Shared>,
    tip: Mutex<Tip>,
    tasks: Vec<JoinHandle<()>>,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl LdkNode {
    /// Builds the node, binds the listener and spawns its tasks on the current tokio runtime.
    pub async fn start(config: Config) -> Result<LdkNode, Error> {
        let t = now();
        let keys = Arc::new(KeysManager::new(
            &config.seed,
            t.as_secs(),
            t.subsec_nanos(),
            true,
        ));
        let node_id = keys.get_node_id(Recipient::Node).expect("node id");
        let tag = node_id.to_string()[..8].to_string();
        let logger = Arc::new(NodeLogger::new(tag));
        let fee = Arc::new(FeeEst {
            rate: AtomicU32::new(1000),
        });
        let broadcaster = Arc::new(Broadcaster::default());
        let (events_tx, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            events: Mutex::new(Vec::new()),
            events_tx,
            connected: Mutex::new(Default::default()),
            accept_inbound: AtomicBool::new(config.accept_inbound_channels),
            trust_zero_conf: AtomicBool::new(config.trust_zero_conf),
            ping_requested: AtomicBool::new(false),
            auto_claim: AtomicBool::new(false),
            next_user_channel_id: AtomicU64::new(1),
            verbose: logger.min_level.is_some(),
        });

        let chain_monitor: Arc<LdkChainMonitor> = Arc::new(ChainMonitor::new(
            None,
            broadcaster.clone(),
            logger.clone(),
            fee.clone(),
            Arc::new(NoPersist),
            keys.clone(),
            keys.get_peer_storage_key(),
        ));
        let graph = Arc::new(NetworkGraph::new(config.network, logger.clone()));
        let scorer = Arc::new(RwLock::new(ProbabilisticScorer::new(
            ProbabilisticScoringDecayParameters::default(),
            graph.clone(),
            logger.clone(),
        )));
        let router = Arc::new(DefaultRouter::new(
            graph.clone(),
            logger.clone(),
            keys.clone(),
            scorer,
            ProbabilisticScoringFeeParameters::default(),
        ));
        let message_router = Arc::new(DefaultMessageRouter::new(graph, keys.clone()));

        let mut user_config = UserConfig::default();
        user_config
            .channel_handshake_config
            .negotiate_anchors_zero_fee_htlc_tx = config.anchors;
        user_config.manually_accept_inbound_channels = true;
        user_config.accept_forwards_to_priv_channels = config.forward_to_private_channels;

        let best_block = BestBlock::from_network(config.network);
        let tip = Tip {
            hash: best_block.block_hash,
            height: best_block.height,
            time: 1_600_000_000,
        };
        let channel_manager = Arc::new(ChannelManager::new(
            fee.clone(),
            chain_monitor.clone(),
            broadcaster.clone(),
            router,
            message_router,
            logger.clone(),
            keys.clone(),
            keys.clone(),
            keys.clone(),
            user_config,
            ChainParameters {
                network: config.network,
                best_block,
            },
            t.as_secs() as u32,
        ));

        let watcher = Arc::new(PeerWatcher {
            shared: shared.clone(),
            logger: logger.clone(),
        });
        let peer_manager = Arc::new(PeerManager::new(
            MessageHandler {
                chan_handler: channel_manager.clone(),
                route_handler: IgnoringMessageHandler {},
                onion_message_handler: IgnoringMessageHandler {},
                custom_message_handler: watcher,
                send_only_message_handler: chain_monitor.clone(),
            },
            t.as_secs() as u32,
            &keys.get_secure_random_bytes(),
            logger.clone(),
            keys.clone(),
        ));

        let listener = TcpListener::bind(config.listen).await?;
        let listen_addr = listener.local_addr()?;

        let mut tasks = Vec::new();
        let pm = peer_manager.clone();
        let verbose = shared.verbose;
        tasks.push(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, addr)) => {
                        if verbose {
                            eprintln!("[ldk-peer] inbound TCP connection from {addr}");
                        }
                        let std_stream = match stream.into_std() {
                            Ok(s) => s,
                            Err(_) => continue,
                        };
                        let pm = pm.clone();
                        tokio::spawn(lightning_net_tokio::setup_inbound(pm, std_stream));
                    }
                    Err(e) => {
                        eprintln!("[ldk-peer] accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));

        tasks.push(tokio::spawn(drive(
            peer_manager.clone(),
            channel_manager.clone(),
            chain_monitor.clone(),
            shared.clone(),
            logger.clone(),
            config.peer_tick,
            config.channel_tick,
        )));

        Ok(LdkNode {
            node_id,
            listen_addr,
            network: config.network,
            keys,
            fee,
            broadcaster,
            logger,
            chain_monitor,
            channel_manager,
            peer_manager,
            shared,
            tip: Mutex::new(tip),
            tasks,
        })
    }

    /// This node's public key.
    pub fn node_id(&self) -> PublicKey {
        self.node_id
    }

    /// The address the node listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// `<node_id_hex>@<ip:port>`.
    pub fn uri(&self) -> String {
        format!("{}@{}", self.node_id, self.listen_addr)
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// The features LDK sends in its `init` (ChannelManager's plus ChainMonitor's).
    pub fn our_init_features(&self) -> InitFeatures {
        use lightning::ln::msgs::BaseMessageHandler;
        self.channel_manager.provided_init_features(self.node_id)
            | self.chain_monitor.provided_init_features(self.node_id)
    }

    /// Opens a TCP connection and runs the BOLT 8 handshake as initiator, then waits (up to
    /// `timeout`) until LDK has received the peer's `init`.
    pub async fn connect_outbound(
        &self,
        their_node_id: PublicKey,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<PeerInfo, Error> {
        let conn =
            lightning_net_tokio::connect_outbound(self.peer_manager.clone(), their_node_id, addr)
                .await
                .ok_or_else(|| Error::ConnectFailed(addr.to_string()))?;
        tokio::spawn(conn);
        self.wait_for_peer(their_node_id, timeout)
            .await
            .ok_or_else(|| Error::PeerNotConnected(format!("{their_node_id}@{addr}")))
    }

    /// Waits until `node_id` is in [`list_peers`](Self::list_peers).
    pub async fn wait_for_peer(&self, node_id: PublicKey, timeout: Duration) -> Option<PeerInfo> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.peer(&node_id) {
                return Some(p);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `node_id` is no longer in [`list_peers`](Self::list_peers).
    pub async fn wait_for_peer_gone(&self, node_id: PublicKey, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.peer(&node_id).is_none() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Peers whose `init` LDK has received and accepted.
    pub fn list_peers(&self) -> Vec<PeerInfo> {
        self.peer_manager
            .list_peers()
            .into_iter()
            .map(peer_info)
            .collect()
    }

    /// One peer, if connected.
    pub fn peer(&self, node_id: &PublicKey) -> Option<PeerInfo> {
        self.peer_manager.peer_by_node_id(node_id).map(peer_info)
    }

    /// Closes the connection to `node_id` (no `error` message is sent; the socket is shut down).
    pub fn disconnect(&self, node_id: PublicKey) {
        self.peer_manager.disconnect_by_node_id(node_id);
    }

    /// How LDK read the failures returned for its payments, in order:
    /// "Onion Error[from <node id>: <name>(<code in hex>)...]".
    pub fn onion_errors(&self) -> Vec<String> {
        self.logger.onion_errors.lock().unwrap().clone()
    }

    /// Pings every connected peer soon: the driver runs an extra `PeerManager` timer tick as
    /// soon as no ping of ours is waiting for its pong, and restarts the tick interval. (A tick
    /// while a pong is outstanding would instead disconnect a peer that sent nothing since the
    /// previous tick, so LDK's ping cannot be sent at an arbitrary moment.) Watch
    /// [`ping_stats`](Self::ping_stats) for the pong.
    pub fn ping_peers(&self) {
        self.shared.ping_requested.store(true, Ordering::SeqCst);
    }

    /// Ping/pong counts with `node_id` so far (across reconnections).
    pub fn ping_stats(&self, node_id: &PublicKey) -> PingStats {
        self.logger
            .pings
            .lock()
            .unwrap()
            .get(node_id)
            .copied()
            .unwrap_or_default()
    }

    /// Waits until `pred(ping_stats(node_id))` holds.
    pub async fn wait_for_ping_stats(
        &self,
        node_id: &PublicKey,
        timeout: Duration,
        pred: impl Fn(&PingStats) -> bool,
    ) -> Option<PingStats> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.ping_stats(node_id);
            if pred(&s) {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<NodeEvent> {
        self.shared.events.lock().unwrap().clone()
    }

    /// Only the LDK [`Event`]s recorded so far.
    pub fn ldk_events(&self) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter_map(|e| {
                if let NodeEvent::Ldk(e) = e {
                    Some(e)
                } else {
                    None
                }
            })
            .collect()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.shared.events_tx.subscribe()
    }

    /// Waits for a recorded event (including ones recorded before the call) matching `pred`.
    pub async fn wait_for_event(
        &self,
        timeout: Duration,
        pred: impl Fn(&NodeEvent) -> bool,
    ) -> Option<NodeEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.shared.events.lock().unwrap().iter().find(|e| pred(e)) {
                return Some(e.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether inbound `open_channel` requests are accepted (they are recorded either way).
    pub fn set_accept_inbound_channels(&self, accept: bool) {
        self.shared.accept_inbound.store(accept, Ordering::SeqCst);
    }

    /// Whether inbound channels are accepted as trusted zero-conf (see
    /// [`Config::trust_zero_conf`]).
    pub fn set_trust_zero_conf(&self, trust: bool) {
        self.shared.trust_zero_conf.store(trust, Ordering::SeqCst);
    }

    /// Whether every `PaymentClaimable` whose preimage LDK knows (payments
    /// to its own invoices) is claimed at once (off by default).
    pub fn set_auto_claim(&self, claim: bool) {
        self.shared.auto_claim.store(claim, Ordering::SeqCst);
    }

    /// The fee rate (sat per 1000 weight) LDK uses for all its own estimates.
    pub fn set_feerate_sat_per_kw(&self, rate: u32) {
        self.fee.rate.store(rate, Ordering::SeqCst);
    }

    /// Transactions LDK has asked to broadcast so far.
    pub fn broadcast_transactions(&self) -> Vec<Transaction> {
        self.broadcaster.txs.lock().unwrap().clone()
    }

    /// The current chain tip as this node sees it (height, hash).
    pub fn best_block(&self) -> (u32, BlockHash) {
        let tip = self.tip.lock().unwrap();
        (tip.height, tip.hash)
    }

    /// Connects `block` at `height` (which must be the next height): `transactions_confirmed`
    /// then `best_block_updated` on the ChannelManager and the ChainMonitor.
    pub fn connect_block(&self, block: &Block, height: u32) {
        let txdata: Vec<(usize, &Transaction)> = block.txdata.iter().enumerate().collect();
        let header = &block.header;
        self.channel_manager
            .transactions_confirmed(header, &txdata, height);
        self.chain_monitor
            .transactions_confirmed(header, &txdata, height);
        self.channel_manager.best_block_updated(header, height);
        self.chain_monitor.best_block_updated(header, height);
        let mut tip = self.tip.lock().unwrap();
        tip.hash = header.block_hash();
        tip.height = height;
        tip.time = tip.time.max(header.time);
    }

    /// Builds `n` blocks on the current tip (no proof of work, which LDK does not check), the
    /// first containing `txs`, connects them and returns them.
    pub fn mine_blocks(&self, n: u32, txs: Vec<Transaction>) -> Vec<Block> {
        let mut out = Vec::new();
        let mut txs = Some(txs);
        for _ in 0..n {
            let txdata = txs.take().unwrap_or_default();
            let (prev, height, time) = {
                let tip = self.tip.lock().unwrap();
                (tip.hash, tip.height + 1, tip.time + 600)
            };
            let mut block = Block {
                header: Header {
                    version: Version::TWO,
                    prev_blockhash: prev,
                    merkle_root: TxMerkleNode::all_zeros(),
                    time,
                    bits: CompactTarget::from_consensus(0x207f_ffff),
                    nonce: 0,
                },
                txdata,
            };
            if let Some(root) = block.compute_merkle_root() {
                block.header.merkle_root = root;
            }
            self.connect_block(&block, height);
            out.push(block);
        }
        out
    }

    pub fn channel_manager(&self) -> &Arc<LdkChannelManager> {
        &self.channel_manager
    }
    pub fn chain_monitor(&self) -> &Arc<LdkChainMonitor> {
        &self.chain_monitor
    }
    pub fn peer_manager(&self) -> &Arc<LdkPeerManager> {
        &self.peer_manager
    }
    pub fn keys_manager(&self) -> &Arc<KeysManager> {
        &self.keys
    }

    /// Disconnects every peer and stops the listener and the driver task.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.peer_manager.disconnect_all_peers();
    }
}

impl Drop for LdkNode {
    fn drop(&mut self) {
        self.stop();
    }
}

fn peer_info(p: lightning::ln::peer_handler::PeerDetails) -> PeerInfo {
    PeerInfo {
        node_id: p.counterparty_node_id,
        init_features: p.init_features,
        inbound: p.is_inbound_connection,
        socket_address: p.socket_address,
    }
}

/// The background loop: LDK needs its queues pumped and its timers ticked by the application.
async fn drive(
    pm: Arc<LdkPeerManager>,
    cm: Arc<LdkChannelManager>,
    monitor: Arc<LdkChainMonitor>,
    shared: Arc<Shared>,
    logger: Arc<NodeLogger>,
    peer_tick: Duration,
    channel_tick: Duration,
) {
    let mut peer_timer = tokio::time::interval(peer_tick);
    let mut channel_timer = tokio::time::interval(channel_tick);
    peer_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    channel_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick of an interval fires at once; skip it so a new peer gets a full tick.
    peer_timer.tick().await;
    channel_timer.tick().await;
    let handler = {
        let cm = cm.clone();
        let shared = shared.clone();
        move |event: Event| -> Result<(), ReplayEvent> {
            if let Event::OpenChannelRequest {
                temporary_channel_id,
                counterparty_node_id,
                ..
            } = &event
            {
                if shared.accept_inbound.load(Ordering::SeqCst) {
                    let user_channel_id =
                        u128::from(shared.next_user_channel_id.fetch_add(1, Ordering::SeqCst));
                    let accepted = if shared.trust_zero_conf.load(Ordering::SeqCst) {
                        cm.accept_inbound_channel_from_trusted_peer_0conf(
                            temporary_channel_id,
                            counterparty_node_id,
                            user_channel_id,
                            None,
                        )
                    } else {
                        cm.accept_inbound_channel(
                            temporary_channel_id,
                            counterparty_node_id,
                            user_channel_id,
                            None,
                        )
                    };
                    if let Err(e) = accepted {
                        eprintln!("[ldk-peer] accept_inbound_channel failed: {e:?}");
                    }
                }
            }
            if let Event::PaymentClaimable { purpose, .. } = &event {
                if shared.auto_claim.load(Ordering::SeqCst) {
                    if let Some(preimage) = purpose.preimage() {
                        cm.claim_funds(preimage);
                    }
                }
            }
            shared.record(NodeEvent::Ldk(event));
            Ok(())
        }
    };
    loop {
        tokio::select! {
            _ = peer_timer.tick() => pm.timer_tick_occurred(),
            _ = channel_timer.tick() => cm.timer_tick_occurred(),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {},
        }
        if shared.ping_requested.load(Ordering::SeqCst)
            && logger.awaiting_pong.lock().unwrap().is_empty()
        {
            shared.ping_requested.store(false, Ordering::SeqCst);
            pm.timer_tick_occurred();
            peer_timer.reset();
        }
        cm.process_pending_htlc_forwards();
        cm.process_pending_events(&handler);
        monitor.process_pending_events(&handler);
        pm.process_events();
    }
}

/// Parses `<node_id_hex>@<ip:port>`.
pub fn parse_peer_uri(s: &str) -> Result<(PublicKey, SocketAddr), Error> {
    let (id, addr) = s
        .split_once('@')
        .ok_or_else(|| Error::Parse(format!("no '@' in {s}")))?;
    let id: PublicKey = id
        .parse()
        .map_err(|e| Error::Parse(format!("node id {id}: {e}")))?;
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| Error::Parse(format!("address {addr}: {e}")))?;
    Ok((id, addr))
}

/// Parses a 64-hex-digit seed.
pub fn parse_seed(s: &str) -> Result<[u8; 32], Error> {
    use bitcoin::hex::FromHex;
    <[u8; 32]>::from_hex(s).map_err(|e| Error::Parse(format!("seed: {e}")))
}

/// Feature bytes as they appear on the wire (big-endian, no leading zero bytes), hex.
pub fn features_hex(f: &InitFeatures) -> String {
    let mut le = f.le_flags().to_vec();
    while le.last() == Some(&0) {
        le.pop();
    }
    le.iter().rev().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Control interface

/// A tiny HTTP/1.1 API over an [`LdkNode`], for tests that cannot link the node (lnwasm in a
/// browser): one request per connection (`Connection: close`), JSON answers, and
/// `Access-Control-Allow-Origin: *` on every answer (preflight `OPTIONS` included), since the
/// test page is served from another origin. Request bodies are flat JSON objects.
///
/// | request | body | answer |
/// |---|---|---|
/// | `GET /info` | | `{"node_id","uri","height"}` |
/// | `POST /confirm` | `{"tx": "<hex>", "blocks": n}` | mines `n` (≥ 1) blocks, the first holding the transaction at index 0: `{"height": <of that block>, "tx_index": 0, "tip": <new tip>}` |
/// | `POST /mine` | `{"blocks": n}` | `{"tip"}` |
/// | `GET /channels` | | `[{"channel_id","counterparty","short_channel_id","is_channel_ready","is_usable","outbound_capacity_msat","inbound_capacity_msat","pending_inbound_htlcs","pending_outbound_htlcs"}]` |
/// | `POST /invoice` | `{"amount_msat": n, "description"?: s}` | `{"bolt11","payment_hash"}` |
/// | `POST /pay` | `{"bolt11": s, "timeout_secs"?: n}` | waits for `PaymentSent`/`PaymentFailed`: `{"status":"sent","payment_hash","preimage","amount_msat","fee_msat"}` or `{"status":"failed","payment_hash","reason"}` |
/// | `GET /received` | | `[{"payment_hash","amount_msat","preimage"}]`, one per `PaymentClaimed` |
/// | `POST /disconnect` | `{"node_id": "<hex>"}` | drops the connection to that peer (no `error` sent): `{"disconnected": true}` |
///
/// Errors answer 400/404/500 with `{"error": "<text>"}`. [`serve_control`] turns on
/// [`LdkNode::set_auto_claim`].
pub mod control {
    use super::*;
    use bitcoin::hex::{DisplayHex, FromHex};
    use lightning::bolt11_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};
    use lightning::ln::channelmanager::{
        Bolt11InvoiceParameters, Bolt11PaymentError, PaymentId, Retry,
    };
    use lightning::routing::router::RouteParametersConfig;
    use lightning::types::payment::PaymentHash;
    use std::str::FromStr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Largest request accepted (headers and body).
    const MAX_REQUEST: usize = 64 * 1024;

    /// Listens on `addr` and serves the API until the returned task is aborted.
    pub async fn serve_control(
        node: Arc<LdkNode>,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, JoinHandle<()>), Error> {
        node.set_auto_claim(true);
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve_one(node.clone(), stream));
                    }
                    Err(e) => {
                        eprintln!("[ldk-peer] control accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok((local, task))
    }

    /// An HTTP answer: status and JSON body.
    type Answer = (u16, String);

    fn err(status: u16, text: impl fmt::Display) -> Answer {
        (
            status,
            format!("{{\"error\":{}}}", json_str(&text.to_string())),
        )
    }

    async fn serve_one(node: Arc<LdkNode>, mut stream: TcpStream) {
        let (status, body) = match read_request(&mut stream).await {
            Ok(Some((method, path, body))) => {
                if method == "OPTIONS" {
                    (204, String::new())
                } else {
                    route(&node, &method, &path, &body).await
                }
            }
            Ok(None) => return,
            Err(e) => err(400, e),
        };
        let reason = match status {
            200 => "OK",
            204 => "No Content",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "Internal Server Error",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\n\
             Content-Type: application/json\r\n\
             Content-Length: {}\r\n\
             Access-Control-Allow-Origin: *\r\n\
             Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n\
             Access-Control-Allow-Headers: content-type\r\n\
             Access-Control-Max-Age: 600\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    /// Reads one request: (method, path, body). `None` when the client left before sending one.
    async fn read_request(
        stream: &mut TcpStream,
    ) -> Result<Option<(String, String, String)>, String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_REQUEST {
                return Err("request too large".into());
            }
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return if buf.is_empty() {
                    Ok(None)
                } else {
                    Err("truncated request".into())
                };
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "head not UTF-8")?;
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().ok_or("no path")?.to_string();
        let mut length = 0usize;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().map_err(|_| "bad content-length")?;
                }
            }
        }
        if length > MAX_REQUEST {
            return Err("body too large".into());
        }
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("truncated body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8(buf[head_end..head_end + length].to_vec())
            .map_err(|_| "body not UTF-8")?;
        Ok(Some((method, path, body)))
    }

    async fn route(node: &LdkNode, method: &str, path: &str, body: &str) -> Answer {
        let fields = match parse_object(body) {
            Ok(f) => f,
            Err(e) => return err(400, format!("body: {e}")),
        };
        let r = match (method, path) {
            ("GET", "/info") => Ok(info(node)),
            ("POST", "/confirm") => confirm(node, &fields),
            ("POST", "/mine") => mine(node, &fields),
            ("GET", "/channels") => Ok(channels(node)),
            ("POST", "/invoice") => invoice(node, &fields),
            ("POST", "/pay") => pay(node, &fields).await,
            ("GET", "/received") => Ok(received(node)),
            ("POST", "/disconnect") => disconnect(node, &fields),
            _ => return err(404, format!("no {method} {path}")),
        };
        match r {
            Ok(body) => (200, body),
            Err(a) => a,
        }
    }

    fn disconnect(node: &LdkNode, fields: &HashMap<String, Value>) -> Result<String, Answer> {
        let Some(Value::Str(hex)) = fields.get("node_id") else {
            return Err(err(400, "node_id: hex string required"));
        };
        let id = PublicKey::from_str(hex).map_err(|e| err(400, format!("node_id: {e}")))?;
        node.disconnect(id);
        Ok("{\"disconnected\":true}".to_string())
    }

    fn info(node: &LdkNode) -> String {
        format!(
            "{{\"node_id\":\"{}\",\"uri\":\"{}\",\"height\":{}}}",
            node.node_id(),
            node.uri(),
            node.best_block().0
        )
    }

    fn blocks(fields: &HashMap<String, Value>) -> Result<u32, Answer> {
        match fields.get("blocks") {
            None => Ok(1),
            Some(Value::Num(n)) if (1..=1000).contains(n) => Ok(*n as u32),
            Some(_) => Err(err(400, "blocks: a number from 1 to 1000")),
        }
    }

    fn confirm(node: &LdkNode, fields: &HashMap<String, Value>) -> Result<String, Answer> {
        let Some(Value::Str(hex)) = fields.get("tx") else {
            return Err(err(400, "tx: hex string required"));
        };
        let bytes = Vec::<u8>::from_hex(hex).map_err(|e| err(400, format!("tx: {e}")))?;
        let tx: Transaction =
            bitcoin::consensus::deserialize(&bytes).map_err(|e| err(400, format!("tx: {e}")))?;
        let n = blocks(fields)?;
        let first = node.best_block().0 + 1;
        node.mine_blocks(n, vec![tx]);
        Ok(format!(
            "{{\"height\":{first},\"tx_index\":0,\"tip\":{}}}",
            node.best_block().0
        ))
    }

    fn mine(node: &LdkNode, fields: &HashMap<String, Value>) -> Result<String, Answer> {
        node.mine_blocks(blocks(fields)?, vec![]);
        Ok(format!("{{\"tip\":{}}}", node.best_block().0))
    }

    fn channels(node: &LdkNode) -> String {
        let list: Vec<String> = node
            .channel_manager()
            .list_channels()
            .iter()
            .map(|c| {
                format!(
                    "{{\"channel_id\":\"{}\",\"counterparty\":\"{}\",\"short_channel_id\":{},\
                     \"is_channel_ready\":{},\"is_usable\":{},\"outbound_capacity_msat\":{},\
                     \"inbound_capacity_msat\":{},\"pending_inbound_htlcs\":{},\
                     \"pending_outbound_htlcs\":{}}}",
                    c.channel_id.0.as_hex(),
                    c.counterparty.node_id,
                    c.short_channel_id
                        .map_or("null".to_string(), |s| s.to_string()),
                    c.is_channel_ready,
                    c.is_usable,
                    c.outbound_capacity_msat,
                    c.inbound_capacity_msat,
                    c.pending_inbound_htlcs.len(),
                    c.pending_outbound_htlcs.len(),
                )
            })
            .collect();
        format!("[{}]", list.join(","))
    }

    fn invoice(node: &LdkNode, fields: &HashMap<String, Value>) -> Result<String, Answer> {
        let amount = match fields.get("amount_msat") {
            None => None,
            Some(Value::Num(n)) => Some(*n),
            Some(_) => return Err(err(400, "amount_msat: a number")),
        };
        let text = match fields.get("description") {
            None => "ldk-peer".to_string(),
            Some(Value::Str(s)) => s.clone(),
            Some(_) => return Err(err(400, "description: a string")),
        };
        let description =
            Description::new(text).map_err(|e| err(400, format!("description: {e:?}")))?;
        let inv = node
            .channel_manager()
            .create_bolt11_invoice(Bolt11InvoiceParameters {
                amount_msats: amount,
                description: Bolt11InvoiceDescription::Direct(description),
                invoice_expiry_delta_secs: Some(3600),
                min_final_cltv_expiry_delta: None,
                payment_hash: None,
            })
            .map_err(|e| err(500, format!("create_bolt11_invoice: {e:?}")))?;
        Ok(format!(
            "{{\"bolt11\":\"{inv}\",\"payment_hash\":\"{}\"}}",
            inv.payment_hash().to_byte_array().as_hex()
        ))
    }

    async fn pay(node: &LdkNode, fields: &HashMap<String, Value>) -> Result<String, Answer> {
        let Some(Value::Str(s)) = fields.get("bolt11") else {
            return Err(err(400, "bolt11: string required"));
        };
        let timeout = match fields.get("timeout_secs") {
            None => 30,
            Some(Value::Num(n)) if (1..=600).contains(n) => *n,
            Some(_) => return Err(err(400, "timeout_secs: a number from 1 to 600")),
        };
        let inv = Bolt11Invoice::from_str(s).map_err(|e| err(400, format!("bolt11: {e}")))?;
        let hash = PaymentHash(inv.payment_hash().to_byte_array());
        let h = hash.0.as_hex();
        let failed = |reason: String| {
            format!(
                "{{\"status\":\"failed\",\"payment_hash\":\"{h}\",\"reason\":{}}}",
                json_str(&reason)
            )
        };
        let sent = node.channel_manager().pay_for_bolt11_invoice(
            &inv,
            PaymentId(hash.0),
            None,
            RouteParametersConfig::default(),
            Retry::Attempts(0),
        );
        match sent {
            Ok(()) => {}
            // Refused before anything was sent (no route, duplicate payment, ...).
            Err(Bolt11PaymentError::SendingFailed(r)) => return Ok(failed(format!("{r:?}"))),
            Err(e) => return Ok(failed(format!("{e:?}"))),
        }
        let done = node
            .wait_for_event(Duration::from_secs(timeout), |e| match e {
                NodeEvent::Ldk(Event::PaymentSent { payment_hash, .. }) => *payment_hash == hash,
                NodeEvent::Ldk(Event::PaymentFailed { payment_hash, .. }) => {
                    *payment_hash == Some(hash)
                }
                _ => false,
            })
            .await;
        match done {
            Some(NodeEvent::Ldk(Event::PaymentSent {
                payment_preimage,
                amount_msat,
                fee_paid_msat,
                ..
            })) => Ok(format!(
                "{{\"status\":\"sent\",\"payment_hash\":\"{h}\",\"preimage\":\"{}\",\
                 \"amount_msat\":{},\"fee_msat\":{}}}",
                payment_preimage.0.as_hex(),
                amount_msat.map_or("null".into(), |a| a.to_string()),
                fee_paid_msat.map_or("null".into(), |a| a.to_string()),
            )),
            Some(NodeEvent::Ldk(Event::PaymentFailed { reason, .. })) => Ok(failed(
                reason.map_or("unknown".to_string(), |r| format!("{r:?}")),
            )),
            _ => Err(err(
                500,
                format!("no outcome for payment {h} in {timeout}s"),
            )),
        }
    }

    fn received(node: &LdkNode) -> String {
        let list: Vec<String> = node
            .ldk_events()
            .iter()
            .filter_map(|e| match e {
                Event::PaymentClaimed {
                    payment_hash,
                    amount_msat,
                    purpose,
                    ..
                } => Some(format!(
                    "{{\"payment_hash\":\"{}\",\"amount_msat\":{amount_msat},\"preimage\":{}}}",
                    payment_hash.0.as_hex(),
                    purpose
                        .preimage()
                        .map_or("null".into(), |p| format!("\"{}\"", p.0.as_hex())),
                )),
                _ => None,
            })
            .collect();
        format!("[{}]", list.join(","))
    }

    /// A value of a flat JSON object.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Value {
        Str(String),
        Num(u64),
        Bool(bool),
        Null,
    }

    /// Parses a flat JSON object of strings, unsigned integers, booleans and nulls (an empty
    /// body is an empty object).
    pub fn parse_object(s: &str) -> Result<HashMap<String, Value>, String> {
        let mut out = HashMap::new();
        let b = s.trim().as_bytes();
        if b.is_empty() {
            return Ok(out);
        }
        let mut i = 0;
        let ws = |i: &mut usize| {
            while *i < b.len() && b[*i].is_ascii_whitespace() {
                *i += 1
            }
        };
        let expect = |i: &mut usize, c: u8| -> Result<(), String> {
            ws(i);
            if b.get(*i) == Some(&c) {
                *i += 1;
                Ok(())
            } else {
                Err(format!("expected '{}' at {}", c as char, *i))
            }
        };
        let string = |i: &mut usize| -> Result<String, String> {
            expect(i, b'"')?;
            let mut v = Vec::new();
            loop {
                match b.get(*i) {
                    None => return Err("unterminated string".into()),
                    Some(b'"') => {
                        *i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *b.get(*i + 1).ok_or("bad escape")?;
                        v.push(match c {
                            b'"' | b'\\' | b'/' => c,
                            b'n' => b'\n',
                            b't' => b'\t',
                            b'r' => b'\r',
                            _ => return Err("unsupported escape".into()),
                        });
                        *i += 2;
                    }
                    Some(&c) => {
                        v.push(c);
                        *i += 1;
                    }
                }
            }
            String::from_utf8(v).map_err(|_| "string not UTF-8".to_string())
        };
        expect(&mut i, b'{')?;
        ws(&mut i);
        if b.get(i) == Some(&b'}') {
            i += 1;
        } else {
            loop {
                ws(&mut i);
                let k = string(&mut i)?;
                expect(&mut i, b':')?;
                ws(&mut i);
                let v = match b.get(i) {
                    Some(b'"') => Value::Str(string(&mut i)?),
                    Some(c) if c.is_ascii_digit() => {
                        let start = i;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                        let n = std::str::from_utf8(&b[start..i]).unwrap();
                        Value::Num(n.parse().map_err(|_| format!("number {n}"))?)
                    }
                    _ if b[i..].starts_with(b"true") => {
                        i += 4;
                        Value::Bool(true)
                    }
                    _ if b[i..].starts_with(b"false") => {
                        i += 5;
                        Value::Bool(false)
                    }
                    _ if b[i..].starts_with(b"null") => {
                        i += 4;
                        Value::Null
                    }
                    _ => return Err(format!("unsupported value at {i}")),
                };
                out.insert(k, v);
                ws(&mut i);
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or '}}' at {i}")),
                }
            }
        }
        ws(&mut i);
        if i != b.len() {
            return Err("trailing characters".into());
        }
        Ok(out)
    }

    /// `s` as a JSON string literal.
    pub fn json_str(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
}
