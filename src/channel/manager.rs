//! Every channel of the wallet, with every peer: routing, policy, storage.
//!
//! # Shape
//!
//! [`ChannelManager`] is sans-IO like [`Channel`]: [`ChannelManager::handle`]
//! takes one [`ManagerInput`] — a peer connecting or disconnecting, a decoded
//! message from a peer, a user command, a chain event, a clock tick (the
//! time is passed in; there is no clock inside) — and returns the
//! [`ManagerAction`]s the driver must carry out, in order. Each channel is a
//! [`Channel`]; the manager finds which channel an input is for, feeds it a
//! [`Command`], and turns the channel's [`Action`]s into manager actions
//! addressed to the channel's peer.
//!
//! # Persist before send, across channels
//!
//! **All the `Persist` actions of the channels touched by one input are
//! grouped into one atomic [`Batch`], returned as the first action
//! ([`ManagerAction::Persist`]), before any message, transaction, watch or
//! event of that input.** The driver applies the batch with
//! [`Store::apply`] and must not carry out any later action of the same
//! input unless the batch was applied durably; if the store refuses it, the
//! driver stops, drops the manager and rebuilds it with
//! [`ChannelManager::load`]. Moving a persist ahead of an unrelated message
//! of another channel is always safe (the record only describes a state we
//! are already in), so the per-channel invariant of [`Channel`] — nothing a
//! message commits us to leaves before it is durable — holds for every
//! channel at once, and a crash leaves either all of the input's records or
//! none of them. When one input changes a channel twice, only its last
//! record is kept (the store requires increasing update numbers and the last
//! record includes the earlier changes).
//!
//! # Records
//!
//! One store record per channel, keyed by its final `channel_id`. The
//! record's data is the channel's own record ([`Channel::record`]) behind a
//! small envelope that adds what the channel does not know: the peer's node
//! id (version byte `1`, 33-byte node id, then the channel's bytes). The
//! all-zero id holds the manager's own record: its update number is the
//! next unused [`ChannelKeyIndex`], so a key set is never given to two
//! funded channels, even after the first was closed and deleted. (Indices of
//! channels that were never funded may be handed out again after a restart:
//! nothing was signed with them that could be misused.)
//!
//! # Routing (BOLT 1, BOLT 2)
//!
//! Channels are identified by (peer, channel id): temporary ids are only
//! unique per peer. `open_channel`, `accept_channel` and `funding_created`
//! are routed by `temporary_channel_id`; from `funding_created` (fundee) or
//! our funding transaction (funder) on, the channel is known by its final
//! id, and the peer's `error` may still use the temporary one until
//! `funding_signed`. A final id already used by another channel is refused
//! (a peer cannot take over a record by reusing someone's funding outpoint).
//!
//! A channel message (types 32-255) for a channel we do not have with that
//! peer is answered with an `error` for that `channel_id` (a `warning` when
//! the id is all zero, which would otherwise fail every channel); `error`
//! and `warning` for unknown channels are ignored. An `error` with the
//! all-zero id fails every channel with the peer.
//!
//! # Fake-channel protection
//!
//! Inbound channels that are not funded yet, or funded but not confirmed
//! (zero-conf ones excepted), are "pending" ([`Channel::is_pending_inbound`]).
//! Their number is limited per peer and in total ([`PendingLimits`]); an
//! `open_channel` beyond a limit is refused with an `error` saying which
//! ([`Refusal`]). Unfunded ones are forgotten on disconnection (BOLT 2) and
//! after [`PendingLimits::timeout_secs`] (checked on [`ManagerInput::Tick`]);
//! funded ones whose funding transaction has not confirmed within
//! [`ManagerConfig::unconfirmed_timeout_blocks`] (2016, BOLT 2) blocks are
//! forgotten and their record deleted (after a restart the blocks are
//! counted from the height at [`ChannelManager::load`], which only delays
//! forgetting). An `open_channel` with an all-zero temporary id is refused
//! too. The counts come from the channels
//! themselves, so they cannot drift from the truth. Pending inbound channels
//! do not receive [`Command::Tick`]: the manager's policy replaces the
//! channel's own default timeout.
//!
//! # Chain
//!
//! Channels ask for watches ([`Action::WatchFunding`], [`Action::WatchSpent`],
//! [`Action::WatchConfirmed`]); the manager passes them on (with the channel
//! id) and remembers them, so that [`ManagerInput::TxConfirmed`],
//! [`ManagerInput::BlockConnected`] and [`ManagerInput::OutputSpent`] reach
//! the channels that asked: a spend of the funding output as
//! [`Command::FundingSpent`], of any other output as [`Command::OutputSpent`];
//! the confirmation of a transaction of a close as [`Command::TxConfirmed`],
//! and every block as [`Command::BlockConnected`] to the channels that still
//! follow confirmations (their HTLCs are being settled on chain). After
//! [`ChannelManager::load`], channels on chain ask for their watches again.

use core::fmt;

use bitcoin::{OutPoint, ScriptBuf, Transaction, Txid};
use secp256k1::PublicKey;

use crate::error::ErrorCode;
use crate::keys::{ChannelKeyIndex, WalletKeys};
use crate::store::{Batch, Store, StoreError};
use crate::tx::{ChannelType, FeeratePerKw, Side};
use crate::types::{Msat, Sat, ShortChannelId};
use crate::wire::{ChannelId, ErrorMessage, Features, Message, WarningMessage};

use super::{
    Action, Channel, ChannelConfig, ChannelError, ChannelRecord, Command, Event, HtlcAdd, HtlcDir,
    Link, OpenRequest, PendingLimits, State, Status,
};

/// BOLT 2: a fundee forgets a channel whose funding transaction is not seen
/// after this many blocks.
pub const FUNDEE_UNCONFIRMED_TIMEOUT_BLOCKS: u32 = 2016;

/// Version byte of the record envelope.
const RECORD_VERSION: u8 = 1;

/// What the manager needs besides the wallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerConfig {
    /// The configuration of every channel.
    pub channel: ChannelConfig,
    /// The features we send in `init`.
    pub our_features: Features,
    /// Limits on pending inbound channels; `timeout_secs` applies to
    /// unfunded ones.
    pub pending: PendingLimits,
    /// Blocks after which a funded inbound channel whose funding
    /// transaction was never seen is forgotten.
    pub unconfirmed_timeout_blocks: u32,
    /// Whether peers may open channels to us at all.
    pub accept_inbound: bool,
}

