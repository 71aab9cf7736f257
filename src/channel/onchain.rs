//! What the channel does once a transaction spends the funding output:
//! which commitment it is, and every transaction that brings our funds back.
//!
//! # The commitment on chain
//!
//! * **Ours** (we force closed, or it appeared): the commitment, then the
//!   second-stage HTLC transactions — HTLC-timeout for each HTLC we offered
//!   (nLockTime = `cltv_expiry`), HTLC-success for each HTLC we received and
//!   know the preimage of — then, each after `to_self_delay` confirmations
//!   of its parent, the sweeps of our delayed `to_local` and of the outputs
//!   of the HTLC transactions.
//! * **The peer's current or next** (unrevoked) commitment: our `to_remote`
//!   (under `option_static_remotekey` it already pays our wallet script; under
//!   anchors it is swept after 1 confirmation), the HTLCs the peer offered
//!   whose preimage we know (spent directly with the preimage), and the HTLCs
//!   we offered, spent directly after their `cltv_expiry`.
//! * **A revoked commitment** of the peer: one penalty transaction taking
//!   `to_local` and every HTLC output with the revocation key (and our
//!   `to_remote`). If the peer gets a second-stage HTLC transaction of that
//!   commitment in first, [`Command::OutputSpent`](super::Command::OutputSpent)
//!   answers with a second-stage penalty spending its output with the
//!   revocation key, and a new penalty for what is left.
//!
//! # Actions
//!
//! Transactions come in the order they can be published (parents first), each
//! as [`Action::Publish`] when it is valid now or [`Action::PublishLater`]
//! with the height and confirmations its timelocks need (read from the
//! transaction itself: nLockTime and BIP 68 nSequence). HTLC outputs the peer
//! can spend come as [`Action::WatchSpent`]: a spend that reveals a preimage
//! of an HTLC we offered gives [`Event::HtlcFulfilled`].
//!
//! Everything we publish is kept in `closing_txs` (the commitment first,
//! whoever's it is), so [`Channel::onchain_actions`] gives the same actions
//! again after a restart.
//!
//! # Outcome of our HTLCs
//!
//! Every HTLC we offered that is still pending when a commitment goes on
//! chain ends in exactly one event for the payment layer:
//! [`Event::HtlcFulfilled`] as soon as a spend of its output reveals the
//! preimage ([`Command::OutputSpent`](super::Command::OutputSpent)), or
//! [`Event::HtlcFailedOnChain`] once failing it is irreversible:
//!
//! * the HTLC has no output on the commitment that confirmed (trimmed as
//!   dust, or only on another commitment, or never signed) and that
//!   commitment is [`HTLC_RESOLUTION_DEPTH`] blocks deep;
//! * a transaction of ours spending its output after its expiry (our
//!   HTLC-timeout, our timeout claim on the peer's commitment, the penalty
//!   on a revoked one) is [`HTLC_RESOLUTION_DEPTH`] blocks deep. The
//!   spending transaction is the one we published or the one the chain
//!   reported spending the output (under anchors the driver may have added
//!   a fee input, which changes the txid).
//!
//! HTLCs the peer fulfilled off chain are never failed. For a commitment we
//! cannot rebuild (after a data loss) nothing is reported. The depth comes
//! from [`Action::WatchConfirmed`] (the commitment, our transactions
//! spending its outputs, and the peer's spends of the HTLC outputs we
//! watch), answered with [`Command::TxConfirmed`](super::Command::TxConfirmed)
//! and [`Command::BlockConnected`](super::Command::BlockConnected); what was
//! seen is persisted ([`OnchainState`]), so each outcome is reported once.
//!
//! Fee bumping is not done here: anchor outputs are not spent (no CPFP), and
//! under `option_anchors_zero_fee_htlc_tx` the second-stage HTLC transactions
//! carry no fee of their own (the driver must add a fee input, or rely on
//! package relay).

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{OutPoint, ScriptBuf, Sequence, Transaction, Txid};
use secp256k1::SecretKey;

use crate::keys::ChannelKeys;
use crate::tx::{
    script, CommitmentKeys, CommitmentSpec, CommitmentTx, FeeratePerKw, HtlcTxKind, Side,
    SpendKind, SpendableOutput, Sweep,
};
use crate::types::PaymentHash;
use crate::wire::PaymentPreimage;

use super::commitments::{Commitments, RemoteCommit, RemoteNext, RevokedCommit};
use super::spec::{HtlcDir, Update};
use super::{Action, Channel, ChannelError, Event, Out, State, Status};

