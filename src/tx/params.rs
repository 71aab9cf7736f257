//! Channel parameters shared by every transaction of a channel.

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{OutPoint, ScriptBuf};

use super::script::funding_script;
use super::TxError;
use crate::keys::ChannelPublicKeys;
use crate::types::Sat;

/// Expected weight of a commitment transaction without HTLCs (static_remotekey).
pub const COMMITMENT_WEIGHT_STATIC: u64 = 724;
/// Expected weight of a commitment transaction without HTLCs (anchors).
pub const COMMITMENT_WEIGHT_ANCHORS: u64 = 1124;
/// Weight added to a commitment transaction by each untrimmed HTLC output.
pub const HTLC_OUTPUT_WEIGHT: u64 = 172;
/// Expected weight of an HTLC-timeout transaction (static_remotekey).
pub const HTLC_TIMEOUT_WEIGHT_STATIC: u64 = 663;
/// Expected weight of an HTLC-timeout transaction (anchors; its fee is 0).
pub const HTLC_TIMEOUT_WEIGHT_ANCHORS: u64 = 666;
/// Expected weight of an HTLC-success transaction (static_remotekey).
pub const HTLC_SUCCESS_WEIGHT_STATIC: u64 = 703;
/// Expected weight of an HTLC-success transaction (anchors; its fee is 0).
pub const HTLC_SUCCESS_WEIGHT_ANCHORS: u64 = 706;
/// Value of each anchor output.
pub const ANCHOR_OUTPUT_VALUE: Sat = Sat(330);
/// Most HTLCs one commitment may carry (483 in each direction, BOLT 2).
pub const MAX_HTLCS: usize = 2 * 483;

/// A feerate in satoshis per 1000 weight units, as in `update_fee`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeeratePerKw(pub u32);

impl FeeratePerKw {
    /// `feerate * weight / 1000`, rounded down. Cannot overflow for any
    /// `u32` feerate and any weight below 2^32.
    pub fn fee(self, weight: u64) -> Result<Sat, TxError> {
        u64::from(self.0)
            .checked_mul(weight)
            .map(|x| Sat(x / 1000))
            .ok_or(TxError::AmountOverflow)
    }
}

/// The commitment format of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// `option_static_remotekey`: `to_remote` is P2WPKH to the peer's payment
    /// basepoint; HTLC transactions carry their own fee, signed SIGHASH_ALL.
    StaticRemoteKey,
    /// `option_anchors` (zero-fee HTLC transactions): two 330-sat anchors,
    /// `to_remote` and HTLC outputs CSV-1 locked, HTLC transactions have no
    /// fee and the countersignatory signs them SIGHASH_SINGLE|ANYONECANPAY.
    Anchors,
}

impl ChannelType {
    /// Whether anchor outputs (and zero-fee HTLC transactions) apply.
    pub fn has_anchors(self) -> bool {
        self == ChannelType::Anchors
    }
}

/// One of the two parties of a channel, from our point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Us.
    Holder,
    /// The peer.
    Counterparty,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::Holder => Side::Counterparty,
            Side::Counterparty => Side::Holder,
        }
    }
}

/// What one party brings to a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartyParams {
    /// The party's funding key and basepoints.
    pub keys: ChannelPublicKeys,
    /// The party's `dust_limit_satoshis`: applies to the party's own
    /// commitment transactions.
    pub dust_limit: Sat,
    /// CSV delay on this party's own `to_local` and second-stage HTLC
    /// outputs. Note: this is the `to_self_delay` the *other* party sent in
    /// its `open_channel` / `accept_channel`.
    pub to_self_delay: u16,
}

/// Static parameters of a channel, fixed at funding time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelParams {
    pub funding_outpoint: OutPoint,
    pub funding_amount: Sat,
    pub channel_type: ChannelType,
    /// The party that opened (funded) the channel and pays commitment fees
    /// and anchors.
    pub opener: Side,
    pub holder: PartyParams,
    pub counterparty: PartyParams,
}

impl ChannelParams {
    /// The parameters of `side`.
    pub fn party(&self, side: Side) -> &PartyParams {
        match side {
            Side::Holder => &self.holder,
            Side::Counterparty => &self.counterparty,
        }
    }

    /// The funding output's witness script.
    pub fn funding_script(&self) -> ScriptBuf {
        funding_script(
            &self.holder.keys.funding_pubkey,
            &self.counterparty.keys.funding_pubkey,
        )
    }

    /// Lower 48 bits of `SHA256(opener payment_basepoint || accepter payment_basepoint)`.
    pub fn obscuring_factor(&self) -> u64 {
        let opener = self.party(self.opener).keys.payment_basepoint;
        let accepter = self.party(self.opener.other()).keys.payment_basepoint;
        let mut e = sha256::Hash::engine();
        e.input(&opener.serialize());
        e.input(&accepter.serialize());
        let h = sha256::Hash::from_engine(e).to_byte_array();
        let mut v = [0u8; 8];
        v[2..].copy_from_slice(&h[26..]);
        u64::from_be_bytes(v)
    }
}