impl ManagerConfig {
    /// The features of `channel` ([`ChannelConfig::init_features`]), the
    /// default pending limits with a 10 minute timeout for unfunded inbound
    /// channels (an honest funder sends `funding_created` within seconds),
    /// and BOLT 2's 2016 blocks.
    pub fn new(channel: ChannelConfig) -> Self {
        ManagerConfig {
            our_features: channel.init_features(),
            channel,
            pending: PendingLimits {
                timeout_secs: 600,
                ..PendingLimits::default()
            },
            unconfirmed_timeout_blocks: FUNDEE_UNCONFIRMED_TIMEOUT_BLOCKS,
            accept_inbound: true,
        }
    }
}

/// Everything that can happen to the manager.
#[derive(Clone, Debug)]
pub enum ManagerInput {
    /// `init` was exchanged with `node_id`; `features` are the peer's.
    PeerConnected {
        node_id: PublicKey,
        features: Features,
    },
    /// The connection to `node_id` is gone.
    PeerDisconnected { node_id: PublicKey },
    /// A decoded message from `node_id`.
    PeerMessage { node_id: PublicKey, msg: Message },
    /// The user opens a channel to a connected peer. The request's
    /// `peer_features` and `our_features` are replaced by those of the
    /// connection.
    OpenChannel {
        node_id: PublicKey,
        request: OpenRequest,
    },
    /// A user command for one channel (by final or temporary id):
    /// [`Command::AddHtlc`], [`Command::FulfillHtlc`], [`Command::FailHtlc`],
    /// [`Command::FailMalformedHtlc`], [`Command::Sign`],
    /// [`Command::UpdateFee`], [`Command::FundingTx`], [`Command::Close`],
    /// [`Command::ForceClose`].
    Command {
        channel_id: ChannelId,
        command: Command,
    },
    /// A new best block.
    BlockConnected { height: u32 },
    /// A watched transaction confirmed in block `height` at `tx_index`.
    TxConfirmed {
        txid: Txid,
        height: u32,
        tx_index: u32,
    },
    /// A watched output was spent by `tx`.
    OutputSpent { outpoint: OutPoint, tx: Transaction },
    /// Our current feerate estimate.
    FeeEstimate(FeeratePerKw),
    /// The time (seconds since the epoch) passes.
    Tick { now: u64 },
}

/// What the driver must do, strictly in order.
// Like the channel's `Action`: short-lived values, moved once, mostly `Send`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum ManagerAction {
    /// Apply atomically ([`Store::apply`]) before anything after it.
    Persist(Batch),
    Send {
        node_id: PublicKey,
        msg: Message,
    },
    Publish(Transaction),
    /// Broadcast `tx` once the tip is at `height` and each `(txid, n)` of
    /// `confirmed` has `n` confirmations (see [`Action::PublishLater`]).
    PublishLater {
        tx: Transaction,
        height: u32,
        confirmed: Vec<(Txid, u16)>,
    },
    /// Report ([`ManagerInput::TxConfirmed`], then
    /// [`ManagerInput::BlockConnected`]) the confirmation of `txid`.
    WatchFunding {
        channel_id: ChannelId,
        txid: Txid,
        script_pubkey: ScriptBuf,
        min_depth: u32,
    },
    /// Report ([`ManagerInput::OutputSpent`]) the spending of `outpoint`.
    WatchSpent {
        channel_id: ChannelId,
        outpoint: OutPoint,
    },
    /// Report ([`ManagerInput::TxConfirmed`], then
    /// [`ManagerInput::BlockConnected`]) the confirmation of `txid`, a
    /// transaction of a close.
    WatchConfirmed {
        channel_id: ChannelId,
        txid: Txid,
    },
    Event(ManagerEvent),
    /// Close the connection to `node_id`.
    Disconnect {
        node_id: PublicKey,
    },
}

/// What the application hears from the manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagerEvent {
    /// An event of one channel.
    Channel {
        node_id: PublicKey,
        channel_id: ChannelId,
        event: Event,
    },
    /// The channel is now known by its final id.
    ChannelIdChanged {
        node_id: PublicKey,
        temporary_channel_id: ChannelId,
        channel_id: ChannelId,
    },
    /// An inbound `open_channel` (or `funding_created`) was refused.
    OpenRefused {
        node_id: PublicKey,
        temporary_channel_id: ChannelId,
        reason: Refusal,
    },
    /// A pending inbound channel was forgotten by the timeout policy.
    PendingExpired {
        node_id: PublicKey,
        channel_id: ChannelId,
        reason: Refusal,
    },
    /// An `error` or `warning` for all channels (all-zero `channel_id`).
    PeerError {
        node_id: PublicKey,
        text: String,
        fatal: bool,
    },
    /// A peer input or chain event a channel could not process (the
    /// channel is unchanged).
    InputRejected {
        node_id: PublicKey,
        channel_id: ChannelId,
        error: ChannelError,
    },
}

/// Why the manager refused or dropped a peer's channel; the text is what
/// the peer reads in our `error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// We do not accept inbound channels ([`ManagerConfig::accept_inbound`]).
    InboundDisabled,
    /// The peer already has `limit` pending inbound channels with us.
    TooManyFromPeer { limit: usize },
    /// We already have `limit` pending inbound channels in total.
    TooManyTotal { limit: usize },
    /// `open_channel` reuses a `temporary_channel_id` of this peer.
    DuplicateTemporaryChannelId,
    /// `open_channel` with an all-zero `temporary_channel_id` (which would
    /// make every `error` about it fail all channels).
    ZeroTemporaryChannelId,
    /// `funding_created` leads to a `channel_id` we already use.
    ChannelIdInUse,
    /// `open_channel` refused by the channel's checks.
    Open(ChannelError),
    /// No `funding_created` within the timeout.
    FundingTimeout { secs: u64 },
    /// The funding transaction did not confirm within `blocks` blocks.
    ConfirmationTimeout { blocks: u32 },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::InboundDisabled => f.write_str("not accepting inbound channels"),
            Refusal::TooManyFromPeer { limit } => {
                write!(
                    f,
                    "too many pending channels from this peer (limit {limit})"
                )
            }
            Refusal::TooManyTotal { limit } => {
                write!(f, "too many pending channels (limit {limit})")
            }
            Refusal::DuplicateTemporaryChannelId => f.write_str("temporary_channel_id in use"),
            Refusal::ZeroTemporaryChannelId => f.write_str("all-zero temporary_channel_id"),
            Refusal::ChannelIdInUse => f.write_str("channel_id in use"),
            Refusal::Open(e) => write!(f, "{e}"),
            Refusal::FundingTimeout { secs } => {
                write!(f, "funding_created not received within {secs} seconds")
            }
            Refusal::ConfirmationTimeout { blocks } => {
                write!(
                    f,
                    "funding transaction not confirmed within {blocks} blocks"
                )
            }
        }
    }
}

