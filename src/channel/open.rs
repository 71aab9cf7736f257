//! Channel establishment v1: `open_channel`, `accept_channel`,
//! `funding_created`, `funding_signed`, `channel_ready`, with `channel_type`
//! negotiation and the checks of every parameter the peer chooses.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{OutPoint, ScriptBuf, Transaction};

use crate::keys::{
    ChannelKeyIndex, ChannelKeys, ChannelPublicKeys, CommitmentSecretStore, PerCommitmentPoint,
};
use crate::tx::{ChannelParams, ChannelType, FeeratePerKw, PartyParams, Side};
use crate::types::{Msat, Sat, ShortChannelId};
use crate::wire::{
    AcceptChannel, ChannelId, ChannelReady, ExtraTlvs, Feature, Features, FundingCreated,
    FundingSigned, Message, OpenChannel, CHANNEL_FLAG_ANNOUNCE,
};

use super::commitments::{
    build, Changes, Commitments, Limits, LocalCommit, RemoteCommit, RemoteNext,
};
use super::config::{
    ChannelConfig, MAX_ACCEPTED_HTLCS_LIMIT, MAX_FUNDING_NO_WUMBO, MIN_DUST_LIMIT,
};
use super::spec::{commit_fee, Spec};
use super::{Action, Channel, ChannelError, Event, Funded, Link, Out, State, Status};

/// What the funder asks for.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    /// Chosen by the caller (random), unique per peer.
    pub temporary_channel_id: ChannelId,
    pub funding: Sat,
    pub push: Msat,
    pub feerate: FeeratePerKw,
    pub announce: bool,
    /// The peer's `init` features.
    pub peer_features: Features,
    /// Our `init` features (for `option_upfront_shutdown_script`, large channels).
    pub our_features: Features,
    /// Seconds since the epoch.
    pub now: u64,
}

/// Both sides' parameters once `open_channel` / `accept_channel` are agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub temporary_channel_id: ChannelId,
    pub opener: Side,
    pub funding: Sat,
    pub push: Msat,
    pub feerate: FeeratePerKw,
    pub channel_type: ChannelType,
    pub zero_conf: bool,
    pub scid_alias: bool,
    pub ours: Limits,
    pub theirs: Limits,
    pub our_dust: Sat,
    pub their_dust: Sat,
    /// Delay on our outputs (chosen by the peer).
    pub our_delay: u16,
    /// Delay on the peer's outputs (chosen by us).
    pub their_delay: u16,
    pub their_keys: ChannelPublicKeys,
    pub their_first_point: PerCommitmentPoint,
    pub minimum_depth: u32,
    pub our_upfront_script: Option<ScriptBuf>,
    pub their_upfront_script: Option<ScriptBuf>,
}

/// The `channel_type` bits we propose to a peer with `peer` init features.
fn proposed_type(config: &ChannelConfig, peer: &Features) -> (ChannelType, Features) {
    let mut f = Features::empty();
    f.set_required(Feature::StaticRemoteKey);
    let ct = if config.anchors && peer.supports(Feature::AnchorsZeroFeeHtlcTx) {
        f.set_required(Feature::AnchorsZeroFeeHtlcTx);
        ChannelType::Anchors
    } else {
        ChannelType::StaticRemoteKey
    };
    if config.zero_conf && peer.supports(Feature::ZeroConf) && peer.supports(Feature::ScidAlias) {
        f.set_required(Feature::ScidAlias);
        f.set_required(Feature::ZeroConf);
    }
    (ct, f)
}

