//! Payments: invoices received, invoices paid, HTLCs forwarded. Sans-IO.
//!
//! # Shape
//!
//! [`Payments`] sits beside the [`ChannelManager`]. It holds no channels:
//! it takes [`PaymentInput`]s — the channel events of HTLCs
//! ([`PaymentInput::from_event`] picks them out of the manager's events),
//! blocks and the clock — and user calls ([`Payments::create_invoice`],
//! [`Payments::pay_invoice`]), and returns [`PaymentAction`]s: records to
//! persist, [`Command`]s for a channel (`AddHtlc`, `FulfillHtlc`,
//! `FailHtlc`, `FailMalformedHtlc`, `Sign`, `ForceClose`) that the driver
//! hands to the manager as [`ManagerInput::Command`](crate::channel::ManagerInput::Command),
//! and [`PaymentEvent`]s for the application. It reads the channels through
//! [`ChannelView`]s ([`ChannelView::from_manager`]) passed with each input.
//!
//! # Persist before send
//!
//! Actions are in order, and **a [`PaymentAction::Persist`] always comes
//! before the channel commands that depend on it**: the driver applies it
//! durably before it runs any later action. So
//! * a payment's record (hash, routes, onion secrets) is stored before its
//!   first `AddHtlc`: after a crash a payment is never started twice, and a
//!   second [`Payments::pay_invoice`] of the same hash is refused;
//! * an invoice's claim (which HTLCs, how much) is stored before the first
//!   `FulfillHtlc`; after a crash [`Payments::load`] fulfils them again;
//! * a forward is stored before the outgoing `AddHtlc`, and its preimage
//!   before the upstream `FulfillHtlc`.
//!
//! A channel refusing a command (the driver gets an `Err` from the
//! manager) is reported back as [`PaymentInput::AddRefused`] for `AddHtlc`;
//! refusals of a repeated `FulfillHtlc` after a restart are harmless.
//!
//! # Driving it
//!
//! For every manager input: carry out the manager's actions, then feed
//! each HTLC event ([`PaymentInput::from_event`]) to [`Payments::handle`]
//! with fresh [`ChannelView`]s and carry out its actions (persist, then the
//! commands through the manager, whose own events come back here), and
//! pass [`ManagerInput::BlockConnected`](crate::channel::ManagerInput::BlockConnected)
//! and the clock as [`PaymentInput::BlockConnected`] and [`PaymentInput::Tick`].
//! `tests/payment_flow.rs` does exactly this for three nodes.
//!
//! # HTLC ids
//!
//! The id of an HTLC we offer is only known from the channel's
//! [`Event::HtlcOffered`] (the manager's action list of the `AddHtlc`);
//! adds waiting for it are matched first in, first out per channel and
//! payment hash. After a restart [`Payments::load`] binds them again from
//! [`ChannelManager::pending_htlcs`].
//!
//! # Failures (BOLT 4)
//!
//! A final node fails with `incorrect_or_unknown_payment_details` (unknown
//! hash, wrong secret, amount below the invoice's or above twice it,
//! expired invoice, `cltv_expiry` below `height + min_final_cltv_expiry_delta`,
//! invoice already paid), `final_incorrect_cltv_expiry` (HTLC expiry below
//! the onion's), `final_incorrect_htlc_amount` (HTLC amount below the
//! onion's) and `mpp_timeout` (parts not complete within
//! [`PaymentConfig::mpp_timeout_secs`]). A forwarding node checks, in this
//! order: the next channel exists (`unknown_next_peer`), is usable
//! (`temporary_channel_failure`), the amount is at least our
//! `htlc_minimum` (`amount_below_minimum`), the fee (`fee_insufficient`),
//! the expiry delta (`incorrect_cltv_expiry`), the outgoing expiry is not
//! too close (`expiry_too_soon`) nor too far (`expiry_too_far`), and the
//! outbound capacity (`temporary_channel_failure`). Channel updates are not
//! produced yet: the `channel_update` fields are empty.
//!
//! A downstream `update_fail_htlc` ([`Event::HtlcFailed`]) goes back
//! upstream wrapped once more ([`ErrorPacket::wrap`]); a downstream
//! `update_fail_malformed_htlc` ([`Event::HtlcFailedMalformed`]) becomes our
//! own `invalid_onion_*` failure with the `sha256_of_onion` of the onion we
//! sent.
//!
//! # Expiry
//!
//! Our payments give the final hop `height + min_final_cltv_expiry_delta +`
//! [`PaymentConfig::final_cltv_margin`]. Parts of an incomplete multi-part
//! payment to us are failed (`incorrect_or_unknown_payment_details`) once a
//! block comes within [`OUTGOING_GRACE_BLOCKS`] of their expiry.
//!
//! An HTLC we offered (sent or forwarded) that is still pending
//! [`OUTGOING_GRACE_BLOCKS`] blocks after its expiry makes us close the
//! channel on chain ([`Command::ForceClose`], BOLT 2 "an offered HTLC times
//! out"): for a forward the incoming HTLC expires `cltv_expiry_delta`
//! blocks later, and the timeout transaction must confirm before that.
//! An incoming HTLC we fulfilled (forward or invoice) that is still on our
//! commitment ([`ChannelView::received`]) [`FULFILL_DEADLINE_BLOCKS`]
//! before its expiry closes its channel too: the channel then claims it on
//! chain with the preimage. A forward whose incoming HTLC is fulfilled and
//! gone from our commitment is forgotten (its record deleted) at the next
//! block.
//!
//! # On chain
//!
//! Once a channel is closed, the outcome of each HTLC we offered on it
//! comes from the chain: [`Event::HtlcFulfilled`] when the peer's claim
//! reveals the preimage (a forward is then fulfilled upstream — on chain
//! too if the incoming channel is closed — and a payment succeeds), or
//! [`Event::HtlcFailedOnChain`] once the timeout path is
//! [`HTLC_RESOLUTION_DEPTH`](crate::channel::HTLC_RESOLUTION_DEPTH) blocks
//! deep: a forward is failed upstream with our own
//! `permanent_channel_failure` (the outgoing channel is gone), a payment
//! fails with [`PayFailure::OnChain`]. With the default delta of 40 blocks,
//! a forward whose outgoing channel we close [`OUTGOING_GRACE_BLOCKS`]
//! after its expiry is failed back about ten blocks later, well before the
//! incoming HTLC expires. A failure after the preimage is known is ignored.

mod record;
mod route;
#[cfg(test)]
mod tests;

pub use record::{
    AttemptRecord, Claim, ForwardRecord, InvoiceRecord, InvoiceStatus, OutgoingRecord,
    OutgoingStatus, PaymentRecord,
};
pub use route::{candidate_routes, relay_fee, Route, RouteHop, RoutePlan};

use std::collections::{BTreeMap, VecDeque};

use bitcoin::hashes::{sha256, Hash};
use core::fmt;
use secp256k1::{PublicKey, SecretKey};

use crate::channel::{
    ChannelManager, Command, Event, HtlcAdd, HtlcDir, Link, ManagerEvent, Status,
};
use crate::error::ErrorCode;
use crate::invoice::{Description, Invoice, InvoiceError, NewInvoice, RouteHintHop};
use crate::onion::failure::{BADONION, NODE, PERM};
use crate::onion::{
    build_payment_onion, peel_htlc, sha256_of_onion, ErrorPacket, FailureMessage, ForwardInfo,
    HtlcFailure, IncomingHtlc, NextHop, PeeledHtlc, ReceiveInfo, SharedSecret,
};
use crate::types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};
use crate::wire::features::{Feature, Features};
use crate::wire::{ChannelId, PaymentPreimage};

/// Blocks after the expiry of an HTLC we offered before we close its
/// channel if it is still pending.
pub const OUTGOING_GRACE_BLOCKS: u32 = 3;

