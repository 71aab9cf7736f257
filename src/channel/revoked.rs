//! The peer's revoked commitments, kept to punish a broadcast of any of them.
//!
//! The list only grows (one entry per revocation) and is part of the channel
//! state that [`super::Channel::handle`] clones before every command (so that
//! a refused command leaves the channel exactly as it was). Cloning must not
//! cost the length of the channel's history: entries are grouped in sealed,
//! immutable chunks of [`CHUNK`] shared through an [`Arc`], and only the short
//! unsealed tail is copied. A chunk also keeps its encoding, made once when
//! it is sealed: the store keeps it apart from the channel's record
//! ([`super::RevokedChunk`]), written once, so that persisting the channel
//! does not cost the length of its history either.

use std::sync::Arc;

use super::commitments::RevokedCommit;

/// Entries per sealed chunk.
pub const CHUNK: usize = 16;

/// A sealed chunk: exactly [`CHUNK`] entries and their encoding.
#[derive(Debug)]
struct Chunk {
    items: Vec<RevokedCommit>,
    /// The entries as the channel record encodes them, one after the other.
    encoded: Vec<u8>,
}

/// The revoked commitments of the peer, oldest first. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct RevokedList {
    /// Full chunks; shared between clones, never modified in place.
    sealed: Arc<Vec<Arc<Chunk>>>,
    /// At most `CHUNK - 1` entries after the sealed ones.
    tail: Vec<RevokedCommit>,
}

impl RevokedList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the newest revoked commitment.
    pub fn push(&mut self, r: RevokedCommit) {
        self.tail.push(r);
        if self.tail.len() == CHUNK {
            let items = core::mem::take(&mut self.tail);
            let encoded = super::codec::encode_revoked(&items);
            // Copies the list of chunk pointers only if a clone shares it
            // (once per CHUNK revocations).
            Arc::make_mut(&mut self.sealed).push(Arc::new(Chunk { items, encoded }));
        }
    }

    pub fn len(&self) -> usize {
        self.sealed.len() * CHUNK + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &RevokedCommit> + '_ {
        self.sealed
            .iter()
            .flat_map(|c| c.items.iter())
            .chain(self.tail.iter())
    }

    /// How many chunks are sealed.
    pub(super) fn sealed_count(&self) -> usize {
        self.sealed.len()
    }

    /// The newest sealed chunk's position and encoding.
    pub(super) fn last_sealed(&self) -> Option<(usize, &[u8])> {
        let n = self.sealed.len();
        self.sealed.last().map(|c| (n - 1, &c.encoded[..]))
    }

    /// The entries after the sealed chunks.
    pub(super) fn tail(&self) -> &[RevokedCommit] {
        &self.tail
    }
}

impl RevokedList {
    /// The list of sealed chunks already encoded (each exactly [`CHUNK`]
    /// entries with their encoding, as read back from a store), then
    /// `tail`: the stored encodings are kept, not made again.
    pub(super) fn from_sealed(
        sealed: Vec<(Vec<RevokedCommit>, Vec<u8>)>,
        tail: Vec<RevokedCommit>,
    ) -> Self {
        let mut l = Self {
            sealed: Arc::new(
                sealed
                    .into_iter()
                    .map(|(items, encoded)| Arc::new(Chunk { items, encoded }))
                    .collect(),
            ),
            tail: Vec::new(),
        };
        for r in tail {
            l.push(r);
        }
        l
    }
}

impl From<Vec<RevokedCommit>> for RevokedList {
    fn from(v: Vec<RevokedCommit>) -> Self {
        let mut l = Self::new();
        for r in v {
            l.push(r);
        }
        l
    }
}

impl PartialEq for RevokedList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for RevokedList {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{FeeratePerKw, Htlc, HtlcDirection};
    use crate::types::{Msat, PaymentHash};
    use bitcoin::hashes::Hash;
    use bitcoin::Txid;

    fn entry(i: u64) -> RevokedCommit {
        RevokedCommit {
            index: i,
            txid: Txid::from_byte_array([i as u8; 32]),
            to_local: Msat(1000 * i),
            to_remote: Msat(7),
            feerate: FeeratePerKw(253),
            htlcs: (0..i % 3)
                .map(|k| Htlc {
                    direction: if k == 0 {
                        HtlcDirection::Offered
                    } else {
                        HtlcDirection::Received
                    },
                    amount: Msat(5000 + k),
                    payment_hash: PaymentHash([k as u8; 32]),
                    cltv_expiry: 500 + k as u32,
                })
                .collect(),
        }
    }

    #[test]
    fn keeps_order_across_chunks_and_clones_are_independent() {
        let n = 3 * CHUNK as u64 + 5;
        let mut l = RevokedList::new();
        for i in 0..n {
            l.push(entry(i));
        }
        assert_eq!(l.len(), n as usize);
        let snapshot = l.clone();
        l.push(entry(n));
        // The clone does not see the push, even across a chunk boundary.
        for i in n + 1..n + 2 * CHUNK as u64 {
            l.push(entry(i));
        }
        assert_eq!(snapshot.len(), n as usize);
        assert_eq!(
            snapshot.iter().map(|r| r.index).collect::<Vec<_>>(),
            (0..n).collect::<Vec<_>>()
        );
        assert_eq!(
            l.iter().map(|r| r.index).collect::<Vec<_>>(),
            (0..n + 2 * CHUNK as u64).collect::<Vec<_>>()
        );
        assert_ne!(snapshot, l);
        let back: RevokedList = l.iter().cloned().collect::<Vec<_>>().into();
        assert_eq!(back, l);
    }

    #[test]
    fn from_sealed_equals_pushing_every_entry() {
        for n in [0, CHUNK, 2 * CHUNK + 5, 3 * CHUNK] {
            let v: Vec<RevokedCommit> = (0..n as u64).map(entry).collect();
            let sealed = n / CHUNK;
            let chunks = v[..sealed * CHUNK]
                .chunks(CHUNK)
                .map(|c| (c.to_vec(), super::super::codec::encode_revoked(c)))
                .collect();
            let l = RevokedList::from_sealed(chunks, v[sealed * CHUNK..].to_vec());
            let pushed = RevokedList::from(v.clone());
            assert_eq!(l, pushed, "n = {n}");
            assert_eq!(l.sealed_count(), pushed.sealed_count());
            assert_eq!(l.last_sealed(), pushed.last_sealed());
            assert_eq!(l.tail(), pushed.tail());
        }
    }

    #[test]
    fn sealed_chunks_keep_their_encoding_and_the_tail_follows() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 4 * CHUNK + 3] {
            let v: Vec<RevokedCommit> = (0..n as u64).map(entry).collect();
            let l = RevokedList::from(v.clone());
            let sealed = n / CHUNK;
            assert_eq!(l.sealed_count(), sealed, "n = {n}");
            assert_eq!(l.tail(), &v[sealed * CHUNK..], "n = {n}");
            match l.last_sealed() {
                None => assert_eq!(sealed, 0),
                Some((k, bytes)) => {
                    assert_eq!(k, sealed - 1);
                    assert_eq!(
                        bytes,
                        &super::super::codec::encode_revoked(&v[k * CHUNK..(k + 1) * CHUNK])[..],
                        "n = {n}"
                    );
                }
            }
        }
    }
}
