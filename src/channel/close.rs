//! Closing: `shutdown`, `closing_signed` fee negotiation, force close, and
//! what to do when a transaction spends the funding output.

use bitcoin::{OutPoint, ScriptBuf, Transaction};

use crate::tx::{
    ClosingSpec, ClosingTx, ClosingVariant, FeeratePerKw, Side, SpendKind, SpendableOutput, Sweep,
};
use crate::types::Sat;
use crate::wire::{ClosingFeeRange, ClosingSigned, ExtraTlvs, Message, Shutdown};

use super::commitments::{build, RemoteNext};
use super::spec::Spec;
use super::{Action, Channel, ChannelError, Event, Link, Negotiation, Out, State, Status};

/// Weight of a closing transaction's witness (2-of-2), added to the unsigned weight.
const CLOSING_WITNESS_WEIGHT: u64 = 222;

fn valid_shutdown_script(s: &ScriptBuf) -> bool {
    s.is_p2pkh() || s.is_p2sh() || s.is_p2wpkh() || s.is_p2wsh() || s.is_p2tr()
}

impl Channel {
    /// Our default close script: P2WPKH to our payment basepoint.
    fn default_close_script(&self) -> ScriptBuf {
        let pk = bitcoin::CompressedPublicKey(self.keys.pubkeys().payment_basepoint.0);
        ScriptBuf::new_p2wpkh(&pk.wpubkey_hash())
    }

    pub(super) fn on_close_command(
        &mut self,
        script: Option<ScriptBuf>,
        feerate: FeeratePerKw,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let default = self
            .config
            .upfront_shutdown_script
            .clone()
            .unwrap_or_else(|| self.default_close_script());
        let online = self.link == Link::Online;
        let f = self.funded_mut()?;
        if f.status != Status::Normal || f.local_shutdown.is_some() {
            return Err(ChannelError::InvalidState("cannot close now"));
        }
        if f.c.local_has_unsigned() {
            return Err(ChannelError::InvalidState("sign pending updates first"));
        }
        let script = match (script, &f.our_upfront_script) {
            (Some(s), Some(u)) if &s != u => return Err(ChannelError::ShutdownScriptMismatch),
            (Some(s), _) => s,
            (None, Some(u)) => u.clone(),
            (None, None) => default,
        };
        if !valid_shutdown_script(&script) {
            return Err(ChannelError::InvalidShutdownScript);
        }
        f.local_shutdown = Some(script.clone());
        f.status = Status::ShuttingDown;
        f.negotiation = Some(Negotiation {
            feerate,
            last_sent: None,
            last_received: None,
        });
        out.persist = true;
        if online {
            out.send(Message::Shutdown(Shutdown {
                channel_id: f.c.channel_id,
                scriptpubkey: script,
            }));
        }
        self.after_commitment_change(out)
    }

    pub(super) fn on_shutdown(&mut self, m: Shutdown, out: &mut Out) -> Result<(), ChannelError> {
        let default = self
            .config
            .upfront_shutdown_script
            .clone()
            .unwrap_or_else(|| self.default_close_script());
        let estimate = self.fee_estimate.unwrap_or(FeeratePerKw(1000));
        let State::Funded(f) = &mut self.state else {
            return self.violation(ChannelError::UnexpectedMessage("shutdown"), out);
        };
        // Closing: the peer restarts a negotiation we already finished.
        if f.status == Status::Closing && f.remote_shutdown.is_some() {
            return Ok(());
        }
        // Negotiating: the peer's shutdown again, after a reconnection.
        if !matches!(
            f.status,
            Status::Normal | Status::ShuttingDown | Status::Negotiating
        ) {
            return self.violation(ChannelError::UnexpectedMessage("shutdown"), out);
        }
        if !valid_shutdown_script(&m.scriptpubkey) {
            return self.warn(ChannelError::InvalidShutdownScript, out);
        }
        if let Some(u) = &f.their_upfront_script {
            if u != &m.scriptpubkey {
                return self.violation(ChannelError::ShutdownScriptMismatch, out);
            }
        }
        if f.remote_shutdown.is_some() {
            return Ok(());
        }
        f.remote_shutdown = Some(m.scriptpubkey);
        f.status = Status::ShuttingDown;
        out.persist = true;
        if f.local_shutdown.is_none() {
            let script = f.our_upfront_script.clone().unwrap_or(default);
            f.local_shutdown = Some(script.clone());
            f.negotiation = Some(Negotiation {
                feerate: estimate,
                last_sent: None,
                last_received: None,
            });
            out.send(Message::Shutdown(Shutdown {
                channel_id: f.c.channel_id,
                scriptpubkey: script,
            }));
        }
        self.after_commitment_change(out)
    }

