//! A whole Lightning node, sans IO: the [`ChannelManager`] and the
//! [`Payments`] layer wired together, with the chain watches they ask for.
//!
//! [`Node`] takes [`NodeInput`]s (peer connections and messages, blocks
//! and transactions, the clock) and user calls ([`Node::open_channel`],
//! [`Node::create_invoice`], [`Node::pay_invoice`], ...) and returns one
//! ordered list of [`NodeAction`]s: records to persist, messages to send,
//! transactions to broadcast, events for the application. Inside, it does
//! what every driver of the two layers must do (and what the payment tests
//! did by hand): the manager's HTLC events go to the payment layer, the
//! payment layer's channel commands go back to the manager, a refused
//! `AddHtlc` is reported back as [`PaymentInput::AddRefused`], blocks and
//! the clock reach both.
//!
//! # Persist before send
//!
//! The driver carries the actions out **strictly in order** and finishes a
//! persist ([`NodeAction::PersistChannels`], [`NodeAction::PutPaymentRecord`],
//! [`NodeAction::DeletePaymentRecord`]) durably before it carries out
//! anything after it. Both layers already put their records ahead of what
//! depends on them; the node keeps their order. After a crash,
//! [`Node::load`] rebuilds everything from the two kinds of records.
//!
//! # Chain
//!
//! The node remembers the watches the manager asks for. A chain source
//! either reports what it finds itself ([`NodeInput::TxConfirmed`],
//! [`NodeInput::OutputSpent`], [`NodeInput::BlockConnected`]) or hands over
//! whole blocks ([`NodeInput::Block`]), which the node matches against the
//! watches. [`Node::watches`] lists what to look for.

use std::collections::BTreeSet;

use bitcoin::{OutPoint, ScriptBuf, Transaction, Txid};
use core::fmt;
use secp256k1::PublicKey;

use crate::channel::{
    ChannelConfig, ChannelInfo, ChannelManager, Command, ManagerAction, ManagerConfig,
    ManagerError, ManagerEvent, ManagerInput, OpenRequest,
};
use crate::error::ErrorCode;
use crate::invoice::{Invoice, Network};
use crate::keys::{KeyError, WalletKeys};
use crate::payment::{
    candidate_routes, ChannelView, InvoiceRequest, PayParams, PaymentAction, PaymentConfig,
    PaymentError, PaymentEvent, PaymentInput, PaymentRecord, Payments, Route,
};
use crate::store::{Batch, Store};
use crate::tx::FeeratePerKw;
use crate::types::PaymentHash;
use crate::wire::features::Features;
use crate::wire::{ChannelId, Message};

/// The settings of both layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub manager: ManagerConfig,
    pub payments: PaymentConfig,
}

impl NodeConfig {
    /// Defaults for `network`: [`ChannelConfig::new`], [`ManagerConfig::new`],
    /// [`PaymentConfig::new`].
    pub fn new(network: Network) -> Self {
        let chain = bitcoin::constants::ChainHash::using_genesis_block(network.to_bitcoin());
        NodeConfig {
            manager: ManagerConfig::new(ChannelConfig::new(chain)),
            payments: PaymentConfig::new(network),
        }
    }
}

/// Everything that can happen to the node, apart from user calls.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum NodeInput {
    /// `init` was exchanged with `node_id`; `features` are the peer's.
    PeerConnected {
        node_id: PublicKey,
        features: Features,
    },
    PeerDisconnected {
        node_id: PublicKey,
    },
    PeerMessage {
        node_id: PublicKey,
        msg: Message,
    },
    /// A new best block, and the transactions of it the chain source
    /// knows of (all of them, or only those touching [`Node::watches`]),
    /// each with its index in the block.
    Block {
        height: u32,
        txs: Vec<(u32, Transaction)>,
    },
    /// A new best block, nothing else known about it.
    BlockConnected {
        height: u32,
    },
    /// A watched transaction confirmed in block `height` at `tx_index`.
    TxConfirmed {
        txid: Txid,
        height: u32,
        tx_index: u32,
    },
    /// A watched output was spent by `tx`.
    OutputSpent {
        outpoint: OutPoint,
        tx: Transaction,
    },
    FeeEstimate(FeeratePerKw),
    /// Seconds since the epoch.
    Tick {
        now: u64,
    },
}

