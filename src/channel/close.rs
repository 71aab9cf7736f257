//! Closing: `shutdown`, `closing_signed` fee negotiation, force close, and
//! what to do when a transaction spends the funding output.

use bitcoin::ScriptBuf;

use crate::tx::{ClosingSpec, ClosingTx, ClosingVariant, FeeratePerKw, Side};
use crate::types::Sat;
use crate::wire::{ClosingFeeRange, ClosingSigned, ExtraTlvs, Message, Shutdown};

use super::commitments::RemoteNext;
use super::{Action, Channel, ChannelError, Event, Link, Negotiation, Out, State, Status};

/// Weight of a closing transaction's witness (2-of-2), added to the unsigned weight.
const CLOSING_WITNESS_WEIGHT: u64 = 222;

fn valid_shutdown_script(s: &ScriptBuf) -> bool {
    s.is_p2pkh() || s.is_p2sh() || s.is_p2wpkh() || s.is_p2wsh() || s.is_p2tr()
}

impl Channel {
    /// Our default close script: P2WPKH to our payment basepoint.
    pub(super) fn default_close_script(&self) -> ScriptBuf {
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
            return Err(ChannelError::InvalidState(
                "updates not yet signed (a signature round is under way): close again once it ends",
            ));
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
        if f.status == Status::Negotiating && f.remote_shutdown.as_ref() == Some(&m.scriptpubkey) {
            // Retransmitted after a reconnection.
            return Ok(());
        }
        if f.status == Status::Closing && f.remote_shutdown.is_some() {
            // The peer restarts a negotiation we already concluded.
            return Ok(());
        }
        if !matches!(f.status, Status::Normal | Status::ShuttingDown) {
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
            self.open_negotiation(out)?;
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

    /// The fee range we announce around our preferred fee. The funder pays:
    /// it accepts half to twice its estimate. The non-funder pays nothing:
    /// its minimum is low and its maximum at least the funder's (BOLT 2).
    fn our_fee_range(
        &self,
        preferred: Sat,
        received: Option<&ClosingFeeRange>,
    ) -> Result<ClosingFeeRange, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let min_fee = Sat(preferred.0 / 2);
        let mut max_fee = Sat(preferred.0.saturating_mul(2));
        if !f.c.we_are_funder() {
            // BOLT 2: the fee is the funder's money, so the non-funder sets
            // no maximum of its own beyond what the funder can pay.
            max_fee = max_fee.max(Sat(f.c.local_commit.spec.to_remote.0 / 1000));
            if let Some(r) = received {
                max_fee = max_fee.max(r.max_fee);
            }
        }
        Ok(ClosingFeeRange { min_fee, max_fee })
    }

    fn closing_signed(
        &self,
        fee: Sat,
        range: ClosingFeeRange,
    ) -> Result<ClosingSigned, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let tx = self.closing_tx(fee)?;
        Ok(ClosingSigned {
            channel_id: f.c.channel_id,
            fee,
            signature: tx.sign(self.keys.funding_secret())?,
            fee_range: Some(range),
            extra_tlvs: ExtraTlvs::default(),
        })
    }

    /// Our first `closing_signed` (funder), at our preferred fee.
    fn open_negotiation(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let fee = self.closing_fee()?;
        let range = self.our_fee_range(fee, None)?;
        let msg = self.closing_signed(fee, range)?;
        if let Some(n) = &mut self.funded_mut()?.negotiation {
            n.last_sent = Some(fee);
            n.last_received = None;
        }
        out.persist = true;
        out.send(Message::ClosingSigned(msg));
        Ok(())
    }

    /// After `channel_reestablish` (our `shutdown` was sent again): the fee
    /// negotiation starts over (BOLT 2); the funder sends its proposal again.
    pub(super) fn restart_negotiation(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let Some(f) = self.funded() else {
            return Ok(());
        };
        if f.status != Status::Negotiating {
            return Ok(());
        }
        let funder = f.c.we_are_funder();
        let estimate = self.fee_estimate;
        let f = self.funded_mut()?;
        if let Some(n) = &mut f.negotiation {
            // Fees may have moved while we were apart.
            if let Some(e) = estimate {
                if n.feerate != e {
                    n.feerate = e;
                    out.persist = true;
                }
            }
            if n.last_sent.is_some() || n.last_received.is_some() {
                n.last_sent = None;
                n.last_received = None;
                out.persist = true;
            }
        }
        if funder {
            self.open_negotiation(out)?;
        }
        Ok(())
    }