/// Confirmations after which a transaction that settles an HTLC we offered
/// on chain is taken as final (BOLT 5's "reasonable depth"): the HTLC is
/// then reported failed ([`Event::HtlcFailedOnChain`]) and a forward is
/// failed upstream. Six blocks: deep enough that a reorganisation undoing it
/// is not a practical risk, short next to the `cltv_expiry_delta` (at least
/// 18, ours 40) between an outgoing HTLC and the incoming one it pays for.
pub const HTLC_RESOLUTION_DEPTH: u32 = 6;

/// What the chain told a closing channel, persisted with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OnchainState {
    /// Transactions of the close and the block height that confirmed each.
    pub confirmed: Vec<(Txid, u32)>,
    /// Spends of the HTLC outputs we watch, as reported: (output, spender).
    pub spends: Vec<(OutPoint, Txid)>,
    /// Ids of the HTLCs we offered whose on-chain outcome was reported.
    pub resolved: Vec<u64>,
}

impl OnchainState {
    fn height_of(&self, txid: &Txid) -> Option<u32> {
        self.confirmed
            .iter()
            .find(|(t, _)| t == txid)
            .map(|(_, h)| *h)
    }
}

/// The action that publishes `tx`: now, or once its own timelocks allow.
pub(crate) fn publish_action(tx: Transaction) -> Action {
    let lt = tx.lock_time.to_consensus_u32();
    let lock_enabled = tx.input.iter().any(|i| i.sequence != Sequence::MAX);
    let height = if lt < 500_000_000 && lock_enabled {
        lt
    } else {
        0
    };
    let mut confirmed = Vec::new();
    if tx.version.0 >= 2 {
        for i in &tx.input {
            let s = i.sequence.0;
            // BIP 68: bit 31 disables, bit 22 selects time-based locks.
            if s & (1 << 31) == 0 && s & (1 << 22) == 0 && s & 0xffff > 0 {
                confirmed.push((i.previous_output.txid, (s & 0xffff) as u16));
            }
        }
    }
    if height == 0 && confirmed.is_empty() {
        Action::Publish(tx)
    } else {
        Action::PublishLater {
            tx,
            height,
            confirmed,
        }
    }
}

/// The commitment number hidden in a commitment transaction's nLockTime and
/// nSequence (BOLT 3), un-obscured with `params`' obscuring factor; `None`
/// if `tx` does not have the shape of a commitment transaction.
pub fn commitment_number(params: &crate::tx::ChannelParams, tx: &Transaction) -> Option<u64> {
    let lt = tx.lock_time.to_consensus_u32();
    let [input] = tx.input.as_slice() else {
        return None;
    };
    let seq = input.sequence.0;
    if lt >> 24 != 0x20 || seq >> 24 != 0x80 {
        return None;
    }
    let obscured = (u64::from(seq & 0xff_ffff) << 24) | u64::from(lt & 0xff_ffff);
    Some(obscured ^ params.obscuring_factor())
}

/// An HTLC id and its output on a commitment (`None`: it has none there).
type HtlcOutput = (u64, Option<OutPoint>);

/// Whose commitment a funding spend is.
enum Which {
    Local,
    Remote(RemoteCommit),
    Revoked(RevokedCommit),
    /// A commitment we cannot rebuild (newer than our state after a data
    /// loss, or an old one we no longer have): only the outputs whose
    /// script does not depend on the commitment are found.
    Unknown,
}

/// What to publish and watch for one commitment on chain.
#[derive(Default)]
struct Claims {
    txs: Vec<Transaction>,
    watch: Vec<OutPoint>,
    revoked: Option<(u64, Txid)>,
}