/// What the application hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    Channel(ManagerEvent),
    Payment(PaymentEvent),
    /// A channel refused a command of the payment layer (nothing changed):
    /// a refused `AddHtlc` fails its attempt; a repeated fulfil after a
    /// restart is refused harmlessly.
    CommandRefused {
        channel_id: ChannelId,
        error: ManagerError,
    },
}

/// What the driver must do, strictly in order (see the module docs).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum NodeAction {
    /// Apply atomically ([`Store::apply`]) before anything after it.
    PersistChannels(Batch),
    /// Store `value` under `key` (replacing it) before anything after it.
    PutPaymentRecord {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Delete the payment record under `key`.
    DeletePaymentRecord {
        key: Vec<u8>,
    },
    Send {
        node_id: PublicKey,
        msg: Message,
    },
    Disconnect {
        node_id: PublicKey,
    },
    Publish(Transaction),
    /// Broadcast `tx` once the tip is at `height` and each `(txid, n)` of
    /// `confirmed` has `n` confirmations.
    PublishLater {
        tx: Transaction,
        height: u32,
        confirmed: Vec<(Txid, u16)>,
    },
    /// A new watch (also kept in [`Node::watches`]).
    Watch(Watch),
    Event(NodeEvent),
}

/// Something on chain the node needs to hear about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Watch {
    /// The confirmation of `txid` (a funding transaction paying to
    /// `script_pubkey`, or a transaction of a close).
    Confirmed {
        txid: Txid,
        script_pubkey: Option<ScriptBuf>,
    },
    /// The spending of `outpoint`.
    Spent { outpoint: OutPoint },
}

/// Local refusals of user calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeError {
    Manager(ManagerError),
    Payment(PaymentError),
    /// The node's keys cannot be derived from the seed.
    Keys(KeyError),
    /// A stored payment record does not decode.
    CorruptPaymentRecord,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Manager(e) => write!(f, "{e}"),
            NodeError::Payment(e) => write!(f, "{e}"),
            NodeError::Keys(e) => write!(f, "{e}"),
            NodeError::CorruptPaymentRecord => {
                f.write_str("a stored payment record does not decode")
            }
        }
    }
}

impl std::error::Error for NodeError {}

impl ErrorCode for NodeError {
    fn code(&self) -> &'static str {
        match self {
            NodeError::Manager(e) => e.code(),
            NodeError::Payment(e) => e.code(),
            NodeError::Keys(e) => e.code(),
            NodeError::CorruptPaymentRecord => "STORAGE_CORRUPT",
        }
    }
}

impl From<ManagerError> for NodeError {
    fn from(e: ManagerError) -> Self {
        NodeError::Manager(e)
    }
}

impl From<PaymentError> for NodeError {
    fn from(e: PaymentError) -> Self {
        NodeError::Payment(e)
    }
}

/// A Lightning node: channels and payments.
#[derive(Clone, Debug)]
pub struct Node {
    node_id: PublicKey,
    manager: ChannelManager,
    payments: Payments,
    watches: BTreeSet<Watch>,
}

impl Node {
    /// A node with no channels yet, at block `height` and time `now`.
    pub fn new(
        wallet: WalletKeys,
        config: NodeConfig,
        height: u32,
        now: u64,
    ) -> Result<Node, NodeError> {
        let (node_id, secret) = node_keys(&wallet)?;
        Ok(Node {
            node_id,
            manager: ChannelManager::new(wallet, config.manager, height, now),
            payments: Payments::new(secret, config.payments, height, now),
            watches: BTreeSet::new(),
        })
    }

