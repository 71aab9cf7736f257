//! Per-commitment secrets (BOLT 3 "Per-commitment Secret Requirements" and
//! "Efficient Per-commitment Secret Storage").
//!
//! Secrets are indexed two ways. The shachain *index* `I` starts at
//! 2^48 - 1 and counts down; the *commitment number* starts at 0 and counts
//! up: `I = 2^48 - 1 - commitment_number`. The public API of this crate speaks
//! in commitment numbers; the raw index functions exist for the BOLT 3 vectors.

use bitcoin::hashes::{sha256, Hash};

use super::basepoints::{PerCommitmentPoint, PerCommitmentSecret};
use super::KeyError;

/// The largest shachain index (and the largest commitment number), 2^48 - 1.
pub const SHACHAIN_MAX_INDEX: u64 = (1 << 48) - 1;

/// Shachain index of a commitment number.
pub fn commitment_number_to_index(commitment_number: u64) -> Result<u64, KeyError> {
    if commitment_number > SHACHAIN_MAX_INDEX {
        return Err(KeyError::IndexOutOfRange);
    }
    Ok(SHACHAIN_MAX_INDEX - commitment_number)
}

/// Commitment number of a shachain index.
pub fn index_to_commitment_number(index: u64) -> Result<u64, KeyError> {
    commitment_number_to_index(index)
}

/// `derive_secret(base, bits, I)` of BOLT 3: for each bit `B` below `bits`
/// set in `index`, from high to low, flip bit `B` of the value and hash it.
/// With `bits = 48` and `base` the seed this is `generate_from_seed`.
pub fn shachain_derive(base: &[u8; 32], bits: u32, index: u64) -> [u8; 32] {
    let mut p = *base;
    for b in (0..bits.min(48)).rev() {
        if index >> b & 1 == 1 {
            p[(b / 8) as usize] ^= 1 << (b % 8);
            p = sha256::Hash::hash(&p).to_byte_array();
        }
    }
    p
}

/// The secret seed from which one channel's per-commitment secrets are
/// generated (the sender side of the shachain).
#[derive(Clone, PartialEq, Eq)]
pub struct CommitmentSeed(pub [u8; 32]);

impl core::fmt::Debug for CommitmentSeed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CommitmentSeed(..)")
    }
}

impl CommitmentSeed {
    /// `generate_from_seed(seed, I)` for a raw shachain index.
    pub fn secret_at_index(&self, index: u64) -> Result<PerCommitmentSecret, KeyError> {
        if index > SHACHAIN_MAX_INDEX {
            return Err(KeyError::IndexOutOfRange);
        }
        Ok(PerCommitmentSecret(shachain_derive(&self.0, 48, index)))
    }
    /// The per-commitment secret of commitment `commitment_number`.
    pub fn secret(&self, commitment_number: u64) -> Result<PerCommitmentSecret, KeyError> {
        self.secret_at_index(commitment_number_to_index(commitment_number)?)
    }
    /// The per-commitment point of commitment `commitment_number`.
    pub fn point(&self, commitment_number: u64) -> Result<PerCommitmentPoint, KeyError> {
        self.secret(commitment_number)?.point()
    }
}

/// Derives a [`CommitmentSeed`]'s secrets remembering the intermediate
/// values of the last derivation, so that the next index only re-hashes
/// from the highest bit where the two indexes differ. Secrets are used in
/// order (index counting down by one), so a derivation costs about two
/// hashes instead of one per set bit of the index (about 44 for early
/// commitments). Gives exactly [`CommitmentSeed::secret_at_index`].
#[derive(Clone)]
pub struct SecretCursor {
    seed: [u8; 32],
    /// The index of `levels`, when one was derived.
    last: Option<u64>,
    /// `levels[b]`: the value after the bits 47..=b of `last` were applied
    /// (`levels[0]` is its secret).
    levels: Box<[[u8; 32]; 48]>,
}