    /// After any commitment change: move from shutting down to negotiating
    /// once no HTLC and no update is left.
    pub(super) fn after_commitment_change(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let online = self.link == Link::Online;
        let State::Funded(f) = &mut self.state else {
            return Ok(());
        };
        if f.status != Status::ShuttingDown
            || f.local_shutdown.is_none()
            || f.remote_shutdown.is_none()
        {
            return Ok(());
        }
        let c = &f.c;
        let quiet = c.local_commit.spec.htlcs.is_empty()
            && c.remote_commit.spec.htlcs.is_empty()
            && matches!(c.remote_next, RemoteNext::Point(_))
            && c.local_changes.proposed.is_empty()
            && c.local_changes.signed.is_empty()
            && c.local_changes.acked.is_empty()
            && c.remote_changes.proposed.is_empty()
            && c.remote_changes.acked.is_empty()
            && c.remote_changes.signed.is_empty();
        if !quiet {
            return Ok(());
        }
        f.status = Status::Negotiating;
        out.persist = true;
        if f.c.we_are_funder() && online {
            let fee = self.closing_fee()?;
            let msg = self.closing_signed(fee)?;
            if let Some(n) = &mut self.funded_mut()?.negotiation {
                n.last_sent = Some(fee);
            }
            out.send(Message::ClosingSigned(msg));
        }
        Ok(())
    }

