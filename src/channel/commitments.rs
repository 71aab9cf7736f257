//! The two commitment chains and the bookkeeping of which update is in which
//! commitment.
//!
//! Our updates move `proposed` (sent) → `signed` (in a `commitment_signed`
//! we sent) → `acked` (the peer revoked its previous commitment: the update
//! is in the peer's commitment) → gone (the peer signed a commitment of ours
//! that has it: it is in both).
//!
//! The peer's updates move `proposed` (received) → `acked` (in a
//! `commitment_signed` we received and revoked for: in our commitment) →
//! `signed` (we sent a `commitment_signed` with it) → gone (the peer revoked:
//! irrevocably in both commitments).

use bitcoin::{ScriptBuf, Txid};
use secp256k1::ecdsa::Signature;

use crate::keys::{
    ChannelKeys, CommitmentSecretStore, PerCommitmentPoint, PerCommitmentSecret,
    RevocationBasepoint, SecretCursor,
};
use crate::tx::{
    ChannelParams, CommitmentSpec, CommitmentTx, FeeratePerKw, Htlc, OwnRevocation, Side,
};
use crate::types::{Msat, Sat};
use crate::wire::{ChannelId, CommitmentSigned, ExtraTlvs, RevokeAndAck, FAILURE_CODE_BADONION};

use super::config::{ChannelConfig, FEERATE_FLOOR};
use super::revoked::RevokedList;
use super::spec::{commit_fee, dust_exposure, reduce, HtlcAdd, HtlcDir, Spec, Update};
use super::ChannelError;

/// Limits one side announced; they bind the *other* side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub htlc_minimum: Msat,
    pub max_accepted_htlcs: u16,
    pub max_in_flight: Msat,
    /// The reserve the other side must keep.
    pub reserve: Sat,
}

/// Our current commitment with the peer's signatures on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCommit {
    pub index: u64,
    pub spec: Spec,
    pub sig: Signature,
    pub htlc_sigs: Vec<Signature>,
}

/// A commitment of the peer's that we signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteCommit {
    pub index: u64,
    pub spec: Spec,
    pub point: PerCommitmentPoint,
    pub txid: Txid,
}

/// What comes after the peer's current commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteNext {
    /// We do not know the peer's next point yet (before its `channel_ready`).
    Unknown,
    /// The peer's next per-commitment point: we may sign.
    Point(PerCommitmentPoint),
    /// We signed `commit` and wait for the revocation of the previous one.
    /// `sent_after_local_index` is our commitment index when we signed: it
    /// orders the retransmission of `revoke_and_ack` and `commitment_signed`.
    Waiting {
        commit: RemoteCommit,
        sent_after_local_index: u64,
    },
}

/// The updates of one side in their three stages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub proposed: Vec<Update>,
    pub signed: Vec<Update>,
    pub acked: Vec<Update>,
}

impl Changes {
    fn all(&self) -> impl Iterator<Item = &Update> {
        self.proposed.iter().chain(&self.signed).chain(&self.acked)
    }
}

/// A revoked commitment of the peer, kept to build the penalty transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedCommit {
    pub index: u64,
    pub txid: Txid,
    pub to_local: Msat,
    pub to_remote: Msat,
    pub feerate: FeeratePerKw,
    /// HTLCs from the peer's (the broadcaster's) point of view.
    pub htlcs: Vec<Htlc>,
}

/// Both commitment chains of a funded channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitments {
    pub channel_id: ChannelId,
    pub params: ChannelParams,
    /// Limits we announced (the peer must respect them).
    pub ours: Limits,
    /// Limits the peer announced (we must respect them).
    pub theirs: Limits,
    pub local_commit: LocalCommit,
    pub remote_commit: RemoteCommit,
    pub remote_next: RemoteNext,
    pub local_changes: Changes,
    pub remote_changes: Changes,
    pub local_next_htlc_id: u64,
    pub remote_next_htlc_id: u64,
    pub remote_secrets: CommitmentSecretStore,
    pub revoked: RevokedList,
    /// What was derived for our recent commitments (not persisted).
    pub(crate) own_cache: OwnCache,
}

/// One of our commitments: its number, its per-commitment secret, and the
/// per-commitment point and revocation key derived from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OwnCommitment {
    index: u64,
    secret: PerCommitmentSecret,
    own: OwnRevocation,
}

