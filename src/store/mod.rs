//! Durable storage for channel records, behind a small trait.
//!
//! A [`Store`] holds one record per channel (keyed by [`ChannelId`]), each
//! with a monotonic update number. [`Store::apply`] writes a [`Batch`]
//! atomically: all of it or none of it. A write whose update number is not
//! above the stored one is refused ([`StoreError::StaleUpdate`]), so an old
//! copy of a channel (a second browser tab, a delayed write) can never
//! replace a newer one — the precondition of the channel's "persist before
//! send" rule.
//!
//! Beside each record, a store keeps the channel's sealed chunks of revoked
//! commitments ([`RevokedChunk`]) under `(channel id, index)`: a record put
//! writes the chunks it carries (new, or again with the same bytes), a
//! delete removes the channel's chunks with it, and a record read back
//! carries all of its channel's chunks.
//!
//! Implementations: [`MemoryStore`] (tests, ephemeral wallets) and, natively,
//! [`FileStore`] (one file per channel, written to a temporary file,
//! fsynced, then renamed over the old one; a batch is committed through a
//! journal file so that a crash in the middle is rolled forward on open).
//! The browser's IndexedDB store (one IndexedDB transaction per batch)
//! implements the same trait in the JS layer.

use core::fmt;
use std::collections::BTreeMap;

use crate::channel::{ChannelRecord, RevokedChunk};
use crate::error::ErrorCode;
use crate::wire::ChannelId;

#[cfg(not(target_arch = "wasm32"))]
mod file;
#[cfg(not(target_arch = "wasm32"))]
pub use file::FileStore;

/// Storage errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The record's update number is not above the stored one.
    StaleUpdate {
        channel_id: ChannelId,
        stored: u64,
        given: u64,
    },
    /// The underlying storage failed (message from the platform).
    Io(String),
    /// Stored bytes are not a valid record.
    Corrupt(&'static str),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::StaleUpdate {
                channel_id,
                stored,
                given,
            } => {
                write!(
                    f,
                    "stale update {given} for channel {channel_id} (stored {stored})"
                )
            }
            StoreError::Io(e) => write!(f, "storage error: {e}"),
            StoreError::Corrupt(e) => write!(f, "corrupt storage: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl ErrorCode for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::StaleUpdate { .. } => "STALE_UPDATE",
            StoreError::Io(_) => "STORAGE_IO",
            StoreError::Corrupt(_) => "STORAGE_CORRUPT",
        }
    }
}

/// One operation of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put(ChannelRecord),
    /// Forget a channel (closed and swept).
    Delete(ChannelId),
}

/// Writes applied together or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(mut self, r: ChannelRecord) -> Self {
        self.ops.push(Op::Put(r));
        self
    }
    pub fn delete(mut self, id: ChannelId) -> Self {
        self.ops.push(Op::Delete(id));
        self
    }
}

/// Durable storage of channel records.
pub trait Store {
    /// Applies every operation of `batch` atomically, after checking that
    /// each `Put` has an update number above the stored one.
    fn apply(&mut self, batch: Batch) -> Result<(), StoreError>;
    /// The record of one channel.
    fn get(&self, id: &ChannelId) -> Result<Option<ChannelRecord>, StoreError>;
    /// Every record, by channel id.
    fn list(&self) -> Result<Vec<ChannelRecord>, StoreError>;
}

/// Checks a batch against the current records (shared by implementations).
pub(crate) fn check_batch(
    batch: &Batch,
    current: impl Fn(&ChannelId) -> Option<u64>,
) -> Result<(), StoreError> {
    let mut seen: BTreeMap<ChannelId, u64> = BTreeMap::new();
    for op in &batch.ops {
        if let Op::Put(r) = op {
            let stored = seen
                .get(&r.channel_id)
                .copied()
                .or_else(|| current(&r.channel_id));
            if let Some(s) = stored {
                if r.update_number <= s {
                    return Err(StoreError::StaleUpdate {
                        channel_id: r.channel_id,
                        stored: s,
                        given: r.update_number,
                    });
                }
            }
            seen.insert(r.channel_id, r.update_number);
        }
    }
    Ok(())
}