impl core::fmt::Debug for SecretCursor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecretCursor")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl SecretCursor {
    pub fn new(seed: &CommitmentSeed) -> Self {
        SecretCursor {
            seed: seed.0,
            last: None,
            levels: Box::new([[0; 32]; 48]),
        }
    }

    /// `generate_from_seed(seed, I)` for a raw shachain index.
    pub fn secret_at_index(&mut self, index: u64) -> Result<PerCommitmentSecret, KeyError> {
        if index > SHACHAIN_MAX_INDEX {
            return Err(KeyError::IndexOutOfRange);
        }
        // Bits 47..=top must be applied again; those above are shared.
        let top = match self.last {
            Some(last) if last == index => return Ok(PerCommitmentSecret(self.levels[0])),
            Some(last) => 63 - (last ^ index).leading_zeros() as usize,
            None => 47,
        };
        for b in (0..=top).rev() {
            let mut p = if b == 47 {
                self.seed
            } else {
                self.levels[b + 1]
            };
            if index >> b & 1 == 1 {
                p[b / 8] ^= 1 << (b % 8);
                p = sha256::Hash::hash(&p).to_byte_array();
            }
            self.levels[b] = p;
        }
        self.last = Some(index);
        Ok(PerCommitmentSecret(self.levels[0]))
    }

    /// The per-commitment secret of commitment `commitment_number`.
    pub fn secret(&mut self, commitment_number: u64) -> Result<PerCommitmentSecret, KeyError> {
        self.secret_at_index(commitment_number_to_index(commitment_number)?)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    index: u64,
    secret: [u8; 32],
}

/// Compact receiver storage of the peer's revealed per-commitment secrets:
/// at most 49 `(index, secret)` slots, from which every secret received so
/// far can be re-derived.
///
/// [`insert`](Self::insert) checks the new secret against every stored one
/// and rejects it (leaving the store unchanged) if it does not derive them,
/// i.e. if the peer's secrets do not come from one seed. Secrets must arrive
/// in order: after the first one, each index is one below the previous one.
#[derive(Clone, PartialEq, Eq)]
pub struct CommitmentSecretStore {
    slots: [Option<Slot>; 49],
    /// Index of the last secret inserted.
    last: Option<u64>,
}

impl core::fmt::Debug for CommitmentSecretStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommitmentSecretStore")
            .field("last_index", &self.last)
            .finish_non_exhaustive()
    }
}

impl Default for CommitmentSecretStore {
    fn default() -> Self {
        Self::new()
    }
}

fn where_to_put_secret(index: u64) -> usize {
    if index == 0 {
        48
    } else {
        index.trailing_zeros().min(48) as usize
    }
}