impl ErrorCode for Refusal {
    fn code(&self) -> &'static str {
        match self {
            Refusal::InboundDisabled => "INBOUND_CHANNELS_DISABLED",
            Refusal::TooManyFromPeer { .. } => "TOO_MANY_PENDING_CHANNELS_FROM_PEER",
            Refusal::TooManyTotal { .. } => "TOO_MANY_PENDING_CHANNELS",
            Refusal::DuplicateTemporaryChannelId => "DUPLICATE_TEMPORARY_CHANNEL_ID",
            Refusal::ZeroTemporaryChannelId => "ZERO_TEMPORARY_CHANNEL_ID",
            Refusal::ChannelIdInUse => "CHANNEL_ID_IN_USE",
            Refusal::Open(e) => e.code(),
            Refusal::FundingTimeout { .. } => "FUNDING_TIMEOUT",
            Refusal::ConfirmationTimeout { .. } => "CONFIRMATION_TIMEOUT",
        }
    }
}

/// Local refusals of the manager (user commands, loading).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagerError {
    /// No channel has this id.
    UnknownChannel(ChannelId),
    /// The temporary id is used with several peers.
    AmbiguousChannelId(ChannelId),
    /// The id is already used by another channel.
    ChannelIdInUse(ChannelId),
    /// The peer is not connected.
    PeerNotConnected,
    /// The command is not a user command.
    NotAUserCommand,
    /// The channel refused the command (it is unchanged).
    Channel(ChannelError),
    /// Reading the store failed.
    Store(StoreError),
    /// A stored record could not be loaded.
    CorruptRecord {
        channel_id: ChannelId,
        reason: &'static str,
    },
}

impl fmt::Display for ManagerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagerError::UnknownChannel(id) => write!(f, "unknown channel {id}"),
            ManagerError::AmbiguousChannelId(id) => {
                write!(f, "channel id {id} is used with several peers")
            }
            ManagerError::ChannelIdInUse(id) => write!(f, "channel id {id} already in use"),
            ManagerError::PeerNotConnected => f.write_str("peer not connected"),
            ManagerError::NotAUserCommand => f.write_str("not a user command"),
            ManagerError::Channel(e) => write!(f, "{e}"),
            ManagerError::Store(e) => write!(f, "{e}"),
            ManagerError::CorruptRecord { channel_id, reason } => {
                write!(f, "cannot load channel {channel_id}: {reason}")
            }
        }
    }
}

impl std::error::Error for ManagerError {}

impl ErrorCode for ManagerError {
    fn code(&self) -> &'static str {
        match self {
            ManagerError::UnknownChannel(_) => "UNKNOWN_CHANNEL",
            ManagerError::AmbiguousChannelId(_) => "AMBIGUOUS_CHANNEL_ID",
            ManagerError::ChannelIdInUse(_) => "CHANNEL_ID_IN_USE",
            ManagerError::PeerNotConnected => "PEER_NOT_CONNECTED",
            ManagerError::NotAUserCommand => "NOT_A_USER_COMMAND",
            ManagerError::Channel(e) => e.code(),
            ManagerError::Store(e) => e.code(),
            ManagerError::CorruptRecord { .. } => "CORRUPT_CHANNEL_RECORD",
        }
    }
}

impl From<ChannelError> for ManagerError {
    fn from(e: ChannelError) -> Self {
        ManagerError::Channel(e)
    }
}

impl From<StoreError> for ManagerError {
    fn from(e: StoreError) -> Self {
        ManagerError::Store(e)
    }
}

/// One row of [`ChannelManager::list_channels`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The final id, or the temporary one before funding.
    pub channel_id: ChannelId,
    /// The temporary id, while the opening is not finished.
    pub temporary_channel_id: Option<ChannelId>,
    pub node_id: PublicKey,
    /// [`Channel::state_name`].
    pub state: &'static str,
    /// `None` before funding.
    pub status: Option<Status>,
    pub link: Link,
    /// We are the funder.
    pub outbound: bool,
    pub capacity: Sat,
    pub local_balance: Msat,
    pub remote_balance: Msat,
    /// HTLCs on our current commitment.
    pub in_flight: Msat,
    /// The feerate of our current commitment (`None` before funding).
    pub feerate: Option<FeeratePerKw>,
    /// The commitment format (`None` before funding).
    pub channel_type: Option<ChannelType>,
    pub short_channel_id: Option<ShortChannelId>,
    /// The alias we gave the peer (`option_scid_alias`).
    pub alias: Option<ShortChannelId>,
    pub funding_txid: Option<Txid>,
}

#[derive(Clone, Debug)]
struct FundingWatch {
    txid: Txid,
    vout: u32,
    conf_height: Option<u32>,
}

#[derive(Clone, Debug)]
struct Entry {
    node_id: PublicKey,
    ch: Channel,
    /// The temporary id while the opening is in progress.
    temp_id: Option<ChannelId>,
    /// A record of this channel is in the store.
    persisted: bool,
    funding: Option<FundingWatch>,
    spent: Vec<OutPoint>,
    /// Transactions whose confirmation the channel follows.
    confirms: Vec<Txid>,
    /// Best height when the channel was funded (or loaded).
    funded_height: u32,
}

impl Entry {
    fn matches(&self, node_id: &PublicKey, id: &ChannelId) -> bool {
        self.node_id == *node_id && self.has_id(id)
    }
    fn has_id(&self, id: &ChannelId) -> bool {
        self.ch.channel_id() == *id
            || (self.temp_id == Some(*id) && !matches!(self.ch.state, State::Funded(_)))
    }
    fn is_unfunded_inbound(&self) -> bool {
        matches!(self.ch.state, State::WaitFundingCreated { .. })
    }
}

#[derive(Clone, Debug)]
struct Peer {
    node_id: PublicKey,
    features: Features,
}

/// The actions of one input being built: records apart, merged into one
/// batch in front by [`Out::finish`].
#[derive(Default)]
struct Out {
    puts: Vec<ChannelRecord>,
    deletes: Vec<ChannelId>,
    actions: Vec<ManagerAction>,
}

impl Out {
    fn push(&mut self, a: ManagerAction) {
        self.actions.push(a);
    }
    fn event(&mut self, e: ManagerEvent) {
        self.actions.push(ManagerAction::Event(e));
    }
}

/// All channels with all peers.
#[derive(Clone, Debug)]
pub struct ChannelManager {
    wallet: WalletKeys,
    config: ManagerConfig,
    channels: Vec<Entry>,
    peers: Vec<Peer>,
    next_key_index: u32,
    stored_key_index: u32,
    best_height: u32,
    now: u64,
    fee_estimate: Option<FeeratePerKw>,
}

