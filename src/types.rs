//! Small value types shared across modules. Each wraps a primitive so that
//! millisatoshis, satoshis, hashes and identifiers cannot be mixed up.

use core::fmt;
use core::str::FromStr;

use crate::util::to_hex;

/// An amount in millisatoshis (the unit of HTLCs and invoices).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msat(pub u64);

/// An amount in satoshis (the unit of on-chain outputs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sat(pub u64);

impl Msat {
    /// Whole satoshis, rounded down.
    pub fn to_sat_floor(self) -> Sat {
        Sat(self.0 / 1000)
    }
}

impl Sat {
    /// The same amount in millisatoshis, `None` on overflow.
    pub fn to_msat(self) -> Option<Msat> {
        self.0.checked_mul(1000).map(Msat)
    }
}

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), to_hex(&self.0))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&to_hex(&self.0))
            }
        }
    };
}

bytes32!(
    /// SHA256 of a payment preimage: what an HTLC is locked to.
    PaymentHash
);
bytes32!(
    /// The secret a payer puts in the final onion hop (BOLT 4 `payment_secret`).
    PaymentSecret
);

/// A short channel id: block height, transaction index and output index of
/// the funding output, packed into 64 bits (BOLT 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShortChannelId(pub u64);

impl ShortChannelId {
    /// Packs the three parts; `None` if a part does not fit its bits
    /// (24 bits block, 24 bits tx index, 16 bits output).
    pub fn new(block: u32, tx_index: u32, output: u16) -> Option<Self> {
        if block >= 1 << 24 || tx_index >= 1 << 24 {
            return None;
        }
        Some(Self(
            u64::from(block) << 40 | u64::from(tx_index) << 16 | u64::from(output),
        ))
    }
    pub fn block(self) -> u32 {
        (self.0 >> 40) as u32
    }
    pub fn tx_index(self) -> u32 {
        (self.0 >> 16) as u32 & 0xff_ffff
    }
    pub fn output(self) -> u16 {
        self.0 as u16
    }
}

impl fmt::Display for ShortChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.block(), self.tx_index(), self.output())
    }
}

/// Parses the `BLOCKxTXxOUTPUT` form.
impl FromStr for ShortChannelId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut it = s.split('x');
        let (Some(b), Some(t), Some(o), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(());
        };
        let num = |p: &str| -> Result<u32, ()> {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(());
            }
            p.parse().map_err(|_| ())
        };
        let o = u16::try_from(num(o)?).map_err(|_| ())?;
        Self::new(num(b)?, num(t)?, o).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_channel_id_parts_and_text() {
        let scid = ShortChannelId::new(589390, 3312, 1).unwrap();
        assert_eq!(scid.0, 0x08fe_4e00_0cf0_0001);
        assert_eq!(scid.to_string(), "589390x3312x1");
        assert_eq!("589390x3312x1".parse::<ShortChannelId>(), Ok(scid));
        assert!("1x2".parse::<ShortChannelId>().is_err());
        assert!("1x2x3x4".parse::<ShortChannelId>().is_err());
        assert!("16777216x0x0".parse::<ShortChannelId>().is_err());
        assert!("1x+2x3".parse::<ShortChannelId>().is_err());
        assert!("1x2x65536".parse::<ShortChannelId>().is_err());
    }

    #[test]
    fn msat_sat() {
        assert_eq!(Msat(1999).to_sat_floor(), Sat(1));
        assert_eq!(Sat(2).to_msat(), Some(Msat(2000)));
        assert_eq!(Sat(u64::MAX).to_msat(), None);
    }
}
