//! The BOLT 2 channel state machine, sans-IO and crash-safe.
//!
//! # Shape
//!
//! A [`Channel`] is a value. [`Channel::handle`] takes one [`Command`] — a
//! peer message, a user command, a chain event or a clock tick — and returns
//! the [`Action`]s the driver must carry out, in order: persist a record,
//! send a message, publish a transaction, watch the chain, tell the
//! application ([`Event`]), disconnect. There are no sockets, timers, clocks
//! or storage inside; the driver (the peer layer, the wallet, a test) owns
//! them. This is lightning-kmp's `(state, command) -> (state, actions)`,
//! written as `&mut self` with transactional semantics: a command that fails
//! leaves the channel exactly as it was.
//!
//! # States
//!
//! Funder: `WaitAcceptChannel` → (`accept_channel`) `WaitFundingTx` →
//! ([`Command::FundingTx`]) `WaitFundingSigned` → (`funding_signed`) funded.
//! Fundee: [`Channel::accept`] on `open_channel` → `WaitFundingCreated` →
//! (`funding_created`) funded. A funded channel goes through [`Status`]:
//! `Opening` (waiting for depth and both `channel_ready`), `Normal`,
//! `ShuttingDown` (after `shutdown`, HTLCs still pending), `Negotiating`
//! (`closing_signed`), `Closing` (a commitment or closing tx is on chain),
//! `Closed`. Orthogonally, [`Link`] says whether the peer is connected:
//! `Offline`, `Syncing` (we sent `channel_reestablish`), `Online`.
//!
//! The bookkeeping of updates is in [`Commitments`]: each side's updates go
//! through `proposed` / `signed` / `acked`, and the spec of any commitment is
//! the previous spec reduced by exactly the updates the protocol says it
//! contains (see `commitments.rs`).
//!
//! # Persistence, and why it is safe
//!
//! Unfunded channels (before we send `funding_signed` as fundee, or receive
//! it as funder) are not persisted: no money is at stake and BOLT 2 says to
//! forget them on disconnection. That also means a peer cannot fill our
//! storage with channel opens that are never funded.
//!
//! From then on the channel emits [`Action::Persist`] with a
//! [`ChannelRecord`] (a versioned binary encoding, `codec.rs`) carrying a
//! monotonic `update_number` whenever its durable state changes. **The
//! invariant: anything a message commits us to is durable before the
//! message leaves.** Concretely, the `Persist` action is always placed
//! before the `Send`/`Publish` actions of the same step:
//!
//! * `funding_signed` (fundee): our signature lets the funder broadcast the
//!   funding tx; the channel (and our signed commitment #0) is stored first.
//! * `funding_signed` (funder): stored before the funding tx is published.
//! * `commitment_signed`: the new peer commitment and the update lists are
//!   stored first. After a crash we thus re-send exactly the same
//!   (deterministic, RFC 6979) signature over exactly the same commitment,
//!   never a different commitment with the same number.
//! * `revoke_and_ack`: the commitment we accepted is stored before we give
//!   away the secret of the previous one, so we can never be left holding
//!   only a revoked commitment.
//! * `update_*` we send: stored first so that after a crash we re-send them
//!   with the same HTLC ids (a fulfill's preimage is never lost).
//! * the peer's `update_*` messages are not persisted on their own: BOLT 2
//!   drops them on disconnection, and [`Channel::restore`] does the same.
//!
//! The driver must execute actions in order and must not send a message
//! before every earlier `Persist` has completed. The [`Store`](crate::store::Store)
//! refuses a record whose update number is not above the stored one, so a
//! stale copy (another tab, a slow write) can never overwrite a newer state.
//!
//! After a crash, [`Channel::restore`] loads the last record; reconnection
//! (`channel_reestablish`) then retransmits what the peer missed: the last
//! `revoke_and_ack`, the last `commitment_signed` with its updates (in the
//! original relative order), `channel_ready`, `shutdown`, and our unsigned
//! updates. With `option_data_loss_protect`, a peer that proves we are
//! behind makes us stop: we never publish a commitment that may be revoked
//! ([`Event::DataLoss`]).