impl ChannelManager {
    /// An empty manager (a new wallet) at chain height `best_height` and
    /// time `now`.
    pub fn new(wallet: WalletKeys, config: ManagerConfig, best_height: u32, now: u64) -> Self {
        ChannelManager {
            wallet,
            config,
            channels: vec![],
            peers: vec![],
            next_key_index: 0,
            stored_key_index: 0,
            best_height,
            now,
            fee_estimate: None,
        }
    }

    /// Rebuilds the manager from every record of `store` (at startup).
    /// Every channel starts offline. The returned actions are the chain
    /// watches the channels need (the driver registers them again).
    pub fn load<S: Store + ?Sized>(
        wallet: WalletKeys,
        config: ManagerConfig,
        store: &S,
        best_height: u32,
        now: u64,
    ) -> Result<(Self, Vec<ManagerAction>), ManagerError> {
        let mut m = Self::new(wallet, config, best_height, now);
        let mut actions = vec![];
        for rec in store.list()? {
            if rec.channel_id == ChannelId::ALL {
                m.stored_key_index =
                    u32::try_from(rec.update_number).map_err(|_| ManagerError::CorruptRecord {
                        channel_id: rec.channel_id,
                        reason: "key index counter out of range",
                    })?;
                m.next_key_index = m.next_key_index.max(m.stored_key_index);
                continue;
            }
            let (node_id, inner) = unwrap_record(&rec)?;
            let ch =
                Channel::restore(&inner, &m.wallet, m.config.channel.clone()).map_err(|e| {
                    ManagerError::CorruptRecord {
                        channel_id: rec.channel_id,
                        reason: match e {
                            ChannelError::CorruptRecord(r) => r,
                            _ => "channel cannot be restored",
                        },
                    }
                })?;
            if ch.channel_id() != rec.channel_id {
                return Err(ManagerError::CorruptRecord {
                    channel_id: rec.channel_id,
                    reason: "record stored under another channel id",
                });
            }
            let f = ch.funded().ok_or(ManagerError::CorruptRecord {
                channel_id: rec.channel_id,
                reason: "not funded",
            })?;
            m.next_key_index = m.next_key_index.max(f.key_index.get().saturating_add(1));
            let outpoint = f.c.params.funding_outpoint;
            let id = f.c.channel_id;
            let mut e = Entry {
                node_id,
                ch: ch.clone(),
                temp_id: None,
                persisted: true,
                funding: None,
                spent: vec![],
                confirms: vec![],
                funded_height: best_height,
            };
            if f.status != Status::Closed {
                if !f.funding_confirmed {
                    e.funding = Some(FundingWatch {
                        txid: outpoint.txid,
                        vout: outpoint.vout,
                        conf_height: None,
                    });
                    actions.push(ManagerAction::WatchFunding {
                        channel_id: id,
                        txid: outpoint.txid,
                        script_pubkey: f.c.funding_script_pubkey(),
                        min_depth: f.minimum_depth,
                    });
                }
                e.spent.push(outpoint);
                actions.push(ManagerAction::WatchSpent {
                    channel_id: id,
                    outpoint,
                });
            }
            // A close in progress: its HTLC outputs and confirmations.
            let resolving = !ch.onchain_confirmation_watches().is_empty();
            let onchain = if f.status != Status::Closed || resolving {
                ch.onchain_actions()
            } else {
                vec![]
            };
            for a in onchain {
                match a {
                    Action::WatchSpent { outpoint } if !e.spent.contains(&outpoint) => {
                        e.spent.push(outpoint);
                        actions.push(ManagerAction::WatchSpent {
                            channel_id: id,
                            outpoint,
                        });
                    }
                    Action::WatchConfirmed { txid } if !e.confirms.contains(&txid) => {
                        e.confirms.push(txid);
                        actions.push(ManagerAction::WatchConfirmed {
                            channel_id: id,
                            txid,
                        });
                    }
                    _ => {}
                }
            }
            m.channels.push(e);
        }
        Ok((m, actions))
    }

    /// Processes one input. `Err` is a local refusal of a user command
    /// (nothing changed); peer input and chain events never fail.
    pub fn handle(&mut self, input: ManagerInput) -> Result<Vec<ManagerAction>, ManagerError> {
        let mut out = Out::default();
        match input {
            ManagerInput::PeerConnected { node_id, features } => {
                self.on_connected(node_id, features, &mut out)
            }
            ManagerInput::PeerDisconnected { node_id } => self.on_disconnected(node_id, &mut out),
            ManagerInput::PeerMessage { node_id, msg } => self.on_message(node_id, msg, &mut out),
            ManagerInput::OpenChannel { node_id, request } => {
                self.on_open(node_id, request, &mut out)?
            }
            ManagerInput::Command {
                channel_id,
                command,
            } => self.on_command(channel_id, command, &mut out)?,
            ManagerInput::BlockConnected { height } => self.on_block(height, &mut out),
            ManagerInput::TxConfirmed {
                txid,
                height,
                tx_index,
            } => self.on_tx_confirmed(txid, height, tx_index, &mut out),
            ManagerInput::OutputSpent { outpoint, tx } => {
                let idx: Vec<usize> = (0..self.channels.len())
                    .filter(|&i| self.channels[i].spent.contains(&outpoint))
                    .collect();
                self.drive_each(
                    idx,
                    |e| {
                        let funding = e.ch.funded().map(|f| f.c.params.funding_outpoint);
                        Some(if funding == Some(outpoint) {
                            Command::FundingSpent { tx: tx.clone() }
                        } else {
                            Command::OutputSpent { tx: tx.clone() }
                        })
                    },
                    &mut out,
                )
            }
            ManagerInput::FeeEstimate(f) => {
                self.fee_estimate = Some(f);
                let idx: Vec<usize> = (0..self.channels.len()).collect();
                self.drive_each(idx, |_| Some(Command::FeeEstimate(f)), &mut out)
            }
            ManagerInput::Tick { now } => self.on_tick(now, &mut out),
        }
        Ok(self.finish(out))
    }

    // ----- queries -----

    /// Every channel, in the order they were opened or loaded.
    pub fn list_channels(&self) -> Vec<ChannelInfo> {
        self.channels.iter().map(info).collect()
    }

    /// One channel, by final or temporary id.
    pub fn channel_info(&self, id: &ChannelId) -> Option<ChannelInfo> {
        self.channels.iter().find(|e| e.has_id(id)).map(info)
    }

    /// The channel itself, by final or temporary id.
    pub fn channel(&self, id: &ChannelId) -> Option<&Channel> {
        self.channels.iter().find(|e| e.has_id(id)).map(|e| &e.ch)
    }

    /// The channels with one peer.
    pub fn channels_with(&self, node_id: &PublicKey) -> Vec<ChannelInfo> {
        self.channels
            .iter()
            .filter(|e| e.node_id == *node_id)
            .map(info)
            .collect()
    }