/// Parses a `channel_type`: (type, scid_alias, zero_conf), or refuses.
fn parse_type(
    f: &Features,
    config: &ChannelConfig,
) -> Result<(ChannelType, bool, bool), ChannelError> {
    let known = [
        Feature::StaticRemoteKey.required_bit(),
        Feature::AnchorsZeroFeeHtlcTx.required_bit(),
        Feature::ScidAlias.required_bit(),
        Feature::ZeroConf.required_bit(),
    ];
    if f.bits().any(|b| !known.contains(&b)) || !f.has_bit(Feature::StaticRemoteKey.required_bit())
    {
        return Err(ChannelError::UnsupportedChannelType);
    }
    let anchors = f.has_bit(Feature::AnchorsZeroFeeHtlcTx.required_bit());
    let alias = f.has_bit(Feature::ScidAlias.required_bit());
    let zc = f.has_bit(Feature::ZeroConf.required_bit());
    if (zc && !config.zero_conf) || (anchors && !config.anchors) {
        return Err(ChannelError::UnsupportedChannelType);
    }
    Ok((
        if anchors {
            ChannelType::Anchors
        } else {
            ChannelType::StaticRemoteKey
        },
        alias,
        zc,
    ))
}

fn is_valid_shutdown_script(s: &ScriptBuf) -> bool {
    s.is_p2pkh() || s.is_p2sh() || s.is_p2wpkh() || s.is_p2wsh() || s.is_p2tr() || s.is_empty()
}

/// The checks BOLT 2 lists for the peer's side of an opening, shared by
/// `open_channel` (we are fundee) and `accept_channel` (we are funder).
#[allow(clippy::too_many_arguments)]
fn check_peer_side(
    config: &ChannelConfig,
    funding: Sat,
    their_dust: Sat,
    their_reserve: Sat,
    our_dust: Sat,
    our_reserve_for_them: Sat,
    to_self_delay: u16,
    max_accepted: u16,
    max_in_flight: Msat,
    htlc_minimum: Msat,
    upfront: &Option<ScriptBuf>,
) -> Result<(), ChannelError> {
    if their_dust < MIN_DUST_LIMIT || their_dust > config.max_peer_dust_limit {
        return Err(ChannelError::DustLimitOutOfRange);
    }
    if to_self_delay > config.max_peer_to_self_delay {
        return Err(ChannelError::ToSelfDelayTooLarge);
    }
    if max_accepted == 0
        || max_accepted > MAX_ACCEPTED_HTLCS_LIMIT
        || max_accepted < config.min_peer_max_accepted_htlcs
    {
        return Err(ChannelError::MaxAcceptedHtlcsOutOfRange);
    }
    if max_in_flight < Msat(ChannelConfig::ppm(funding, config.min_peer_max_in_flight_ppm).0 * 1000)
    {
        return Err(ChannelError::MaxInFlightTooSmall);
    }
    if htlc_minimum > config.max_peer_htlc_minimum {
        return Err(ChannelError::HtlcMinimumTooLarge);
    }
    if their_reserve > ChannelConfig::ppm(funding, config.max_peer_reserve_ppm) {
        return Err(ChannelError::ReserveTooLarge);
    }
    // The reserve each side imposes must be at least the other side's dust limit.
    if their_reserve < our_dust || our_reserve_for_them < their_dust {
        return Err(ChannelError::ReserveBelowDustLimit);
    }
    if let Some(s) = upfront {
        if !is_valid_shutdown_script(s) {
            return Err(ChannelError::InvalidShutdownScript);
        }
    }
    Ok(())
}

/// The reserve we impose on the peer: our ppm of the capacity, at least our
/// dust limit... and at least the peer's dust limit (BOLT 2).
fn our_reserve(config: &ChannelConfig, funding: Sat, their_dust: Sat) -> Sat {
    Sat(ChannelConfig::ppm(funding, config.reserve_ppm)
        .0
        .max(config.dust_limit.0)
        .max(their_dust.0))
}

fn check_feerate(
    config: &ChannelConfig,
    feerate: FeeratePerKw,
    estimate: Option<FeeratePerKw>,
    ct: ChannelType,
) -> Result<(), ChannelError> {
    if feerate < super::FEERATE_FLOOR {
        return Err(ChannelError::FeerateOutOfRange);
    }
    if let Some(est) = estimate {
        let r = u64::from(config.max_feerate_ratio.max(1));
        if u64::from(feerate.0) > u64::from(est.0) * r
            || (!ct.has_anchors() && u64::from(feerate.0) * r < u64::from(est.0))
        {
            return Err(ChannelError::FeerateOutOfRange);
        }
    }
    Ok(())
}