    fn closing_tx(&self, fee: Sat) -> Result<ClosingTx, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let s = &f.c.local_commit.spec;
        Ok(ClosingTx::build(
            &f.c.params,
            &ClosingSpec {
                holder: (s.to_local, f.local_shutdown.clone()),
                counterparty: (s.to_remote, f.remote_shutdown.clone()),
                fee,
                fee_payer: f.c.params.opener,
                dust_limit: f.c.params.holder.dust_limit,
                variant: ClosingVariant::Legacy,
            },
        )?)
    }

    /// Our preferred closing fee at the negotiation feerate.
    fn closing_fee(&self) -> Result<Sat, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let rate = f
            .negotiation
            .as_ref()
            .map(|n| n.feerate)
            .unwrap_or(FeeratePerKw(1000));
        let tx = self.closing_tx(Sat(0))?;
        let w = tx.tx().weight().to_wu() + CLOSING_WITNESS_WEIGHT;
        Ok(rate.fee(w)?)
    }

    fn closing_signed(&self, fee: Sat) -> Result<ClosingSigned, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let tx = self.closing_tx(fee)?;
        Ok(ClosingSigned {
            channel_id: f.c.channel_id,
            fee,
            signature: tx.sign(self.keys.funding_secret())?,
            fee_range: Some(ClosingFeeRange {
                min_fee: Sat(fee.0 / 2),
                max_fee: Sat(fee.0.saturating_mul(2)),
            }),
            extra_tlvs: ExtraTlvs::default(),
        })
    }

    pub(super) fn on_closing_signed(
        &mut self,
        m: ClosingSigned,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let Some(f) = self.funded() else {
            return self.violation(ChannelError::UnexpectedMessage("closing_signed"), out);
        };
        if f.status == Status::Closing {
            return self.on_closing_signed_after_agreement(out);
        }
        if f.status != Status::Negotiating {
            return self.violation(ChannelError::UnexpectedMessage("closing_signed"), out);
        }
        let last_sent = f.negotiation.as_ref().and_then(|n| n.last_sent);
        let tx = match self.closing_tx(m.fee) {
            Ok(t) => t,
            Err(_) => return self.violation(ChannelError::ClosingFeeOutOfRange, out),
        };
        if tx.verify(&m.signature, Side::Counterparty).is_err() {
            return self.violation(ChannelError::InvalidCommitmentSignature, out);
        }
        let ours = self.closing_fee()?;
        // BOLT 2: the fee is the funder's money, so the non-funder has no
        // reason for a maximum (only a minimum, for the tx to propagate).
        let hi = if f.c.we_are_funder() {
            Sat(ours.0.saturating_mul(2))
        } else {
            Sat(u64::MAX)
        };
        let lo = Sat(ours.0 / 2);
        let agreed = if Some(m.fee) == last_sent {
            true
        } else if m.fee >= lo && m.fee <= hi {
            // Acceptable: answer with the same fee, which ends the negotiation.
            let reply = self.closing_signed(m.fee)?;
            out.send(Message::ClosingSigned(reply));
            true
        } else {
            // Counter inside the peer's range, as close as possible to ours.
            let (plo, phi) = m
                .fee_range
                .map(|r| (r.min_fee, r.max_fee))
                .unwrap_or((m.fee, m.fee));
            let counter = Sat(ours.0.clamp(plo.0, phi.0.max(plo.0)));
            if counter < lo || counter > hi {
                return self.warn(ChannelError::ClosingFeeOutOfRange, out);
            }
            let reply = self.closing_signed(counter)?;
            out.send(Message::ClosingSigned(reply));
            if let Some(n) = &mut self.funded_mut()?.negotiation {
                n.last_sent = Some(counter);
                n.last_received = Some(m.fee);
            }
            out.persist = true;
            false
        };
        if agreed {
            let ours_sig = tx.sign(self.keys.funding_secret())?;
            let signed = tx.finalize(&ours_sig, &m.signature)?;
            let txid = signed.compute_txid();
            let f = self.funded_mut()?;
            f.status = Status::Closing;
            f.closing_txs = vec![signed.clone()];
            out.persist = true;
            out.actions.push(Action::Publish(signed));
            out.event(Event::MutualClose { txid });
        }
        Ok(())
    }

    /// The peer restarts the negotiation (after a reconnection) although we
    /// agreed and published: our `closing_signed` for the transaction we
    /// published was lost. We send it again (BOLT 2: the funder replies with
    /// the same fee), whatever the peer proposed, so that only that
    /// transaction can be completed.
    fn on_closing_signed_after_agreement(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let Some(f) = self.funded() else {
            return Ok(());
        };
        let Some(published) = f.closing_txs.first() else {
            return Ok(());
        };
        let spent = f.c.params.funding_amount.0;
        let outputs: u64 = published.output.iter().map(|o| o.value.to_sat()).sum();
        let fee = Sat(spent.saturating_sub(outputs));
        // Only if what we published is the mutual close (not our commitment).
        if f.remote_shutdown.is_none()
            || self.closing_tx(fee).map(|t| t.txid()).ok() != Some(published.compute_txid())
        {
            return Ok(());
        }
        let msg = self.closing_signed(fee)?;
        out.send(Message::ClosingSigned(msg));
        Ok(())
    }

    /// Publishes our latest commitment and the HTLC-timeout transactions
    /// we can already complete (HTLC-success needs the preimage and comes
    /// from the payment layer).
    pub(super) fn force_close(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let keys = self.keys.clone();
        let f = self.funded_mut()?;
        if f.status == Status::WaitingForRemoteClose {
            // Our commitment may be revoked: never publish it.
            return Ok(());
        }
        let (ctx, signed) = f.c.signed_local_tx(&keys)?;
        let mut txs = vec![signed.clone()];
        let htlc_key = keys.htlc_key(&ctx.keys().per_commitment_point)?;
        for (h, their_sig) in ctx.htlc_txs()?.iter().zip(&f.c.local_commit.htlc_sigs) {
            if h.kind() == crate::tx::HtlcTxKind::Timeout {
                let ours = h.sign_as_broadcaster(&htlc_key)?;
                txs.push(h.finalize(their_sig, &ours, None)?);
            }
        }
        f.status = Status::Closing;
        f.closing_txs = txs.clone();
        out.persist = true;
        for t in txs {
            out.actions.push(Action::Publish(t));
        }
        out.event(Event::ForceClosed {
            txid: signed.compute_txid(),
            ours: true,
        });
        Ok(())
    }

    /// A transaction spending the funding output: a mutual close, our
    /// commitment, the peer's current or next commitment, or a revoked one.
    pub(super) fn on_funding_spent(
        &mut self,
        tx: Transaction,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let keys = self.keys.clone();
        let dest = self
            .config
            .upfront_shutdown_script
            .clone()
            .unwrap_or_else(|| self.default_close_script());
        let feerate = self.fee_estimate.unwrap_or(FeeratePerKw(1000));
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
        let local = c.local_tx(&keys, c.local_commit.index, &c.local_commit.spec)?;
        if local.txid() == txid {
            f.status = Status::Closed;
            out.persist = true;
            return Ok(());
        }
        // The peer's current or next commitment: our to_remote is ours already
        // (static key); sweep it.
        let mut candidates = vec![c.remote_commit.clone()];
        if let RemoteNext::Waiting { commit, .. } = &c.remote_next {
            candidates.push(commit.clone());
        }
        for rc in candidates {
            if rc.txid == txid {
                let rtx = c.remote_tx(&rc)?;
                f.status = Status::Closed;
                out.persist = true;
                out.event(Event::ForceClosed { txid, ours: false });
                if let Some(o) = rtx.to_remote_output() {
                    if let Ok(sweep) = Sweep::build(vec![o], dest.clone(), feerate) {
                        let signed = sweep.sign_all(&[Some(keys.payment_base_secret())])?;
                        out.actions.push(Action::Publish(signed));
                    }
                }
                return Ok(());
            }
        }
        // A revoked commitment of the peer: take everything.
        if let Some(r) = c.revoked.iter().find(|r| r.txid == txid) {
            let secret = c
                .remote_secrets
                .get(r.index)
                .ok_or(ChannelError::InvalidState("missing revocation secret"))?;
            let point = secret.point()?;
            let spec = Spec {
                htlcs: vec![],
                to_local: r.to_local,
                to_remote: r.to_remote,
                feerate: r.feerate,
            };
            let mut cs = crate::tx::CommitmentSpec {
                commitment_number: r.index,
                per_commitment_point: point,
                to_broadcaster: spec.to_local,
                to_countersignatory: spec.to_remote,
                htlcs: r.htlcs.clone(),
                feerate: r.feerate,
            };
            let _ = build;
            cs.htlcs = r.htlcs.clone();
            let rtx = crate::tx::CommitmentTx::build(&c.params, Side::Counterparty, &cs)?;
            let rev_key = keys.revocation_key(&secret)?;
            let mut inputs = rtx.revoked_outputs();
            let mut signers: Vec<Option<&secp256k1::SecretKey>> =
                inputs.iter().map(|_| Some(&rev_key)).collect();
            if let Some(o) = rtx.to_remote_output() {
                inputs.push(o);
                signers.push(Some(keys.payment_base_secret()));
            }
            let sweep = Sweep::build(inputs, dest, feerate)?;
            let penalty = sweep.sign_all(&signers)?;
            let ptxid = penalty.compute_txid();
            f.status = Status::Closed;
            out.persist = true;
            out.actions.push(Action::Publish(penalty));
            out.event(Event::RevokedCommitmentSeen {
                commitment_number: r.index,
                penalty_txid: ptxid,
            });
            return Ok(());
        }
        // Unknown spend (e.g. the peer's commitment after we lost state).
        f.status = Status::Closed;
        out.persist = true;
        out.event(Event::ForceClosed { txid, ours: false });
        // With option_static_remotekey our output on any commitment of the
        // peer pays our payment basepoint, whatever its number: sweep it.
        let key = keys.pubkeys().payment_basepoint.0;
        let (script, kind) = if c.channel_type().has_anchors() {
            let ws = crate::tx::script::to_remote_anchors_script(&key);
            (
                ScriptBuf::new_p2wsh(&ws.wscript_hash()),
                SpendKind::ToRemoteAnchors {
                    witness_script: ws,
                    key,
                },
            )
        } else {
            (
                crate::tx::script::p2wpkh(&key),
                SpendKind::ToRemoteP2wpkh { key },
            )
        };
        if let Some(vout) = tx.output.iter().position(|o| o.script_pubkey == script) {
            let o = SpendableOutput {
                outpoint: OutPoint {
                    txid,
                    vout: vout as u32,
                },
                value: Sat(tx.output[vout].value.to_sat()),
                kind,
            };
            if let Ok(sweep) = Sweep::build(vec![o], dest, feerate) {
                let signed = sweep.sign_all(&[Some(keys.payment_base_secret())])?;
                out.actions.push(Action::Publish(signed));
            }
        }
        Ok(())
    }
}