    /// The HTLCs of every funded channel that are not settled yet, for the
    /// payment layer after a restart: ours ([`HtlcDir::Offered`]: proposed,
    /// signed or on a commitment) and the peer's that are on our current
    /// commitment ([`HtlcDir::Received`]). `settling` says whether our
    /// fulfill or fail of it is already queued.
    pub fn pending_htlcs(&self) -> Vec<(ChannelId, HtlcDir, HtlcAdd, bool)> {
        let mut out = Vec::new();
        for e in &self.channels {
            let Some(c) = e.ch.commitments() else {
                continue;
            };
            let settling = |changes: &super::Changes, id: u64| {
                changes
                    .proposed
                    .iter()
                    .chain(&changes.signed)
                    .chain(&changes.acked)
                    .any(|u| u.settles() == Some(id))
            };
            for a in c.offered_htlcs(false) {
                let s = settling(&c.remote_changes, a.id);
                out.push((c.channel_id, HtlcDir::Offered, a.clone(), s));
            }
            for h in c.local_commit.spec.htlcs.iter() {
                if h.dir == HtlcDir::Received {
                    let s = settling(&c.local_changes, h.add.id);
                    out.push((c.channel_id, HtlcDir::Received, h.add.clone(), s));
                }
            }
        }
        out
    }

    /// Whether `node_id` is connected.
    pub fn is_connected(&self, node_id: &PublicKey) -> bool {
        self.peers.iter().any(|p| p.node_id == *node_id)
    }

    /// Pending inbound channels (with `node_id`, and in total).
    pub fn pending_inbound(&self, node_id: &PublicKey) -> (usize, usize) {
        let all = self.channels.iter().filter(|e| e.ch.is_pending_inbound());
        let total = all.clone().count();
        (all.filter(|e| e.node_id == *node_id).count(), total)
    }

    /// The features to send in `init` (those of the configuration).
    pub fn our_features(&self) -> &Features {
        &self.config.our_features
    }

    pub fn best_height(&self) -> u32 {
        self.best_height
    }

    // ----- peers -----

    fn on_connected(&mut self, node_id: PublicKey, features: Features, out: &mut Out) {
        match self.peers.iter_mut().find(|p| p.node_id == node_id) {
            Some(p) => p.features = features,
            None => self.peers.push(Peer { node_id, features }),
        }
        let idx = self.indices_of(&node_id);
        self.drive_each(idx, |_| Some(Command::Connected), out);
    }

    fn on_disconnected(&mut self, node_id: PublicKey, out: &mut Out) {
        self.peers.retain(|p| p.node_id != node_id);
        let idx = self.indices_of(&node_id);
        self.drive_each(idx, |_| Some(Command::Disconnected), out);
    }

    fn indices_of(&self, node_id: &PublicKey) -> Vec<usize> {
        (0..self.channels.len())
            .filter(|&i| self.channels[i].node_id == *node_id)
            .collect()
    }

    fn find(&self, node_id: &PublicKey, id: &ChannelId) -> Option<usize> {
        self.channels.iter().position(|e| e.matches(node_id, id))
    }

    fn on_message(&mut self, node_id: PublicKey, msg: Message, out: &mut Out) {
        if !self.is_connected(&node_id) {
            // Not ours to answer: the transport delivers only after `init`.
            return;
        }
        let id = match &msg {
            Message::Error(e) if e.channel_id.is_all() => {
                out.event(ManagerEvent::PeerError {
                    node_id,
                    text: e.text(),
                    fatal: true,
                });
                let idx = self.indices_of(&node_id);
                let m = msg.clone();
                self.drive_each(idx, |_| Some(Command::Message(m.clone())), out);
                return;
            }
            Message::Warning(w) if w.channel_id.is_all() => {
                out.event(ManagerEvent::PeerError {
                    node_id,
                    text: w.text(),
                    fatal: false,
                });
                return;
            }
            Message::OpenChannel(o) => {
                let o = o.clone();
                return self.on_open_channel(node_id, o, out);
            }
            Message::Error(e) => e.channel_id,
            Message::Warning(w) => w.channel_id,
            Message::AcceptChannel(m) => m.temporary_channel_id,
            Message::FundingCreated(m) => m.temporary_channel_id,
            Message::FundingSigned(m) => m.channel_id,
            Message::ChannelReady(m) => m.channel_id,
            Message::Shutdown(m) => m.channel_id,
            Message::ClosingSigned(m) => m.channel_id,
            Message::UpdateAddHtlc(m) => m.channel_id,
            Message::UpdateFulfillHtlc(m) => m.channel_id,
            Message::UpdateFailHtlc(m) => m.channel_id,
            Message::UpdateFailMalformedHtlc(m) => m.channel_id,
            Message::CommitmentSigned(m) => m.channel_id,
            Message::RevokeAndAck(m) => m.channel_id,
            Message::UpdateFee(m) => m.channel_id,
            Message::ChannelReestablish(m) => m.channel_id,
            Message::AnnouncementSignatures(m) => m.channel_id,
            // Connection-level and gossip messages are not for channels.
            _ => return,
        };
        let Some(i) = self.find(&node_id, &id) else {
            if !(32..=255).contains(&msg.msg_type()) {
                // BOLT 1: ignore errors and warnings for unknown channels;
                // only channel messages (types 32-255) get an answer.
                return;
            }
            // BOLT 1: answer a channel message for an unknown channel with
            // an `error` for it; never an all-zero `error`, which would fail
            // every channel.
            out.push(ManagerAction::Send {
                node_id,
                msg: fail_msg(id, "unknown channel"),
            });
            return;
        };
        if let Message::FundingCreated(m) = &msg {
            let new_id = ChannelId::from_funding_outpoint(&m.funding_txid, m.funding_output_index);
            if self.id_in_use(&new_id, i) {
                let temp = m.temporary_channel_id;
                let reason = Refusal::ChannelIdInUse;
                out.push(ManagerAction::Send {
                    node_id,
                    msg: fail_msg(temp, &reason.to_string()),
                });
                out.event(ManagerEvent::OpenRefused {
                    node_id,
                    temporary_channel_id: temp,
                    reason,
                });
                self.channels.remove(i);
                return;
            }
        }
        self.drive_peer(i, Command::Message(msg), out);
    }

    /// Whether a channel other than `except` is known by `id` (final id or
    /// temporary id), with any peer.
    fn id_in_use(&self, id: &ChannelId, except: usize) -> bool {
        self.channels
            .iter()
            .enumerate()
            .any(|(j, e)| j != except && (e.ch.channel_id() == *id || e.temp_id == Some(*id)))
    }