/// A deterministic `scid_alias` for a channel (alias range: block heights
/// above any real chain for a long time).
fn alias_for(id: &ChannelId) -> ShortChannelId {
    let h = sha256::Hash::hash(&id.0).to_byte_array();
    let block = 0x90_0000 | (u32::from(h[0]) << 8 | u32::from(h[1]));
    let tx = u32::from(h[2]) << 16 | u32::from(h[3]) << 8 | u32::from(h[4]);
    ShortChannelId::new(block & 0xff_ffff, tx, u16::from(h[5])).unwrap_or(ShortChannelId(1))
}

impl Negotiated {
    fn params(&self, ours: &ChannelPublicKeys, outpoint: OutPoint) -> ChannelParams {
        ChannelParams {
            funding_outpoint: outpoint,
            funding_amount: self.funding,
            channel_type: self.channel_type,
            opener: self.opener,
            holder: PartyParams {
                keys: *ours,
                dust_limit: self.our_dust,
                to_self_delay: self.our_delay,
            },
            counterparty: PartyParams {
                keys: self.their_keys,
                dust_limit: self.their_dust,
                to_self_delay: self.their_delay,
            },
        }
    }

    /// Initial specs (ours, the peer's), each from its owner's view.
    fn initial_specs(&self) -> Result<(Spec, Spec), ChannelError> {
        let total = self
            .funding
            .to_msat()
            .ok_or(ChannelError::FundingOutOfRange)?;
        let funder = Msat(
            total
                .0
                .checked_sub(self.push.0)
                .ok_or(ChannelError::PushExceedsFunding)?,
        );
        let (l, r) = if self.opener == Side::Holder {
            (funder, self.push)
        } else {
            (self.push, funder)
        };
        let ours = Spec {
            htlcs: vec![],
            to_local: l,
            to_remote: r,
            feerate: self.feerate,
        };
        let theirs = ours.flipped();
        Ok((ours, theirs))
    }

    /// The commitments at funding, with the peer's signature on ours still to check.
    fn commitments(
        &self,
        keys: &ChannelKeys,
        outpoint: OutPoint,
    ) -> Result<Commitments, ChannelError> {
        let params = self.params(&keys.pubkeys(), outpoint);
        let (ls, rs) = self.initial_specs()?;
        let channel_id = ChannelId::from_funding_outpoint(&outpoint.txid, outpoint.vout as u16);
        let rtx = build(&params, Side::Counterparty, 0, &self.their_first_point, &rs)?;
        let placeholder = secp256k1::ecdsa::Signature::from_compact(&[1u8; 64])
            .map_err(|_| ChannelError::InvalidState("sig"))?;
        Ok(Commitments {
            channel_id,
            params,
            ours: self.ours,
            theirs: self.theirs,
            local_commit: LocalCommit {
                index: 0,
                spec: ls,
                sig: placeholder,
                htlc_sigs: vec![],
            },
            remote_commit: RemoteCommit {
                index: 0,
                spec: rs,
                point: self.their_first_point,
                txid: rtx.txid(),
            },
            remote_next: RemoteNext::Unknown,
            local_changes: Changes::default(),
            remote_changes: Changes::default(),
            local_next_htlc_id: 0,
            remote_next_htlc_id: 0,
            remote_secrets: CommitmentSecretStore::new(),
            revoked: super::RevokedList::new(),
            own_cache: Default::default(),
        })
    }
}

