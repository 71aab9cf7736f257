//! Reconnection: `channel_reestablish`, retransmission and
//! `option_data_loss_protect`.

use crate::keys::PerCommitmentSecret;
use crate::wire::{ChannelReestablish, ErrorMessage, ExtraTlvs, Message, Shutdown};

use super::commitments::RemoteNext;
use super::normal::update_message;
use super::{Channel, ChannelError, Event, Link, Out, State, Status};

impl Channel {
    /// Our `channel_reestablish`.
    pub fn reestablish_msg(&self) -> Result<ChannelReestablish, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        let c = &f.c;
        let last_secret = match c.remote_commit.index.checked_sub(1) {
            Some(n) => c
                .remote_secrets
                .get(n)
                .unwrap_or(PerCommitmentSecret([0; 32])),
            None => PerCommitmentSecret([0; 32]),
        };
        Ok(ChannelReestablish {
            channel_id: c.channel_id,
            next_commitment_number: c.local_commit.index + 1,
            next_revocation_number: c.remote_commit.index,
            your_last_per_commitment_secret: last_secret,
            my_current_per_commitment_point: self
                .keys
                .per_commitment_point(c.local_commit.index)?,
            next_funding: None,
            my_current_funding_locked: None,
            extra_tlvs: ExtraTlvs::default(),
        })
    }

    pub(super) fn on_connected(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let State::Funded(f) = &self.state else {
            return Ok(());
        };
        if f.status == Status::Closed {
            return Ok(());
        }
        let msg = self.reestablish_msg()?;
        self.link = Link::Syncing;
        out.send(Message::ChannelReestablish(msg));
        Ok(())
    }

    pub(super) fn on_reestablish(
        &mut self,
        m: ChannelReestablish,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        if self.link != Link::Syncing {
            return self.violation(ChannelError::UnexpectedMessage("channel_reestablish"), out);
        }
        let keys = self.keys.clone();
        let State::Funded(f) = &mut self.state else {
            return self.violation(ChannelError::UnexpectedMessage("channel_reestablish"), out);
        };
        if f.status == Status::WaitingForRemoteClose {
            out.send(Message::Error(ErrorMessage::new(
                f.c.channel_id,
                "we lost channel state, please close",
            )));
            return Ok(());
        }
        let c = &f.c;
        let local_index = c.local_commit.index;

        // 1. Revocations we may owe, and option_data_loss_protect.
        let expected_secret = |n: u64| -> Result<PerCommitmentSecret, ChannelError> {
            match n.checked_sub(1) {
                None => Ok(PerCommitmentSecret([0; 32])),
                Some(k) => Ok(keys.per_commitment_secret(k)?),
            }
        };
        if m.next_revocation_number > local_index {
            // The peer says we revoked commitments we do not have.
            if m.your_last_per_commitment_secret == expected_secret(m.next_revocation_number)? {
                f.status = Status::WaitingForRemoteClose;
                out.persist = true;
                out.send(Message::Error(ErrorMessage::new(
                    f.c.channel_id,
                    "we lost channel state, please close",
                )));
                out.event(Event::PeerViolation(ChannelError::WeAreBehind));
                out.event(Event::DataLoss {
                    their_point: m.my_current_per_commitment_point,
                });
                self.link = Link::Online;
                return Ok(());
            }
            return self.violation(ChannelError::ReestablishMismatch, out);
        }
        if m.your_last_per_commitment_secret != expected_secret(m.next_revocation_number)? {
            return self.violation(ChannelError::ReestablishMismatch, out);
        }
        let resend_revoke = if m.next_revocation_number + 1 == local_index {
            true
        } else if m.next_revocation_number == local_index {
            false
        } else {
            return self.violation(ChannelError::ReestablishMismatch, out);
        };

        // 2. The commitment_signed the peer may have missed.
        let (resend_commit, commit_first) = match &c.remote_next {
            RemoteNext::Waiting {
                commit,
                sent_after_local_index,
            } => {
                if m.next_commitment_number == commit.index {
                    (Some(commit.clone()), *sent_after_local_index >= local_index)
                } else if m.next_commitment_number == commit.index + 1 {
                    (None, false)
                } else {
                    return self.violation(ChannelError::ReestablishMismatch, out);
                }
            }
            _ => {
                if m.next_commitment_number == c.remote_commit.index + 1 {
                    (None, false)
                } else {
                    return self.violation(ChannelError::ReestablishMismatch, out);
                }
            }
        };
        // commit_first: we signed when our index was already the current one,
        // i.e. after sending the revocation of the previous one -> revoke first.
        let revoke_then_commit = commit_first;

        let id = c.channel_id;
        let mut msgs = Vec::new();
        if m.next_commitment_number == 1 && local_index == 0 && f.ready_sent {
            msgs.push(Message::ChannelReady(self.channel_ready_msg()?));
        }
        let f = self.funded_mut()?;
        let rev = if resend_revoke {
            Some(Message::RevokeAndAck(f.c.revocation(&keys)?))
        } else {
            None
        };
        let mut commit_msgs = Vec::new();
        if let Some(commit) = &resend_commit {
            for u in &f.c.local_changes.signed {
                commit_msgs.push(update_message(id, u));
            }
            commit_msgs.push(Message::CommitmentSigned(f.c.sign_remote(&keys, commit)?));
        }
        if revoke_then_commit {
            msgs.extend(rev);
            msgs.extend(commit_msgs);
        } else {
            msgs.extend(commit_msgs);
            msgs.extend(rev);
        }
        if let Some(s) = &f.local_shutdown {
            msgs.push(Message::Shutdown(Shutdown {
                channel_id: id,
                scriptpubkey: s.clone(),
            }));
        }
        // Our updates the peer never saw signed: send them again.
        for u in &f.c.local_changes.proposed {
            msgs.push(update_message(id, u));
        }
        for msg in msgs {
            out.send(msg);
        }
        self.link = Link::Online;
        let f = self.funded_mut()?;
        if f.c.can_sign() {
            let msg = f.c.send_commit(&keys)?;
            out.persist = true;
            out.send(Message::CommitmentSigned(msg));
        }
        // A fee negotiation starts over after our shutdown was sent again.
        self.restart_negotiation(out)?;
        let f = self.funded_mut()?;
        // A channel_ready we could not send while offline.
        if f.status == Status::Opening && !f.ready_sent && (f.funding_confirmed || f.zero_conf) {
            self.on_funding_depth(0, None, out)?;
        }
        // A fee estimate that moved while we were apart.
        self.follow_fee_estimate(out)
    }
}