/// What a store holds, in memory: its records (without their chunks) and
/// every chunk. [`MemoryStore`] is one; [`FileStore`] keeps one as the
/// cache of its files.
#[derive(Clone, Debug, Default)]
pub(crate) struct Held {
    records: BTreeMap<ChannelId, ChannelRecord>,
    chunks: BTreeMap<(ChannelId, u32), Vec<u8>>,
}

impl Held {
    /// Refuses a batch with a stale update ([`StoreError::StaleUpdate`]).
    pub(crate) fn check(&self, batch: &Batch) -> Result<(), StoreError> {
        check_batch(batch, |id| self.records.get(id).map(|r| r.update_number))
    }

    /// Drops from `batch` the chunks held already: a chunk never changes
    /// once written, so writing it again would write the same bytes.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn strip_held_chunks(&self, batch: &mut Batch) {
        strip_chunks(batch, |key| self.chunks.contains_key(key));
    }

    /// The positions of channel `id`'s chunks, oldest first.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn chunk_indices(&self, id: &ChannelId) -> Vec<u32> {
        self.chunks
            .range((*id, 0)..=(*id, u32::MAX))
            .map(|((_, index), _)| *index)
            .collect()
    }

    /// Takes in a batch that was written (and [`Self::check`]ed).
    pub(crate) fn apply(&mut self, batch: Batch) {
        for op in batch.ops {
            match op {
                Op::Put(mut r) => {
                    // Written once: a chunk held already is kept as it is.
                    for c in std::mem::take(&mut r.chunks) {
                        self.chunks.entry((r.channel_id, c.index)).or_insert(c.data);
                    }
                    self.records.insert(r.channel_id, r);
                }
                Op::Delete(id) => {
                    self.records.remove(&id);
                    self.chunks.retain(|(c, _), _| *c != id);
                }
            }
        }
    }

    /// The record of `id` with all its chunks.
    pub(crate) fn get(&self, id: &ChannelId) -> Option<ChannelRecord> {
        self.records.get(id).map(|r| self.with_chunks(r))
    }

    pub(crate) fn list(&self) -> Vec<ChannelRecord> {
        self.records.values().map(|r| self.with_chunks(r)).collect()
    }

    fn with_chunks(&self, r: &ChannelRecord) -> ChannelRecord {
        let mut r = r.clone();
        r.chunks = self
            .chunks
            .range((r.channel_id, 0)..=(r.channel_id, u32::MAX))
            .map(|((_, index), data)| RevokedChunk {
                index: *index,
                data: data.clone(),
            })
            .collect();
        r
    }
}

/// An in-memory store.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    held: Held,
    /// Number of batches applied (tests).
    pub writes: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// What this store holds, as a [`StoredIndex`].
    pub fn index(&self) -> StoredIndex {
        StoredIndex {
            // B-tree order: sorted.
            updates: self
                .held
                .records
                .iter()
                .map(|(id, r)| (*id, r.update_number))
                .collect(),
            chunks: self.held.chunks.keys().copied().collect(),
        }
    }

    /// The bytes kept for records and chunks (tests: what a store holds).
    pub fn stored_bytes(&self) -> (usize, usize) {
        (
            self.held.records.values().map(|r| r.data.len()).sum(),
            self.held.chunks.values().map(Vec::len).sum(),
        )
    }
}

impl Store for MemoryStore {
    fn apply(&mut self, batch: Batch) -> Result<(), StoreError> {
        self.held.check(&batch)?;
        self.held.apply(batch);
        self.writes += 1;
        Ok(())
    }
    fn get(&self, id: &ChannelId) -> Result<Option<ChannelRecord>, StoreError> {
        Ok(self.held.get(id))
    }
    fn list(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        Ok(self.held.list())
    }
}

/// Drops from `batch`'s puts every chunk that `stored` says is stored.
fn strip_chunks(batch: &mut Batch, stored: impl Fn(&(ChannelId, u32)) -> bool) {
    for op in &mut batch.ops {
        if let Op::Put(r) = op {
            let id = r.channel_id;
            r.chunks.retain(|c| !stored(&(id, c.index)));
        }
    }
}