    /// Rebuilds the node after a restart from its channel `store` and its
    /// payment records (the values of every [`NodeAction::PutPaymentRecord`]
    /// not deleted since). The actions register the chain watches again and
    /// resume what a crash interrupted (fulfilling claimed HTLCs, failing
    /// back forwards that never left); carry them out as any others.
    pub fn load<S: Store + ?Sized>(
        wallet: WalletKeys,
        config: NodeConfig,
        store: &S,
        payment_records: &[Vec<u8>],
        height: u32,
        now: u64,
    ) -> Result<(Node, Vec<NodeAction>), NodeError> {
        let (node_id, secret) = node_keys(&wallet)?;
        let records = payment_records
            .iter()
            .map(|b| PaymentRecord::decode(b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| NodeError::CorruptPaymentRecord)?;
        let (manager, acts) = ChannelManager::load(wallet, config.manager, store, height, now)?;
        let pending = manager.pending_htlcs();
        let views = ChannelView::from_manager(&manager);
        let (payments, pacts) = Payments::load(
            secret,
            config.payments,
            &records,
            &pending,
            &views,
            height,
            now,
        );
        let mut node = Node {
            node_id,
            manager,
            payments,
            watches: BTreeSet::new(),
        };
        let mut out = vec![];
        node.run_manager(acts, &mut out);
        node.run_payment(pacts, &mut out);
        Ok((node, out))
    }

    pub fn node_id(&self) -> PublicKey {
        self.node_id
    }

    pub fn manager(&self) -> &ChannelManager {
        &self.manager
    }

    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    pub fn best_height(&self) -> u32 {
        self.payments.height()
    }

    pub fn list_channels(&self) -> Vec<ChannelInfo> {
        self.manager.list_channels()
    }

    /// What the chain source should look for.
    pub fn watches(&self) -> impl Iterator<Item = &Watch> {
        self.watches.iter()
    }

    /// The channels as the payment layer sees them.
    pub fn channel_views(&self) -> Vec<ChannelView> {
        ChannelView::from_manager(&self.manager)
    }

    /// Processes one input; peer input and chain events never fail.
    pub fn handle(&mut self, input: NodeInput) -> Vec<NodeAction> {
        let mut out = vec![];
        match input {
            NodeInput::PeerConnected { node_id, features } => {
                self.manager_input(ManagerInput::PeerConnected { node_id, features }, &mut out)
            }
            NodeInput::PeerDisconnected { node_id } => {
                self.manager_input(ManagerInput::PeerDisconnected { node_id }, &mut out)
            }
            NodeInput::PeerMessage { node_id, msg } => {
                self.manager_input(ManagerInput::PeerMessage { node_id, msg }, &mut out)
            }
            NodeInput::Block { height, txs } => {
                for (tx_index, tx) in &txs {
                    self.tx_seen(tx, height, *tx_index, &mut out);
                }
                self.block(height, &mut out);
            }
            NodeInput::BlockConnected { height } => self.block(height, &mut out),
            NodeInput::TxConfirmed {
                txid,
                height,
                tx_index,
            } => self.manager_input(
                ManagerInput::TxConfirmed {
                    txid,
                    height,
                    tx_index,
                },
                &mut out,
            ),
            NodeInput::OutputSpent { outpoint, tx } => {
                self.manager_input(ManagerInput::OutputSpent { outpoint, tx }, &mut out)
            }
            NodeInput::FeeEstimate(f) => self.manager_input(ManagerInput::FeeEstimate(f), &mut out),
            NodeInput::Tick { now } => {
                self.manager_input(ManagerInput::Tick { now }, &mut out);
                self.payment_input(PaymentInput::Tick { now }, &mut out);
            }
        }
        out
    }

    /// Opens a channel to the connected peer `node_id` (the request's
    /// feature fields are filled in by the manager). The channel asks for
    /// its funding transaction with the `FundingRequired` channel event;
    /// answer with [`Node::command`] and [`Command::FundingTx`].
    pub fn open_channel(
        &mut self,
        node_id: PublicKey,
        request: OpenRequest,
    ) -> Result<Vec<NodeAction>, NodeError> {
        let acts = self
            .manager
            .handle(ManagerInput::OpenChannel { node_id, request })?;
        let mut out = vec![];
        self.run_manager(acts, &mut out);
        Ok(out)
    }

    /// A user command for one channel ([`Command::FundingTx`],
    /// [`Command::Close`], [`Command::ForceClose`], [`Command::UpdateFee`]).
    pub fn command(
        &mut self,
        channel_id: ChannelId,
        command: Command,
    ) -> Result<Vec<NodeAction>, NodeError> {
        let acts = self.manager.handle(ManagerInput::Command {
            channel_id,
            command,
        })?;
        let mut out = vec![];
        self.run_manager(acts, &mut out);
        Ok(out)
    }

    /// A new invoice; `entropy` (32 random bytes) makes its preimage and
    /// payment secret. The invoice record is the first action.
    pub fn create_invoice(
        &mut self,
        request: InvoiceRequest,
        entropy: &[u8; 32],
    ) -> Result<(String, Vec<NodeAction>), NodeError> {
        let (s, acts) = self.payments.create_invoice(request, entropy)?;
        let mut out = vec![];
        self.run_payment(acts, &mut out);
        Ok((s, out))
    }

    /// Pays `invoice` over `routes`, or, when `None`, over the routes our
    /// channels give it ([`candidate_routes`]: straight to the payee, or to
    /// the first node of one of its route hints). `entropy` (32 random
    /// bytes) seeds the onions. The outcome arrives as
    /// [`PaymentEvent::PaymentSent`] or [`PaymentEvent::PaymentFailed`].
    pub fn pay_invoice(
        &mut self,
        invoice: &Invoice,
        params: PayParams,
        routes: Option<Vec<Route>>,
        entropy: &[u8; 32],
    ) -> Result<Vec<NodeAction>, NodeError> {
        let views = self.channel_views();
        let routes = routes.unwrap_or_else(|| candidate_routes(invoice, &views));
        let acts = self
            .payments
            .pay_invoice(invoice, params, routes, &views, entropy)?;
        let mut out = vec![];
        self.run_payment(acts, &mut out);
        Ok(out)
    }

    /// Whether the payment of `hash` is still pending.
    pub fn payment_pending(&self, hash: &PaymentHash) -> bool {
        self.payments
            .outgoing(hash)
            .is_some_and(|o| o.status == crate::payment::OutgoingStatus::Pending)
    }

    // ----- wiring -----

    fn tx_seen(&mut self, tx: &Transaction, height: u32, tx_index: u32, out: &mut Vec<NodeAction>) {
        for i in &tx.input {
            let w = Watch::Spent {
                outpoint: i.previous_output,
            };
            if self.watches.contains(&w) {
                self.manager_input(
                    ManagerInput::OutputSpent {
                        outpoint: i.previous_output,
                        tx: tx.clone(),
                    },
                    out,
                );
            }
        }
        let txid = tx.compute_txid();
        if self
            .watches
            .iter()
            .any(|w| matches!(w, Watch::Confirmed { txid: t, .. } if *t == txid))
        {
            self.manager_input(
                ManagerInput::TxConfirmed {
                    txid,
                    height,
                    tx_index,
                },
                out,
            );
        }
    }

    fn block(&mut self, height: u32, out: &mut Vec<NodeAction>) {
        self.manager_input(ManagerInput::BlockConnected { height }, out);
        self.payment_input(PaymentInput::BlockConnected { height }, out);
    }

    fn manager_input(&mut self, input: ManagerInput, out: &mut Vec<NodeAction>) {
        // Peer input and chain events are never refused (see
        // `ChannelManager::handle`); an `Err` would change nothing.
        if let Ok(acts) = self.manager.handle(input) {
            self.run_manager(acts, out);
        }
    }

    /// Passes the manager's actions on; its HTLC events go to the payment
    /// layer once the whole list is out (after its persist and sends).
    fn run_manager(&mut self, acts: Vec<ManagerAction>, out: &mut Vec<NodeAction>) {
        let mut inputs = vec![];
        for a in acts {
            out.push(match a {
                ManagerAction::Persist(b) => NodeAction::PersistChannels(b),
                ManagerAction::Send { node_id, msg } => NodeAction::Send { node_id, msg },
                ManagerAction::Disconnect { node_id } => NodeAction::Disconnect { node_id },
                ManagerAction::Publish(tx) => NodeAction::Publish(tx),
                ManagerAction::PublishLater {
                    tx,
                    height,
                    confirmed,
                } => NodeAction::PublishLater {
                    tx,
                    height,
                    confirmed,
                },
                ManagerAction::WatchFunding {
                    txid,
                    script_pubkey,
                    ..
                } => match self.watch(Watch::Confirmed {
                    txid,
                    script_pubkey: Some(script_pubkey),
                }) {
                    Some(a) => a,
                    None => continue,
                },
                ManagerAction::WatchConfirmed { txid, .. } => match self.watch(Watch::Confirmed {
                    txid,
                    script_pubkey: None,
                }) {
                    Some(a) => a,
                    None => continue,
                },
                ManagerAction::WatchSpent { outpoint, .. } => {
                    match self.watch(Watch::Spent { outpoint }) {
                        Some(a) => a,
                        None => continue,
                    }
                }
                ManagerAction::Event(e) => {
                    inputs.extend(PaymentInput::from_event(&e));
                    NodeAction::Event(NodeEvent::Channel(e))
                }
            });
        }
        for i in inputs {
            self.payment_input(i, out);
        }
    }

    fn watch(&mut self, w: Watch) -> Option<NodeAction> {
        self.watches
            .insert(w.clone())
            .then_some(NodeAction::Watch(w))
    }

    fn payment_input(&mut self, input: PaymentInput, out: &mut Vec<NodeAction>) {
        let views = self.channel_views();
        let acts = self.payments.handle(input, &views);
        self.run_payment(acts, out);
    }

    /// Carries out the payment layer's actions in order: its records go
    /// out ahead of the commands that depend on them.
    fn run_payment(&mut self, acts: Vec<PaymentAction>, out: &mut Vec<NodeAction>) {
        for a in acts {
            match a {
                PaymentAction::Persist(r) => out.push(NodeAction::PutPaymentRecord {
                    key: r.key(),
                    value: r.encode(),
                }),
                PaymentAction::Delete(key) => out.push(NodeAction::DeletePaymentRecord { key }),
                PaymentAction::Command {
                    channel_id,
                    command,
                } => {
                    let add = match &command {
                        Command::AddHtlc { payment_hash, .. } => Some(*payment_hash),
                        _ => None,
                    };
                    match self.manager.handle(ManagerInput::Command {
                        channel_id,
                        command,
                    }) {
                        Ok(acts) => self.run_manager(acts, out),
                        // A refused add fails its attempt (the next route is
                        // tried); other refusals (a repeated fulfil after a
                        // restart, a `Sign` on a closed channel) change nothing.
                        Err(error) => {
                            out.push(NodeAction::Event(NodeEvent::CommandRefused {
                                channel_id,
                                error,
                            }));
                            if let Some(payment_hash) = add {
                                self.payment_input(
                                    PaymentInput::AddRefused {
                                        channel_id,
                                        payment_hash,
                                    },
                                    out,
                                );
                            }
                        }
                    }
                }
                PaymentAction::Event(e) => out.push(NodeAction::Event(NodeEvent::Payment(e))),
            }
        }
    }
}

fn node_keys(wallet: &WalletKeys) -> Result<(PublicKey, secp256k1::SecretKey), NodeError> {
    Ok((
        wallet.node_id().map_err(NodeError::Keys)?,
        wallet.node_secret().map_err(NodeError::Keys)?,
    ))
}

#[cfg(test)]
mod tests;