/// An incoming HTLC we fulfilled that is still on our commitment this many
/// blocks before its expiry makes us close its channel, to claim it on
/// chain with the preimage before the peer can time it out (BOLT 2's
/// fulfillment deadline).
pub const FULFILL_DEADLINE_BLOCKS: u32 = 12;

/// Our relay policy for forwarded HTLCs (one for every channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardingPolicy {
    pub fee_base_msat: u32,
    pub fee_proportional_millionths: u32,
    pub cltv_expiry_delta: u16,
    pub htlc_minimum: Msat,
}

/// What the payment layer needs to know about us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentConfig {
    pub network: crate::invoice::Network,
    pub forwarding: ForwardingPolicy,
    /// An outgoing expiry at or below `height + min_outgoing_cltv_margin`
    /// is `expiry_too_soon`.
    pub min_outgoing_cltv_margin: u32,
    /// Blocks a sender adds to `height + min_final_cltv_expiry_delta` for
    /// the final hop, so that a block found while the payment travels does
    /// not make the payee refuse it.
    pub final_cltv_margin: u32,
    /// An outgoing expiry above `height + max_outgoing_cltv_delta` is
    /// `expiry_too_far` (BOLT 4 suggests 2016).
    pub max_outgoing_cltv_delta: u32,
    /// Parts of a multi-part payment must all arrive within this time.
    pub mpp_timeout_secs: u64,
}

impl PaymentConfig {
    /// Defaults: 1000 msat + 100 ppm, delta 40, minimum 1000 msat,
    /// outgoing expiry at least 12 blocks away and at most 2016, 3 blocks
    /// of margin on the final expiry of our payments, 60 s for multi-part
    /// payments.
    pub fn new(network: crate::invoice::Network) -> Self {
        PaymentConfig {
            network,
            forwarding: ForwardingPolicy {
                fee_base_msat: 1000,
                fee_proportional_millionths: 100,
                cltv_expiry_delta: 40,
                htlc_minimum: Msat(1000),
            },
            min_outgoing_cltv_margin: 12,
            final_cltv_margin: 3,
            max_outgoing_cltv_delta: 2016,
            mpp_timeout_secs: 60,
        }
    }
}

/// A channel as the payment layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelView {
    pub channel_id: ChannelId,
    pub node_id: PublicKey,
    /// The real short channel id and our alias, when known.
    pub scids: Vec<ShortChannelId>,
    /// Normal and the peer connected.
    pub usable: bool,
    /// What we can still offer: our balance less the reserve we keep.
    pub outbound: Msat,
    /// Ids of the peer's HTLCs still on our commitment (not removed yet).
    pub received: Vec<u64>,
}

impl ChannelView {
    /// Every funded channel of the manager.
    pub fn from_manager(m: &ChannelManager) -> Vec<ChannelView> {
        let pending = m.pending_htlcs();
        m.list_channels()
            .into_iter()
            .filter_map(|i| {
                let c = m.channel(&i.channel_id)?.commitments()?;
                let reserve = Msat(c.theirs.reserve.0.saturating_mul(1000));
                Some(ChannelView {
                    channel_id: i.channel_id,
                    node_id: i.node_id,
                    scids: i.short_channel_id.into_iter().chain(i.alias).collect(),
                    usable: i.status == Some(Status::Normal) && i.link == Link::Online,
                    outbound: Msat(i.local_balance.0.saturating_sub(reserve.0)),
                    received: pending
                        .iter()
                        .filter(|(c, d, _, _)| *c == i.channel_id && *d == HtlcDir::Received)
                        .map(|(_, _, a, _)| a.id)
                        .collect(),
                })
            })
            .collect()
    }
}

/// Inputs of the payment layer.
#[derive(Clone, Debug)]
pub enum PaymentInput {
    /// The peer's HTLC is irrevocably committed.
    HtlcReceived {
        channel_id: ChannelId,
        htlc: HtlcAdd,
    },
    /// Our `AddHtlc` got this id.
    HtlcOffered {
        channel_id: ChannelId,
        id: u64,
        payment_hash: PaymentHash,
    },
    /// Our HTLC was fulfilled.
    HtlcFulfilled {
        channel_id: ChannelId,
        id: u64,
        preimage: PaymentPreimage,
    },
    /// Our HTLC failed (`reason`: the error packet).
    HtlcFailed {
        channel_id: ChannelId,
        id: u64,
        reason: Vec<u8>,
    },
    /// Our HTLC failed on chain (its channel was closed; see
    /// [`Event::HtlcFailedOnChain`]).
    HtlcFailedOnChain {
        channel_id: ChannelId,
        id: u64,
    },
    /// Our HTLC failed as malformed: the next node could not read our onion.
    HtlcFailedMalformed {
        channel_id: ChannelId,
        id: u64,
        failure_code: u16,
        sha256_of_onion: [u8; 32],
    },
    /// The manager refused the last `AddHtlc` with this hash on this channel.
    AddRefused {
        channel_id: ChannelId,
        payment_hash: PaymentHash,
    },
    BlockConnected {
        height: u32,
    },
    Tick {
        now: u64,
    },
}

impl PaymentInput {
    /// The input carried by a manager event, if any.
    pub fn from_event(e: &ManagerEvent) -> Option<PaymentInput> {
        let ManagerEvent::Channel {
            channel_id, event, ..
        } = e
        else {
            return None;
        };
        let channel_id = *channel_id;
        Some(match event {
            Event::HtlcReceived(htlc) => PaymentInput::HtlcReceived {
                channel_id,
                htlc: htlc.clone(),
            },
            Event::HtlcOffered { id, payment_hash } => PaymentInput::HtlcOffered {
                channel_id,
                id: *id,
                payment_hash: *payment_hash,
            },
            Event::HtlcFulfilled { id, preimage } => PaymentInput::HtlcFulfilled {
                channel_id,
                id: *id,
                preimage: *preimage,
            },
            Event::HtlcFailed { id, reason } => PaymentInput::HtlcFailed {
                channel_id,
                id: *id,
                reason: reason.clone(),
            },
            Event::HtlcFailedOnChain { id } => PaymentInput::HtlcFailedOnChain {
                channel_id,
                id: *id,
            },
            Event::HtlcFailedMalformed {
                id,
                failure_code,
                sha256_of_onion,
            } => PaymentInput::HtlcFailedMalformed {
                channel_id,
                id: *id,
                failure_code: *failure_code,
                sha256_of_onion: *sha256_of_onion,
            },
            _ => return None,
        })
    }
}

/// What the driver must do, in order.
// Short-lived values, moved once (like the channel's `Action`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum PaymentAction {
    /// Store (replacing the record with the same key) before anything after it.
    Persist(PaymentRecord),
    /// Delete the record with this key.
    Delete(Vec<u8>),
    /// Hand this command to the manager for this channel.
    Command {
        channel_id: ChannelId,
        command: Command,
    },
    Event(PaymentEvent),
}

/// A failure returned by a hop of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteFailure {
    /// Index of the failing node in the route (0: our peer).
    pub hop_index: usize,
    pub node_id: PublicKey,
    /// The failure code (from the error packet, or of the malformed failure).
    pub code: u16,
    /// The parsed message (`None` for a malformed failure or unparsable message).
    pub message: Option<FailureMessage>,
}

/// Why a payment failed in the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayFailure {
    /// The last attempt failed here and no other route is left or allowed.
    Route(RouteFailure),
    /// A returned error no hop's key could read.
    Unattributable,
    /// The channel refused the HTLC and no other route is left.
    NoUsableRoute,
    /// Interrupted by a restart before the HTLC left: nothing was sent.
    NotSent,
    /// The HTLC was failed on chain: its channel was force closed and the
    /// timeout path settled it (not retried: its expiry is long past).
    OnChain,
}

