//! Identifiers and fixed-size values that appear in messages.

use core::fmt;

use bitcoin::hashes::Hash;
use bitcoin::Txid;

use crate::util::to_hex;

/// A channel id (BOLT 2): the funding txid XORed with the funding output
/// index, or a temporary id before funding. All zeroes in `error` and
/// `warning` means "every channel".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChannelId(pub [u8; 32]);

impl ChannelId {
    /// The all-zero id (refers to all channels in `error`/`warning`).
    pub const ALL: ChannelId = ChannelId([0; 32]);

    /// The id of the channel funded by output `index` of `txid`: the txid
    /// bytes (in wire order) with the big-endian index XORed into the last two.
    pub fn from_funding_outpoint(txid: &Txid, index: u16) -> Self {
        let mut id = txid.to_byte_array();
        let ix = index.to_be_bytes();
        id[30] ^= ix[0];
        id[31] ^= ix[1];
        Self(id)
    }

    /// `true` for the all-zero id.
    pub fn is_all(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({self})")
    }
}

/// The preimage revealed by `update_fulfill_htlc`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaymentPreimage(pub [u8; 32]);

impl PaymentPreimage {
    /// SHA256 of the preimage: the payment hash it unlocks.
    pub fn payment_hash(&self) -> crate::types::PaymentHash {
        crate::types::PaymentHash(bitcoin::hashes::sha256::Hash::hash(&self.0).to_byte_array())
    }
}

impl fmt::Debug for PaymentPreimage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaymentPreimage(..)")
    }
}

/// Length of the onion packet carried by `update_add_htlc` (BOLT 4).
pub const ONION_PACKET_LEN: usize = 1366;

/// The 1366-byte BOLT 4 onion routing packet, kept opaque here.
#[derive(Clone, PartialEq, Eq)]
pub struct OnionPacket(pub Box<[u8; ONION_PACKET_LEN]>);

impl fmt::Debug for OnionPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OnionPacket(version {}, {}..)", self.0[0], to_hex(&self.0[1..9]))
    }
}

/// The 32-byte `alias` of a `node_announcement`: UTF-8 padded with zeros
/// by convention, but any bytes are allowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeAlias(pub [u8; 32]);

impl NodeAlias {
    /// The alias as text: up to the first zero byte, invalid UTF-8 replaced
    /// and control characters dropped, safe to show or log.
    pub fn to_display_string(&self) -> String {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(32);
        String::from_utf8_lossy(&self.0[..end]).chars().filter(|c| !c.is_control()).collect()
    }
}

impl fmt::Display for NodeAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_string())
    }
}

impl fmt::Debug for NodeAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeAlias({:?})", self.to_display_string())
    }
}
