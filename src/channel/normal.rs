//! Normal operation: HTLC updates, fee updates, `commitment_signed` and
//! `revoke_and_ack`.

use crate::tx::FeeratePerKw;
use crate::wire::{
    CommitmentSigned, ExtraTlvs, Message, RevokeAndAck, UpdateAddHtlc, UpdateFailHtlc,
    UpdateFailMalformedHtlc, UpdateFee, UpdateFulfillHtlc,
};

use super::spec::{HtlcAdd, Update};
use super::{Channel, ChannelError, Command, Event, Link, Out, State, Status};

/// The wire message of one of our updates.
pub(super) fn update_message(channel_id: crate::wire::ChannelId, u: &Update) -> Message {
    match u {
        Update::Add(a) => Message::UpdateAddHtlc(UpdateAddHtlc {
            channel_id,
            id: a.id,
            amount: a.amount,
            payment_hash: a.payment_hash,
            cltv_expiry: a.cltv_expiry,
            onion_routing_packet: a.onion.clone(),
            blinding_point: None,
            extra_tlvs: ExtraTlvs::default(),
        }),
        Update::Fulfill { id, preimage } => Message::UpdateFulfillHtlc(UpdateFulfillHtlc {
            channel_id,
            id: *id,
            payment_preimage: *preimage,
            extra_tlvs: ExtraTlvs::default(),
        }),
        Update::Fail { id, reason } => Message::UpdateFailHtlc(UpdateFailHtlc {
            channel_id,
            id: *id,
            reason: reason.clone(),
            extra_tlvs: ExtraTlvs::default(),
        }),
        Update::FailMalformed {
            id,
            sha256_of_onion,
            failure_code,
        } => Message::UpdateFailMalformedHtlc(UpdateFailMalformedHtlc {
            channel_id,
            id: *id,
            sha256_of_onion: *sha256_of_onion,
            failure_code: *failure_code,
        }),
        Update::Fee(f) => Message::UpdateFee(UpdateFee {
            channel_id,
            feerate_per_kw: f.0,
        }),
    }
}

/// The feerate a funder moves its commitments to when the fee estimate is
/// `estimate` and they are at `current`, if it moves them at all: up as
/// soon as the estimate is 10% higher (a commitment that pays too little
/// may not confirm when it has to), down only once the estimate is below
/// half (overpaying costs nothing until a force close, and each update is a
/// signing round the peer may also judge against its own estimate).
pub fn fee_update_target(current: FeeratePerKw, estimate: FeeratePerKw) -> Option<FeeratePerKw> {
    let (c, e) = (u64::from(current.0), u64::from(estimate.0));
    (e * 10 >= c * 11 || e * 2 < c).then_some(estimate)
}

impl Channel {
    /// As the funder of a channel in normal operation with its peer
    /// connected, sends `update_fee` and signs it at once when the fee
    /// estimate has moved away from the commitments' feerate
    /// ([`fee_update_target`]). Only when it can sign at once (not while
    /// waiting for the peer's `revoke_and_ack`, after which it is called
    /// again), so that it never leaves an unsigned update that would hold
    /// up a `shutdown`. Nothing when the funder cannot afford the new fee,
    /// or when it would trim more HTLCs than the dust exposure limit allows:
    /// the commitment keeps its feerate until it can move.
    pub(super) fn follow_fee_estimate(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let Some(estimate) = self.fee_estimate else {
            return Ok(());
        };
        if self.link != Link::Online {
            return Ok(());
        }
        let State::Funded(f) = &mut self.state else {
            return Ok(());
        };
        if f.status != Status::Normal
            || f.local_shutdown.is_some()
            || f.remote_shutdown.is_some()
            || !f.c.we_are_funder()
            || f.c.awaiting_revocation()
        {
            return Ok(());
        }
        let Some(target) = fee_update_target(f.c.next_feerate()?, estimate) else {
            return Ok(());
        };
        match f.c.send_fee(target, &self.config) {
            Ok(()) => {}
            Err(
                ChannelError::InsufficientBalance
                | ChannelError::FeerateOutOfRange
                | ChannelError::DustExposureExceeded,
            ) => return Ok(()),
            Err(e) => return Err(e),
        }
        out.persist = true;
        out.send(update_message(f.c.channel_id, &Update::Fee(target)));
        let msg = f.c.send_commit(&self.keys)?;
        out.send(Message::CommitmentSigned(msg));
        Ok(())
    }