    /// The peer's `closing_signed`, following BOLT 2's legacy negotiation
    /// with and without `fee_range`.
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
        let funder = f.c.we_are_funder();
        let (last_sent, last_received) = f
            .negotiation
            .as_ref()
            .map(|n| (n.last_sent, n.last_received))
            .unwrap_or((None, None));
        let tx = match self.closing_tx(m.fee) {
            Ok(t) => t,
            Err(_) => return self.violation(ChannelError::ClosingFeeOutOfRange, out),
        };
        if tx.verify(&m.signature, Side::Counterparty).is_err() {
            return self.violation(ChannelError::InvalidCommitmentSignature, out);
        }
        if Some(m.fee) == last_sent {
            return self.conclude_close(&tx, &m, out);
        }
        let preferred = self.closing_fee()?;
        let ours = self.our_fee_range(preferred, m.fee_range.as_ref())?;
        let within = |r: &ClosingFeeRange, fee: Sat| r.min_fee <= fee && fee <= r.max_fee;
        // In the range we already sent: take it (and say so).
        if last_sent.is_some() && within(&ours, m.fee) {
            let reply = self.closing_signed(m.fee, ours)?;
            out.send(Message::ClosingSigned(reply));
            return self.conclude_close(&tx, &m, out);
        }
        let counter = match m.fee_range {
            Some(theirs) => {
                let lo = ours.min_fee.max(theirs.min_fee);
                let hi = ours.max_fee.min(theirs.max_fee);
                if lo > hi {
                    return self.warn(ChannelError::ClosingFeeRangesDisjoint, out);
                }
                let overlap = ClosingFeeRange {
                    min_fee: lo,
                    max_fee: hi,
                };
                if funder || last_sent.is_some() {
                    // The funder accepts a fee in the overlap; the
                    // non-funder, having proposed, accepts only its own fee.
                    if funder && within(&overlap, m.fee) {
                        let reply = self.closing_signed(m.fee, ours)?;
                        out.send(Message::ClosingSigned(reply));
                        return self.conclude_close(&tx, &m, out);
                    }
                    return self.violation(ChannelError::ClosingFeeOutOfRange, out);
                }
                // The fee is the funder's money: take its proposal when it
                // is in the overlap (two messages in all), else come as
                // close to our preference as the overlap allows.
                if within(&overlap, m.fee) {
                    m.fee
                } else {
                    Sat(preferred.0.clamp(lo.0, hi.0))
                }
            }
            None => {
                if let (Some(s), Some(r)) = (last_sent, last_received) {
                    let (a, b) = (s.min(r), s.max(r));
                    if !(a < m.fee && m.fee < b) {
                        return self.warn(ChannelError::ClosingFeeOutOfRange, out);
                    }
                }
                if within(&ours, m.fee) {
                    m.fee
                } else {
                    // Strictly between theirs and what we sent (or our preference).
                    let target = last_sent.unwrap_or(preferred);
                    let mid = Sat(m.fee.0 / 2 + target.0 / 2 + (m.fee.0 % 2 + target.0 % 2) / 2);
                    if last_sent.is_some() && (mid == m.fee || mid == target) {
                        m.fee
                    } else if last_sent.is_some() {
                        mid
                    } else {
                        target
                    }
                }
            }
        };
        let reply = self.closing_signed(counter, ours)?;
        out.send(Message::ClosingSigned(reply));
        if counter == m.fee {
            return self.conclude_close(&tx, &m, out);
        }
        if let Some(n) = &mut self.funded_mut()?.negotiation {
            n.last_sent = Some(counter);
            n.last_received = Some(m.fee);
        }
        out.persist = true;
        Ok(())
    }

    /// The peer restarts the negotiation (after a reconnection) although we
    /// agreed and published: our last `closing_signed` was lost. We send the
    /// one for the transaction we published again, whatever the peer
    /// proposed, so that only that transaction can be completed.
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
        // Only if what we published is the mutual close (not a commitment).
        if f.remote_shutdown.is_none()
            || self.closing_tx(fee).map(|t| t.txid()).ok() != Some(published.compute_txid())
        {
            return Ok(());
        }
        let range = self.our_fee_range(fee, None)?;
        let msg = self.closing_signed(fee, range)?;
        out.send(Message::ClosingSigned(msg));
        Ok(())
    }

    /// Both signatures on the closing transaction at `m.fee`: publish it.
    fn conclude_close(
        &mut self,
        tx: &ClosingTx,
        m: &ClosingSigned,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let ours_sig = tx.sign(self.keys.funding_secret())?;
        let signed = tx.finalize(&ours_sig, &m.signature)?;
        let txid = signed.compute_txid();
        let f = self.funded_mut()?;
        f.status = Status::Closing;
        if let Some(n) = &mut f.negotiation {
            n.last_sent = Some(m.fee);
            n.last_received = Some(m.fee);
        }
        f.closing_txs = vec![signed.clone()];
        out.persist = true;
        out.actions.push(Action::Publish(signed));
        out.event(Event::MutualClose { txid });
        Ok(())
    }
}