impl Channel {
    /// Funder: starts a channel and returns the `open_channel` to send.
    pub fn open(
        config: ChannelConfig,
        keys: ChannelKeys,
        key_index: ChannelKeyIndex,
        req: OpenRequest,
    ) -> Result<(Channel, Vec<Action>), ChannelError> {
        if req.push.0 > req.funding.0.saturating_mul(1000) {
            return Err(ChannelError::PushExceedsFunding);
        }
        if req.funding > MAX_FUNDING_NO_WUMBO
            && !req
                .peer_features
                .mutually_supports(&req.our_features, Feature::LargeChannels)
        {
            return Err(ChannelError::LargeChannelNotNegotiated);
        }
        let (_, ct_bits) = proposed_type(&config, &req.peer_features);
        let upfront = if req
            .peer_features
            .mutually_supports(&req.our_features, Feature::UpfrontShutdownScript)
        {
            Some(config.upfront_shutdown_script.clone().unwrap_or_default())
        } else {
            None
        };
        let open = OpenChannel {
            chain_hash: config.chain_hash,
            temporary_channel_id: req.temporary_channel_id,
            funding: req.funding,
            push: req.push,
            dust_limit: config.dust_limit,
            max_htlc_value_in_flight: Msat(
                ChannelConfig::ppm(req.funding, config.max_in_flight_ppm).0 * 1000,
            ),
            channel_reserve: our_reserve(&config, req.funding, Sat(0)),
            htlc_minimum: config.htlc_minimum,
            feerate_per_kw: req.feerate.0,
            to_self_delay: config.to_self_delay,
            max_accepted_htlcs: config.max_accepted_htlcs,
            keys: keys.pubkeys(),
            first_per_commitment_point: keys.per_commitment_point(0)?,
            channel_flags: if req.announce {
                CHANNEL_FLAG_ANNOUNCE
            } else {
                0
            },
            upfront_shutdown_script: upfront,
            channel_type: Some(ct_bits),
            extra_tlvs: ExtraTlvs::default(),
        };
        let ch = Channel {
            keys,
            key_index,
            config,
            state: State::WaitAcceptChannel { open: open.clone() },
            link: Link::Online,
            update_number: 0,
            fee_estimate: None,
            created_at: req.now,
            tip: 0,
        };
        Ok((ch, vec![Action::Send(Message::OpenChannel(open))]))
    }