impl OwnCommitment {
    fn derive(
        keys: &ChannelKeys,
        revocation_basepoint: &RevocationBasepoint,
        index: u64,
    ) -> Result<Self, ChannelError> {
        Self::from_secret(
            index,
            keys.per_commitment_secret(index)?,
            revocation_basepoint,
        )
    }

    fn from_secret(
        index: u64,
        secret: PerCommitmentSecret,
        revocation_basepoint: &RevocationBasepoint,
    ) -> Result<Self, ChannelError> {
        Ok(Self {
            index,
            secret,
            own: OwnRevocation::new(revocation_basepoint, &secret.secret_key()?)?,
        })
    }
}

/// The [`OwnCommitment`]s of our last few commitment numbers, so that each
/// is derived once (a shachain step and point multiplications) although
/// every update cycle needs our next point, then our current commitment's
/// revocation key, then our previous secret.
///
/// A cache and nothing more: never persisted (empty after a restore, then
/// filled again as needed), and ignored by comparisons, so two
/// [`Commitments`] are equal whatever each has cached.
#[derive(Clone, Default)]
pub(crate) struct OwnCache {
    entries: [Option<OwnCommitment>; 3],
    /// Derives the secrets of new entries (made on first use).
    cursor: Option<SecretCursor>,
}

impl OwnCache {
    fn get(&self, index: u64) -> Option<&OwnCommitment> {
        self.entries.iter().flatten().find(|e| e.index == index)
    }

    /// Keeps `e`, in place of the lowest commitment number when full.
    fn put(&mut self, e: OwnCommitment) {
        if self.get(e.index).is_some() {
            return;
        }
        let slot = self
            .entries
            .iter_mut()
            .min_by_key(|s| s.as_ref().map(|x| x.index))
            .expect("three slots");
        *slot = Some(e);
    }
}

impl PartialEq for OwnCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for OwnCache {}

impl core::fmt::Debug for OwnCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let indices: Vec<u64> = self.entries.iter().flatten().map(|e| e.index).collect();
        f.debug_struct("OwnCache")
            .field("indices", &indices)
            .finish()
    }
}

/// What a `revoke_and_ack` made final.
#[derive(Debug, Default)]
pub struct Settled {
    /// The peer's HTLCs now irrevocably committed.
    pub received: Vec<HtlcAdd>,
    /// Our HTLCs now irrevocably failed (id, reason).
    pub failed: Vec<(u64, Vec<u8>)>,
    /// Our HTLCs now irrevocably failed as malformed (id, failure code,
    /// sha256 of the onion).
    pub failed_malformed: Vec<(u64, u16, [u8; 32])>,
}

/// What a settlement of HTLC `add` must satisfy, ours or the peer's: a
/// fulfill's preimage hashes to its payment hash, a malformed failure
/// carries BADONION, and `changes` (the settling side's updates) do not
/// settle it already.
fn check_settle(u: &Update, add: &HtlcAdd, changes: &Changes) -> Result<(), ChannelError> {
    match u {
        Update::Fulfill { preimage, .. } if preimage.payment_hash() != add.payment_hash => {
            return Err(ChannelError::InvalidPreimage)
        }
        Update::FailMalformed { failure_code, .. } if failure_code & FAILURE_CODE_BADONION == 0 => {
            return Err(ChannelError::MalformedWithoutBadonion)
        }
        _ => {}
    }
    if changes.all().any(|x| x.settles() == u.settles()) {
        return Err(ChannelError::HtlcAlreadySettled);
    }
    Ok(())
}

impl Commitments {
    pub fn we_are_funder(&self) -> bool {
        self.params.opener == Side::Holder
    }

    pub fn channel_type(&self) -> crate::tx::ChannelType {
        self.params.channel_type
    }

    /// The peer's latest signed commitment (the one it would broadcast next
    /// if it has revoked the previous one).
    pub fn latest_remote(&self) -> &RemoteCommit {
        match &self.remote_next {
            RemoteNext::Waiting { commit, .. } => commit,
            _ => &self.remote_commit,
        }
    }

    /// Builds our commitment transaction for `spec` at `index`.
    pub fn local_tx(
        &self,
        keys: &ChannelKeys,
        index: u64,
        spec: &Spec,
    ) -> Result<CommitmentTx, ChannelError> {
        self.local_tx_with(&self.own(keys, index)?, spec)
    }