    fn on_open_channel(&mut self, node_id: PublicKey, o: crate::wire::OpenChannel, out: &mut Out) {
        let temp = o.temporary_channel_id;
        let (per_peer, total) = self.pending_inbound(&node_id);
        let limits = self.config.pending;
        let refusal = if temp.is_all() {
            Some(Refusal::ZeroTemporaryChannelId)
        } else if self.find(&node_id, &temp).is_some() {
            Some(Refusal::DuplicateTemporaryChannelId)
        } else if !self.config.accept_inbound {
            Some(Refusal::InboundDisabled)
        } else if per_peer >= limits.per_peer {
            Some(Refusal::TooManyFromPeer {
                limit: limits.per_peer,
            })
        } else if total >= limits.total {
            Some(Refusal::TooManyTotal {
                limit: limits.total,
            })
        } else {
            None
        };
        if let Some(reason) = refusal {
            out.push(ManagerAction::Send {
                node_id,
                msg: fail_msg(temp, &reason.to_string()),
            });
            out.event(ManagerEvent::OpenRefused {
                node_id,
                temporary_channel_id: temp,
                reason,
            });
            return;
        }
        let peer_features = self.peer_features(&node_id).unwrap_or_default();
        let accepted = ChannelKeyIndex::new(self.next_key_index)
            .map_err(ChannelError::from)
            .and_then(|idx| Ok((idx, self.wallet.channel_keys(idx)?)));
        let (idx, keys) = match accepted {
            Ok(k) => k,
            Err(e) => {
                return self.refuse_open(node_id, temp, e, vec![], out);
            }
        };
        match Channel::accept(
            self.config.channel.clone(),
            keys,
            idx,
            &self.config.our_features,
            &peer_features,
            &o,
            self.fee_estimate,
            self.now,
        ) {
            Ok((ch, actions)) => {
                self.start_channel(node_id, temp, ch, actions, out);
            }
            Err((e, actions)) => self.refuse_open(node_id, temp, e, actions, out),
        }
    }

    fn refuse_open(
        &mut self,
        node_id: PublicKey,
        temp: ChannelId,
        e: ChannelError,
        actions: Vec<Action>,
        out: &mut Out,
    ) {
        let mut sent = false;
        for a in actions {
            if let Action::Send(msg) = a {
                sent = true;
                out.push(ManagerAction::Send { node_id, msg });
            }
        }
        if !sent {
            out.push(ManagerAction::Send {
                node_id,
                msg: fail_msg(temp, &e.to_string()),
            });
        }
        out.event(ManagerEvent::OpenRefused {
            node_id,
            temporary_channel_id: temp,
            reason: Refusal::Open(e),
        });
    }

    fn peer_features(&self, node_id: &PublicKey) -> Option<Features> {
        self.peers
            .iter()
            .find(|p| p.node_id == *node_id)
            .map(|p| p.features.clone())
    }

    // ----- user -----

    fn on_open(
        &mut self,
        node_id: PublicKey,
        mut req: OpenRequest,
        out: &mut Out,
    ) -> Result<(), ManagerError> {
        let features = self
            .peer_features(&node_id)
            .ok_or(ManagerError::PeerNotConnected)?;
        let temp = req.temporary_channel_id;
        if temp.is_all() || self.id_in_use(&temp, usize::MAX) {
            return Err(ManagerError::ChannelIdInUse(temp));
        }
        req.peer_features = features;
        req.our_features = self.config.our_features.clone();
        let idx = ChannelKeyIndex::new(self.next_key_index).map_err(ChannelError::from)?;
        let keys = self.wallet.channel_keys(idx).map_err(ChannelError::from)?;
        let (ch, actions) = Channel::open(self.config.channel.clone(), keys, idx, req)?;
        self.start_channel(node_id, temp, ch, actions, out);
        Ok(())
    }

    /// A channel being opened (by us or by the peer) under the temporary id
    /// `temp`, with the key index it took: it joins the table and its
    /// first actions are carried out.
    fn start_channel(
        &mut self,
        node_id: PublicKey,
        temp: ChannelId,
        ch: Channel,
        actions: Vec<Action>,
        out: &mut Out,
    ) {
        self.next_key_index += 1;
        self.channels.push(Entry {
            node_id,
            ch,
            temp_id: Some(temp),
            persisted: false,
            funding: None,
            spent: vec![],
            confirms: vec![],
            funded_height: self.best_height,
        });
        let i = self.channels.len() - 1;
        self.take_actions(i, temp, actions, out);
    }

    fn lookup(&self, id: &ChannelId) -> Result<usize, ManagerError> {
        let mut found = self
            .channels
            .iter()
            .enumerate()
            .filter(|(_, e)| e.has_id(id))
            .map(|(i, _)| i);
        let first = found.next().ok_or(ManagerError::UnknownChannel(*id))?;
        if found.next().is_some() {
            return Err(ManagerError::AmbiguousChannelId(*id));
        }
        Ok(first)
    }

    fn on_command(
        &mut self,
        id: ChannelId,
        cmd: Command,
        out: &mut Out,
    ) -> Result<(), ManagerError> {
        let i = self.lookup(&id)?;
        match &cmd {
            Command::AddHtlc { .. }
            | Command::FulfillHtlc { .. }
            | Command::FailHtlc { .. }
            | Command::FailMalformedHtlc { .. }
            | Command::Sign
            | Command::UpdateFee(_)
            | Command::Close { .. } => {}
            Command::FundingTx { tx, output_index } => {
                let new_id = ChannelId::from_funding_outpoint(&tx.compute_txid(), *output_index);
                if self.id_in_use(&new_id, i) {
                    return Err(ManagerError::ChannelIdInUse(new_id));
                }
            }
            Command::ForceClose => {
                if self.channels[i].ch.funded().is_none() {
                    // Nothing to publish: fail the opening and forget it.
                    let e = self.channels.remove(i);
                    let cid = e.ch.channel_id();
                    if self.is_connected(&e.node_id) {
                        out.push(ManagerAction::Send {
                            node_id: e.node_id,
                            msg: fail_msg(cid, "channel closed"),
                        });
                    }
                    out.event(ManagerEvent::Channel {
                        node_id: e.node_id,
                        channel_id: cid,
                        event: Event::Forgotten,
                    });
                    return Ok(());
                }
            }
            _ => return Err(ManagerError::NotAUserCommand),
        }
        let old = self.channels[i].ch.channel_id();
        let actions = self.channels[i].ch.handle(cmd)?;
        self.take_actions(i, old, actions, out);
        Ok(())
    }

    // ----- chain and clock -----