impl fmt::Display for PayFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayFailure::Route(r) => write!(
                f,
                "payment failed at hop {} ({}): {} (0x{:04x})",
                r.hop_index,
                r.node_id,
                crate::onion::failure_name(r.code).to_ascii_lowercase(),
                r.code
            ),
            PayFailure::Unattributable => {
                f.write_str("payment failed with an error no hop of the route could have sent")
            }
            PayFailure::NoUsableRoute => f.write_str("no usable route left"),
            PayFailure::NotSent => f.write_str("interrupted by a restart before the HTLC left"),
            PayFailure::OnChain => f.write_str("the HTLC was failed on chain"),
        }
    }
}

impl std::error::Error for PayFailure {}

/// A final failure's `error.code`: the BOLT 4 failure name of the hop
/// that failed it ([`crate::onion::failure_name`]), or what kept it from
/// being attributed or sent.
impl ErrorCode for PayFailure {
    fn code(&self) -> &'static str {
        match self {
            PayFailure::Route(r) => crate::onion::failure_name(r.code),
            PayFailure::Unattributable => "UNREADABLE_FAILURE",
            PayFailure::NoUsableRoute => "NO_USABLE_ROUTE",
            PayFailure::NotSent => "PAYMENT_NOT_SENT",
            PayFailure::OnChain => "HTLC_FAILED_ON_CHAIN",
        }
    }
}

/// What the application hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentEvent {
    /// An invoice of ours was paid (and its HTLCs are being fulfilled).
    PaymentReceived {
        payment_hash: PaymentHash,
        amount: Msat,
    },
    /// An incoming HTLC for us was refused with this failure code.
    ReceiveFailed {
        payment_hash: PaymentHash,
        code: u16,
    },
    /// Our payment succeeded.
    PaymentSent {
        payment_hash: PaymentHash,
        preimage: PaymentPreimage,
        amount: Msat,
        fee: Msat,
        attempts: u32,
    },
    /// One attempt failed; another route is being tried.
    AttemptFailed {
        payment_hash: PaymentHash,
        failure: RouteFailure,
    },
    /// Our payment failed for good.
    PaymentFailed {
        payment_hash: PaymentHash,
        failure: PayFailure,
    },
    /// An HTLC was forwarded.
    Forwarded {
        payment_hash: PaymentHash,
        in_channel: ChannelId,
        out_channel: ChannelId,
    },
    /// A forward we refused (before adding anything downstream).
    ForwardRefused {
        payment_hash: PaymentHash,
        in_channel: ChannelId,
        code: u16,
    },
    /// A forward was fulfilled downstream: we earned `fee`.
    ForwardSettled {
        payment_hash: PaymentHash,
        fee: Msat,
    },
    /// A forward failed downstream and was failed back.
    ForwardFailed { payment_hash: PaymentHash },
    /// An HTLC we offered on `channel_id` timed out: the channel is closed.
    HtlcTimedOut {
        channel_id: ChannelId,
        payment_hash: PaymentHash,
    },
    /// An HTLC we fulfilled on `channel_id` is still not removed close to
    /// its expiry: the channel is closed to claim it on chain.
    FulfilledHtlcUnsettled {
        channel_id: ChannelId,
        payment_hash: PaymentHash,
    },
}

/// What the user asks for in an invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRequest {
    pub amount: Option<Msat>,
    pub description: Description,
    pub expiry_secs: u64,
    pub min_final_cltv_expiry_delta: u16,
    pub route_hints: Vec<Vec<RouteHintHop>>,
}

/// How to pay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayParams {
    pub max_fee: Msat,
    /// No new attempt after this many seconds.
    pub timeout_secs: u64,
    /// For invoices without an amount.
    pub amount: Option<Msat>,
}

/// Local refusals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentError {
    /// This hash is already paid.
    AlreadyPaid,
    /// A payment of this hash is in flight.
    AlreadyPending,
    /// The invoice is expired.
    InvoiceExpired,
    /// The invoice is for another network.
    WrongNetwork,
    /// No amount in the invoice nor in the parameters.
    AmountMissing,
    /// No candidate route starts with a usable channel of ours, ends at
    /// the payee and fits the fee budget.
    NoUsableRoute,
    /// We already have an invoice with this payment hash.
    DuplicateInvoice,
    /// Building the invoice failed.
    Invoice(InvoiceError),
}

impl fmt::Display for PaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentError::AlreadyPaid => f.write_str("this payment hash is already paid"),
            PaymentError::AlreadyPending => f.write_str("a payment of this hash is in flight"),
            PaymentError::InvoiceExpired => f.write_str("invoice expired"),
            PaymentError::WrongNetwork => f.write_str("invoice for another network"),
            PaymentError::AmountMissing => f.write_str("no amount to pay"),
            PaymentError::NoUsableRoute => f.write_str("no usable route"),
            PaymentError::DuplicateInvoice => f.write_str("payment hash already used"),
            PaymentError::Invoice(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PaymentError {}

impl ErrorCode for PaymentError {
    fn code(&self) -> &'static str {
        match self {
            PaymentError::AlreadyPaid => "PAYMENT_ALREADY_PAID",
            PaymentError::AlreadyPending => "PAYMENT_PENDING",
            PaymentError::InvoiceExpired => "INVOICE_EXPIRED",
            PaymentError::WrongNetwork => "INVOICE_WRONG_NETWORK",
            PaymentError::AmountMissing => "PAYMENT_AMOUNT_MISSING",
            PaymentError::NoUsableRoute => "NO_USABLE_ROUTE",
            PaymentError::DuplicateInvoice => "DUPLICATE_PAYMENT_HASH",
            PaymentError::Invoice(e) => e.code(),
        }
    }
}

/// One part of a payment to us, waiting for the others.
#[derive(Clone, Debug)]
struct Part {
    channel_id: ChannelId,
    id: u64,
    amount: Msat,
    cltv_expiry: u32,
    total: Msat,
    shared_secret: SharedSecret,
}

/// How an HTLC we offered failed.
enum Failed {
    /// `update_fail_htlc`: the error packet.
    Packet(Vec<u8>),
    /// `update_fail_malformed_htlc`: its failure code.
    Malformed(u16),
    /// On chain, after its channel was closed.
    OnChain,
}

#[derive(Clone, Debug)]
enum Waiting {
    Forward { in_channel: ChannelId, in_id: u64 },
    Send,
}

/// The payment layer of one node.
#[derive(Clone, Debug)]
pub struct Payments {
    node_secret: SecretKey,
    config: PaymentConfig,
    height: u32,
    now: u64,
    invoices: BTreeMap<PaymentHash, InvoiceRecord>,
    /// Parts received for an invoice, and when the first arrived.
    parts: BTreeMap<PaymentHash, (u64, Vec<Part>)>,
    outgoing: BTreeMap<PaymentHash, OutgoingRecord>,
    /// The HTLC id of the attempt in flight, once known.
    attempt_ids: BTreeMap<PaymentHash, u64>,
    forwards: Vec<(ForwardRecord, Option<u64>)>,
    waiting: VecDeque<(ChannelId, PaymentHash, Waiting)>,
    /// Channels already told to close for a timed-out HTLC.
    closing: Vec<ChannelId>,
}

/// Accumulates actions; channel commands are followed by one `Sign` per
/// channel at the end.
#[derive(Default)]
struct Out {
    actions: Vec<PaymentAction>,
    sign: Vec<ChannelId>,
}