    /// Our commitment transaction for `spec` at `own.index`.
    fn local_tx_with(
        &self,
        own: &OwnCommitment,
        spec: &Spec,
    ) -> Result<CommitmentTx, ChannelError> {
        // Our own commitment: its secret makes the revocation key cheaper.
        Ok(CommitmentTx::build_own(
            &self.params,
            Side::Holder,
            &commitment_spec(own.index, &own.own.point(), spec),
            &own.own,
        )?)
    }

    /// Our commitment `index`: from the cache, else derived.
    fn own(&self, keys: &ChannelKeys, index: u64) -> Result<OwnCommitment, ChannelError> {
        match self.own_cache.get(index) {
            Some(e) => Ok(*e),
            None => OwnCommitment::derive(
                keys,
                &self.params.counterparty.keys.revocation_basepoint,
                index,
            ),
        }
    }

    /// [`Self::own`], kept in the cache (a new secret comes from the
    /// cache's [`SecretCursor`]: our commitments come in order).
    fn own_cached(
        &mut self,
        keys: &ChannelKeys,
        index: u64,
    ) -> Result<OwnCommitment, ChannelError> {
        if let Some(e) = self.own_cache.get(index) {
            return Ok(*e);
        }
        let secret = self
            .own_cache
            .cursor
            .get_or_insert_with(|| SecretCursor::new(keys.commitment_seed()))
            .secret(index)?;
        let e = OwnCommitment::from_secret(
            index,
            secret,
            &self.params.counterparty.keys.revocation_basepoint,
        )?;
        self.own_cache.put(e);
        Ok(e)
    }

    /// Builds the peer's commitment transaction.
    pub fn remote_tx(&self, commit: &RemoteCommit) -> Result<CommitmentTx, ChannelError> {
        build(
            &self.params,
            Side::Counterparty,
            commit.index,
            &commit.point,
            &commit.spec,
        )
    }

    /// [`Self::remote_tx`] built with our `keys` (the revocation key costs
    /// less with our revocation basepoint secret).
    fn remote_tx_with(
        &self,
        keys: &ChannelKeys,
        commit: &RemoteCommit,
    ) -> Result<CommitmentTx, ChannelError> {
        Ok(CommitmentTx::build_counterparty(
            &self.params,
            &commitment_spec(commit.index, &commit.point, &commit.spec),
            keys,
        )?)
    }

    // ----- what each side may still send -----

    /// The spec of our next commitment with everything received so far.
    fn local_next_spec(&self, extra_remote: Option<&Update>) -> Result<Spec, ChannelError> {
        let owner: Vec<&Update> = self.local_changes.acked.iter().collect();
        let other: Vec<&Update> = self
            .remote_changes
            .proposed
            .iter()
            .chain(extra_remote)
            .collect();
        reduce(&self.local_commit.spec, &owner, &other)
    }

    /// The spec of the peer's next commitment with everything we sent.
    fn remote_next_spec(&self, extra_local: Option<&Update>) -> Result<Spec, ChannelError> {
        let owner: Vec<&Update> = self.remote_changes.acked.iter().collect();
        let other: Vec<&Update> = self
            .local_changes
            .proposed
            .iter()
            .chain(extra_local)
            .collect();
        reduce(&self.latest_remote().spec, &owner, &other)
    }

    /// Our next commitment once the peer has what we sent, `u` included.
    fn local_spec_with(&self, u: &Update) -> Result<Spec, ChannelError> {
        reduce(
            &self.local_commit.spec,
            &self
                .local_changes
                .acked
                .iter()
                .chain(&self.local_changes.signed)
                .chain(&self.local_changes.proposed)
                .chain(Some(u))
                .collect::<Vec<_>>(),
            &self.remote_changes.acked.iter().collect::<Vec<_>>(),
        )
    }