/// Signs a single- or multi-input sweep with one key, `None` if it would be dust.
fn sweep_with(
    inputs: Vec<SpendableOutput>,
    key: &SecretKey,
    dest: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<Option<Transaction>, ChannelError> {
    if inputs.is_empty() {
        return Ok(None);
    }
    let n = inputs.len();
    match Sweep::build(inputs, dest.clone(), feerate) {
        Ok(s) => Ok(Some(s.sign_all(&vec![Some(key); n])?)),
        Err(crate::tx::TxError::OutputBelowDust) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The preimages we revealed (fulfills not yet gone from both commitments).
fn known_preimages(c: &Commitments) -> Vec<PaymentPreimage> {
    c.local_changes
        .proposed
        .iter()
        .chain(&c.local_changes.signed)
        .chain(&c.local_changes.acked)
        .filter_map(|u| match u {
            Update::Fulfill { preimage, .. } => Some(*preimage),
            _ => None,
        })
        .collect()
}

fn find_preimage<'a>(p: &'a [PaymentPreimage], h: &PaymentHash) -> Option<&'a PaymentPreimage> {
    p.iter().find(|x| &x.payment_hash() == h)
}

/// Rebuilds a revoked commitment of the peer and its revocation secret key.
fn revoked_tx(
    c: &Commitments,
    keys: &ChannelKeys,
    r: &RevokedCommit,
) -> Result<(CommitmentTx, SecretKey), ChannelError> {
    let secret = c
        .remote_secrets
        .get(r.index)
        .ok_or(ChannelError::InvalidState("missing revocation secret"))?;
    let rtx = CommitmentTx::build(
        &c.params,
        Side::Counterparty,
        &CommitmentSpec {
            commitment_number: r.index,
            per_commitment_point: secret.point()?,
            to_broadcaster: r.to_local,
            to_countersignatory: r.to_remote,
            htlcs: r.htlcs.clone(),
            feerate: r.feerate,
        },
    )?;
    Ok((rtx, keys.revocation_key(&secret)?))
}

/// The penalty: every revoked output of `rtx` (to_local and the HTLCs)
/// but those in `skip`, with the revocation key. Our `to_remote` is not in
/// it: it is ours anyway, and under anchors its 1-block CSV would delay the
/// penalty.
fn penalty(
    rtx: &CommitmentTx,
    rev_key: &SecretKey,
    skip: &[OutPoint],
    dest: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<Option<Transaction>, ChannelError> {
    let inputs: Vec<SpendableOutput> = rtx
        .revoked_outputs()
        .into_iter()
        .filter(|o| !skip.contains(&o.outpoint))
        .collect();
    sweep_with(inputs, rev_key, dest, feerate)
}

/// Our `to_remote` on a commitment of the peer, swept to `dest` unless it
/// already pays `dest` (static_remotekey to our wallet script).
fn to_remote_sweep(
    rtx: &CommitmentTx,
    keys: &ChannelKeys,
    dest: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<Option<Transaction>, ChannelError> {
    match rtx.to_remote_output() {
        Some(o) if &o.script_pubkey() != dest => {
            sweep_with(vec![o], keys.payment_base_secret(), dest, feerate)
        }
        _ => Ok(None),
    }
}

impl Channel {
    fn sweep_destination(&self) -> ScriptBuf {
        self.config
            .upfront_shutdown_script
            .clone()
            .unwrap_or_else(|| self.default_close_script())
    }

    fn sweep_feerate(&self) -> FeeratePerKw {
        self.fee_estimate.unwrap_or(FeeratePerKw(1000))
    }

    fn classify(&self, c: &Commitments, tx: &Transaction) -> Result<Which, ChannelError> {
        let txid = tx.compute_txid();
        let local = c.local_tx(&self.keys, c.local_commit.index, &c.local_commit.spec)?;
        if local.txid() == txid {
            return Ok(Which::Local);
        }
        if c.remote_commit.txid == txid {
            return Ok(Which::Remote(c.remote_commit.clone()));
        }
        if let RemoteNext::Waiting { commit, .. } = &c.remote_next {
            if commit.txid == txid {
                return Ok(Which::Remote(commit.clone()));
            }
        }
        if let Some(r) = c.revoked.iter().find(|r| r.txid == txid) {
            return Ok(Which::Revoked(r.clone()));
        }
        Ok(Which::Unknown)
    }

    /// Everything we publish and watch for the commitment `tx` on chain.
    fn claims(
        &self,
        tx: &Transaction,
        preimages: &[PaymentPreimage],
    ) -> Result<Claims, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let c = &f.c;
        let keys = &self.keys;
        let dest = self.sweep_destination();
        let feerate = self.sweep_feerate();
        let mut cl = Claims::default();
        match self.classify(c, tx)? {
            Which::Local => {
                let (ctx, signed) = c.signed_local_tx(keys)?;
                let point = ctx.keys().per_commitment_point;
                let htlc_key = keys.htlc_key(&point)?;
                let delayed_key = keys.delayed_payment_key(&point)?;
                cl.txs.push(signed);
                let mut delayed = Vec::new();
                for (h, their_sig) in ctx.htlc_txs()?.iter().zip(&c.local_commit.htlc_sigs) {
                    let preimage = match h.kind() {
                        HtlcTxKind::Timeout => None,
                        HtlcTxKind::Success => {
                            match find_preimage(preimages, &h.htlc().payment_hash) {
                                Some(p) => Some(p.0),
                                None => continue,
                            }
                        }
                    };
                    let ours = h.sign_as_broadcaster(&htlc_key)?;
                    cl.txs
                        .push(h.finalize(their_sig, &ours, preimage.as_ref())?);
                    delayed.push(h.delayed_output());
                }
                // Offered HTLCs can be claimed by the peer with the preimage.
                for (i, htlc) in ctx.htlcs().iter().enumerate() {
                    if htlc.direction == crate::tx::HtlcDirection::Offered {
                        if let Some(v) = ctx.htlc_output_index(i) {
                            cl.watch.push(OutPoint {
                                txid: ctx.txid(),
                                vout: v,
                            });
                        }
                    }
                }
                if let Some(o) = ctx.delayed_to_local_output() {
                    delayed.insert(0, o);
                }
                for o in delayed {
                    if let Some(t) = sweep_with(vec![o], &delayed_key, &dest, feerate)? {
                        cl.txs.push(t);
                    }
                }
            }
            Which::Remote(rc) => {
                let rtx = c.remote_tx(&rc)?;
                let htlc_key = keys.htlc_key(&rc.point)?;
                cl.txs.push(tx.clone());
                cl.txs.extend(to_remote_sweep(&rtx, keys, &dest, feerate)?);
                for (i, h) in rc.spec.htlcs.iter().enumerate() {
                    if rtx.htlc_output_index(i).is_none() {
                        continue; // trimmed
                    }
                    let out = match h.dir {
                        // The peer offered it: ours with the preimage.
                        HtlcDir::Offered => match find_preimage(preimages, &h.add.payment_hash) {
                            Some(p) => rtx.countersignatory_htlc_output(i, Some(&p.0))?,
                            None => continue,
                        },
                        // We offered it: ours after its expiry, unless the
                        // peer claims it first with the preimage.
                        HtlcDir::Received => {
                            let o = rtx.countersignatory_htlc_output(i, None)?;
                            cl.watch.push(o.outpoint);
                            o
                        }
                    };
                    if let Some(t) = sweep_with(vec![out], &htlc_key, &dest, feerate)? {
                        cl.txs.push(t);
                    }
                }
            }
            Which::Revoked(r) => {
                let (rtx, rev_key) = revoked_tx(c, keys, &r)?;
                cl.txs.push(tx.clone());
                for o in rtx.revoked_outputs() {
                    if matches!(o.kind, SpendKind::RevokedHtlc { .. }) {
                        cl.watch.push(o.outpoint);
                    }
                }
                if let Some(p) = penalty(&rtx, &rev_key, &[], &dest, feerate)? {
                    cl.revoked = Some((r.index, p.compute_txid()));
                    cl.txs.push(p);
                }
                cl.txs.extend(to_remote_sweep(&rtx, keys, &dest, feerate)?);
            }
            Which::Unknown => {
                cl.txs.push(tx.clone());
                // Our to_remote does not depend on the commitment point.
                let pk = keys.pubkeys().payment_basepoint.0;
                let anchors_spk =
                    ScriptBuf::new_p2wsh(&script::to_remote_anchors_script(&pk).wscript_hash());
                let txid = tx.compute_txid();
                for (vout, o) in tx.output.iter().enumerate() {
                    if c.params.channel_type.has_anchors() && o.script_pubkey == anchors_spk {
                        let out = SpendableOutput {
                            outpoint: OutPoint {
                                txid,
                                vout: vout as u32,
                            },
                            value: crate::types::Sat(o.value.to_sat()),
                            kind: SpendKind::ToRemoteAnchors {
                                witness_script: script::to_remote_anchors_script(&pk),
                                key: pk,
                            },
                        };
                        if let Some(t) =
                            sweep_with(vec![out], keys.payment_base_secret(), &dest, feerate)?
                        {
                            cl.txs.push(t);
                        }
                    }
                }
                // A revoked commitment we no longer have the spec of: its
                // to_local script is known from the commitment number.
                if let Some(n) = commitment_number(&c.params, tx) {
                    if let Some(secret) = c.remote_secrets.get(n) {
                        let point = secret.point()?;
                        let ck = CommitmentKeys::derive(&c.params, Side::Counterparty, &point)?;
                        let ws = script::to_local_script(
                            &ck.revocation_key,
                            c.params.holder.to_self_delay,
                            &ck.broadcaster_delayed_key,
                        );
                        let spk = ScriptBuf::new_p2wsh(&ws.wscript_hash());
                        let rev_key = keys.revocation_key(&secret)?;
                        for (vout, o) in tx.output.iter().enumerate() {
                            if o.script_pubkey == spk {
                                let out = SpendableOutput {
                                    outpoint: OutPoint {
                                        txid,
                                        vout: vout as u32,
                                    },
                                    value: crate::types::Sat(o.value.to_sat()),
                                    kind: SpendKind::RevokedToLocal {
                                        witness_script: ws.clone(),
                                        key: ck.revocation_key.0,
                                    },
                                };
                                if let Some(t) = sweep_with(vec![out], &rev_key, &dest, feerate)? {
                                    cl.revoked = Some((n, t.compute_txid()));
                                    cl.txs.push(t);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(cl)
    }

    /// Publishes our latest commitment with its HTLC transactions and the
    /// sweeps that follow (see the module docs).
    pub(super) fn force_close(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        if f.status == Status::WaitingForRemoteClose {
            // Our commitment may be revoked: never publish it.
            return Ok(());
        }
        if f.status == Status::Closed {
            // The funding output is spent already: what is on chain (and
            // the claims of it in `closing_txs`) stays.
            return Ok(());
        }
        let (_, signed) = f.c.signed_local_tx(&self.keys)?;
        let preimages = known_preimages(&f.c);
        let cl = self.claims(&signed, &preimages)?;
        let txid = signed.compute_txid();
        let f = self.funded_mut()?;
        f.status = Status::Closing;
        f.closing_txs = cl.txs.clone();
        out.persist = true;
        let watch = self.watches_if_resolving(txid, &cl.txs);
        emit(out, cl);
        out.actions.extend(watch);
        out.event(Event::ForceClosed { txid, ours: true });
        Ok(())
    }

    /// A transaction spending the funding output: a mutual close, our
    /// commitment, the peer's current or next commitment, or a revoked one.
    pub(super) fn on_funding_spent(
        &mut self,
        tx: Transaction,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let f = self.funded_mut()?;
        let txid = tx.compute_txid();
        if f.closing_txs.iter().any(|t| t.compute_txid() == txid) {
            if f.status != Status::Closed {
                f.status = Status::Closed;
                out.persist = true;
            }
            return Ok(());
        }
        let c = f.c.clone();
        if commitment_number(&c.params, &tx).is_none() {
            // Not a commitment: a mutual close we signed whose last
            // `closing_signed` we never received.
            f.status = Status::Closed;
            f.closing_txs = vec![tx];
            out.persist = true;
            out.event(Event::MutualClose { txid });
            return Ok(());
        }
        let which = self.classify(&c, &tx)?;
        let cl = self.claims(&tx, &known_preimages(&c))?;
        let f = self.funded_mut()?;
        f.status = Status::Closed;
        f.closing_txs = cl.txs.clone();
        out.persist = true;
        let revoked = cl.revoked;
        let ours = matches!(which, Which::Local);
        // The commitment itself is on chain already.
        let mut cl = cl;
        let watch = self.watches_if_resolving(txid, &cl.txs);
        cl.txs.retain(|t| t.compute_txid() != txid);
        emit(out, cl);
        out.actions.extend(watch);
        match revoked {
            Some((commitment_number, penalty_txid)) => out.event(Event::RevokedCommitmentSeen {
                commitment_number,
                penalty_txid,
            }),
            None => out.event(Event::ForceClosed { txid, ours }),
        }
        Ok(())
    }

    /// The commitment on chain (or our published one), if any.
    fn onchain_commitment(&self) -> Option<Transaction> {
        let f = self.funded()?;
        let funding = f.c.params.funding_outpoint;
        f.closing_txs
            .iter()
            .find(|t| t.input.iter().any(|i| i.previous_output == funding))
            .filter(|t| commitment_number(&f.c.params, t).is_some())
            .cloned()
    }

    /// A transaction spending an output we watch ([`Action::WatchSpent`]).
    pub(super) fn on_output_spent(
        &mut self,
        tx: Transaction,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let Some(commit) = self.onchain_commitment() else {
            return Ok(());
        };
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let txid = tx.compute_txid();
        if f.closing_txs.iter().any(|t| t.compute_txid() == txid) {
            return Ok(());
        }
        let ctxid = commit.compute_txid();
        let c = f.c.clone();
        // A preimage of an HTLC we offered, revealed by the peer's claim.
        let ours: Vec<(u64, PaymentHash)> = c
            .local_commit
            .spec
            .htlcs
            .iter()
            .filter(|h| h.dir == HtlcDir::Offered)
            .chain(
                c.remote_commit
                    .spec
                    .htlcs
                    .iter()
                    .chain(match &c.remote_next {
                        RemoteNext::Waiting { commit, .. } => commit.spec.htlcs.as_slice(),
                        _ => &[],
                    })
                    .filter(|h| h.dir == HtlcDir::Received),
            )
            .map(|h| (h.add.id, h.add.payment_hash))
            .filter(|(id, _)| !f.onchain.resolved.contains(id))
            .collect();
        let mut fulfilled: Vec<u64> = Vec::new();
        let mut spends: Vec<OutPoint> = Vec::new();
        for i in tx.input.iter().filter(|i| i.previous_output.txid == ctxid) {
            spends.push(i.previous_output);
            for item in i.witness.iter().filter(|w| w.len() == 32) {
                let h = PaymentHash(sha256::Hash::hash(item).to_byte_array());
                for (id, ph) in &ours {
                    if *ph == h && !fulfilled.contains(id) {
                        fulfilled.push(*id);
                        let mut p = [0u8; 32];
                        p.copy_from_slice(item);
                        out.event(Event::HtlcFulfilled {
                            id: *id,
                            preimage: PaymentPreimage(p),
                        });
                    }
                }
            }
        }
        // Remember who spent the commitment's outputs, and follow its depth
        // (not for an earlier version of one of our own penalties).
        let own = tx
            .output
            .iter()
            .all(|o| o.script_pubkey == self.sweep_destination());
        if !own && !spends.is_empty() && !self.unresolved_offered().is_empty() {
            let f = self.funded_mut()?;
            let mut changed = false;
            for op in spends {
                if !f.onchain.spends.contains(&(op, txid)) {
                    f.onchain.spends.push((op, txid));
                    changed = true;
                }
            }
            for id in &fulfilled {
                if !f.onchain.resolved.contains(id) {
                    f.onchain.resolved.push(*id);
                    changed = true;
                }
            }
            if changed {
                out.persist = true;
                out.actions.push(Action::WatchConfirmed { txid });
            }
            self.resolve_onchain_htlcs(out)?;
        }
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let c = f.c.clone();
        // A second-stage HTLC transaction of a revoked commitment.
        let Which::Revoked(r) = self.classify(&c, &commit)? else {
            return Ok(());
        };
        let dest = self.sweep_destination();
        if tx.output.iter().all(|o| o.script_pubkey == dest) {
            // One of our own penalties (an earlier version of it).
            return Ok(());
        }
        let (rtx, rev_key) = revoked_tx(&c, &self.keys, &r)?;
        let feerate = self.sweep_feerate();
        let htlc_txs = rtx.htlc_txs()?;
        let mut spent = Vec::new();
        let mut second = Vec::new();
        for (n, i) in tx.input.iter().enumerate() {
            let Some(h) = htlc_txs
                .iter()
                .find(|h| h.tx().input[0].previous_output == i.previous_output)
            else {
                continue;
            };
            spent.push(i.previous_output);
            // SIGHASH_SINGLE pairs input n with output n.
            if let Some(o) = tx.output.get(n) {
                let spk = ScriptBuf::new_p2wsh(&h.output_script().wscript_hash());
                if o.script_pubkey == spk {
                    second.push(h.revoked_output_at(
                        OutPoint {
                            txid,
                            vout: n as u32,
                        },
                        crate::types::Sat(o.value.to_sat()),
                    ));
                }
            }
        }
        if spent.is_empty() {
            return Ok(());
        }
        // The current penalty, rebuilt without what the peer took.
        let revoked_outs: Vec<OutPoint> =
            rtx.revoked_outputs().iter().map(|o| o.outpoint).collect();
        let f = self.funded_mut()?;
        let old_penalty = f.closing_txs.iter().position(|t| {
            t.input
                .iter()
                .any(|i| revoked_outs.contains(&i.previous_output))
        });
        let replacement = match old_penalty {
            Some(pos) => {
                let old = &f.closing_txs[pos];
                let skip: Vec<OutPoint> = revoked_outs
                    .iter()
                    .filter(|o| {
                        spent.contains(o) || !old.input.iter().any(|i| &i.previous_output == *o)
                    })
                    .copied()
                    .collect();
                penalty(&rtx, &rev_key, &skip, &dest, feerate)?
            }
            None => None,
        };
        let second_tx = sweep_with(second, &rev_key, &dest, feerate)?;
        let f = self.funded_mut()?;
        if let Some(pos) = old_penalty {
            f.closing_txs.remove(pos);
        }
        let mut new = Vec::new();
        new.extend(second_tx);
        new.extend(replacement);
        f.closing_txs.extend(new.iter().cloned());
        out.persist = true;
        let watch = self.watches_if_resolving(ctxid, &new);
        for t in new {
            out.actions.push(publish_action(t));
        }
        out.actions.extend(watch.into_iter().skip(1));
        Ok(())
    }

    /// We learnt the preimage of an HTLC we received after the channel went
    /// on chain: claim it there.
    pub(super) fn onchain_fulfill(
        &mut self,
        id: u64,
        preimage: PaymentPreimage,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let commit = self
            .onchain_commitment()
            .ok_or(ChannelError::InvalidState("no commitment on chain"))?;
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let known =
            f.c.local_commit
                .spec
                .find(HtlcDir::Received, id)
                .or_else(|| f.c.remote_commit.spec.find(HtlcDir::Offered, id))
                .or_else(|| f.c.latest_remote().spec.find(HtlcDir::Offered, id))
                .ok_or(ChannelError::UnknownHtlc)?;
        if known.add.payment_hash != preimage.payment_hash() {
            return Err(ChannelError::InvalidPreimage);
        }
        let before = self.claims(&commit, &known_preimages(&f.c))?;
        let mut with = known_preimages(&f.c);
        with.push(preimage);
        let after = self.claims(&commit, &with)?;
        let f = self.funded_mut()?;
        let mut new = Vec::new();
        for t in after.txs {
            if !before.txs.contains(&t) && !f.closing_txs.contains(&t) {
                new.push(t);
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        f.closing_txs.extend(new.iter().cloned());
        out.persist = true;
        for t in new {
            out.actions.push(publish_action(t));
        }
        Ok(())
    }

    /// After a restart: every transaction of the close again, with its
    /// timelocks, and the outputs to watch. Empty unless closing.
    pub fn onchain_actions(&self) -> Vec<Action> {
        let State::Funded(f) = &self.state else {
            return Vec::new();
        };
        let mut acts: Vec<Action> = f.closing_txs.iter().cloned().map(publish_action).collect();
        if let Some(commit) = self.onchain_commitment() {
            if let Ok(cl) = self.claims(&commit, &known_preimages(&f.c)) {
                acts.extend(
                    cl.watch
                        .into_iter()
                        .map(|outpoint| Action::WatchSpent { outpoint }),
                );
            }
            acts.extend(self.onchain_confirmation_watches());
        }
        acts
    }

    /// The confirmations a channel on chain still follows (none once every
    /// HTLC we offered is settled): the commitment, our transactions
    /// spending its outputs, and the reported spends of its HTLC outputs.
    pub(super) fn onchain_confirmation_watches(&self) -> Vec<Action> {
        let (Some(f), Some(commit)) = (self.funded(), self.onchain_commitment()) else {
            return Vec::new();
        };
        if self.unresolved_offered().is_empty() {
            return Vec::new();
        }
        let mut acts = confirmation_watches(commit.compute_txid(), &f.closing_txs);
        for (_, txid) in &f.onchain.spends {
            let a = Action::WatchConfirmed { txid: *txid };
            if !acts
                .iter()
                .any(|x| matches!(x, Action::WatchConfirmed { txid: t } if t == txid))
            {
                acts.push(a);
            }
        }
        acts
    }

    /// [`confirmation_watches`], if an HTLC we offered waits for its outcome.
    fn watches_if_resolving(&self, commit: Txid, txs: &[Transaction]) -> Vec<Action> {
        if self.unresolved_offered().is_empty() {
            Vec::new()
        } else {
            confirmation_watches(commit, txs)
        }
    }

    /// A transaction of the close confirmed at `height`.
    pub(super) fn on_tx_confirmed(
        &mut self,
        txid: Txid,
        height: u32,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        self.tip = self.tip.max(height);
        let Some(commit) = self.onchain_commitment() else {
            return Ok(());
        };
        let ctxid = commit.compute_txid();
        let f = self.funded_mut()?;
        let relevant = txid == ctxid
            || f.closing_txs.iter().any(|t| t.compute_txid() == txid)
            || f.onchain.spends.iter().any(|(_, t)| *t == txid);
        if !relevant {
            return Ok(());
        }
        match f.onchain.confirmed.iter_mut().find(|(t, _)| *t == txid) {
            Some((_, h)) if *h == height => {}
            Some((_, h)) => {
                *h = height;
                out.persist = true;
            }
            None => {
                f.onchain.confirmed.push((txid, height));
                out.persist = true;
            }
        }
        self.resolve_onchain_htlcs(out)
    }

    /// The HTLCs we offered whose on-chain outcome is not reported yet
    /// (proposed, signed, or on any commitment not revoked), but those the
    /// peer fulfilled off chain. Empty unless a commitment is on chain.
    fn unresolved_offered(&self) -> Vec<crate::channel::HtlcAdd> {
        let Some(f) = self.funded() else {
            return Vec::new();
        };
        let c = &f.c;
        let fulfilled_by_peer = |id: u64| {
            c.remote_changes
                .proposed
                .iter()
                .chain(&c.remote_changes.signed)
                .chain(&c.remote_changes.acked)
                .any(|u| matches!(u, Update::Fulfill { id: i, .. } if *i == id))
        };
        c.offered_htlcs(true)
            .into_iter()
            .filter(|a| !f.onchain.resolved.contains(&a.id) && !fulfilled_by_peer(a.id))
            .cloned()
            .collect()
    }

    /// The output of each of `htlcs` (ours) on the commitment `tx`: `None`
    /// when it has none there. `None` overall for a commitment we cannot
    /// rebuild.
    fn offered_outputs(
        &self,
        tx: &Transaction,
        htlcs: &[crate::channel::HtlcAdd],
    ) -> Result<Option<Vec<HtlcOutput>>, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let c = &f.c;
        let txid = tx.compute_txid();
        let at = |v: Option<u32>| v.map(|vout| OutPoint { txid, vout });
        let mut found: Vec<HtlcOutput> = Vec::new();
        match self.classify(c, tx)? {
            Which::Local => {
                let ctx = c.local_tx(&self.keys, c.local_commit.index, &c.local_commit.spec)?;
                for (i, h) in c.local_commit.spec.htlcs.iter().enumerate() {
                    if h.dir == HtlcDir::Offered {
                        found.push((h.add.id, at(ctx.htlc_output_index(i))));
                    }
                }
            }
            Which::Remote(rc) => {
                let rtx = c.remote_tx(&rc)?;
                for (i, h) in rc.spec.htlcs.iter().enumerate() {
                    if h.dir == HtlcDir::Received {
                        found.push((h.add.id, at(rtx.htlc_output_index(i))));
                    }
                }
            }
            Which::Revoked(r) => {
                // The revoked commitment keeps no ids: matched by hash,
                // amount and expiry.
                let (rtx, _) = revoked_tx(c, &self.keys, &r)?;
                for (i, h) in r.htlcs.iter().enumerate() {
                    if h.direction != crate::tx::HtlcDirection::Received {
                        continue;
                    }
                    if let Some(a) = htlcs.iter().find(|a| {
                        a.payment_hash == h.payment_hash
                            && a.amount == h.amount
                            && a.cltv_expiry == h.cltv_expiry
                            && !found.iter().any(|(id, _)| *id == a.id)
                    }) {
                        found.push((a.id, at(rtx.htlc_output_index(i))));
                    }
                }
            }
            Which::Unknown => return Ok(None),
        }
        Ok(Some(
            htlcs
                .iter()
                .map(|a| {
                    let o = found.iter().find(|(id, _)| *id == a.id).and_then(|x| x.1);
                    (a.id, o)
                })
                .collect(),
        ))
    }

    /// Reports the HTLCs we offered whose failure on chain became final
    /// (see the module docs).
    pub(super) fn resolve_onchain_htlcs(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let Some(commit) = self.onchain_commitment() else {
            return Ok(());
        };
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let Some(commit_height) = f.onchain.height_of(&commit.compute_txid()) else {
            return Ok(());
        };
        let pending = self.unresolved_offered();
        if pending.is_empty() {
            return Ok(());
        }
        let Some(outputs) = self.offered_outputs(&commit, &pending)? else {
            return Ok(());
        };
        let tip = f
            .onchain
            .confirmed
            .iter()
            .map(|(_, h)| *h)
            .fold(self.tip, u32::max);
        let deep = |h: u32| tip.saturating_sub(h).saturating_add(1) >= HTLC_RESOLUTION_DEPTH;
        let mut failed = Vec::new();
        for (id, o) in outputs {
            let done = match o {
                None => deep(commit_height),
                Some(op) => f
                    .closing_txs
                    .iter()
                    .filter(|t| t.input.iter().any(|i| i.previous_output == op))
                    .map(|t| t.compute_txid())
                    .chain(
                        f.onchain
                            .spends
                            .iter()
                            .filter(|(s, _)| *s == op)
                            .map(|(_, t)| *t),
                    )
                    .any(|t| f.onchain.height_of(&t).is_some_and(deep)),
            };
            if done {
                failed.push(id);
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let f = self.funded_mut()?;
        f.onchain.resolved.extend(failed.iter().copied());
        out.persist = true;
        for id in failed {
            out.event(Event::HtlcFailedOnChain { id });
        }
        Ok(())
    }

    /// Whether the channel is on chain (HTLCs are settled there).
    pub(super) fn is_onchain(&self) -> bool {
        matches!(
            self.funded().map(|f| f.status),
            Some(Status::Closing | Status::Closed)
        ) && self.onchain_commitment().is_some()
    }
}

/// Confirmation watches for the commitment `commit` and for those of `txs`
/// that spend its outputs (the commitment's first).
fn confirmation_watches(commit: Txid, txs: &[Transaction]) -> Vec<Action> {
    let mut v = vec![Action::WatchConfirmed { txid: commit }];
    for t in txs {
        let txid = t.compute_txid();
        if txid != commit && t.input.iter().any(|i| i.previous_output.txid == commit) {
            v.push(Action::WatchConfirmed { txid });
        }
    }
    v
}

fn emit(out: &mut Out, cl: Claims) {
    for t in cl.txs {
        out.actions.push(publish_action(t));
    }
    for outpoint in cl.watch {
        out.actions.push(Action::WatchSpent { outpoint });
    }
}
