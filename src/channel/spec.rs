//! Updates and commitment specs: which HTLCs and balances a commitment holds.
//!
//! A [`Spec`] is always written from the point of view of the commitment's
//! *owner* (broadcaster): `to_local` is the owner's balance and an
//! [`HtlcDir::Offered`] HTLC was offered by the owner. Our commitment's spec
//! is from our side, the peer's commitment's spec from the peer's side; the
//! same [`reduce`] applies to both, with the two change lists swapped.

use crate::tx::{
    ChannelType, FeeratePerKw, Htlc, HtlcDirection, ANCHOR_OUTPUT_VALUE, COMMITMENT_WEIGHT_ANCHORS,
    COMMITMENT_WEIGHT_STATIC, HTLC_OUTPUT_WEIGHT, HTLC_SUCCESS_WEIGHT_STATIC,
    HTLC_TIMEOUT_WEIGHT_STATIC,
};
use crate::types::{Msat, PaymentHash, Sat};
use crate::wire::{OnionPacket, PaymentPreimage};

use super::ChannelError;

/// One HTLC as offered in `update_add_htlc` (the onion is kept for
/// retransmission after a reconnection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtlcAdd {
    pub id: u64,
    pub amount: Msat,
    pub payment_hash: PaymentHash,
    pub cltv_expiry: u32,
    pub onion: OnionPacket,
}

/// One `update_*` message, as kept in the change lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    Add(HtlcAdd),
    Fulfill {
        id: u64,
        preimage: PaymentPreimage,
    },
    Fail {
        id: u64,
        reason: Vec<u8>,
    },
    FailMalformed {
        id: u64,
        sha256_of_onion: [u8; 32],
        failure_code: u16,
    },
    Fee(FeeratePerKw),
}

impl Update {
    /// The HTLC id a fulfill/fail settles.
    pub fn settles(&self) -> Option<u64> {
        match self {
            Update::Fulfill { id, .. }
            | Update::Fail { id, .. }
            | Update::FailMalformed { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// Direction of an HTLC relative to the spec's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HtlcDir {
    /// Offered by the owner.
    Offered,
    /// Received by the owner.
    Received,
}

impl HtlcDir {
    pub fn flip(self) -> Self {
        match self {
            HtlcDir::Offered => HtlcDir::Received,
            HtlcDir::Received => HtlcDir::Offered,
        }
    }
}

/// An HTLC in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecHtlc {
    pub dir: HtlcDir,
    pub add: HtlcAdd,
}

/// The content of one commitment, from its owner's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub htlcs: Vec<SpecHtlc>,
    pub to_local: Msat,
    pub to_remote: Msat,
    pub feerate: FeeratePerKw,
}

impl Spec {
    /// The HTLC with `id` in direction `dir`.
    pub fn find(&self, dir: HtlcDir, id: u64) -> Option<&SpecHtlc> {
        self.htlcs.iter().find(|h| h.dir == dir && h.add.id == id)
    }

    /// The same spec seen from the other party.
    pub fn flipped(&self) -> Spec {
        Spec {
            htlcs: self
                .htlcs
                .iter()
                .map(|h| SpecHtlc {
                    dir: h.dir.flip(),
                    add: h.add.clone(),
                })
                .collect(),
            to_local: self.to_remote,
            to_remote: self.to_local,
            feerate: self.feerate,
        }
    }

    /// Total HTLC value.
    pub fn htlc_total(&self) -> Msat {
        Msat(self.htlcs.iter().map(|h| h.add.amount.0).sum())
    }

    /// Value and count of the HTLCs in `dir`.
    pub fn in_flight(&self, dir: HtlcDir) -> (usize, Msat) {
        let mut n = 0;
        let mut v = 0u64;
        for h in self.htlcs.iter().filter(|h| h.dir == dir) {
            n += 1;
            v = v.saturating_add(h.add.amount.0);
        }
        (n, Msat(v))
    }