    /// Our `update_add_htlc`: checked against the peer's limits on the
    /// peer's next commitment, and our reserve.
    pub fn send_add(
        &mut self,
        amount: Msat,
        payment_hash: crate::types::PaymentHash,
        cltv_expiry: u32,
        onion: crate::wire::OnionPacket,
        config: &ChannelConfig,
    ) -> Result<HtlcAdd, ChannelError> {
        if amount.0 == 0 || amount < self.theirs.htlc_minimum {
            return Err(ChannelError::HtlcBelowMinimum);
        }
        if cltv_expiry >= 500_000_000 {
            return Err(ChannelError::InvalidCltvExpiry);
        }
        let add = HtlcAdd {
            id: self.local_next_htlc_id,
            amount,
            payment_hash,
            cltv_expiry,
            onion,
        };
        let u = Update::Add(add.clone());
        // Peer's view: our HTLC is received by the owner.
        let spec = self.remote_next_spec(Some(&u))?;
        let (n, v) = spec.in_flight(HtlcDir::Received);
        if n > usize::from(self.theirs.max_accepted_htlcs) {
            return Err(ChannelError::TooManyHtlcs);
        }
        if v > self.theirs.max_in_flight {
            return Err(ChannelError::InFlightLimitExceeded);
        }
        // Our balance is to_remote in the peer's spec.
        let fee = if self.we_are_funder() {
            commit_fee(
                self.channel_type(),
                &spec,
                self.params.counterparty.dust_limit,
            )
            .0 * 1000
        } else {
            0
        };
        if spec.to_remote.0 < fee.saturating_add(self.theirs.reserve.0 * 1000) {
            return Err(ChannelError::InsufficientBalance);
        }
        // Our own commitment too (the fee is higher with one more HTLC output).
        let ours = self.local_spec_with(&u)?;
        if self.we_are_funder() {
            let fee =
                commit_fee(self.channel_type(), &ours, self.params.holder.dust_limit).0 * 1000;
            if ours.to_local.0 < fee {
                return Err(ChannelError::InsufficientBalance);
            }
        }
        for (s, dust) in [
            (&spec, self.params.counterparty.dust_limit),
            (&ours, self.params.holder.dust_limit),
        ] {
            if dust_exposure(self.channel_type(), s, dust) > config.max_dust_exposure {
                return Err(ChannelError::DustExposureExceeded);
            }
        }
        self.local_next_htlc_id += 1;
        self.local_changes.proposed.push(u);
        Ok(add)
    }

    /// The peer's `update_add_htlc`, checked against our limits.
    pub fn receive_add(
        &mut self,
        add: HtlcAdd,
        config: &ChannelConfig,
    ) -> Result<(), ChannelError> {
        if add.id != self.remote_next_htlc_id {
            return Err(ChannelError::UnexpectedHtlcId);
        }
        if add.amount.0 == 0 || add.amount < self.ours.htlc_minimum {
            return Err(ChannelError::HtlcBelowMinimum);
        }
        if add.cltv_expiry >= 500_000_000 {
            return Err(ChannelError::InvalidCltvExpiry);
        }
        let u = Update::Add(add);
        let spec = self.local_next_spec(Some(&u))?;
        let (n, v) = spec.in_flight(HtlcDir::Received);
        if n > usize::from(self.ours.max_accepted_htlcs) {
            return Err(ChannelError::TooManyHtlcs);
        }
        if v > self.ours.max_in_flight {
            return Err(ChannelError::InFlightLimitExceeded);
        }
        let fee = if self.we_are_funder() {
            0
        } else {
            commit_fee(self.channel_type(), &spec, self.params.holder.dust_limit).0 * 1000
        };
        if spec.to_remote.0 < fee.saturating_add(self.ours.reserve.0 * 1000) {
            return Err(ChannelError::InsufficientBalance);
        }
        if dust_exposure(self.channel_type(), &spec, self.params.holder.dust_limit)
            > config.max_dust_exposure
        {
            return Err(ChannelError::DustExposureExceeded);
        }
        self.remote_next_htlc_id += 1;
        self.remote_changes.proposed.push(u);
        Ok(())
    }

    /// An HTLC offered by `offerer`, present in both current commitments.
    fn cross_signed(&self, offerer: Side, id: u64) -> Result<&HtlcAdd, ChannelError> {
        let (local_dir, remote_dir) = match offerer {
            Side::Holder => (HtlcDir::Offered, HtlcDir::Received),
            Side::Counterparty => (HtlcDir::Received, HtlcDir::Offered),
        };
        let l = self
            .local_commit
            .spec
            .find(local_dir, id)
            .ok_or(ChannelError::UnknownHtlc)?;
        self.remote_commit
            .spec
            .find(remote_dir, id)
            .ok_or(ChannelError::UnknownHtlc)?;
        Ok(&l.add)
    }

