//! The inputs ([`Command`]) and outputs ([`Action`], [`Event`]) of a channel.

use bitcoin::{OutPoint, ScriptBuf, Transaction, Txid};

use crate::tx::FeeratePerKw;
use crate::types::{Msat, PaymentHash, ShortChannelId};
use crate::wire::{ChannelId, Message, OnionPacket, PaymentPreimage};

use super::spec::HtlcAdd;
use super::ChannelError;

/// Everything that can happen to a channel.
// Short-lived values, moved once: boxing the message would cost an
// allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Command {
    // ----- the peer -----
    /// A message from the peer for this channel.
    Message(Message),
    /// The transport to the peer is up (after `init`): we send `channel_reestablish`.
    Connected,
    /// The transport is gone.
    Disconnected,

    // ----- the user -----
    /// Offer an HTLC (the onion comes from the payment layer).
    AddHtlc {
        amount: Msat,
        payment_hash: PaymentHash,
        cltv_expiry: u32,
        onion: OnionPacket,
    },
    /// Settle an incoming HTLC with its preimage.
    FulfillHtlc { id: u64, preimage: PaymentPreimage },
    /// Fail an incoming HTLC with an (already encrypted) failure onion.
    FailHtlc { id: u64, reason: Vec<u8> },
    /// Fail an incoming HTLC whose onion we could not parse.
    FailMalformedHtlc {
        id: u64,
        sha256_of_onion: [u8; 32],
        failure_code: u16,
    },
    /// Sign the pending changes (`commitment_signed`).
    Sign,
    /// Propose a new commitment feerate (funder only).
    UpdateFee(FeeratePerKw),
    /// Funder: the funding transaction paying [`Event::FundingRequired`]'s
    /// script; it is published once the peer's `funding_signed` is checked.
    FundingTx { tx: Transaction, output_index: u16 },
    /// Start a cooperative close, optionally to a given script.
    Close {
        script: Option<ScriptBuf>,
        feerate: FeeratePerKw,
    },
    /// Publish our latest commitment now.
    ForceClose,

    // ----- the chain and the clock -----
    /// The funding transaction has `depth` confirmations (0: in the mempool)
    /// at `scid` (known from the first confirmation on).
    FundingDepth {
        depth: u32,
        scid: Option<ShortChannelId>,
    },
    /// A transaction spending the funding output was seen.
    FundingSpent { tx: Transaction },
    /// A transaction spending an output of an [`Action::WatchSpent`] other
    /// than the funding output (an HTLC output of a commitment on chain).
    OutputSpent { tx: Transaction },
    /// A transaction of an [`Action::WatchConfirmed`] confirmed in the block
    /// at `height`.
    TxConfirmed { txid: Txid, height: u32 },
    /// A new best block (for the depth of the transactions of a close).
    BlockConnected { height: u32 },
    /// Our current feerate estimate, used to judge the peer's.
    FeeEstimate(FeeratePerKw),
    /// The time (seconds since the epoch) passes.
    Tick { now: u64 },
}

/// One persisted channel: its id, its monotonic update number and the
/// versioned encoding of everything needed to resume it.
///
/// The peer's revoked commitments, the one part of a channel that grows
/// with its history, are kept apart from `data` in sealed chunks
/// ([`RevokedChunk`]) that never change once written: a record to persist
/// carries only the newest chunk (the store writes it, or writes it again
/// unchanged), so a persist costs the same after a million payments as
/// after ten; a record read back from a store carries all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRecord {
    pub channel_id: ChannelId,
    pub update_number: u64,
    pub data: Vec<u8>,
    pub chunks: Vec<RevokedChunk>,
}

/// A sealed chunk of a channel's revoked commitments: its position (0 is
/// the oldest) and its encoding. Stored under `(channel_id, index)`, written
/// once (possibly again with the same bytes), deleted with the channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedChunk {
    pub index: u32,
    pub data: Vec<u8>,
}

impl ChannelRecord {
    /// A record without chunks.
    pub fn new(channel_id: ChannelId, update_number: u64, data: Vec<u8>) -> Self {
        ChannelRecord {
            channel_id,
            update_number,
            data,
            chunks: Vec::new(),
        }
    }
}