mod close;
mod codec;
mod commitments;
mod config;
mod error;
mod io;
mod manager;
mod normal;
mod onchain;
mod open;
mod pending;
mod reestablish;
mod revoked;
mod spec;

pub use commitments::{
    Changes, Commitments, Limits, LocalCommit, RemoteCommit, RemoteNext, RevokedCommit,
};
pub use config::{
    ChannelConfig, PendingLimits, FEERATE_FLOOR, MAX_ACCEPTED_HTLCS_LIMIT, MIN_DUST_LIMIT,
};
pub use error::ChannelError;
pub use io::{Action, ChannelRecord, Command, Event, RevokedChunk};
pub use manager::{
    ChannelInfo, ChannelManager, ManagerAction, ManagerConfig, ManagerError, ManagerEvent,
    ManagerInput, Refusal, FUNDEE_UNCONFIRMED_TIMEOUT_BLOCKS,
};
pub use normal::fee_update_target;
pub use onchain::{commitment_number, OnchainState, HTLC_RESOLUTION_DEPTH};
pub use open::OpenRequest;
pub use pending::PendingChannelLimits;
pub use revoked::RevokedList;
pub use spec::{HtlcAdd, HtlcDir, Spec, SpecHtlc, Update};

use bitcoin::{ScriptBuf, Transaction};

use crate::keys::{ChannelKeyIndex, ChannelKeys, WalletKeys};
use crate::tx::FeeratePerKw;
use crate::types::{Msat, ShortChannelId};
use crate::wire::{ChannelId, ErrorMessage, Message, WarningMessage};

use open::Negotiated;

/// Where a funded channel is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Funding not deep enough, or `channel_ready` not exchanged yet.
    Opening,
    Normal,
    /// `shutdown` sent or received; pending HTLCs are being settled.
    ShuttingDown,
    /// `closing_signed` fee negotiation.
    Negotiating,
    /// A closing or commitment transaction was published.
    Closing,
    /// The peer proved we lost state: we wait for its commitment.
    WaitingForRemoteClose,
    Closed,
}

/// Connection state of the channel's peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    Offline,
    /// We sent `channel_reestablish` and wait for the peer's.
    Syncing,
    Online,
}

/// Mutual close negotiation (legacy `closing_signed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiation {
    pub feerate: FeeratePerKw,
    pub last_sent: Option<crate::types::Sat>,
    pub last_received: Option<crate::types::Sat>,
}

/// A funded channel: everything that is persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Funded {
    pub key_index: ChannelKeyIndex,
    pub c: Commitments,
    pub status: Status,
    pub minimum_depth: u32,
    pub zero_conf: bool,
    pub funding_tx: Option<Transaction>,
    pub funding_confirmed: bool,
    pub ready_sent: bool,
    pub ready_received: bool,
    pub scid: Option<ShortChannelId>,
    pub our_alias: Option<ShortChannelId>,
    pub their_alias: Option<ShortChannelId>,
    pub our_upfront_script: Option<ScriptBuf>,
    pub their_upfront_script: Option<ScriptBuf>,
    pub local_shutdown: Option<ScriptBuf>,
    pub remote_shutdown: Option<ScriptBuf>,
    pub negotiation: Option<Negotiation>,
    /// Transactions we published when closing (for rebroadcast).
    pub closing_txs: Vec<Transaction>,
    pub created_at: u64,
    /// What the chain told us about the close (confirmations, spends) and
    /// which of our HTLCs were settled there.
    pub onchain: OnchainState,
}