impl CommitmentSecretStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            slots: [None; 49],
            last: None,
        }
    }

    /// `insert_secret(secret, I)` of BOLT 3, for a raw shachain index.
    pub fn insert_at_index(
        &mut self,
        index: u64,
        secret: &PerCommitmentSecret,
    ) -> Result<(), KeyError> {
        if index > SHACHAIN_MAX_INDEX {
            return Err(KeyError::IndexOutOfRange);
        }
        if let Some(last) = self.last {
            if last == 0 || index != last - 1 {
                return Err(KeyError::UnexpectedIndex);
            }
        }
        let pos = where_to_put_secret(index);
        for slot in self.slots[..pos].iter().flatten() {
            if shachain_derive(&secret.0, pos as u32, slot.index) != slot.secret {
                return Err(KeyError::SecretMismatch);
            }
        }
        self.slots[pos] = Some(Slot {
            index,
            secret: secret.0,
        });
        self.last = Some(index);
        Ok(())
    }

    /// Stores the peer's secret for `commitment_number` (see [`Self::insert_at_index`]).
    pub fn insert(
        &mut self,
        commitment_number: u64,
        secret: &PerCommitmentSecret,
    ) -> Result<(), KeyError> {
        self.insert_at_index(commitment_number_to_index(commitment_number)?, secret)
    }

    /// The secret at a raw shachain index, if it was received.
    pub fn get_at_index(&self, index: u64) -> Option<PerCommitmentSecret> {
        for (b, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let mask = if b >= 64 { 0 } else { !((1u64 << b) - 1) };
            if index & mask == slot.index {
                return Some(PerCommitmentSecret(shachain_derive(
                    &slot.secret,
                    b as u32,
                    index,
                )));
            }
        }
        None
    }

    /// The secret of commitment `commitment_number`, if it was received.
    pub fn get(&self, commitment_number: u64) -> Option<PerCommitmentSecret> {
        self.get_at_index(commitment_number_to_index(commitment_number).ok()?)
    }

    /// The commitment number whose secret must come next (0 when empty).
    pub fn next_commitment_number(&self) -> u64 {
        match self.last {
            None => 0,
            Some(i) => SHACHAIN_MAX_INDEX - i + 1,
        }
    }

    /// Serializes the store (fixed layout, 2017 bytes): the last inserted
    /// index (8 bytes big-endian, all 0xff when empty), then 49 slots of a
    /// presence byte, the index (8 bytes big-endian) and the secret (32 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 49 * 41);
        out.extend_from_slice(&self.last.unwrap_or(u64::MAX).to_be_bytes());
        for slot in &self.slots {
            match slot {
                Some(s) => {
                    out.push(1);
                    out.extend_from_slice(&s.index.to_be_bytes());
                    out.extend_from_slice(&s.secret);
                }
                None => out.extend_from_slice(&[0u8; 41]),
            }
        }
        out
    }

    /// Parses [`Self::to_bytes`], checking that every slot index has the
    /// trailing-zero count of its position and that the slots are consistent.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != 8 + 49 * 41 {
            return Err(KeyError::InvalidStoreEncoding);
        }
        let last = u64::from_be_bytes(
            bytes[..8]
                .try_into()
                .map_err(|_| KeyError::InvalidStoreEncoding)?,
        );
        let mut store = Self::new();
        store.last = if last == u64::MAX { None } else { Some(last) };
        if last != u64::MAX && last > SHACHAIN_MAX_INDEX {
            return Err(KeyError::InvalidStoreEncoding);
        }
        for (pos, chunk) in bytes[8..].chunks_exact(41).enumerate() {
            match chunk[0] {
                0 => {}
                1 => {
                    let index = u64::from_be_bytes(
                        chunk[1..9]
                            .try_into()
                            .map_err(|_| KeyError::InvalidStoreEncoding)?,
                    );
                    if index > SHACHAIN_MAX_INDEX || where_to_put_secret(index) != pos {
                        return Err(KeyError::InvalidStoreEncoding);
                    }
                    let mut secret = [0u8; 32];
                    secret.copy_from_slice(&chunk[9..]);
                    store.slots[pos] = Some(Slot { index, secret });
                }
                _ => return Err(KeyError::InvalidStoreEncoding),
            }
        }
        // Consistency: a slot must derive every lower slot within its range.
        for pos in 0..49 {
            let Some(hi) = store.slots[pos] else { continue };
            let mask = if pos >= 64 { 0 } else { !((1u64 << pos) - 1) };
            for lo in store.slots[..pos].iter().flatten() {
                if lo.index & mask == hi.index
                    && shachain_derive(&hi.secret, pos as u32, lo.index) != lo.secret
                {
                    return Err(KeyError::InvalidStoreEncoding);
                }
            }
        }
        if store.last.is_some() != store.slots.iter().any(Option::is_some) {
            return Err(KeyError::InvalidStoreEncoding);
        }
        Ok(store)
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[test]
    fn cursor_derives_what_the_seed_derives() {
        let seed = CommitmentSeed([0x5a; 32]);
        let mut c = SecretCursor::new(&seed);
        // In order from the first commitment, across carries of many bits.
        for n in 0..300u64 {
            assert_eq!(c.secret(n).unwrap(), seed.secret(n).unwrap(), "{n}");
        }
        // Repeated, backwards, jumps, the extremes.
        let mut x = 0x1234_5678_9abcu64;
        for n in [
            299,
            299,
            5,
            1 << 40,
            (1 << 47) + 3,
            SHACHAIN_MAX_INDEX,
            0,
            1,
            17,
        ] {
            assert_eq!(c.secret(n).unwrap(), seed.secret(n).unwrap(), "{n}");
        }
        for _ in 0..200 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = x >> 16;
            assert_eq!(
                c.secret_at_index(i).unwrap(),
                seed.secret_at_index(i).unwrap()
            );
        }
        assert_eq!(
            c.secret_at_index(SHACHAIN_MAX_INDEX + 1),
            Err(KeyError::IndexOutOfRange)
        );
        // BOLT 3 generate_from_seed: seed FF..FF, I = 0xFFFFFFFFFFFF.
        let ff = CommitmentSeed([0xff; 32]);
        let mut c = SecretCursor::new(&ff);
        assert_eq!(
            crate::util::to_hex(&c.secret_at_index(0xFFFF_FFFF_FFFF).unwrap().0),
            "7cc854b54e3e0dcdb010d7a3fee464a9687be6e8db3be6854c475621e007a5dc"
        );
        // seed FF..FF, I = 0xaaaaaaaaaaa.
        assert_eq!(
            crate::util::to_hex(&c.secret_at_index(0xaaa_aaaa_aaaa).unwrap().0),
            "56f4008fb007ca9acf0e15b054d5c9fd12ee06cea347914ddbaed70d1c13a528"
        );
    }
}