    /// Our fulfill/fail of the peer's HTLC `id`.
    pub fn send_settle(&mut self, u: Update) -> Result<(), ChannelError> {
        let id = u
            .settles()
            .ok_or(ChannelError::InvalidState("not a settlement"))?;
        let add = self.cross_signed(Side::Counterparty, id)?;
        check_settle(&u, add, &self.local_changes)?;
        self.local_changes.proposed.push(u);
        Ok(())
    }

    /// The peer's fulfill/fail of our HTLC `id`; returns the HTLC.
    pub fn receive_settle(&mut self, u: Update) -> Result<HtlcAdd, ChannelError> {
        let id = u
            .settles()
            .ok_or(ChannelError::UnexpectedMessage("update"))?;
        let add = self.cross_signed(Side::Holder, id)?.clone();
        check_settle(&u, &add, &self.remote_changes)?;
        self.remote_changes.proposed.push(u);
        Ok(add)
    }

    /// Our `update_fee` (funder only; we must afford it on the peer's commitment).
    ///
    /// Refused ([`ChannelError::DustExposureExceeded`]) if at `feerate` the
    /// HTLCs trimmed from either side's commitment (lost to fees if it goes
    /// on chain) would add up to more than `config.max_dust_exposure`, as
    /// the same update from the peer would be.
    pub fn send_fee(
        &mut self,
        feerate: FeeratePerKw,
        config: &ChannelConfig,
    ) -> Result<(), ChannelError> {
        if !self.we_are_funder() {
            return Err(ChannelError::InvalidState(
                "only the funder sends update_fee",
            ));
        }
        if feerate < FEERATE_FLOOR {
            return Err(ChannelError::FeerateOutOfRange);
        }
        let u = Update::Fee(feerate);
        let spec = self.remote_next_spec(Some(&u))?;
        let fee = commit_fee(
            self.channel_type(),
            &spec,
            self.params.counterparty.dust_limit,
        )
        .0 * 1000;
        if spec.to_remote.0 < fee.saturating_add(self.theirs.reserve.0 * 1000) {
            return Err(ChannelError::InsufficientBalance);
        }
        let ours = self.local_spec_with(&u)?;
        for (s, dust) in [
            (&spec, self.params.counterparty.dust_limit),
            (&ours, self.params.holder.dust_limit),
        ] {
            if dust_exposure(self.channel_type(), s, dust) > config.max_dust_exposure {
                return Err(ChannelError::DustExposureExceeded);
            }
        }
        self.local_changes
            .proposed
            .retain(|x| !matches!(x, Update::Fee(_)));
        self.local_changes.proposed.push(u);
        Ok(())
    }

    /// The feerate of the peer's next commitment: that of our last
    /// `update_fee`, sent or not yet signed, else the current one.
    pub fn next_feerate(&self) -> Result<FeeratePerKw, ChannelError> {
        Ok(self.remote_next_spec(None)?.feerate)
    }

    /// The peer's `update_fee`.
    pub fn receive_fee(
        &mut self,
        feerate: FeeratePerKw,
        estimate: Option<FeeratePerKw>,
        config: &ChannelConfig,
    ) -> Result<(), ChannelError> {
        if self.we_are_funder() {
            return Err(ChannelError::UpdateFeeFromFundee);
        }
        if feerate < FEERATE_FLOOR {
            return Err(ChannelError::FeerateOutOfRange);
        }
        if let Some(est) = estimate {
            let ratio = u64::from(config.max_feerate_ratio.max(1));
            let too_high = u64::from(feerate.0) > u64::from(est.0) * ratio;
            let too_low = !self.channel_type().has_anchors()
                && u64::from(feerate.0) * ratio < u64::from(est.0);
            if too_high || too_low {
                return Err(ChannelError::FeerateOutOfRange);
            }
        }
        let u = Update::Fee(feerate);
        let spec = self.local_next_spec(Some(&u))?;
        let fee = commit_fee(self.channel_type(), &spec, self.params.holder.dust_limit).0 * 1000;
        if spec.to_remote.0 < fee.saturating_add(self.ours.reserve.0 * 1000) {
            return Err(ChannelError::InsufficientBalance);
        }
        if dust_exposure(self.channel_type(), &spec, self.params.holder.dust_limit)
            > config.max_dust_exposure
        {
            return Err(ChannelError::DustExposureExceeded);
        }
        self.remote_changes
            .proposed
            .retain(|x| !matches!(x, Update::Fee(_)));
        self.remote_changes.proposed.push(u);
        Ok(())
    }