    fn on_tx_confirmed(&mut self, txid: Txid, height: u32, tx_index: u32, out: &mut Out) {
        self.best_height = self.best_height.max(height);
        let best = self.best_height;
        let mut idx = vec![];
        for (i, e) in self.channels.iter_mut().enumerate() {
            if let Some(w) = &mut e.funding {
                if w.txid == txid {
                    w.conf_height = Some(height);
                    idx.push(i);
                }
            }
        }
        self.drive_each(
            idx,
            |e| {
                let w = e.funding.as_ref()?;
                Some(Command::FundingDepth {
                    depth: best.saturating_sub(height) + 1,
                    scid: ShortChannelId::new(height, tx_index, u16::try_from(w.vout).ok()?),
                })
            },
            out,
        );
        // Transactions of a close.
        let idx: Vec<usize> = (0..self.channels.len())
            .filter(|&i| self.channels[i].confirms.contains(&txid))
            .collect();
        self.drive_each(idx, |_| Some(Command::TxConfirmed { txid, height }), out);
    }

    fn on_block(&mut self, height: u32, out: &mut Out) {
        self.best_height = height;
        // BOLT 2: a fundee forgets a channel whose funding never showed up.
        let blocks = self.config.unconfirmed_timeout_blocks;
        let expired: Vec<usize> = (0..self.channels.len())
            .filter(|&i| {
                let e = &self.channels[i];
                e.ch.is_pending_inbound()
                    && e.ch.funded().is_some()
                    && e.funding.as_ref().map_or(true, |w| w.conf_height.is_none())
                    && height.saturating_sub(e.funded_height) >= blocks
            })
            .collect();
        self.expire(expired, Refusal::ConfirmationTimeout { blocks }, out);
        let idx: Vec<usize> = (0..self.channels.len())
            .filter(|&i| {
                let e = &self.channels[i];
                e.funding.as_ref().is_some_and(|w| w.conf_height.is_some())
                    && e.ch.funded().is_some_and(|f| !f.funding_confirmed)
            })
            .collect();
        self.drive_each(
            idx,
            |e| {
                let w = e.funding.as_ref()?;
                let h = w.conf_height?;
                Some(Command::FundingDepth {
                    depth: height.saturating_sub(h) + 1,
                    scid: e.ch.funded().and_then(|f| f.scid),
                })
            },
            out,
        );
        // Closes whose HTLCs are still being settled on chain.
        let idx: Vec<usize> = (0..self.channels.len())
            .filter(|&i| !self.channels[i].confirms.is_empty())
            .collect();
        self.drive_each(idx, |_| Some(Command::BlockConnected { height }), out);
    }

    fn on_tick(&mut self, now: u64, out: &mut Out) {
        self.now = now;
        let secs = self.config.pending.timeout_secs;
        let expired: Vec<usize> = (0..self.channels.len())
            .filter(|&i| {
                let e = &self.channels[i];
                e.is_unfunded_inbound() && now.saturating_sub(e.ch.created_at()) > secs
            })
            .collect();
        self.expire(expired, Refusal::FundingTimeout { secs }, out);
        let idx: Vec<usize> = (0..self.channels.len())
            .filter(|&i| !self.channels[i].ch.is_pending_inbound())
            .collect();
        self.drive_each(idx, |_| Some(Command::Tick { now }), out);
    }

    /// Forgets pending inbound channels (indices ascending): `error` to the
    /// peer if connected, the record deleted if there is one.
    fn expire(&mut self, idx: Vec<usize>, reason: Refusal, out: &mut Out) {
        for &i in idx.iter().rev() {
            let e = self.channels.remove(i);
            let id = e.ch.channel_id();
            if self.is_connected(&e.node_id) {
                out.push(ManagerAction::Send {
                    node_id: e.node_id,
                    msg: fail_msg(id, &reason.to_string()),
                });
            }
            if e.persisted {
                out.deletes.push(id);
            }
            out.event(ManagerEvent::PendingExpired {
                node_id: e.node_id,
                channel_id: id,
                reason: reason.clone(),
            });
            out.event(ManagerEvent::Channel {
                node_id: e.node_id,
                channel_id: id,
                event: Event::Forgotten,
            });
        }
    }

    // ----- driving channels -----

    /// Feeds each channel in `idx` the command `f` gives for it (none:
    /// skipped). Channels may be removed on the way; indices are handled from
    /// the last one so the earlier ones stay valid, and outputs are then put
    /// back in channel order.
    fn drive_each(
        &mut self,
        idx: Vec<usize>,
        f: impl Fn(&Entry) -> Option<Command>,
        out: &mut Out,
    ) {
        let mut parts: Vec<Out> = vec![];
        for &i in idx.iter().rev() {
            let Some(cmd) = f(&self.channels[i]) else {
                continue;
            };
            let mut o = Out::default();
            self.drive_peer(i, cmd, &mut o);
            parts.push(o);
        }
        for o in parts.into_iter().rev() {
            out.puts.extend(o.puts);
            out.deletes.extend(o.deletes);
            out.actions.extend(o.actions);
        }
    }

    /// Feeds a channel a command that does not come from the user: a
    /// refusal becomes an event.
    fn drive_peer(&mut self, i: usize, cmd: Command, out: &mut Out) {
        let old = self.channels[i].ch.channel_id();
        match self.channels[i].ch.handle(cmd) {
            Ok(actions) => self.take_actions(i, old, actions, out),
            Err(error) => out.event(ManagerEvent::InputRejected {
                node_id: self.channels[i].node_id,
                channel_id: old,
                error,
            }),
        }
    }