impl Out {
    fn persist(&mut self, r: PaymentRecord) {
        self.actions.push(PaymentAction::Persist(r));
    }
    fn command(&mut self, channel_id: ChannelId, command: Command) {
        let update = matches!(
            command,
            Command::AddHtlc { .. }
                | Command::FulfillHtlc { .. }
                | Command::FailHtlc { .. }
                | Command::FailMalformedHtlc { .. }
        );
        if update && !self.sign.contains(&channel_id) {
            self.sign.push(channel_id);
        }
        self.actions.push(PaymentAction::Command {
            channel_id,
            command,
        });
    }
    fn event(&mut self, e: PaymentEvent) {
        self.actions.push(PaymentAction::Event(e));
    }
    fn fail(&mut self, channel_id: ChannelId, id: u64, ss: &SharedSecret, m: &FailureMessage) {
        let reason = ErrorPacket::create(ss, m).0;
        self.command(channel_id, Command::FailHtlc { id, reason });
    }
    fn finish(mut self) -> Vec<PaymentAction> {
        for channel_id in core::mem::take(&mut self.sign) {
            self.actions.push(PaymentAction::Command {
                channel_id,
                command: Command::Sign,
            });
        }
        self.actions
    }
}

fn sha256_tagged(tag: &[u8], data: &[u8]) -> [u8; 32] {
    let mut e = sha256::Hash::engine();
    bitcoin::hashes::HashEngine::input(&mut e, tag);
    bitcoin::hashes::HashEngine::input(&mut e, data);
    sha256::Hash::from_engine(e).to_byte_array()
}

/// The preimage and payment secret of an invoice, from 32 bytes of
/// entropy (random, or derived from the wallet seed and a counter).
pub fn invoice_secrets(entropy: &[u8; 32]) -> (PaymentPreimage, PaymentSecret) {
    (
        PaymentPreimage(sha256_tagged(b"lnwasm/preimage", entropy)),
        PaymentSecret(sha256_tagged(b"lnwasm/payment_secret", entropy)),
    )
}

fn session_key(entropy: &[u8; 32], attempt: u32) -> SecretKey {
    let mut d = entropy.to_vec();
    d.extend_from_slice(&attempt.to_be_bytes());
    let mut k = sha256_tagged(b"lnwasm/session_key", &d);
    loop {
        if let Ok(s) = SecretKey::from_slice(&k) {
            return s;
        }
        k = sha256_tagged(b"lnwasm/session_key", &k);
    }
}

/// Our own failure for a downstream `update_fail_malformed_htlc` (BOLT 4:
/// the code it carried, with the hash of the onion we sent).
fn malformed_to_failure(code: u16, sha256_of_onion: [u8; 32]) -> FailureMessage {
    match code {
        c if c == BADONION | PERM | 4 => FailureMessage::InvalidOnionVersion { sha256_of_onion },
        c if c == BADONION | PERM | 5 => FailureMessage::InvalidOnionHmac { sha256_of_onion },
        c if c == BADONION | PERM | 6 => FailureMessage::InvalidOnionKey { sha256_of_onion },
        c if c == BADONION | PERM | 24 => FailureMessage::InvalidOnionBlinding { sha256_of_onion },
        code => FailureMessage::Unknown {
            code,
            data: sha256_of_onion.to_vec(),
        },
    }
}

impl Payments {
    pub fn new(node_secret: SecretKey, config: PaymentConfig, height: u32, now: u64) -> Self {
        Payments {
            node_secret,
            config,
            height,
            now,
            invoices: BTreeMap::new(),
            parts: BTreeMap::new(),
            outgoing: BTreeMap::new(),
            attempt_ids: BTreeMap::new(),
            forwards: Vec::new(),
            waiting: VecDeque::new(),
            closing: Vec::new(),
        }
    }