    /// Whether we have something to sign and may sign now.
    pub fn can_sign(&self) -> bool {
        matches!(self.remote_next, RemoteNext::Point(_))
            && (!self.local_changes.proposed.is_empty() || !self.remote_changes.acked.is_empty())
    }

    /// Whether we signed a commitment of the peer's that it has not yet
    /// answered with `revoke_and_ack`.
    pub fn awaiting_revocation(&self) -> bool {
        matches!(self.remote_next, RemoteNext::Waiting { .. })
    }

    /// Whether any of our updates is not yet in the peer's commitment.
    pub fn local_has_unsigned(&self) -> bool {
        !self.local_changes.proposed.is_empty()
    }

    /// Signs the peer's commitment `commit`.
    pub fn sign_remote(
        &self,
        keys: &ChannelKeys,
        commit: &RemoteCommit,
    ) -> Result<CommitmentSigned, ChannelError> {
        self.sign_remote_tx(keys, commit, &self.remote_tx_with(keys, commit)?)
    }

    /// Signs `tx`, the already built transaction of the peer's commitment
    /// `commit`.
    fn sign_remote_tx(
        &self,
        keys: &ChannelKeys,
        commit: &RemoteCommit,
        tx: &CommitmentTx,
    ) -> Result<CommitmentSigned, ChannelError> {
        let signature = tx.sign(keys.funding_secret())?;
        let htlc_txs = tx.htlc_txs()?;
        // Our HTLC key only when some HTLC is not trimmed (a point
        // multiplication saved on every commitment without HTLC outputs).
        let htlc_signatures = if htlc_txs.is_empty() {
            Vec::new()
        } else {
            let htlc_key = keys.htlc_key(&commit.point)?;
            htlc_txs
                .iter()
                .map(|h| h.sign_as_countersignatory(&htlc_key))
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(CommitmentSigned {
            channel_id: self.channel_id,
            signature,
            htlc_signatures,
            funding_txid: None,
            extra_tlvs: ExtraTlvs::default(),
        })
    }

    /// `commitment_signed` for everything pending.
    pub fn send_commit(&mut self, keys: &ChannelKeys) -> Result<CommitmentSigned, ChannelError> {
        let RemoteNext::Point(point) = self.remote_next else {
            return Err(ChannelError::InvalidState("waiting for revoke_and_ack"));
        };
        if !self.can_sign() {
            return Err(ChannelError::NothingToCommit);
        }
        let spec = self.remote_next_spec(None)?;
        let index = self.remote_commit.index + 1;
        let mut commit = RemoteCommit {
            index,
            spec,
            point,
            txid: Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
        };
        // Built once: for its txid and to sign it.
        let tx = self.remote_tx_with(keys, &commit)?;
        commit.txid = tx.txid();
        let msg = self.sign_remote_tx(keys, &commit, &tx)?;
        self.remote_next = RemoteNext::Waiting {
            commit,
            sent_after_local_index: self.local_commit.index,
        };
        let p = core::mem::take(&mut self.local_changes.proposed);
        self.local_changes.signed.extend(p);
        let a = core::mem::take(&mut self.remote_changes.acked);
        self.remote_changes.signed.extend(a);
        Ok(msg)
    }

    /// The `revoke_and_ack` for our current commitment (also used to retransmit).
    pub fn revocation(&self, keys: &ChannelKeys) -> Result<RevokeAndAck, ChannelError> {
        let index = self.local_commit.index;
        let revoked = index
            .checked_sub(1)
            .ok_or(ChannelError::InvalidState("nothing revoked"))?;
        // Cached, they cost nothing; else only the secret and the point
        // are derived (not the revocation key).
        let per_commitment_secret = match self.own_cache.get(revoked) {
            Some(e) => e.secret,
            None => keys.per_commitment_secret(revoked)?,
        };
        let next_per_commitment_point = match self.own_cache.get(index + 1) {
            Some(e) => e.own.point(),
            None => keys.per_commitment_point(index + 1)?,
        };
        Ok(RevokeAndAck {
            channel_id: self.channel_id,
            per_commitment_secret,
            next_per_commitment_point,
        })
    }

    /// The peer's `commitment_signed`: checks every signature, adopts the
    /// new commitment and returns our `revoke_and_ack`.
    pub fn receive_commit(
        &mut self,
        keys: &ChannelKeys,
        msg: &CommitmentSigned,
    ) -> Result<RevokeAndAck, ChannelError> {
        if self.remote_changes.proposed.is_empty() && self.local_changes.acked.is_empty() {
            return Err(ChannelError::NothingToCommit);
        }
        let spec = self.local_next_spec(None)?;
        let index = self.local_commit.index + 1;
        let own = self.own_cached(keys, index)?;
        let tx = self.local_tx_with(&own, &spec)?;
        tx.verify(&msg.signature, Side::Counterparty)
            .map_err(|_| ChannelError::InvalidCommitmentSignature)?;
        let htlc_txs = tx.htlc_txs()?;
        if htlc_txs.len() != msg.htlc_signatures.len() {
            return Err(ChannelError::WrongHtlcSignatureCount);
        }
        for (h, s) in htlc_txs.iter().zip(&msg.htlc_signatures) {
            h.verify_countersignatory(s)
                .map_err(|_| ChannelError::InvalidHtlcSignature)?;
        }
        self.local_commit = LocalCommit {
            index,
            spec,
            sig: msg.signature,
            htlc_sigs: msg.htlc_signatures.clone(),
        };
        let p = core::mem::take(&mut self.remote_changes.proposed);
        self.remote_changes.acked.extend(p);
        self.local_changes.acked.clear();
        // Our next point, given now, is that of the next commitment we build.
        self.own_cached(keys, index + 1)?;
        self.revocation(keys)
    }

    /// The peer's `revoke_and_ack`.
    pub fn receive_revocation(&mut self, msg: &RevokeAndAck) -> Result<Settled, ChannelError> {
        let RemoteNext::Waiting { commit, .. } = &self.remote_next else {
            return Err(ChannelError::UnexpectedRevocation);
        };
        let commit = commit.clone();
        if !msg
            .per_commitment_secret
            .is_secret_of(&self.remote_commit.point)
        {
            return Err(ChannelError::InvalidRevocationSecret);
        }
        let mut secrets = self.remote_secrets.clone();
        secrets
            .insert(self.remote_commit.index, &msg.per_commitment_secret)
            .map_err(|_| ChannelError::InvalidRevocationSecret)?;
        self.remote_secrets = secrets;
        let old = core::mem::replace(&mut self.remote_commit, commit);
        self.revoked.push(RevokedCommit {
            index: old.index,
            txid: old.txid,
            to_local: old.spec.to_local,
            to_remote: old.spec.to_remote,
            feerate: old.spec.feerate,
            htlcs: old.spec.tx_htlcs(),
        });
        self.remote_next = RemoteNext::Point(msg.next_per_commitment_point);
        let s = core::mem::take(&mut self.local_changes.signed);
        self.local_changes.acked.extend(s);
        let mut settled = Settled::default();
        for u in core::mem::take(&mut self.remote_changes.signed) {
            match u {
                Update::Add(a) => settled.received.push(a),
                Update::Fail { id, reason } => settled.failed.push((id, reason)),
                Update::FailMalformed {
                    id,
                    failure_code,
                    sha256_of_onion,
                } => settled
                    .failed_malformed
                    .push((id, failure_code, sha256_of_onion)),
                _ => {}
            }
        }
        Ok(settled)
    }

    /// On disconnection: the peer's unsigned updates are forgotten (it will
    /// not retransmit them); ours stay and are sent again after reestablish.
    pub fn drop_remote_proposed(&mut self) {
        let adds = self
            .remote_changes
            .proposed
            .iter()
            .filter(|u| matches!(u, Update::Add(_)))
            .count() as u64;
        self.remote_changes.proposed.clear();
        self.remote_next_htlc_id -= adds;
    }

    /// Our balance, the peer's, and the HTLCs in flight, on our current commitment.
    pub fn balances(&self) -> (Msat, Msat, Msat) {
        let s = &self.local_commit.spec;
        (s.to_local, s.to_remote, s.htlc_total())
    }

    /// The fully signed transaction of our current commitment.
    pub fn signed_local_tx(
        &self,
        keys: &ChannelKeys,
    ) -> Result<(CommitmentTx, bitcoin::Transaction), ChannelError> {
        let c = &self.local_commit;
        let tx = self.local_tx(keys, c.index, &c.spec)?;
        let ours = tx.sign(keys.funding_secret())?;
        let signed = tx.finalize(&ours, &c.sig)?;
        Ok((tx, signed))
    }

    /// The scriptPubKey of the funding output.
    pub fn funding_script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2wsh(&self.params.funding_script().wscript_hash())
    }