    /// Fundee: answers the peer's `open_channel`. On refusal the actions
    /// hold the `error` to send and no channel is created.
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        config: ChannelConfig,
        keys: ChannelKeys,
        key_index: ChannelKeyIndex,
        our_features: &Features,
        peer_features: &Features,
        open: &OpenChannel,
        fee_estimate: Option<FeeratePerKw>,
        now: u64,
    ) -> Result<(Channel, Vec<Action>), (ChannelError, Vec<Action>)> {
        let refuse = |e: ChannelError| {
            let msg = crate::wire::ErrorMessage::new(open.temporary_channel_id, &e.to_string());
            (e, vec![Action::Send(Message::Error(msg))])
        };
        let n = Self::check_open(
            &config,
            &keys,
            our_features,
            peer_features,
            open,
            fee_estimate,
        )
        .map_err(refuse)?;
        let accept = AcceptChannel {
            temporary_channel_id: open.temporary_channel_id,
            dust_limit: n.our_dust,
            max_htlc_value_in_flight: n.ours.max_in_flight,
            channel_reserve: n.ours.reserve,
            htlc_minimum: n.ours.htlc_minimum,
            minimum_depth: n.minimum_depth,
            to_self_delay: n.their_delay,
            max_accepted_htlcs: n.ours.max_accepted_htlcs,
            keys: keys.pubkeys(),
            first_per_commitment_point: keys
                .per_commitment_point(0)
                .map_err(|e| refuse(e.into()))?,
            upfront_shutdown_script: n.our_upfront_script.clone(),
            channel_type: open.channel_type.clone(),
            extra_tlvs: ExtraTlvs::default(),
        };
        let ch = Channel {
            keys,
            key_index,
            config,
            state: State::WaitFundingCreated { n },
            link: Link::Online,
            update_number: 0,
            fee_estimate,
            created_at: now,
            tip: 0,
        };
        Ok((ch, vec![Action::Send(Message::AcceptChannel(accept))]))
    }

    fn check_open(
        config: &ChannelConfig,
        keys: &ChannelKeys,
        our_features: &Features,
        peer_features: &Features,
        open: &OpenChannel,
        estimate: Option<FeeratePerKw>,
    ) -> Result<Negotiated, ChannelError> {
        if open.chain_hash != config.chain_hash {
            return Err(ChannelError::WrongChain);
        }
        if open.push.0 > open.funding.0.saturating_mul(1000) {
            return Err(ChannelError::PushExceedsFunding);
        }
        if open.funding > MAX_FUNDING_NO_WUMBO
            && !peer_features.mutually_supports(our_features, Feature::LargeChannels)
        {
            return Err(ChannelError::LargeChannelNotNegotiated);
        }
        if open.funding < config.min_funding || open.funding > config.max_funding {
            return Err(ChannelError::FundingOutOfRange);
        }
        let (ct, alias, zc) = match &open.channel_type {
            Some(f) => parse_type(f, config)?,
            None => (ChannelType::StaticRemoteKey, false, false),
        };
        if open.dust_limit > open.channel_reserve {
            return Err(ChannelError::DustLimitAboveReserve);
        }
        let reserve_for_them = our_reserve(config, open.funding, open.dust_limit);
        check_peer_side(
            config,
            open.funding,
            open.dust_limit,
            open.channel_reserve,
            config.dust_limit,
            reserve_for_them,
            open.to_self_delay,
            open.max_accepted_htlcs,
            open.max_htlc_value_in_flight,
            open.htlc_minimum,
            &open.upfront_shutdown_script,
        )?;
        check_feerate(config, FeeratePerKw(open.feerate_per_kw), estimate, ct)?;
        let upfront = peer_features.mutually_supports(our_features, Feature::UpfrontShutdownScript);
        let n = Negotiated {
            temporary_channel_id: open.temporary_channel_id,
            opener: Side::Counterparty,
            funding: open.funding,
            push: open.push,
            feerate: FeeratePerKw(open.feerate_per_kw),
            channel_type: ct,
            zero_conf: zc,
            scid_alias: alias,
            ours: Limits {
                htlc_minimum: config.htlc_minimum,
                max_accepted_htlcs: config.max_accepted_htlcs,
                max_in_flight: Msat(
                    ChannelConfig::ppm(open.funding, config.max_in_flight_ppm).0 * 1000,
                ),
                reserve: reserve_for_them,
            },
            theirs: Limits {
                htlc_minimum: open.htlc_minimum,
                max_accepted_htlcs: open.max_accepted_htlcs,
                max_in_flight: open.max_htlc_value_in_flight,
                reserve: open.channel_reserve,
            },
            our_dust: config.dust_limit,
            their_dust: open.dust_limit,
            our_delay: open.to_self_delay,
            their_delay: config.to_self_delay,
            their_keys: open.keys,
            their_first_point: open.first_per_commitment_point,
            minimum_depth: if zc { 0 } else { config.minimum_depth },
            our_upfront_script: if upfront {
                Some(config.upfront_shutdown_script.clone().unwrap_or_default())
            } else {
                None
            },
            their_upfront_script: open
                .upfront_shutdown_script
                .clone()
                .filter(|s| !s.is_empty()),
        };
        Self::check_initial_balances(&n)?;
        let _ = keys;
        Ok(n)
    }

    /// The funder must pay the initial fee, and some side must be above its reserve.
    fn check_initial_balances(n: &Negotiated) -> Result<(), ChannelError> {
        let (ls, _) = n.initial_specs()?;
        let fee = commit_fee(n.channel_type, &ls, n.our_dust).0 * 1000;
        let (funder_bal, other_bal, funder_reserve, other_reserve) = if n.opener == Side::Holder {
            (
                ls.to_local.0,
                ls.to_remote.0,
                n.theirs.reserve,
                n.ours.reserve,
            )
        } else {
            (
                ls.to_remote.0,
                ls.to_local.0,
                n.ours.reserve,
                n.theirs.reserve,
            )
        };
        if funder_bal < fee.saturating_add(funder_reserve.0 * 1000) {
            return Err(ChannelError::FunderCannotAffordFee);
        }
        if funder_bal - fee <= funder_reserve.0 * 1000 && other_bal <= other_reserve.0 * 1000 {
            return Err(ChannelError::FunderCannotAffordFee);
        }
        Ok(())
    }

    pub(super) fn on_accept_channel(
        &mut self,
        m: AcceptChannel,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let State::WaitAcceptChannel { open } = &self.state else {
            return self.violation(ChannelError::UnexpectedMessage("accept_channel"), out);
        };
        let open = open.clone();
        match self.check_accept(&open, &m) {
            Ok(n) => {
                let script = ScriptBuf::new_p2wsh(
                    &n.params(&self.keys.pubkeys(), OutPoint::null())
                        .funding_script()
                        .wscript_hash(),
                );
                out.event(Event::FundingRequired {
                    temporary_channel_id: n.temporary_channel_id,
                    script_pubkey: script,
                    amount: n.funding,
                });
                self.state = State::WaitFundingTx { n };
                Ok(())
            }
            Err(e) => self.violation(e, out),
        }
    }

    fn check_accept(
        &self,
        open: &OpenChannel,
        m: &AcceptChannel,
    ) -> Result<Negotiated, ChannelError> {
        let config = &self.config;
        if m.temporary_channel_id != open.temporary_channel_id {
            return Err(ChannelError::WrongTemporaryChannelId);
        }
        let proposed = open.channel_type.clone().unwrap_or_default();
        if let Some(t) = &m.channel_type {
            if *t != proposed {
                return Err(ChannelError::ChannelTypeMismatch);
            }
        }
        let (ct, alias, zc) = parse_type(&proposed, config)?;
        if m.dust_limit > m.channel_reserve {
            return Err(ChannelError::DustLimitAboveReserve);
        }
        if m.minimum_depth > config.max_minimum_depth || (m.minimum_depth == 0 && !zc) {
            return Err(ChannelError::MinimumDepthUnacceptable);
        }
        check_peer_side(
            config,
            open.funding,
            m.dust_limit,
            m.channel_reserve,
            open.dust_limit,
            open.channel_reserve,
            m.to_self_delay,
            m.max_accepted_htlcs,
            m.max_htlc_value_in_flight,
            m.htlc_minimum,
            &m.upfront_shutdown_script,
        )?;
        let n = Negotiated {
            temporary_channel_id: open.temporary_channel_id,
            opener: Side::Holder,
            funding: open.funding,
            push: open.push,
            feerate: FeeratePerKw(open.feerate_per_kw),
            channel_type: ct,
            zero_conf: zc && m.minimum_depth == 0,
            scid_alias: alias,
            ours: Limits {
                htlc_minimum: open.htlc_minimum,
                max_accepted_htlcs: open.max_accepted_htlcs,
                max_in_flight: open.max_htlc_value_in_flight,
                reserve: open.channel_reserve,
            },
            theirs: Limits {
                htlc_minimum: m.htlc_minimum,
                max_accepted_htlcs: m.max_accepted_htlcs,
                max_in_flight: m.max_htlc_value_in_flight,
                reserve: m.channel_reserve,
            },
            our_dust: open.dust_limit,
            their_dust: m.dust_limit,
            our_delay: m.to_self_delay,
            their_delay: open.to_self_delay,
            their_keys: m.keys,
            their_first_point: m.first_per_commitment_point,
            minimum_depth: m.minimum_depth,
            our_upfront_script: open
                .upfront_shutdown_script
                .clone()
                .filter(|s| !s.is_empty()),
            their_upfront_script: m.upfront_shutdown_script.clone().filter(|s| !s.is_empty()),
        };
        Self::check_initial_balances(&n)?;
        Ok(n)
    }

    pub(super) fn on_funding_tx(
        &mut self,
        tx: Transaction,
        output_index: u16,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let State::WaitFundingTx { n } = &self.state else {
            return Err(ChannelError::InvalidState(
                "not waiting for a funding transaction",
            ));
        };
        let n = n.clone();
        let outpoint = OutPoint {
            txid: tx.compute_txid(),
            vout: u32::from(output_index),
        };
        let mut c = n.commitments(&self.keys, outpoint)?;
        let expected = c.funding_script_pubkey();
        match tx.output.get(usize::from(output_index)) {
            Some(o) if o.script_pubkey == expected && o.value.to_sat() == n.funding.0 => {}
            _ => return Err(ChannelError::InvalidState("funding output does not match")),
        }
        let sig = c
            .remote_tx(&c.remote_commit)?
            .sign(self.keys.funding_secret())?;
        out.send(Message::FundingCreated(FundingCreated {
            temporary_channel_id: n.temporary_channel_id,
            funding_txid: outpoint.txid,
            funding_output_index: output_index,
            signature: sig,
        }));
        c.channel_id = ChannelId::from_funding_outpoint(&outpoint.txid, output_index);
        self.state = State::WaitFundingSigned {
            n,
            funding_tx: tx,
            c: Box::new(c),
        };
        Ok(())
    }

    pub(super) fn on_funding_created(
        &mut self,
        m: FundingCreated,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let State::WaitFundingCreated { n } = &self.state else {
            return self.violation(ChannelError::UnexpectedMessage("funding_created"), out);
        };
        let n = n.clone();
        if m.temporary_channel_id != n.temporary_channel_id {
            return self.violation(ChannelError::WrongTemporaryChannelId, out);
        }
        let outpoint = OutPoint {
            txid: m.funding_txid,
            vout: u32::from(m.funding_output_index),
        };
        let mut c = n.commitments(&self.keys, outpoint)?;
        let ltx = c.local_tx(&self.keys, 0, &c.local_commit.spec)?;
        if ltx.verify(&m.signature, Side::Counterparty).is_err() {
            return self.violation(ChannelError::InvalidCommitmentSignature, out);
        }
        c.local_commit.sig = m.signature;
        let sig = c
            .remote_tx(&c.remote_commit)?
            .sign(self.keys.funding_secret())?;
        let channel_id = c.channel_id;
        let script_pubkey = c.funding_script_pubkey();
        self.state = State::Funded(Box::new(self.new_funded(c, &n, None)));
        out.persist = true;
        out.send(Message::FundingSigned(FundingSigned {
            channel_id,
            signature: sig,
        }));
        out.event(Event::ChannelFunded {
            channel_id,
            funding_txid: outpoint.txid,
        });
        out.actions.push(Action::WatchFunding {
            txid: outpoint.txid,
            script_pubkey,
            min_depth: n.minimum_depth,
        });
        out.actions.push(Action::WatchSpent { outpoint });
        if n.zero_conf {
            self.send_channel_ready(out)?;
        }
        Ok(())
    }

    pub(super) fn on_funding_signed(
        &mut self,
        m: FundingSigned,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let State::WaitFundingSigned { n, funding_tx, c } = &self.state else {
            return self.violation(ChannelError::UnexpectedMessage("funding_signed"), out);
        };
        let (n, funding_tx, mut c) = (n.clone(), funding_tx.clone(), (**c).clone());
        if m.channel_id != c.channel_id {
            return self.violation(ChannelError::WrongTemporaryChannelId, out);
        }
        let ltx = c.local_tx(&self.keys, 0, &c.local_commit.spec)?;
        if ltx.verify(&m.signature, Side::Counterparty).is_err() {
            return self.violation(ChannelError::InvalidCommitmentSignature, out);
        }
        c.local_commit.sig = m.signature;
        let outpoint = c.params.funding_outpoint;
        let script_pubkey = c.funding_script_pubkey();
        let channel_id = c.channel_id;
        self.state = State::Funded(Box::new(self.new_funded(c, &n, Some(funding_tx.clone()))));
        out.persist = true;
        out.event(Event::ChannelFunded {
            channel_id,
            funding_txid: outpoint.txid,
        });
        out.actions.push(Action::Publish(funding_tx));
        out.actions.push(Action::WatchFunding {
            txid: outpoint.txid,
            script_pubkey,
            min_depth: n.minimum_depth,
        });
        out.actions.push(Action::WatchSpent { outpoint });
        if n.zero_conf {
            self.send_channel_ready(out)?;
        }
        Ok(())
    }

    fn new_funded(
        &self,
        c: Commitments,
        n: &Negotiated,
        funding_tx: Option<Transaction>,
    ) -> Funded {
        let alias = n.scid_alias.then(|| alias_for(&c.channel_id));
        Funded {
            key_index: self.key_index,
            c,
            status: Status::Opening,
            minimum_depth: n.minimum_depth,
            zero_conf: n.zero_conf,
            funding_tx,
            funding_confirmed: false,
            ready_sent: false,
            ready_received: false,
            scid: None,
            our_alias: alias,
            their_alias: None,
            our_upfront_script: n.our_upfront_script.clone().filter(|s| !s.is_empty()),
            their_upfront_script: n.their_upfront_script.clone(),
            local_shutdown: None,
            remote_shutdown: None,
            negotiation: None,
            closing_txs: vec![],
            created_at: self.created_at,
            onchain: Default::default(),
        }
    }

    pub(super) fn channel_ready_msg(&self) -> Result<ChannelReady, ChannelError> {
        let f = self
            .funded()
            .ok_or(ChannelError::InvalidState("not funded"))?;
        Ok(ChannelReady {
            channel_id: f.c.channel_id,
            second_per_commitment_point: self.keys.per_commitment_point(1)?,
            short_channel_id_alias: f.our_alias,
            extra_tlvs: ExtraTlvs::default(),
        })
    }

    fn send_channel_ready(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let msg = self.channel_ready_msg()?;
        let f = self.funded_mut()?;
        f.ready_sent = true;
        out.persist = true;
        out.send(Message::ChannelReady(msg));
        self.maybe_normal(out)
    }

    fn maybe_normal(&mut self, out: &mut Out) -> Result<(), ChannelError> {
        let f = self.funded_mut()?;
        if f.status == Status::Opening && f.ready_sent && f.ready_received {
            f.status = Status::Normal;
            out.persist = true;
            let ev = Event::ChannelReady {
                channel_id: f.c.channel_id,
                scid: f.scid,
                alias: f.our_alias,
            };
            out.event(ev);
            self.follow_fee_estimate(out)?;
        }
        Ok(())
    }

    pub(super) fn on_funding_depth(
        &mut self,
        depth: u32,
        scid: Option<ShortChannelId>,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let f = self.funded_mut()?;
        if scid.is_some() && f.scid != scid {
            f.scid = scid;
            out.persist = true;
        }
        if depth >= f.minimum_depth.max(1) && !f.funding_confirmed {
            f.funding_confirmed = true;
            out.persist = true;
        }
        let can_send = f.funding_confirmed || f.zero_conf;
        if can_send && !f.ready_sent && f.status == Status::Opening && self.link == Link::Online {
            self.send_channel_ready(out)?;
        }
        Ok(())
    }

    pub(super) fn on_channel_ready(
        &mut self,
        m: ChannelReady,
        out: &mut Out,
    ) -> Result<(), ChannelError> {
        let State::Funded(f) = &mut self.state else {
            return self.violation(ChannelError::UnexpectedMessage("channel_ready"), out);
        };
        if f.ready_received {
            // Redundant (e.g. after a reconnection): ignored, but a new alias is taken.
            if m.short_channel_id_alias.is_some() && f.their_alias != m.short_channel_id_alias {
                f.their_alias = m.short_channel_id_alias;
                out.persist = true;
            }
            return Ok(());
        }
        f.ready_received = true;
        f.their_alias = m.short_channel_id_alias;
        if f.c.remote_next == RemoteNext::Unknown {
            f.c.remote_next = RemoteNext::Point(m.second_per_commitment_point);
        }
        out.persist = true;
        self.maybe_normal(out)
    }
}
