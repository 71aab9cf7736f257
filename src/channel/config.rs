//! What we ask of a channel and what we accept from a peer.

use bitcoin::constants::ChainHash;
use bitcoin::ScriptBuf;

use crate::tx::FeeratePerKw;
use crate::types::{Msat, Sat};
use crate::wire::{lnwasm_init_features, Feature, Features};

/// The smallest `dust_limit_satoshis` BOLT 2 allows (any segwit output below
/// it would be non-standard).
pub const MIN_DUST_LIMIT: Sat = Sat(354);
/// BOLT 2's cap on `max_accepted_htlcs`.
pub const MAX_ACCEPTED_HTLCS_LIMIT: u16 = 483;
/// Largest funding without `option_support_large_channel`.
pub const MAX_FUNDING_NO_WUMBO: Sat = Sat((1 << 24) - 1);
/// The lowest feerate a transaction relays at (1 sat/vbyte).
pub const FEERATE_FLOOR: FeeratePerKw = FeeratePerKw(253);

/// Our side of every channel plus the bounds we put on the peer's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    pub chain_hash: ChainHash,

    // ----- what we send in open_channel / accept_channel -----
    /// Our `dust_limit_satoshis`.
    pub dust_limit: Sat,
    /// The reserve the *peer* must keep, as a fraction of the capacity in
    /// millionths (10_000 = 1%).
    pub reserve_ppm: u32,
    /// `to_self_delay` we impose on the peer's outputs.
    pub to_self_delay: u16,
    /// Our `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
    /// Our `max_accepted_htlcs`.
    pub max_accepted_htlcs: u16,
    /// Our `max_htlc_value_in_flight_msat` as a fraction of the capacity in
    /// millionths (1_000_000 = all of it).
    pub max_in_flight_ppm: u32,
    /// `minimum_depth` we require as fundee.
    pub minimum_depth: u32,
    /// Our `upfront_shutdown_script` (with `option_upfront_shutdown_script`).
    pub upfront_shutdown_script: Option<ScriptBuf>,
    /// Negotiate `option_anchors_zero_fee_htlc_tx`: advertise it in `init`
    /// ([`Self::init_features`]), propose it as funder and accept it as
    /// fundee. Off by default: an anchors commitment may carry a feerate too
    /// low to confirm and its HTLC transactions carry no fee at all, so
    /// enforcing one on chain needs coins of our own to bump it with (CPFP
    /// through the anchor, a fee input on each HTLC transaction), which only
    /// an application that does that bumping has. Without it channels are
    /// `option_static_remotekey`, whose every transaction pays its own fee.
    pub anchors: bool,
    /// Ask for (as funder) or accept (as fundee) zero-conf channels.
    pub zero_conf: bool,

    // ----- bounds on what the peer sends -----
    pub max_peer_dust_limit: Sat,
    pub max_peer_to_self_delay: u16,
    /// Largest reserve the peer may impose on us, in millionths of the capacity.
    pub max_peer_reserve_ppm: u32,
    /// Smallest `max_htlc_value_in_flight_msat` we accept, in millionths.
    pub min_peer_max_in_flight_ppm: u32,
    pub max_peer_htlc_minimum: Msat,
    /// Smallest `max_accepted_htlcs` we accept from the peer.
    pub min_peer_max_accepted_htlcs: u16,
    pub max_minimum_depth: u32,
    pub min_funding: Sat,
    pub max_funding: Sat,
    /// Most value in HTLCs trimmed to dust we accept on either commitment.
    pub max_dust_exposure: Msat,
    /// Largest ratio between a peer's feerate and our estimate (both ways);
    /// low feerates are accepted under anchors (the commitment can be
    /// bumped with CPFP) as long as they are above [`FEERATE_FLOOR`].
    pub max_feerate_ratio: u32,
}

impl ChannelConfig {
    /// Reasonable defaults for a wallet on `chain_hash`.
    pub fn new(chain_hash: ChainHash) -> Self {
        Self {
            chain_hash,
            dust_limit: Sat(546),
            reserve_ppm: 10_000,
            to_self_delay: 144,
            htlc_minimum: Msat(1),
            max_accepted_htlcs: 30,
            max_in_flight_ppm: 1_000_000,
            minimum_depth: 3,
            upfront_shutdown_script: None,
            anchors: false,
            zero_conf: false,
            max_peer_dust_limit: Sat(5_000),
            max_peer_to_self_delay: 2016,
            max_peer_reserve_ppm: 200_000,
            min_peer_max_in_flight_ppm: 10_000,
            max_peer_htlc_minimum: Msat(1_000_000),
            min_peer_max_accepted_htlcs: 5,
            max_minimum_depth: 144,
            min_funding: Sat(20_000),
            max_funding: Sat(100_000_000),
            max_dust_exposure: Msat(5_000_000),
            max_feerate_ratio: 10,
        }
    }

    /// The features to send in `init` with this configuration:
    /// [`lnwasm_init_features`], plus `option_anchors` (optional) when
    /// [`Self::anchors`] is on.
    pub fn init_features(&self) -> Features {
        let mut f = lnwasm_init_features();
        if self.anchors {
            f.set_optional(Feature::AnchorsZeroFeeHtlcTx);
        }
        f
    }

    /// `part_per_million` of `capacity`, rounded down.
    pub(crate) fn ppm(capacity: Sat, ppm: u32) -> Sat {
        Sat((u128::from(capacity.0) * u128::from(ppm) / 1_000_000) as u64)
    }
}

/// Limits on inbound channels that are not funded (or not confirmed) yet,
/// applied by the layer that owns the channels of all peers (see
/// [`PendingChannelLimits`](super::PendingChannelLimits)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingLimits {
    pub per_peer: usize,
    pub total: usize,
    /// Seconds after which an inbound channel without confirmed funding is forgotten.
    pub timeout_secs: u64,
}

impl Default for PendingLimits {
    fn default() -> Self {
        Self {
            per_peer: 2,
            total: 20,
            timeout_secs: 2 * 24 * 3600,
        }
    }
}