    /// The HTLCs we offered that a commitment or a change still holds: those
    /// on our current commitment, on the peer's current one and, with
    /// `include_remote_next`, on the peer's next one we signed, then the adds
    /// we proposed, signed or had acked. In that order, each id once (its
    /// first occurrence).
    pub fn offered_htlcs(&self, include_remote_next: bool) -> Vec<&HtlcAdd> {
        let remote_next = match &self.remote_next {
            RemoteNext::Waiting { commit, .. } if include_remote_next => {
                commit.spec.htlcs.as_slice()
            }
            _ => &[],
        };
        let from_specs = self
            .local_commit
            .spec
            .htlcs
            .iter()
            .filter(|h| h.dir == HtlcDir::Offered)
            .chain(
                self.remote_commit
                    .spec
                    .htlcs
                    .iter()
                    .chain(remote_next)
                    .filter(|h| h.dir == HtlcDir::Received),
            )
            .map(|h| &h.add);
        let from_changes = self.local_changes.all().filter_map(|u| match u {
            Update::Add(a) => Some(a),
            _ => None,
        });
        let mut out: Vec<&HtlcAdd> = Vec::new();
        for a in from_specs.chain(from_changes) {
            if !out.iter().any(|o| o.id == a.id) {
                out.push(a);
            }
        }
        out
    }
}