    /// The HTLCs in the form the transaction builder takes.
    pub fn tx_htlcs(&self) -> Vec<Htlc> {
        self.htlcs
            .iter()
            .map(|h| Htlc {
                direction: match h.dir {
                    HtlcDir::Offered => HtlcDirection::Offered,
                    HtlcDir::Received => HtlcDirection::Received,
                },
                amount: h.add.amount,
                payment_hash: h.add.payment_hash,
                cltv_expiry: h.add.cltv_expiry,
            })
            .collect()
    }
}

/// Applies the owner's and the other party's updates to `spec`: adds first,
/// then settlements, then the last fee update.
pub fn reduce(spec: &Spec, owner: &[&Update], other: &[&Update]) -> Result<Spec, ChannelError> {
    let mut s = spec.clone();
    for (list, dir) in [(owner, HtlcDir::Offered), (other, HtlcDir::Received)] {
        for u in list {
            if let Update::Add(a) = u {
                let bal = if dir == HtlcDir::Offered {
                    &mut s.to_local
                } else {
                    &mut s.to_remote
                };
                bal.0 = bal
                    .0
                    .checked_sub(a.amount.0)
                    .ok_or(ChannelError::InsufficientBalance)?;
                s.htlcs.push(SpecHtlc {
                    dir,
                    add: a.clone(),
                });
            }
        }
    }
    // The owner settles HTLCs it received; the other party settles HTLCs the owner offered.
    for (list, dir) in [(owner, HtlcDir::Received), (other, HtlcDir::Offered)] {
        for u in list {
            let Some(id) = u.settles() else { continue };
            let pos = s
                .htlcs
                .iter()
                .position(|h| h.dir == dir && h.add.id == id)
                .ok_or(ChannelError::UnknownHtlc)?;
            let h = s.htlcs.remove(pos);
            let fulfilled = matches!(u, Update::Fulfill { .. });
            // A fulfilled HTLC goes to its receiver, a failed one back to its offerer.
            let to_owner = (dir == HtlcDir::Received) == fulfilled;
            let bal = if to_owner {
                &mut s.to_local
            } else {
                &mut s.to_remote
            };
            bal.0 = bal
                .0
                .checked_add(h.add.amount.0)
                .ok_or(ChannelError::InsufficientBalance)?;
        }
    }
    for u in owner.iter().chain(other.iter()) {
        if let Update::Fee(f) = u {
            s.feerate = *f;
        }
    }
    Ok(s)
}

/// Second-stage fee of an HTLC in `dir` on its owner's commitment.
pub fn htlc_tx_fee(ct: ChannelType, feerate: FeeratePerKw, dir: HtlcDir) -> Sat {
    if ct.has_anchors() {
        return Sat(0);
    }
    let w = match dir {
        HtlcDir::Offered => HTLC_TIMEOUT_WEIGHT_STATIC,
        HtlcDir::Received => HTLC_SUCCESS_WEIGHT_STATIC,
    };
    Sat(u64::from(feerate.0) * w / 1000)
}

/// Whether the HTLC is trimmed on a commitment with `dust_limit`.
pub fn is_dust(ct: ChannelType, feerate: FeeratePerKw, dust_limit: Sat, h: &SpecHtlc) -> bool {
    h.add.amount.0 / 1000
        < dust_limit
            .0
            .saturating_add(htlc_tx_fee(ct, feerate, h.dir).0)
}

/// The fee the funder pays for the commitment with `spec` (plus the two
/// anchors under `option_anchors`), as in BOLT 3.
pub fn commit_fee(ct: ChannelType, spec: &Spec, dust_limit: Sat) -> Sat {
    let untrimmed = spec
        .htlcs
        .iter()
        .filter(|h| !is_dust(ct, spec.feerate, dust_limit, h))
        .count() as u64;
    let base = if ct.has_anchors() {
        COMMITMENT_WEIGHT_ANCHORS
    } else {
        COMMITMENT_WEIGHT_STATIC
    };
    let fee = u64::from(spec.feerate.0) * (base + HTLC_OUTPUT_WEIGHT * untrimmed) / 1000;
    let anchors = if ct.has_anchors() {
        2 * ANCHOR_OUTPUT_VALUE.0
    } else {
        0
    };
    Sat(fee + anchors)
}

/// Value of the HTLCs trimmed on a commitment with `dust_limit`.
pub fn dust_exposure(ct: ChannelType, spec: &Spec, dust_limit: Sat) -> Msat {
    Msat(
        spec.htlcs
            .iter()
            .filter(|h| is_dust(ct, spec.feerate, dust_limit, h))
            .map(|h| h.add.amount.0)
            .sum(),
    )
}