#[derive(Clone, Debug)]
pub(crate) enum State {
    /// Funder: `open_channel` sent.
    WaitAcceptChannel {
        open: crate::wire::OpenChannel,
    },
    /// Funder: waiting for the caller's funding transaction.
    WaitFundingTx {
        n: Negotiated,
    },
    /// Funder: `funding_created` sent.
    WaitFundingSigned {
        n: Negotiated,
        funding_tx: Transaction,
        c: Box<Commitments>,
    },
    /// Fundee: `accept_channel` sent.
    WaitFundingCreated {
        n: Negotiated,
    },
    Funded(Box<Funded>),
    /// Refused or forgotten before funding.
    Aborted,
}

/// One channel with one peer.
#[derive(Clone, Debug)]
pub struct Channel {
    keys: ChannelKeys,
    key_index: ChannelKeyIndex,
    config: ChannelConfig,
    state: State,
    link: Link,
    update_number: u64,
    fee_estimate: Option<FeeratePerKw>,
    created_at: u64,
    /// The best block height we heard of (not persisted).
    tip: u32,
}

/// Accumulates the actions of one step, keeping `Persist` first.
#[derive(Default)]
pub(crate) struct Out {
    pub persist: bool,
    pub actions: Vec<Action>,
}

impl Out {
    pub fn send(&mut self, m: Message) {
        self.actions.push(Action::Send(m));
    }
    pub fn event(&mut self, e: Event) {
        self.actions.push(Action::Event(e));
    }
}

impl Channel {
    /// Our channel id (temporary before funding).
    pub fn channel_id(&self) -> ChannelId {
        match &self.state {
            State::WaitAcceptChannel { open } => open.temporary_channel_id,
            State::WaitFundingTx { n } | State::WaitFundingCreated { n } => n.temporary_channel_id,
            State::WaitFundingSigned { c, .. } => c.channel_id,
            State::Funded(f) => f.c.channel_id,
            State::Aborted => ChannelId::ALL,
        }
    }

    /// The funded part of the channel, if funded.
    pub fn funded(&self) -> Option<&Funded> {
        match &self.state {
            State::Funded(f) => Some(f),
            _ => None,
        }
    }

    /// The commitments, once funded.
    pub fn commitments(&self) -> Option<&Commitments> {
        self.funded().map(|f| &f.c)
    }