/// What a driver writing to an outside store (the browser's IndexedDB)
/// must know of what that store holds, without holding it: each channel's
/// stored update number, to refuse a stale write before it is made, and
/// which of its revoked chunks are stored, so that none is written twice.
/// Its memory grows by a few bytes per chunk, not by the chunks' contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredIndex {
    /// Sorted by channel id. (Sorted vectors rather than B-trees: the
    /// same lookups in a fraction of the wasm code.)
    updates: Vec<(ChannelId, u64)>,
    /// Sorted.
    chunks: Vec<(ChannelId, u32)>,
}

impl StoredIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn update_of(&self, id: &ChannelId) -> Option<u64> {
        let k = self.updates.binary_search_by(|(c, _)| c.cmp(id)).ok()?;
        Some(self.updates[k].1)
    }

    /// Refuses a batch with a stale update ([`StoreError::StaleUpdate`]).
    pub fn check(&self, batch: &Batch) -> Result<(), StoreError> {
        check_batch(batch, |id| self.update_of(id))
    }

    /// Drops from `batch` the chunks stored already.
    pub fn strip_stored_chunks(&self, batch: &mut Batch) {
        strip_chunks(batch, |key| self.chunks.binary_search(key).is_ok());
    }

    /// Checks `batch` ([`Self::check`]) and takes it in as written: call it
    /// before the write, and stop writing if the write then fails.
    pub fn apply(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.check(batch)?;
        for op in &batch.ops {
            match op {
                Op::Put(r) => {
                    let id = r.channel_id;
                    match self.updates.binary_search_by(|(c, _)| c.cmp(&id)) {
                        Ok(k) => self.updates[k].1 = r.update_number,
                        Err(k) => self.updates.insert(k, (id, r.update_number)),
                    }
                    for c in &r.chunks {
                        if let Err(k) = self.chunks.binary_search(&(id, c.index)) {
                            self.chunks.insert(k, (id, c.index));
                        }
                    }
                }
                Op::Delete(id) => {
                    self.updates.retain(|(c, _)| c != id);
                    self.chunks.retain(|(c, _)| c != id);
                }
            }
        }
        Ok(())
    }

    /// The number of channels stored.
    pub fn len(&self) -> usize {
        self.updates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }

    /// The number of chunks stored.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}

/// The key of a chunk in a key-value store: channel id, then the index
/// big-endian (so a channel's chunks sort together, oldest first).
pub fn chunk_key(id: &ChannelId, index: u32) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(&id.0);
    k[32..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Parses [`chunk_key`].
pub fn chunk_key_parts(k: &[u8]) -> Option<(ChannelId, u32)> {
    let id: [u8; 32] = k.get(..32)?.try_into().ok()?;
    let index: [u8; 4] = k.get(32..)?.try_into().ok()?;
    Some((ChannelId(id), u32::from_be_bytes(index)))
}

/// Serializes a record for storage: channel id, update number, data length, data.
pub fn record_to_bytes(r: &ChannelRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(48 + r.data.len());
    v.extend_from_slice(&r.channel_id.0);
    v.extend_from_slice(&r.update_number.to_be_bytes());
    v.extend_from_slice(&(r.data.len() as u64).to_be_bytes());
    v.extend_from_slice(&r.data);
    v
}

/// Parses [`record_to_bytes`].
pub fn record_from_bytes(b: &[u8]) -> Result<ChannelRecord, StoreError> {
    if b.len() < 48 {
        return Err(StoreError::Corrupt("short record"));
    }
    let mut id = [0u8; 32];
    id.copy_from_slice(&b[..32]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&b[32..40]);
    let mut l = [0u8; 8];
    l.copy_from_slice(&b[40..48]);
    let len = u64::from_be_bytes(l);
    if len != (b.len() - 48) as u64 {
        return Err(StoreError::Corrupt("record length"));
    }
    Ok(ChannelRecord::new(
        ChannelId(id),
        u64::from_be_bytes(n),
        b[48..].to_vec(),
    ))
}