/// What the driver must do, strictly in the order given.
///
/// A [`Action::Persist`] always precedes the [`Action::Send`] and
/// [`Action::Publish`] actions that depend on it; the driver must not run an
/// action before the persist before it has completed (durably).
// Short-lived values, moved once (see `Command`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Action {
    /// Write this record (atomically, with every other `Persist` of the same batch).
    Persist(ChannelRecord),
    /// Send a message to the peer.
    Send(Message),
    /// Broadcast a transaction.
    Publish(Transaction),
    /// Broadcast `tx` once the chain tip is at `height` or above (its
    /// nLockTime; 0: no condition) and each `(txid, n)` of `confirmed` has at
    /// least `n` confirmations (its BIP 68 relative locks). Before that it
    /// would be rejected. Earlier actions publish the parents.
    PublishLater {
        tx: Transaction,
        height: u32,
        confirmed: Vec<(Txid, u16)>,
    },
    /// Tell us ([`Command::FundingDepth`]) how deep `txid` is, until `min_depth`.
    WatchFunding {
        txid: Txid,
        script_pubkey: ScriptBuf,
        min_depth: u32,
    },
    /// Tell us when `outpoint` is spent: [`Command::FundingSpent`] for the
    /// funding output, [`Command::OutputSpent`] for any other.
    WatchSpent { outpoint: OutPoint },
    /// Tell us ([`Command::TxConfirmed`]) the height of the block that
    /// confirms `txid` (a transaction of a close), and the new blocks after
    /// it ([`Command::BlockConnected`]).
    WatchConfirmed { txid: Txid },
    /// Something the application should know.
    Event(Event),
    /// Close the connection to the peer (after a warning).
    Disconnect,
}

/// What the application hears from a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Funder: build a transaction paying `amount` to `script_pubkey` and
    /// answer with [`Command::FundingTx`].
    FundingRequired {
        temporary_channel_id: ChannelId,
        script_pubkey: ScriptBuf,
        amount: crate::types::Sat,
    },
    /// Both `funding_signed` (or `funding_created`) done: the channel exists
    /// under its final id.
    ChannelFunded {
        channel_id: ChannelId,
        funding_txid: Txid,
    },
    /// `channel_ready` exchanged: payments can flow.
    ChannelReady {
        channel_id: ChannelId,
        scid: Option<ShortChannelId>,
        alias: Option<ShortChannelId>,
    },
    /// We offered an HTLC with this id.
    HtlcOffered { id: u64, payment_hash: PaymentHash },
    /// The peer's HTLC is irrevocably committed: fulfill or fail it.
    HtlcReceived(HtlcAdd),
    /// The peer fulfilled our HTLC (the preimage is final as soon as it is seen).
    HtlcFulfilled { id: u64, preimage: PaymentPreimage },
    /// Our HTLC was failed, irrevocably, by the peer's `update_fail_htlc`
    /// (`reason` is the encrypted error packet).
    HtlcFailed { id: u64, reason: Vec<u8> },
    /// Our HTLC was failed, irrevocably, by the peer's
    /// `update_fail_malformed_htlc`: it could not read the onion we sent.
    HtlcFailedMalformed {
        id: u64,
        failure_code: u16,
        sha256_of_onion: [u8; 32],
    },
    /// Our HTLC was failed on chain, irrevocably: the commitment on chain
    /// has no output for it (trimmed, or not on that commitment) and is
    /// [`HTLC_RESOLUTION_DEPTH`](super::HTLC_RESOLUTION_DEPTH) blocks deep, or
    /// our transaction spending its output after its expiry (timeout, or the
    /// penalty) is that deep. The peer never revealed the preimage.
    HtlcFailedOnChain { id: u64 },
    /// The peer broke a rule; the reaction is in the other actions.
    PeerViolation(ChannelError),
    /// The peer sent an `error` or `warning`.
    PeerError { text: String, fatal: bool },
    /// The peer proved that our state is outdated: we must not publish our
    /// commitment; the peer should close, and our funds come back through
    /// its commitment (`their_point` finds our output).
    DataLoss {
        their_point: crate::keys::PerCommitmentPoint,
    },
    /// Mutual close agreed.
    MutualClose { txid: Txid },
    /// The channel is being closed on chain (`txid` is the commitment).
    ForceClosed { txid: Txid, ours: bool },
    /// The peer published a revoked commitment; the penalty is published.
    RevokedCommitmentSeen {
        commitment_number: u64,
        penalty_txid: Txid,
    },
    /// The channel was forgotten (unfunded and timed out, or refused).
    Forgotten,
}