    /// Rebuilds the layer after a restart from its records and the HTLCs
    /// still pending in the channels ([`ChannelManager::pending_htlcs`]).
    /// The actions resume what the crash interrupted: claimed invoices and
    /// forwards whose preimage is known are fulfilled again, incoming HTLCs
    /// nobody handled are handled now, forwards whose outgoing HTLC never
    /// left are failed back, and a payment whose HTLC never left is
    /// reported failed ([`PayFailure::NotSent`]) — never sent again on its own.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        node_secret: SecretKey,
        config: PaymentConfig,
        records: &[PaymentRecord],
        pending: &[(ChannelId, HtlcDir, HtlcAdd, bool)],
        channels: &[ChannelView],
        height: u32,
        now: u64,
    ) -> (Payments, Vec<PaymentAction>) {
        let mut p = Payments::new(node_secret, config, height, now);
        let mut out = Out::default();
        for r in records {
            match r {
                PaymentRecord::Invoice(i) => {
                    p.invoices.insert(i.payment_hash, i.clone());
                }
                PaymentRecord::Outgoing(o) => {
                    p.outgoing.insert(o.payment_hash, o.clone());
                }
                PaymentRecord::Forward(f) => p.forwards.push((f.clone(), None)),
            }
        }
        let offered = |ch: &ChannelId, h: &PaymentHash| {
            pending
                .iter()
                .filter(|(c, d, a, _)| c == ch && *d == HtlcDir::Offered && a.payment_hash == *h)
                .map(|(_, _, a, _)| a.id)
                .collect::<Vec<u64>>()
        };
        let mut used: Vec<(ChannelId, u64)> = Vec::new();
        // Payments in flight.
        let hashes: Vec<PaymentHash> = p.outgoing.keys().copied().collect();
        for h in hashes {
            let Some(o) = p.outgoing.get_mut(&h) else {
                continue;
            };
            if o.status != OutgoingStatus::Pending {
                continue;
            }
            let Some(a) = &o.attempt else {
                continue;
            };
            let ch = a.channel_id;
            match offered(&ch, &h)
                .into_iter()
                .find(|id| !used.contains(&(ch, *id)))
            {
                Some(id) => {
                    used.push((ch, id));
                    p.attempt_ids.insert(h, id);
                }
                None => {
                    o.status = OutgoingStatus::Failed;
                    o.attempt = None;
                    out.persist(PaymentRecord::Outgoing(o.clone()));
                    out.event(PaymentEvent::PaymentFailed {
                        payment_hash: h,
                        failure: PayFailure::NotSent,
                    });
                }
            }
        }
        // Forwards.
        let mut unsent = Vec::new();
        for (i, (f, out_id)) in p.forwards.iter_mut().enumerate() {
            if let Some(pre) = f.preimage {
                out.command(
                    f.in_channel,
                    Command::FulfillHtlc {
                        id: f.in_id,
                        preimage: pre,
                    },
                );
                continue;
            }
            let ch = f.out_channel;
            match offered(&ch, &f.payment_hash)
                .into_iter()
                .find(|id| !used.contains(&(ch, *id)))
            {
                Some(id) => {
                    used.push((ch, id));
                    *out_id = Some(id);
                }
                None => unsent.push(i),
            }
        }
        for i in unsent.into_iter().rev() {
            let (f, _) = p.forwards.remove(i);
            out.fail(
                f.in_channel,
                f.in_id,
                &f.shared_secret,
                &FailureMessage::TemporaryChannelFailure {
                    channel_update: vec![],
                },
            );
            out.actions.push(PaymentAction::Delete(record::forward_key(
                &f.in_channel,
                f.in_id,
            )));
        }
        // Claimed invoices: fulfil what is not settled yet.
        for inv in p.invoices.values() {
            if let Some(c) = &inv.claim {
                for (ch, id, _) in &c.htlcs {
                    let still = pending.iter().any(|(pc, d, a, settling)| {
                        pc == ch && *d == HtlcDir::Received && a.id == *id && !settling
                    });
                    if still {
                        out.command(
                            *ch,
                            Command::FulfillHtlc {
                                id: *id,
                                preimage: inv.preimage,
                            },
                        );
                    }
                }
            }
        }
        // Incoming HTLCs nobody handled.
        let mut acts = out.finish();
        for (ch, d, a, settling) in pending {
            if *d != HtlcDir::Received || *settling {
                continue;
            }
            let known = p
                .forwards
                .iter()
                .any(|(f, _)| f.in_channel == *ch && f.in_id == a.id)
                || p.invoices.values().any(|i| {
                    i.claim
                        .as_ref()
                        .is_some_and(|c| c.htlcs.iter().any(|(hc, hi, _)| hc == ch && *hi == a.id))
                });
            if !known {
                acts.extend(p.handle(
                    PaymentInput::HtlcReceived {
                        channel_id: *ch,
                        htlc: a.clone(),
                    },
                    channels,
                ));
            }
        }
        (p, acts)
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The record of a payment we send, if any.
    pub fn outgoing(&self, h: &PaymentHash) -> Option<&OutgoingRecord> {
        self.outgoing.get(h)
    }

    /// The record of one of our invoices.
    pub fn invoice(&self, h: &PaymentHash) -> Option<&InvoiceRecord> {
        self.invoices.get(h)
    }

    /// Every invoice we issued, by payment hash.
    pub fn invoices(&self) -> impl Iterator<Item = &InvoiceRecord> {
        self.invoices.values()
    }

    /// Every payment we sent or are sending, by payment hash.
    pub fn outgoing_payments(&self) -> impl Iterator<Item = &OutgoingRecord> {
        self.outgoing.values()
    }

    /// Forwards not settled yet.
    pub fn forwards(&self) -> Vec<&ForwardRecord> {
        self.forwards.iter().map(|(f, _)| f).collect()
    }

    /// Creates, stores and signs an invoice. `entropy` (32 random bytes, or
    /// derived from the seed) gives the preimage and payment secret
    /// ([`invoice_secrets`]); the timestamp is the last [`PaymentInput::Tick`].
    pub fn create_invoice(
        &mut self,
        req: InvoiceRequest,
        entropy: &[u8; 32],
    ) -> Result<(String, Vec<PaymentAction>), PaymentError> {
        let (preimage, payment_secret) = invoice_secrets(entropy);
        let payment_hash = preimage.payment_hash();
        if self.invoices.contains_key(&payment_hash) {
            return Err(PaymentError::DuplicateInvoice);
        }
        let mut features = Features::empty();
        features.set_optional(Feature::VarOnionOptin);
        features.set_required(Feature::PaymentSecret);
        features.set_optional(Feature::BasicMpp);
        let new = NewInvoice {
            network: self.config.network,
            amount: req.amount,
            timestamp: self.now,
            payment_hash,
            payment_secret,
            description: req.description,
            include_payee_node_id: false,
            expiry: Some(req.expiry_secs),
            min_final_cltv_expiry_delta: Some(u64::from(req.min_final_cltv_expiry_delta)),
            fallbacks: vec![],
            route_hints: req.route_hints,
            features,
            metadata: None,
        };
        let s = new
            .sign(&self.node_secret, &[])
            .map_err(PaymentError::Invoice)?;
        let rec = InvoiceRecord {
            payment_hash,
            preimage,
            payment_secret,
            amount: req.amount,
            created_at: self.now,
            expiry_secs: req.expiry_secs,
            min_final_cltv_expiry_delta: u32::from(req.min_final_cltv_expiry_delta),
            claim: None,
        };
        self.invoices.insert(payment_hash, rec.clone());
        Ok((s, vec![PaymentAction::Persist(PaymentRecord::Invoice(rec))]))
    }

    /// Pays `invoice` over the first usable route of `routes` (explicit
    /// candidates: our channel first, the payee last), retrying the next
    /// ones on retryable failures. `entropy` seeds the onion session keys.
    pub fn pay_invoice(
        &mut self,
        invoice: &Invoice,
        params: PayParams,
        routes: Vec<Route>,
        channels: &[ChannelView],
        entropy: &[u8; 32],
    ) -> Result<Vec<PaymentAction>, PaymentError> {
        let h = *invoice.payment_hash();
        match self.outgoing.get(&h).map(|o| &o.status) {
            Some(OutgoingStatus::Pending) => return Err(PaymentError::AlreadyPending),
            Some(OutgoingStatus::Succeeded { .. }) => return Err(PaymentError::AlreadyPaid),
            _ => {}
        }
        if invoice.network() != self.config.network {
            return Err(PaymentError::WrongNetwork);
        }
        if invoice.is_expired_at(self.now) {
            return Err(PaymentError::InvoiceExpired);
        }
        let amount = invoice
            .amount()
            .or(params.amount)
            .ok_or(PaymentError::AmountMissing)?;
        let mut o = OutgoingRecord {
            payment_hash: h,
            payee: *invoice.payee(),
            amount,
            payment_secret: *invoice.payment_secret(),
            min_final_cltv_expiry_delta: u32::try_from(invoice.min_final_cltv_expiry_delta())
                .unwrap_or(u32::MAX),
            max_fee: params.max_fee,
            deadline: self.now.saturating_add(params.timeout_secs),
            entropy: *entropy,
            routes,
            tried: vec![],
            excluded_nodes: vec![],
            excluded_channels: vec![],
            attempts: 0,
            attempt: None,
            status: OutgoingStatus::Pending,
            created_at: Some(self.now),
        };
        let mut out = Out::default();
        if !self.start_attempt(&mut o, channels, &mut out) {
            return Err(PaymentError::NoUsableRoute);
        }
        self.outgoing.insert(h, o);
        Ok(out.finish())
    }

    /// Picks the next route and adds its HTLC; false if none is usable.
    fn start_attempt(
        &mut self,
        o: &mut OutgoingRecord,
        channels: &[ChannelView],
        out: &mut Out,
    ) -> bool {
        let final_cltv = self
            .height
            .saturating_add(o.min_final_cltv_expiry_delta)
            .saturating_add(self.config.final_cltv_margin);
        for (i, r) in o.routes.iter().enumerate() {
            let i = i as u32;
            if o.tried.contains(&i) {
                continue;
            }
            let Some(first) = r.hops.first() else {
                continue;
            };
            if r.hops.last().map(|h| h.node_id) != Some(o.payee)
                || r.hops.iter().any(|h| {
                    o.excluded_nodes.contains(&h.node_id)
                        || o.excluded_channels.contains(&h.short_channel_id)
                })
            {
                continue;
            }
            let Some(plan) = r.plan(o.amount, final_cltv, o.payment_secret, o.amount, None) else {
                continue;
            };
            if plan.fee > o.max_fee {
                continue;
            }
            let Some(ch) = channels.iter().find(|c| {
                c.scids.contains(&first.short_channel_id)
                    && c.node_id == first.node_id
                    && c.usable
                    && c.outbound >= plan.first_amount
            }) else {
                continue;
            };
            let Ok(onion) = build_payment_onion(
                &session_key(&o.entropy, o.attempts),
                &plan.payloads,
                &o.payment_hash,
            ) else {
                continue;
            };
            o.tried.push(i);
            o.attempts += 1;
            o.attempt = Some(AttemptRecord {
                route_index: i,
                channel_id: ch.channel_id,
                amount: plan.first_amount,
                cltv_expiry: plan.first_cltv,
                fee: plan.fee,
                shared_secrets: onion.shared_secrets,
            });
            out.persist(PaymentRecord::Outgoing(o.clone()));
            self.waiting
                .push_back((ch.channel_id, o.payment_hash, Waiting::Send));
            out.command(
                ch.channel_id,
                Command::AddHtlc {
                    amount: plan.first_amount,
                    payment_hash: o.payment_hash,
                    cltv_expiry: plan.first_cltv,
                    onion: onion.packet,
                },
            );
            return true;
        }
        false
    }

    /// Processes one input.
    pub fn handle(&mut self, input: PaymentInput, channels: &[ChannelView]) -> Vec<PaymentAction> {
        let mut out = Out::default();
        match input {
            PaymentInput::HtlcReceived { channel_id, htlc } => {
                self.on_received(channel_id, htlc, channels, &mut out)
            }
            PaymentInput::HtlcOffered {
                channel_id,
                id,
                payment_hash,
            } => {
                if let Some(pos) = self
                    .waiting
                    .iter()
                    .position(|(c, h, _)| *c == channel_id && *h == payment_hash)
                {
                    if let Some((_, _, w)) = self.waiting.remove(pos) {
                        match w {
                            Waiting::Send => {
                                self.attempt_ids.insert(payment_hash, id);
                            }
                            Waiting::Forward { in_channel, in_id } => {
                                if let Some((_, oid)) = self
                                    .forwards
                                    .iter_mut()
                                    .find(|(f, _)| f.in_channel == in_channel && f.in_id == in_id)
                                {
                                    *oid = Some(id);
                                }
                            }
                        }
                    }
                }
            }
            PaymentInput::AddRefused {
                channel_id,
                payment_hash,
            } => self.on_add_refused(channel_id, payment_hash, channels, &mut out),
            PaymentInput::HtlcFulfilled {
                channel_id,
                id,
                preimage,
            } => self.on_fulfilled(channel_id, id, preimage, &mut out),
            PaymentInput::HtlcFailed {
                channel_id,
                id,
                reason,
            } => self.on_failed(channel_id, id, Failed::Packet(reason), channels, &mut out),
            PaymentInput::HtlcFailedOnChain { channel_id, id } => {
                self.on_failed(channel_id, id, Failed::OnChain, channels, &mut out)
            }
            PaymentInput::HtlcFailedMalformed {
                channel_id,
                id,
                failure_code,
                ..
            } => self.on_failed(
                channel_id,
                id,
                Failed::Malformed(failure_code),
                channels,
                &mut out,
            ),
            PaymentInput::BlockConnected { height } => {
                self.height = self.height.max(height);
                self.check_expiry(channels, &mut out);
            }
            PaymentInput::Tick { now } => {
                self.now = self.now.max(now);
                self.check_mpp_timeout(&mut out);
            }
        }
        out.finish()
    }

    fn on_received(
        &mut self,
        channel_id: ChannelId,
        add: HtlcAdd,
        channels: &[ChannelView],
        out: &mut Out,
    ) {
        let incoming = IncomingHtlc {
            onion: &add.onion,
            payment_hash: add.payment_hash,
            amount: add.amount,
            cltv_expiry: add.cltv_expiry,
            path_key: None,
        };
        match peel_htlc(&self.node_secret, &incoming) {
            Err(e) => match e.htlc_failure(&add.onion, false) {
                HtlcFailure::Malformed {
                    failure_code,
                    sha256_of_onion,
                } => out.command(
                    channel_id,
                    Command::FailMalformedHtlc {
                        id: add.id,
                        sha256_of_onion,
                        failure_code,
                    },
                ),
                HtlcFailure::Fail {
                    shared_secret,
                    message,
                } => out.fail(channel_id, add.id, &shared_secret, &message),
            },
            Ok(PeeledHtlc::Forward(f)) => self.forward(channel_id, &add, f, channels, out),
            Ok(PeeledHtlc::Receive(r)) => self.receive(channel_id, &add, r, out),
        }
    }

    /// The final-hop checks of BOLT 4, then multi-part collection.
    fn receive(&mut self, channel_id: ChannelId, add: &HtlcAdd, r: ReceiveInfo, out: &mut Out) {
        let h = add.payment_hash;
        let ss = r.shared_secret;
        let details = FailureMessage::IncorrectOrUnknownPaymentDetails {
            htlc_msat: add.amount,
            height: self.height,
        };
        let failure = if add.cltv_expiry < r.outgoing_cltv_value {
            Some(FailureMessage::FinalIncorrectCltvExpiry {
                cltv_expiry: add.cltv_expiry,
            })
        } else if add.amount < r.amt_to_forward {
            Some(FailureMessage::FinalIncorrectHtlcAmount {
                incoming_htlc_amt: add.amount,
            })
        } else {
            match self.invoices.get(&h) {
                None => Some(details.clone()),
                Some(inv) => {
                    let secret_ok = r
                        .payment_data
                        .is_some_and(|d| d.payment_secret == inv.payment_secret);
                    let amount_ok = inv.amount.map_or(true, |a| {
                        r.total_msat >= a && r.total_msat.0 <= a.0.saturating_mul(2)
                    });
                    let expired = self.now >= inv.created_at.saturating_add(inv.expiry_secs);
                    let cltv_ok = u64::from(add.cltv_expiry)
                        >= u64::from(self.height) + u64::from(inv.min_final_cltv_expiry_delta);
                    let total_ok = self
                        .parts
                        .get(&h)
                        .and_then(|(_, p)| p.first())
                        .map_or(true, |p| p.total == r.total_msat);
                    if !secret_ok
                        || !amount_ok
                        || expired
                        || !cltv_ok
                        || !total_ok
                        || inv.claim.is_some()
                    {
                        Some(details.clone())
                    } else {
                        None
                    }
                }
            }
        };
        if let Some(m) = failure {
            out.fail(channel_id, add.id, &ss, &m);
            out.event(PaymentEvent::ReceiveFailed {
                payment_hash: h,
                code: m.code(),
            });
            return;
        }
        let now = self.now;
        let entry = self.parts.entry(h).or_insert((now, Vec::new()));
        entry.1.push(Part {
            channel_id,
            id: add.id,
            amount: add.amount,
            cltv_expiry: add.cltv_expiry,
            total: r.total_msat,
            shared_secret: ss,
        });
        let sum: u64 = entry.1.iter().map(|p| p.amount.0).sum();
        if sum < r.total_msat.0 {
            return;
        }
        let Some((_, parts)) = self.parts.remove(&h) else {
            return;
        };
        let Some(inv) = self.invoices.get_mut(&h) else {
            return;
        };
        inv.claim = Some(Claim {
            amount: Msat(sum),
            htlcs: parts
                .iter()
                .map(|p| (p.channel_id, p.id, p.cltv_expiry))
                .collect(),
        });
        out.persist(PaymentRecord::Invoice(inv.clone()));
        for p in &parts {
            out.command(
                p.channel_id,
                Command::FulfillHtlc {
                    id: p.id,
                    preimage: inv.preimage,
                },
            );
        }
        out.event(PaymentEvent::PaymentReceived {
            payment_hash: h,
            amount: Msat(sum),
        });
    }

    fn check_mpp_timeout(&mut self, out: &mut Out) {
        let timeout = self.config.mpp_timeout_secs;
        let now = self.now;
        let late: Vec<PaymentHash> = self
            .parts
            .iter()
            .filter(|(_, (first, _))| now >= first.saturating_add(timeout))
            .map(|(h, _)| *h)
            .collect();
        for h in late {
            if let Some((_, parts)) = self.parts.remove(&h) {
                for p in parts {
                    out.fail(
                        p.channel_id,
                        p.id,
                        &p.shared_secret,
                        &FailureMessage::MppTimeout,
                    );
                }
                out.event(PaymentEvent::ReceiveFailed {
                    payment_hash: h,
                    code: FailureMessage::MppTimeout.code(),
                });
            }
        }
    }

    /// Our relay policy, then the outgoing `AddHtlc`.
    fn forward(
        &mut self,
        in_channel: ChannelId,
        add: &HtlcAdd,
        f: ForwardInfo,
        channels: &[ChannelView],
        out: &mut Out,
    ) {
        let pol = self.config.forwarding;
        let next = match f.next_hop {
            NextHop::Channel(s) => channels
                .iter()
                .find(|c| c.scids.contains(&s) && c.channel_id != in_channel),
            NextHop::Node(_) => None,
        };
        let amt = f.amt_to_forward;
        let fee = relay_fee(pol.fee_base_msat, pol.fee_proportional_millionths, amt);
        let tcf = FailureMessage::TemporaryChannelFailure {
            channel_update: vec![],
        };
        let failure = match next {
            None => Some(FailureMessage::UnknownNextPeer),
            Some(c) if !c.usable => Some(tcf.clone()),
            Some(_) if amt < pol.htlc_minimum => Some(FailureMessage::AmountBelowMinimum {
                htlc_msat: amt,
                channel_update: vec![],
            }),
            Some(_) if u128::from(add.amount.0) < u128::from(amt.0) + u128::from(fee.0) => {
                Some(FailureMessage::FeeInsufficient {
                    htlc_msat: add.amount,
                    channel_update: vec![],
                })
            }
            Some(_)
                if u64::from(add.cltv_expiry)
                    < u64::from(f.outgoing_cltv_value) + u64::from(pol.cltv_expiry_delta) =>
            {
                Some(FailureMessage::IncorrectCltvExpiry {
                    cltv_expiry: add.cltv_expiry,
                    channel_update: vec![],
                })
            }
            Some(_)
                if u64::from(f.outgoing_cltv_value)
                    <= u64::from(self.height) + u64::from(self.config.min_outgoing_cltv_margin) =>
            {
                Some(FailureMessage::ExpiryTooSoon {
                    channel_update: vec![],
                })
            }
            Some(_)
                if u64::from(f.outgoing_cltv_value)
                    > u64::from(self.height) + u64::from(self.config.max_outgoing_cltv_delta) =>
            {
                Some(FailureMessage::ExpiryTooFar)
            }
            Some(c) if amt > c.outbound => Some(tcf),
            Some(_) => None,
        };
        if let Some(m) = failure {
            out.fail(in_channel, add.id, &f.shared_secret, &m);
            out.event(PaymentEvent::ForwardRefused {
                payment_hash: add.payment_hash,
                in_channel,
                code: m.code(),
            });
            return;
        }
        let Some(next) = next else { return };
        let rec = ForwardRecord {
            in_channel,
            in_id: add.id,
            in_amount: add.amount,
            in_cltv: add.cltv_expiry,
            payment_hash: add.payment_hash,
            shared_secret: f.shared_secret,
            out_channel: next.channel_id,
            out_amount: amt,
            out_cltv: f.outgoing_cltv_value,
            out_onion_sha: sha256_of_onion(&f.next_onion),
            preimage: None,
        };
        out.persist(PaymentRecord::Forward(rec.clone()));
        self.forwards.push((rec, None));
        self.waiting.push_back((
            next.channel_id,
            add.payment_hash,
            Waiting::Forward {
                in_channel,
                in_id: add.id,
            },
        ));
        out.command(
            next.channel_id,
            Command::AddHtlc {
                amount: amt,
                payment_hash: add.payment_hash,
                cltv_expiry: f.outgoing_cltv_value,
                onion: f.next_onion,
            },
        );
        out.event(PaymentEvent::Forwarded {
            payment_hash: add.payment_hash,
            in_channel,
            out_channel: next.channel_id,
        });
    }

    fn on_add_refused(
        &mut self,
        channel_id: ChannelId,
        payment_hash: PaymentHash,
        channels: &[ChannelView],
        out: &mut Out,
    ) {
        let Some(pos) = self
            .waiting
            .iter()
            .rposition(|(c, h, _)| *c == channel_id && *h == payment_hash)
        else {
            return;
        };
        let Some((_, _, w)) = self.waiting.remove(pos) else {
            return;
        };
        match w {
            Waiting::Forward { in_channel, in_id } => {
                if let Some(i) = self
                    .forwards
                    .iter()
                    .position(|(f, _)| f.in_channel == in_channel && f.in_id == in_id)
                {
                    let (f, _) = self.forwards.remove(i);
                    out.actions.push(PaymentAction::Delete(record::forward_key(
                        &in_channel,
                        in_id,
                    )));
                    out.fail(
                        in_channel,
                        in_id,
                        &f.shared_secret,
                        &FailureMessage::TemporaryChannelFailure {
                            channel_update: vec![],
                        },
                    );
                }
            }
            Waiting::Send => {
                let Some(mut o) = self.outgoing.remove(&payment_hash) else {
                    return;
                };
                o.attempt = None;
                if !self.start_attempt(&mut o, channels, out) {
                    o.status = OutgoingStatus::Failed;
                    out.persist(PaymentRecord::Outgoing(o.clone()));
                    out.event(PaymentEvent::PaymentFailed {
                        payment_hash,
                        failure: PayFailure::NoUsableRoute,
                    });
                }
                self.outgoing.insert(payment_hash, o);
            }
        }
    }

    fn on_fulfilled(
        &mut self,
        channel_id: ChannelId,
        id: u64,
        preimage: PaymentPreimage,
        out: &mut Out,
    ) {
        if let Some((f, _)) = self
            .forwards
            .iter_mut()
            .find(|(f, oid)| f.out_channel == channel_id && *oid == Some(id))
        {
            if f.preimage.is_some() || preimage.payment_hash() != f.payment_hash {
                return;
            }
            f.preimage = Some(preimage);
            let f = f.clone();
            out.persist(PaymentRecord::Forward(f.clone()));
            out.command(
                f.in_channel,
                Command::FulfillHtlc {
                    id: f.in_id,
                    preimage,
                },
            );
            out.event(PaymentEvent::ForwardSettled {
                payment_hash: f.payment_hash,
                fee: Msat(f.in_amount.0.saturating_sub(f.out_amount.0)),
            });
            return;
        }
        let Some(h) = self.attempt_of(channel_id, id) else {
            return;
        };
        let Some(o) = self.outgoing.get_mut(&h) else {
            return;
        };
        if preimage.payment_hash() != h || o.status != OutgoingStatus::Pending {
            return;
        }
        let fee = o.attempt.as_ref().map_or(Msat(0), |a| a.fee);
        o.status = OutgoingStatus::Succeeded { preimage, fee };
        self.attempt_ids.remove(&h);
        out.persist(PaymentRecord::Outgoing(o.clone()));
        out.event(PaymentEvent::PaymentSent {
            payment_hash: h,
            preimage,
            amount: o.amount,
            fee,
            attempts: o.attempts,
        });
    }

    fn attempt_of(&self, channel_id: ChannelId, id: u64) -> Option<PaymentHash> {
        self.attempt_ids
            .iter()
            .find(|(h, i)| {
                **i == id
                    && self
                        .outgoing
                        .get(h)
                        .and_then(|o| o.attempt.as_ref())
                        .is_some_and(|a| a.channel_id == channel_id)
            })
            .map(|(h, _)| *h)
    }

    fn on_failed(
        &mut self,
        channel_id: ChannelId,
        id: u64,
        failed: Failed,
        channels: &[ChannelView],
        out: &mut Out,
    ) {
        if let Some(i) = self
            .forwards
            .iter()
            .position(|(f, oid)| f.out_channel == channel_id && *oid == Some(id))
        {
            if self.forwards[i].0.preimage.is_some() {
                // Fulfilled upstream already: the preimage wins.
                return;
            }
            let (f, _) = self.forwards.remove(i);
            let packet = match failed {
                // The outgoing channel is closed: our own failure.
                Failed::OnChain => {
                    ErrorPacket::create(&f.shared_secret, &FailureMessage::PermanentChannelFailure)
                }
                Failed::Malformed(code) => ErrorPacket::create(
                    &f.shared_secret,
                    &malformed_to_failure(code, f.out_onion_sha),
                ),
                Failed::Packet(reason) => ErrorPacket(reason).wrap(&f.shared_secret),
            };
            out.actions.push(PaymentAction::Delete(record::forward_key(
                &f.in_channel,
                f.in_id,
            )));
            out.command(
                f.in_channel,
                Command::FailHtlc {
                    id: f.in_id,
                    reason: packet.0,
                },
            );
            out.event(PaymentEvent::ForwardFailed {
                payment_hash: f.payment_hash,
            });
            return;
        }
        let Some(h) = self.attempt_of(channel_id, id) else {
            return;
        };
        self.attempt_ids.remove(&h);
        let Some(mut o) = self.outgoing.remove(&h) else {
            return;
        };
        let Some(a) = o.attempt.take() else {
            self.outgoing.insert(h, o);
            return;
        };
        let route = o.routes.get(a.route_index as usize).cloned();
        let hops = route.map(|r| r.hops).unwrap_or_default();
        let failure =
            match failed {
                Failed::OnChain => {
                    o.status = OutgoingStatus::Failed;
                    out.persist(PaymentRecord::Outgoing(o.clone()));
                    out.event(PaymentEvent::PaymentFailed {
                        payment_hash: h,
                        failure: PayFailure::OnChain,
                    });
                    self.outgoing.insert(h, o);
                    return;
                }
                Failed::Malformed(code) => hops.first().map(|h0| RouteFailure {
                    hop_index: 0,
                    node_id: h0.node_id,
                    code,
                    message: None,
                }),
                Failed::Packet(reason) => ErrorPacket(reason)
                    .decode(&a.shared_secrets)
                    .ok()
                    .and_then(|d| {
                        let hop = hops.get(d.hop_index)?;
                        let code = d
                            .message
                            .as_ref()
                            .map(FailureMessage::code)
                            .or_else(|| {
                                (d.raw.len() >= 2).then(|| u16::from_be_bytes([d.raw[0], d.raw[1]]))
                            })
                            .unwrap_or(0);
                        Some(RouteFailure {
                            hop_index: d.hop_index,
                            node_id: hop.node_id,
                            code,
                            message: d.message,
                        })
                    }),
            };
        let Some(failure) = failure else {
            o.status = OutgoingStatus::Failed;
            out.persist(PaymentRecord::Outgoing(o.clone()));
            out.event(PaymentEvent::PaymentFailed {
                payment_hash: h,
                failure: PayFailure::Unattributable,
            });
            self.outgoing.insert(h, o);
            return;
        };
        // The final node's answer is final; otherwise avoid what failed.
        let last = hops.len().saturating_sub(1);
        let retryable = failure.hop_index < last && failure.code & BADONION == 0;
        if retryable {
            if failure.code & NODE != 0 {
                o.excluded_nodes.push(failure.node_id);
            } else if let Some(next) = hops.get(failure.hop_index + 1) {
                o.excluded_channels.push(next.short_channel_id);
            }
        }
        let retried =
            retryable && self.now < o.deadline && self.start_attempt(&mut o, channels, out);
        if retried {
            // The persist of the new attempt records the exclusions too.
            let pos = out
                .actions
                .iter()
                .position(|a| matches!(a, PaymentAction::Persist(_)))
                .unwrap_or(out.actions.len());
            out.actions.insert(
                pos,
                PaymentAction::Event(PaymentEvent::AttemptFailed {
                    payment_hash: h,
                    failure,
                }),
            );
        } else {
            o.status = OutgoingStatus::Failed;
            out.persist(PaymentRecord::Outgoing(o.clone()));
            out.event(PaymentEvent::PaymentFailed {
                payment_hash: h,
                failure: PayFailure::Route(failure),
            });
        }
        self.outgoing.insert(h, o);
    }

    /// BOLT 2: an HTLC we offered still pending past its expiry (plus
    /// [`OUTGOING_GRACE_BLOCKS`]) closes its channel on chain.
    fn check_expiry(&mut self, channels: &[ChannelView], out: &mut Out) {
        let height = self.height;
        let on_commitment = |ch: &ChannelId, id: u64| {
            channels
                .iter()
                .any(|c| c.channel_id == *ch && c.received.contains(&id))
        };
        // Forwards settled upstream (fulfilled, and the incoming HTLC gone
        // from our commitment) are forgotten.
        let mut i = 0;
        while i < self.forwards.len() {
            let f = &self.forwards[i].0;
            if f.preimage.is_some() && !on_commitment(&f.in_channel, f.in_id) {
                out.actions.push(PaymentAction::Delete(record::forward_key(
                    &f.in_channel,
                    f.in_id,
                )));
                self.forwards.remove(i);
            } else {
                i += 1;
            }
        }
        // Incoming HTLCs we fulfilled that are still there near their
        // expiry: claim them on chain.
        let mut unclaimed: Vec<(ChannelId, PaymentHash)> = Vec::new();
        for (f, _) in &self.forwards {
            if f.preimage.is_some()
                && height.saturating_add(FULFILL_DEADLINE_BLOCKS) >= f.in_cltv
                && on_commitment(&f.in_channel, f.in_id)
            {
                unclaimed.push((f.in_channel, f.payment_hash));
            }
        }
        for inv in self.invoices.values() {
            if let Some(c) = &inv.claim {
                for (ch, id, cltv) in &c.htlcs {
                    if height.saturating_add(FULFILL_DEADLINE_BLOCKS) >= *cltv
                        && on_commitment(ch, *id)
                    {
                        unclaimed.push((*ch, inv.payment_hash));
                    }
                }
            }
        }
        for (channel_id, payment_hash) in unclaimed {
            if self.closing.contains(&channel_id) {
                continue;
            }
            self.closing.push(channel_id);
            out.command(channel_id, Command::ForceClose);
            out.event(PaymentEvent::FulfilledHtlcUnsettled {
                channel_id,
                payment_hash,
            });
        }
        // Parts of an incomplete payment to us that come close to their
        // expiry are failed before the peer must go on chain for them.
        let late_parts: Vec<PaymentHash> = self
            .parts
            .iter()
            .filter(|(_, (_, ps))| {
                ps.iter()
                    .any(|p| p.cltv_expiry <= height.saturating_add(OUTGOING_GRACE_BLOCKS))
            })
            .map(|(h, _)| *h)
            .collect();
        for h in late_parts {
            if let Some((_, parts)) = self.parts.remove(&h) {
                for p in parts {
                    out.fail(
                        p.channel_id,
                        p.id,
                        &p.shared_secret,
                        &FailureMessage::IncorrectOrUnknownPaymentDetails {
                            htlc_msat: p.amount,
                            height,
                        },
                    );
                }
                out.event(PaymentEvent::ReceiveFailed {
                    payment_hash: h,
                    code: (PERM | 15),
                });
            }
        }
        let mut late: Vec<(ChannelId, PaymentHash)> = Vec::new();
        for (f, oid) in &self.forwards {
            if oid.is_some()
                && f.preimage.is_none()
                && height >= f.out_cltv.saturating_add(OUTGOING_GRACE_BLOCKS)
            {
                late.push((f.out_channel, f.payment_hash));
            }
        }
        for o in self.outgoing.values() {
            if let (OutgoingStatus::Pending, Some(a)) = (&o.status, &o.attempt) {
                if height >= a.cltv_expiry.saturating_add(OUTGOING_GRACE_BLOCKS) {
                    late.push((a.channel_id, o.payment_hash));
                }
            }
        }
        for (channel_id, payment_hash) in late {
            if self.closing.contains(&channel_id) {
                continue;
            }
            self.closing.push(channel_id);
            out.command(channel_id, Command::ForceClose);
            out.event(PaymentEvent::HtlcTimedOut {
                channel_id,
                payment_hash,
            });
        }
    }
}
