//! A directory of channel files with an atomic multi-record commit.
//!
//! Each channel is `<dir>/<channel_id>.chan`, and each of its sealed chunks
//! of revoked commitments `<dir>/<channel_id>-<index>.rev`. A batch is first written as
//! `<dir>/journal` (all records, then a trailing checksum-free length
//! marker) and fsynced; then every file is replaced through
//! write-temp/fsync/rename; then the journal is removed. On open, a
//! complete journal is replayed (roll forward), an incomplete one ignored.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{record_from_bytes, record_to_bytes, Batch, Held, Op, Store, StoreError};
use crate::channel::{ChannelRecord, RevokedChunk};
use crate::util::{from_hex_array, to_hex};
use crate::wire::ChannelId;

/// Channel records in a directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// What the files hold.
    cache: Held,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

const JOURNAL_END: &[u8; 8] = b"LNJOURNL";

fn encode_journal(batch: &Batch) -> Vec<u8> {
    let mut v = Vec::new();
    for op in &batch.ops {
        match op {
            Op::Put(r) => {
                let b = record_to_bytes(r);
                v.push(1);
                v.extend_from_slice(&(b.len() as u64).to_be_bytes());
                v.extend_from_slice(&b);
                for c in &r.chunks {
                    v.push(3);
                    v.extend_from_slice(&c.index.to_be_bytes());
                    v.extend_from_slice(&(c.data.len() as u64).to_be_bytes());
                    v.extend_from_slice(&c.data);
                }
            }
            Op::Delete(id) => {
                v.push(2);
                v.extend_from_slice(&id.0);
            }
        }
    }
    v.extend_from_slice(JOURNAL_END);
    v
}

fn decode_journal(b: &[u8]) -> Option<Batch> {
    let body = b.strip_suffix(JOURNAL_END)?;
    let mut ops = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            1 => {
                let len = u64::from_be_bytes(body.get(i + 1..i + 9)?.try_into().ok()?) as usize;
                let rec = body.get(i + 9..(i + 9).checked_add(len)?)?;
                ops.push(Op::Put(record_from_bytes(rec).ok()?));
                i += 9 + len;
            }
            2 => {
                ops.push(Op::Delete(ChannelId(
                    body.get(i + 1..i + 33)?.try_into().ok()?,
                )));
                i += 33;
            }
            // A chunk of the record put just before.
            3 => {
                let index = u32::from_be_bytes(body.get(i + 1..i + 5)?.try_into().ok()?);
                let len = u64::from_be_bytes(body.get(i + 5..i + 13)?.try_into().ok()?) as usize;
                let data = body.get(i + 13..(i + 13).checked_add(len)?)?.to_vec();
                match ops.last_mut()? {
                    Op::Put(r) => r.chunks.push(RevokedChunk { index, data }),
                    Op::Delete(_) => return None,
                }
                i += 13 + len;
            }
            _ => return None,
        }
    }
    Some(Batch { ops })
}

impl FileStore {
    /// Opens (creating if needed) a store in `dir`, rolling a complete
    /// journal forward.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io)?;
        let mut s = Self {
            dir,
            cache: Held::default(),
        };
        s.load()?;
        let journal = s.dir.join("journal");
        if let Ok(b) = fs::read(&journal) {
            if let Some(batch) = decode_journal(&b) {
                s.write_files(&batch)?;
            }
            fs::remove_file(&journal).map_err(io)?;
            s.load()?;
        }
        Ok(s)
    }

    fn path(&self, id: &ChannelId) -> PathBuf {
        self.dir.join(format!("{}.chan", to_hex(&id.0)))
    }

    fn chunk_path(&self, id: &ChannelId, index: u32) -> PathBuf {
        self.dir.join(format!("{}-{index}.rev", to_hex(&id.0)))
    }

    fn load(&mut self) -> Result<(), StoreError> {
        let mut records = vec![];
        let mut chunks: BTreeMap<ChannelId, Vec<RevokedChunk>> = BTreeMap::new();
        for e in fs::read_dir(&self.dir).map_err(io)? {
            let p = e.map_err(io)?.path();
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some((hex, index)) = name.strip_suffix(".rev").and_then(|n| n.split_once('-')) {
                let (Some(id), Ok(index)) = (from_hex_array::<32>(hex), index.parse::<u32>())
                else {
                    continue;
                };
                let data = fs::read(&p).map_err(io)?;
                chunks
                    .entry(ChannelId(id))
                    .or_default()
                    .push(RevokedChunk { index, data });
                continue;
            }
            let Some(hex) = name.strip_suffix(".chan") else {
                continue;
            };
            let Some(id) = from_hex_array::<32>(hex) else {
                continue;
            };
            let r = record_from_bytes(&fs::read(&p).map_err(io)?)?;
            if r.channel_id.0 != id {
                return Err(StoreError::Corrupt("file name and record differ"));
            }
            records.push(r);
        }
        let mut batch = Batch::new();
        for mut r in records {
            r.chunks = chunks.remove(&r.channel_id).unwrap_or_default();
            batch = batch.put(r);
        }
        self.cache = Held::default();
        self.cache.apply(batch);
        Ok(())
    }

    fn write_files(&self, batch: &Batch) -> Result<(), StoreError> {
        for op in &batch.ops {
            match op {
                Op::Put(r) => {
                    // Chunks first: a record never counts a chunk not on disk.
                    for c in &r.chunks {
                        write_atomic(&self.chunk_path(&r.channel_id, c.index), &c.data)?;
                    }
                    write_atomic(&self.path(&r.channel_id), &record_to_bytes(r))?
                }
                Op::Delete(id) => {
                    remove(&self.path(id))?;
                    for index in self.cache.chunk_indices(id) {
                        remove(&self.chunk_path(id, index))?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn remove(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

impl Store for FileStore {
    fn apply(&mut self, mut batch: Batch) -> Result<(), StoreError> {
        self.cache.check(&batch)?;
        // Chunks on disk already are not written (nor journaled) again.
        self.cache.strip_held_chunks(&mut batch);
        let journal = self.dir.join("journal");
        if batch.ops.len() > 1 {
            write_atomic(&journal, &encode_journal(&batch))?;
        }
        self.write_files(&batch)?;
        if batch.ops.len() > 1 {
            fs::remove_file(&journal).map_err(io)?;
        }
        self.cache.apply(batch);
        Ok(())
    }
    fn get(&self, id: &ChannelId) -> Result<Option<ChannelRecord>, StoreError> {
        Ok(self.cache.get(id))
    }
    fn list(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        Ok(self.cache.list())
    }
}
