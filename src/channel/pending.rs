//! Limits on inbound channels that are not funded (or not confirmed) yet:
//! the "fake channel" DoS where a peer opens channels it never funds.

use std::collections::BTreeMap;

use secp256k1::PublicKey;

use crate::wire::ChannelId;

use super::config::PendingLimits;

/// Book-keeping of pending inbound channels across all peers, consulted
/// before [`Channel::accept`](super::Channel::accept).
#[derive(Clone, Debug, Default)]
pub struct PendingChannelLimits {
    limits: PendingLimits,
    pending: BTreeMap<ChannelId, (PublicKey, u64)>,
}

impl PendingChannelLimits {
    pub fn new(limits: PendingLimits) -> Self {
        Self {
            limits,
            pending: BTreeMap::new(),
        }
    }

    /// Whether one more pending inbound channel from `peer` is allowed.
    pub fn may_accept(&self, peer: &PublicKey) -> bool {
        let per_peer = self.pending.values().filter(|(p, _)| p == peer).count();
        per_peer < self.limits.per_peer && self.pending.len() < self.limits.total
    }

    /// Records a pending inbound channel (temporary or final id).
    pub fn add(&mut self, id: ChannelId, peer: PublicKey, now: u64) {
        self.pending.insert(id, (peer, now));
    }

    /// The channel is funded and confirmed (or gone): it no longer counts.
    pub fn remove(&mut self, id: &ChannelId) {
        self.pending.remove(id);
    }

    /// Forgets channels pending for longer than the timeout; returns their ids.
    pub fn expire(&mut self, now: u64) -> Vec<ChannelId> {
        let t = self.limits.timeout_secs;
        let old: Vec<ChannelId> = self
            .pending
            .iter()
            .filter(|(_, (_, at))| now.saturating_sub(*at) > t)
            .map(|(id, _)| *id)
            .collect();
        for id in &old {
            self.pending.remove(id);
        }
        old
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}