    /// Short name of the state, for logs and tests.
    pub fn state_name(&self) -> &'static str {
        match &self.state {
            State::WaitAcceptChannel { .. } => "WAIT_ACCEPT_CHANNEL",
            State::WaitFundingTx { .. } => "WAIT_FUNDING_TX",
            State::WaitFundingSigned { .. } => "WAIT_FUNDING_SIGNED",
            State::WaitFundingCreated { .. } => "WAIT_FUNDING_CREATED",
            State::Aborted => "ABORTED",
            State::Funded(f) => match f.status {
                Status::Opening => "OPENING",
                Status::Normal => "NORMAL",
                Status::ShuttingDown => "SHUTTING_DOWN",
                Status::Negotiating => "NEGOTIATING",
                Status::Closing => "CLOSING",
                Status::WaitingForRemoteClose => "WAITING_FOR_REMOTE_CLOSE",
                Status::Closed => "CLOSED",
            },
        }
    }

    pub fn status(&self) -> Option<Status> {
        self.funded().map(|f| f.status)
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The current update number (of the last record emitted).
    pub fn update_number(&self) -> u64 {
        self.update_number
    }

    /// Our balance, the peer's balance and the HTLCs in flight on our
    /// current commitment (they always sum to the capacity).
    pub fn balances(&self) -> Option<(Msat, Msat, Msat)> {
        self.commitments().map(Commitments::balances)
    }

    pub fn keys(&self) -> &ChannelKeys {
        &self.keys
    }

    /// Whether an unfunded inbound channel, created at `created_at`, is
    /// still waiting (for [`PendingChannelLimits`]).
    pub fn is_pending_inbound(&self) -> bool {
        match &self.state {
            State::WaitFundingCreated { .. } => true,
            State::Funded(f) => {
                f.c.params.opener == crate::tx::Side::Counterparty
                    && f.status == Status::Opening
                    && !f.funding_confirmed
                    && !f.zero_conf
            }
            _ => false,
        }
    }

    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Processes one command. On `Err` the channel is unchanged (a local
    /// refusal); peer violations are `Ok` with the reaction in the actions.
    pub fn handle(&mut self, cmd: Command) -> Result<Vec<Action>, ChannelError> {
        let mut next = self.clone();
        let mut out = Out::default();
        next.dispatch(cmd, &mut out)?;
        if out.persist {
            next.update_number += 1;
            let record = next
                .record()
                .ok_or(ChannelError::InvalidState("nothing to persist"))?;
            out.actions.insert(0, Action::Persist(record));
        }
        *self = next;
        Ok(out.actions)
    }

    /// The record of the current funded state.
    pub fn record(&self) -> Option<ChannelRecord> {
        let f = self.funded()?;
        Some(ChannelRecord {
            channel_id: f.c.channel_id,
            update_number: self.update_number,
            data: codec::encode(f),
            chunks: codec::encode_chunks(f),
        })
    }

    /// Resumes a channel from its last record. The channel starts offline;
    /// the peer's unsigned updates are dropped as on any disconnection.
    pub fn restore(
        record: &ChannelRecord,
        wallet: &WalletKeys,
        config: ChannelConfig,
    ) -> Result<Channel, ChannelError> {
        let mut f = codec::decode(&record.data, &record.chunks)?;
        let keys = wallet.channel_keys(f.key_index)?;
        if keys.pubkeys() != f.c.params.holder.keys {
            return Err(ChannelError::CorruptRecord("keys do not match the wallet"));
        }
        f.c.drop_remote_proposed();
        Ok(Channel {
            keys,
            key_index: f.key_index,
            config,
            created_at: f.created_at,
            state: State::Funded(Box::new(f)),
            link: Link::Offline,
            update_number: record.update_number,
            fee_estimate: None,
            tip: 0,
        })
    }

    fn dispatch(&mut self, cmd: Command, out: &mut Out) -> Result<(), ChannelError> {
        match cmd {
            Command::Message(m) => self.on_message(m, out),
            Command::Connected => self.on_connected(out),
            Command::Disconnected => self.on_disconnected(out),
            Command::FeeEstimate(f) => {
                self.fee_estimate = Some(f);
                self.follow_fee_estimate(out)
            }
            Command::Tick { now } => {
                self.on_tick(now, out)?;
                self.follow_fee_estimate(out)
            }
            Command::FundingTx { tx, output_index } => self.on_funding_tx(tx, output_index, out),
            Command::FundingDepth { depth, scid } => self.on_funding_depth(depth, scid, out),
            Command::FundingSpent { tx } => self.on_funding_spent(tx, out),
            Command::OutputSpent { tx } => self.on_output_spent(tx, out),
            Command::TxConfirmed { txid, height } => self.on_tx_confirmed(txid, height, out),
            Command::BlockConnected { height } => {
                self.tip = self.tip.max(height);
                self.resolve_onchain_htlcs(out)
            }
            Command::FulfillHtlc { id, preimage } if self.is_onchain() => {
                self.onchain_fulfill(id, preimage, out)
            }
            Command::ForceClose => self.force_close(out),
            Command::Close { script, feerate } => self.on_close_command(script, feerate, out),
            Command::AddHtlc { .. }
            | Command::FulfillHtlc { .. }
            | Command::FailHtlc { .. }
            | Command::FailMalformedHtlc { .. }
            | Command::Sign
            | Command::UpdateFee(_) => self.on_user_update(cmd, out),
        }
    }

    fn on_message(&mut self, m: Message, out: &mut Out) -> Result<(), ChannelError> {
        match m {
            Message::Error(e) => {
                out.event(Event::PeerError {
                    text: e.text(),
                    fatal: true,
                });
                if let State::Funded(f) = &self.state {
                    if matches!(
                        f.status,
                        Status::Closing | Status::Closed | Status::WaitingForRemoteClose
                    ) {
                        return Ok(());
                    }
                    return self.force_close(out);
                }
                self.state = State::Aborted;
                out.event(Event::Forgotten);
                Ok(())
            }
            Message::Warning(w) => {
                out.event(Event::PeerError {
                    text: w.text(),
                    fatal: false,
                });
                Ok(())
            }
            Message::OpenChannel(_) => {
                self.violation(ChannelError::UnexpectedMessage("open_channel"), out)
            }
            Message::AcceptChannel(m) => self.on_accept_channel(m, out),
            Message::FundingCreated(m) => self.on_funding_created(m, out),
            Message::FundingSigned(m) => self.on_funding_signed(m, out),
            Message::ChannelReady(m) => self.on_channel_ready(m, out),
            Message::ChannelReestablish(m) => self.on_reestablish(m, out),
            Message::Shutdown(m) => self.on_shutdown(m, out),
            Message::ClosingSigned(m) => self.on_closing_signed(m, out),
            Message::UpdateAddHtlc(_)
            | Message::UpdateFulfillHtlc(_)
            | Message::UpdateFailHtlc(_)
            | Message::UpdateFailMalformedHtlc(_)
            | Message::UpdateFee(_)
            | Message::CommitmentSigned(_)
            | Message::RevokeAndAck(_) => self.on_peer_update(m, out),
            _ => Ok(()),
        }
    }

    fn on_disconnected(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        self.link = Link::Offline;
        match &mut self.state {
            State::Funded(f) => {
                f.c.drop_remote_proposed();
                Ok(())
            }
            State::Aborted => Ok(()),
            _ => {
                // BOLT 2: forget a channel that is not funded yet.
                self.state = State::Aborted;
                out.event(Event::Forgotten);
                Ok(())
            }
        }
    }

    fn on_tick(&mut self, now: u64, out: &mut Out) -> Result<(), ChannelError> {
        let timeout = PendingLimits::default().timeout_secs;
        if self.is_pending_inbound() && now.saturating_sub(self.created_at) > timeout {
            // A fundee loses nothing by forgetting a channel it never funded.
            self.state = State::Aborted;
            out.event(Event::Forgotten);
        }
        Ok(())
    }

    /// Answers a peer violation: `error`, then force close if funded.
    pub(crate) fn violation(&mut self, e: ChannelError, out: &mut Out) -> Result<(), ChannelError> {
        let id = self.channel_id();
        out.send(Message::Error(ErrorMessage::new(id, &e.to_string())));
        out.event(Event::PeerViolation(e));
        match &self.state {
            State::Funded(f)
                if !matches!(
                    f.status,
                    Status::Closing | Status::Closed | Status::WaitingForRemoteClose
                ) =>
            {
                self.force_close(out)
            }
            State::Funded(_) => Ok(()),
            _ => {
                self.state = State::Aborted;
                out.event(Event::Forgotten);
                Ok(())
            }
        }
    }

    /// Answers a recoverable peer mistake: `warning` and disconnect.
    pub(crate) fn warn(&mut self, e: ChannelError, out: &mut Out) -> Result<(), ChannelError> {
        out.send(Message::Warning(WarningMessage::new(
            self.channel_id(),
            &e.to_string(),
        )));
        out.event(Event::PeerViolation(e));
        out.actions.push(Action::Disconnect);
        self.on_disconnected(out)
    }

    pub(crate) fn funded_mut(&mut self) -> Result<&mut Funded, ChannelError> {
        match &mut self.state {
            State::Funded(f) => Ok(f),
            _ => Err(ChannelError::InvalidState("not funded")),
        }
    }
}