    /// Turns channel `i`'s actions into manager actions; `old` is its id
    /// before the command. Removes the channel if it was forgotten.
    fn take_actions(&mut self, i: usize, old: ChannelId, actions: Vec<Action>, out: &mut Out) {
        let best = self.best_height;
        let e = &mut self.channels[i];
        let node_id = e.node_id;
        let id = e.ch.channel_id();
        let aborted = matches!(e.ch.state, State::Aborted);
        if !aborted && id != old {
            out.event(ManagerEvent::ChannelIdChanged {
                node_id,
                temporary_channel_id: e.temp_id.unwrap_or(old),
                channel_id: id,
            });
        }
        if matches!(e.ch.state, State::Funded(_)) {
            e.temp_id = None;
        }
        for a in actions {
            match a {
                Action::Persist(r) => {
                    e.persisted = true;
                    out.puts.push(wrap_record(&node_id, r));
                }
                Action::Send(msg) => out.push(ManagerAction::Send { node_id, msg }),
                Action::Publish(tx) => out.push(ManagerAction::Publish(tx)),
                Action::PublishLater {
                    tx,
                    height,
                    confirmed,
                } => out.push(ManagerAction::PublishLater {
                    tx,
                    height,
                    confirmed,
                }),
                Action::WatchFunding {
                    txid,
                    script_pubkey,
                    min_depth,
                } => {
                    let vout =
                        e.ch.funded()
                            .map(|f| f.c.params.funding_outpoint.vout)
                            .unwrap_or(0);
                    if e.funding.as_ref().map_or(true, |w| w.txid != txid) {
                        e.funding = Some(FundingWatch {
                            txid,
                            vout,
                            conf_height: None,
                        });
                    }
                    out.push(ManagerAction::WatchFunding {
                        channel_id: id,
                        txid,
                        script_pubkey,
                        min_depth,
                    });
                }
                Action::WatchSpent { outpoint } => {
                    if !e.spent.contains(&outpoint) {
                        e.spent.push(outpoint);
                    }
                    out.push(ManagerAction::WatchSpent {
                        channel_id: id,
                        outpoint,
                    });
                }
                Action::WatchConfirmed { txid } => {
                    if !e.confirms.contains(&txid) {
                        e.confirms.push(txid);
                    }
                    out.push(ManagerAction::WatchConfirmed {
                        channel_id: id,
                        txid,
                    });
                }
                Action::Event(ev) => {
                    if matches!(ev, Event::ChannelFunded { .. }) {
                        e.funded_height = best;
                    }
                    let channel_id = if aborted { old } else { id };
                    out.event(ManagerEvent::Channel {
                        node_id,
                        channel_id,
                        event: ev,
                    });
                }
                Action::Disconnect => out.push(ManagerAction::Disconnect { node_id }),
            }
        }
        if !e.confirms.is_empty() && e.ch.onchain_confirmation_watches().is_empty() {
            // Every HTLC settled on chain: no more blocks for this close.
            e.confirms.clear();
        }
        if aborted {
            let e = self.channels.remove(i);
            if e.persisted {
                out.deletes.push(old);
            }
        }
    }

    /// Puts every record of the input into one batch, in front.
    fn finish(&mut self, out: Out) -> Vec<ManagerAction> {
        let Out {
            puts,
            deletes,
            mut actions,
        } = out;
        if puts.is_empty() && deletes.is_empty() {
            return actions;
        }
        let mut batch = Batch::new();
        // The last record of each channel, in the order channels first appeared.
        let mut last: Vec<ChannelRecord> = vec![];
        for r in puts {
            match last.iter_mut().find(|x| x.channel_id == r.channel_id) {
                Some(x) => *x = r,
                None => last.push(r),
            }
        }
        for r in last {
            if !deletes.contains(&r.channel_id) {
                batch = batch.put(r);
            }
        }
        if self.next_key_index > self.stored_key_index {
            batch = batch.put(ChannelRecord::new(
                ChannelId::ALL,
                u64::from(self.next_key_index),
                b"lnwasm channel manager".to_vec(),
            ));
            self.stored_key_index = self.next_key_index;
        }
        for d in deletes {
            batch = batch.delete(d);
        }
        actions.insert(0, ManagerAction::Persist(batch));
        actions
    }
}

fn info(e: &Entry) -> ChannelInfo {
    let ch = &e.ch;
    let (outbound, capacity, local, remote, in_flight) = match &ch.state {
        State::Funded(f) => {
            let (l, r, h) = f.c.balances();
            (
                f.c.params.opener == Side::Holder,
                f.c.params.funding_amount,
                l,
                r,
                h,
            )
        }
        State::WaitAcceptChannel { open } => {
            let total = open.funding.0.saturating_mul(1000);
            (
                true,
                open.funding,
                Msat(total.saturating_sub(open.push.0)),
                open.push,
                Msat(0),
            )
        }
        State::WaitFundingTx { n }
        | State::WaitFundingSigned { n, .. }
        | State::WaitFundingCreated { n } => {
            let total = n.funding.0.saturating_mul(1000);
            let funder = Msat(total.saturating_sub(n.push.0));
            if n.opener == Side::Holder {
                (true, n.funding, funder, n.push, Msat(0))
            } else {
                (false, n.funding, n.push, funder, Msat(0))
            }
        }
        State::Aborted => (false, Sat(0), Msat(0), Msat(0), Msat(0)),
    };
    let f = ch.funded();
    ChannelInfo {
        channel_id: ch.channel_id(),
        temporary_channel_id: e.temp_id,
        node_id: e.node_id,
        state: ch.state_name(),
        status: ch.status(),
        link: ch.link().clone(),
        outbound,
        capacity,
        local_balance: local,
        remote_balance: remote,
        in_flight,
        feerate: f.map(|f| f.c.local_commit.spec.feerate),
        channel_type: f.map(|f| f.c.channel_type()),
        short_channel_id: f.and_then(|f| f.scid),
        alias: f.and_then(|f| f.our_alias),
        funding_txid: match &ch.state {
            State::Funded(f) => Some(f.c.params.funding_outpoint.txid),
            State::WaitFundingSigned { c, .. } => Some(c.params.funding_outpoint.txid),
            _ => None,
        },
    }
}

/// The `error` that fails channel `id`, or a `warning` if `id` is all
/// zero: an all-zero `error` would fail every channel with the peer.
fn fail_msg(id: ChannelId, text: &str) -> Message {
    if id.is_all() {
        Message::Warning(WarningMessage::new(id, text))
    } else {
        Message::Error(ErrorMessage::new(id, text))
    }
}

/// The store record of a channel of `node_id`: the envelope around the
/// channel's record.
fn wrap_record(node_id: &PublicKey, r: ChannelRecord) -> ChannelRecord {
    let mut data = Vec::with_capacity(34 + r.data.len());
    data.push(RECORD_VERSION);
    data.extend_from_slice(&node_id.serialize());
    data.extend_from_slice(&r.data);
    ChannelRecord {
        channel_id: r.channel_id,
        update_number: r.update_number,
        data,
        chunks: r.chunks,
    }
}

/// Parses [`wrap_record`].
fn unwrap_record(r: &ChannelRecord) -> Result<(PublicKey, ChannelRecord), ManagerError> {
    let corrupt = |reason| ManagerError::CorruptRecord {
        channel_id: r.channel_id,
        reason,
    };
    match r.data.first() {
        Some(&RECORD_VERSION) => {}
        Some(_) => return Err(corrupt("unknown record version")),
        None => return Err(corrupt("empty record")),
    }
    let key = r.data.get(1..34).ok_or(corrupt("short record"))?;
    let node_id = PublicKey::from_slice(key).map_err(|_| corrupt("invalid node id"))?;
    Ok((
        node_id,
        ChannelRecord {
            channel_id: r.channel_id,
            update_number: r.update_number,
            data: r.data[34..].to_vec(),
            chunks: r.chunks.clone(),
        },
    ))
}