/// Builds `broadcaster`'s commitment for `spec` (owner's view).
pub fn build(
    params: &ChannelParams,
    broadcaster: Side,
    index: u64,
    point: &PerCommitmentPoint,
    spec: &Spec,
) -> Result<CommitmentTx, ChannelError> {
    Ok(CommitmentTx::build(
        params,
        broadcaster,
        &commitment_spec(index, point, spec),
    )?)
}

fn commitment_spec(index: u64, point: &PerCommitmentPoint, spec: &Spec) -> CommitmentSpec {
    CommitmentSpec {
        commitment_number: index,
        per_commitment_point: *point,
        to_broadcaster: spec.to_local,
        to_countersignatory: spec.to_remote,
        htlcs: spec.tx_htlcs(),
        feerate: spec.feerate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ChannelKeyIndex, WalletKeys};

    #[test]
    fn own_cache_keeps_the_last_three_and_is_ignored_by_eq() {
        let wallet = WalletKeys::from_seed(&[7; 32], bitcoin::Network::Regtest).unwrap();
        let keys = wallet
            .channel_keys(ChannelKeyIndex::new(0).unwrap())
            .unwrap();
        let rb =
            RevocationBasepoint::from_secret(&secp256k1::SecretKey::from_slice(&[3; 32]).unwrap());
        let mut cache = OwnCache::default();
        for n in 0..5 {
            let e = OwnCommitment::derive(&keys, &rb, n).unwrap();
            assert_eq!(e.secret, keys.per_commitment_secret(n).unwrap());
            assert_eq!(e.own.point(), keys.per_commitment_point(n).unwrap());
            assert_eq!(e.own.revocation_key(), rb.derive(&e.own.point()).unwrap());
            cache.put(e);
        }
        assert!(cache.get(1).is_none());
        for n in 2..5 {
            assert_eq!(
                cache.get(n).unwrap().secret,
                keys.per_commitment_secret(n).unwrap()
            );
        }
        assert_eq!(cache, OwnCache::default());
        let shown = format!("{cache:?}");
        assert!(shown.contains("indices"));
        for n in 2..5 {
            let s = keys.per_commitment_secret(n).unwrap();
            let hex: String = s.0.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!shown.contains(&hex));
        }
    }
}