    pub(super) fn on_user_update(
        &mut self,
        cmd: Command,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let online = self.link == Link::Online;
        let config = self.config.clone();
        let keys = self.keys.clone();
        let State::Funded(f) = &mut self.state else {
            return Err(ChannelError::InvalidState("channel not funded"));
        };
        let settling_allowed = matches!(f.status, Status::Normal | Status::ShuttingDown);
        let id = f.c.channel_id;
        match cmd {
            Command::AddHtlc {
                amount,
                payment_hash,
                cltv_expiry,
                onion,
            } => {
                if f.status != Status::Normal
                    || f.local_shutdown.is_some()
                    || f.remote_shutdown.is_some()
                {
                    return Err(ChannelError::InvalidState(
                        "channel not in normal operation",
                    ));
                }
                if !online {
                    return Err(ChannelError::NotConnected);
                }
                let add =
                    f.c.send_add(amount, payment_hash, cltv_expiry, onion, &config)?;
                out.persist = true;
                out.send(update_message(id, &Update::Add(add.clone())));
                out.event(Event::HtlcOffered {
                    id: add.id,
                    payment_hash,
                });
            }
            Command::FulfillHtlc { id: hid, preimage } => {
                if !settling_allowed {
                    return Err(ChannelError::InvalidState("cannot settle now"));
                }
                let u = Update::Fulfill { id: hid, preimage };
                f.c.send_settle(u.clone())?;
                out.persist = true;
                if online {
                    out.send(update_message(id, &u));
                }
            }
            Command::FailHtlc { id: hid, reason } => {
                if !settling_allowed {
                    return Err(ChannelError::InvalidState("cannot settle now"));
                }
                let u = Update::Fail { id: hid, reason };
                f.c.send_settle(u.clone())?;
                out.persist = true;
                if online {
                    out.send(update_message(id, &u));
                }
            }
            Command::FailMalformedHtlc {
                id: hid,
                sha256_of_onion,
                failure_code,
            } => {
                if !settling_allowed {
                    return Err(ChannelError::InvalidState("cannot settle now"));
                }
                let u = Update::FailMalformed {
                    id: hid,
                    sha256_of_onion,
                    failure_code,
                };
                f.c.send_settle(u.clone())?;
                out.persist = true;
                if online {
                    out.send(update_message(id, &u));
                }
            }
            Command::UpdateFee(rate) => {
                if !settling_allowed {
                    return Err(ChannelError::InvalidState("cannot update fee now"));
                }
                f.c.send_fee(rate, &config)?;
                out.persist = true;
                if online {
                    out.send(update_message(id, &Update::Fee(rate)));
                }
            }
            Command::Sign => {
                if online && f.c.can_sign() {
                    let msg = f.c.send_commit(&keys)?;
                    out.persist = true;
                    out.send(Message::CommitmentSigned(msg));
                }
            }
            _ => return Err(ChannelError::InvalidState("not an update command")),
        }
        Ok(())
    }

    pub(super) fn on_peer_update(&mut self, m: Message, out: &mut Out) -> Result<(), ChannelError> {
        let name = m.name();
        let config = self.config.clone();
        let estimate = self.fee_estimate;
        let online = self.link == Link::Online;
        let State::Funded(f) = &mut self.state else {
            return self.violation(ChannelError::UnexpectedMessage(name), out);
        };
        if !online {
            // Before channel_reestablish completes nothing else may be sent.
            return self.violation(ChannelError::UnexpectedMessage(name), out);
        }
        if !matches!(f.status, Status::Normal | Status::ShuttingDown) {
            // Updates during opening, negotiation or closing.
            return self.violation(ChannelError::UnexpectedMessage(name), out);
        }
        let r: Result<(), ChannelError> = match m {
            Message::UpdateAddHtlc(a) => {
                if f.remote_shutdown.is_some() {
                    Err(ChannelError::UpdateAfterShutdown)
                } else {
                    let add = HtlcAdd {
                        id: a.id,
                        amount: a.amount,
                        payment_hash: a.payment_hash,
                        cltv_expiry: a.cltv_expiry,
                        onion: a.onion_routing_packet,
                    };
                    f.c.receive_add(add, &config)
                }
            }
            Message::UpdateFulfillHtlc(x) => {
                f.c.receive_settle(Update::Fulfill {
                    id: x.id,
                    preimage: x.payment_preimage,
                })
                .map(|_| {
                    out.event(Event::HtlcFulfilled {
                        id: x.id,
                        preimage: x.payment_preimage,
                    })
                })
            }
            Message::UpdateFailHtlc(x) => {
                f.c.receive_settle(Update::Fail {
                    id: x.id,
                    reason: x.reason,
                })
                .map(|_| ())
            }
            Message::UpdateFailMalformedHtlc(x) => {
                f.c.receive_settle(Update::FailMalformed {
                    id: x.id,
                    sha256_of_onion: x.sha256_of_onion,
                    failure_code: x.failure_code,
                })
                .map(|_| ())
            }
            Message::UpdateFee(x) => {
                f.c.receive_fee(FeeratePerKw(x.feerate_per_kw), estimate, &config)
            }
            Message::CommitmentSigned(cs) => {
                return self.on_commitment_signed(&cs, out);
            }
            Message::RevokeAndAck(ra) => {
                return self.on_revoke_and_ack(&ra, out);
            }
            _ => Ok(()),
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) => self.violation(e, out),
        }
    }

    fn on_commitment_signed(
        &mut self,
        cs: &CommitmentSigned,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let keys = self.keys.clone();
        let f = self.funded_mut()?;
        let rev = match f.c.receive_commit(&keys, cs) {
            Ok(r) => r,
            Err(e) => return self.violation(e, out),
        };
        out.persist = true;
        out.send(Message::RevokeAndAck(rev));
        if f.c.can_sign() {
            let msg = f.c.send_commit(&keys)?;
            out.send(Message::CommitmentSigned(msg));
        }
        self.after_commitment_change(out)
    }

    fn on_revoke_and_ack(&mut self, ra: &RevokeAndAck, out: &mut Out) -> Result<(), ChannelError> {
        let keys = self.keys.clone();
        let f = self.funded_mut()?;
        let settled = match f.c.receive_revocation(ra) {
            Ok(s) => s,
            Err(e) => return self.violation(e, out),
        };
        out.persist = true;
        for a in settled.received {
            out.event(Event::HtlcReceived(a));
        }
        for (id, reason) in settled.failed {
            out.event(Event::HtlcFailed { id, reason });
        }
        for (id, failure_code, sha256_of_onion) in settled.failed_malformed {
            out.event(Event::HtlcFailedMalformed {
                id,
                failure_code,
                sha256_of_onion,
            });
        }
        if f.c.can_sign() {
            let msg = f.c.send_commit(&keys)?;
            out.send(Message::CommitmentSigned(msg));
        }
        // A fee update held up by the signature round that just ended.
        self.follow_fee_estimate(out)?;
        self.after_commitment_change(out)
    }
}
