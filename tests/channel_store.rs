//! The Store trait: atomic batches, monotonic update numbers, file store
//! durability, and hostile channel records.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Channel, ChannelRecord, Command, RevokedChunk};
use lnwasm::error::ErrorCode;
#[cfg(not(target_arch = "wasm32"))]
use lnwasm::store::FileStore;
use lnwasm::store::{Batch, MemoryStore, Store, StoredIndex};
use lnwasm::tx::Side;
use lnwasm::types::Msat;
use lnwasm::wire::ChannelId;

fn rec(id: u8, n: u64) -> ChannelRecord {
    ChannelRecord::new(ChannelId([id; 32]), n, vec![id; 10])
}

fn chunk(index: u32, byte: u8) -> RevokedChunk {
    RevokedChunk {
        index,
        data: vec![byte; 3 + index as usize],
    }
}

fn with_chunks(mut r: ChannelRecord, chunks: &[RevokedChunk]) -> ChannelRecord {
    r.chunks = chunks.to_vec();
    r
}

/// Chunks are written with the record that carries them, kept when later
/// records carry none or the newest again, returned in order with every
/// read, and deleted with their channel.
fn exercise_chunks(s: &mut dyn Store) {
    let id = ChannelId([7; 32]);
    s.apply(Batch::new().put(with_chunks(rec(7, 1), &[chunk(0, 0xa0)])))
        .unwrap();
    s.apply(Batch::new().put(rec(7, 2))).unwrap();
    // Two records in one batch (the journal path of the file store).
    s.apply(
        Batch::new()
            .put(with_chunks(rec(7, 3), &[chunk(1, 0xa1)]))
            .put(with_chunks(rec(8, 1), &[chunk(0, 0xb0)])),
    )
    .unwrap();
    s.apply(Batch::new().put(with_chunks(rec(7, 4), &[chunk(1, 0xa1)])))
        .unwrap();
    // A chunk is written once: carried again (even with other bytes, which
    // a channel never does), the stored one stays.
    s.apply(Batch::new().put(with_chunks(rec(7, 4), &[chunk(1, 0xee)])))
        .unwrap_err();
    s.apply(Batch::new().put(with_chunks(rec(7, 5), &[chunk(1, 0xee)])))
        .unwrap();
    assert_eq!(
        s.get(&id).unwrap().unwrap(),
        with_chunks(rec(7, 5), &[chunk(0, 0xa0), chunk(1, 0xa1)])
    );
    // A stale record does not write its chunk either.
    assert!(s
        .apply(Batch::new().put(with_chunks(rec(7, 5), &[chunk(2, 0xa2)])))
        .is_err());
    assert_eq!(s.get(&id).unwrap().unwrap().chunks.len(), 2);
    s.apply(Batch::new().delete(id)).unwrap();
    assert_eq!(s.get(&id).unwrap(), None);
    assert_eq!(
        s.list().unwrap(),
        vec![with_chunks(rec(8, 1), &[chunk(0, 0xb0)])]
    );
}

fn exercise(s: &mut dyn Store) {
    s.apply(Batch::new().put(rec(1, 1)).put(rec(2, 1))).unwrap();
    // A stale write anywhere in a batch rejects the whole batch.
    let e = s
        .apply(Batch::new().put(rec(2, 2)).put(rec(1, 1)))
        .unwrap_err();
    assert_eq!(e.code(), "STALE_UPDATE");
    assert_eq!(
        s.get(&ChannelId([2; 32])).unwrap().unwrap().update_number,
        1
    );
    s.apply(Batch::new().put(rec(1, 5))).unwrap();
    s.apply(Batch::new().delete(ChannelId([2; 32]))).unwrap();
    let all = s.list().unwrap();
    assert_eq!(all, vec![rec(1, 5)]);
}

#[test]
fn memory_store() {
    exercise(&mut MemoryStore::new());
    exercise_chunks(&mut MemoryStore::new());
}

/// Applies `b` to a full store and to an index of it, as a driver does
/// (stripping stored chunks first); both must agree. Returns the outcome
/// and what was written.
fn apply_both(
    store: &mut MemoryStore,
    index: &mut StoredIndex,
    mut b: Batch,
) -> (Result<(), &'static str>, Batch) {
    index.strip_stored_chunks(&mut b);
    let i = index.apply(&b).map_err(|e| e.code());
    let s = store.apply(b.clone()).map_err(|e| e.code());
    assert_eq!(i, s);
    assert_eq!(store.index(), *index);
    (i, b)
}

/// The index a driver keeps of an outside store follows it exactly: same
/// update numbers and chunk positions as a full store fed the same
/// batches, the same stale refusals, and chunks stored once stripped.
#[test]
fn stored_index_follows_a_store() {
    let (mut store, mut index) = (MemoryStore::new(), StoredIndex::new());
    let s = &mut store;
    let id = ChannelId([7; 32]);
    let put = |r| Batch::new().put(r);
    apply_both(
        s,
        &mut index,
        put(with_chunks(rec(7, 1), &[chunk(0, 0xa0)])),
    )
    .0
    .unwrap();
    // Carried again, a stored chunk is dropped from the write.
    let (r, written) = apply_both(
        s,
        &mut index,
        put(with_chunks(rec(7, 2), &[chunk(0, 0xa0), chunk(1, 0xa1)])),
    );
    r.unwrap();
    assert_eq!(written, put(with_chunks(rec(7, 2), &[chunk(1, 0xa1)])));
    apply_both(s, &mut index, put(rec(8, 1))).0.unwrap();
    // Stale: refused by both, nothing taken in.
    let stale = put(with_chunks(rec(7, 2), &[chunk(2, 0xa2)]));
    assert_eq!(apply_both(s, &mut index, stale).0, Err("STALE_UPDATE"));
    assert_eq!((index.len(), index.chunk_count()), (2, 2));
    apply_both(s, &mut index, Batch::new().delete(id))
        .0
        .unwrap();
    assert_eq!((index.len(), index.chunk_count()), (1, 0));
    // A deleted channel id may be stored again from any update number.
    apply_both(
        s,
        &mut index,
        put(with_chunks(rec(7, 1), &[chunk(0, 0xa0)])),
    )
    .0
    .unwrap();
    assert_eq!((index.len(), index.chunk_count()), (2, 1));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn file_store() {
    let dir = std::env::temp_dir().join(format!("lnwasm-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut f = FileStore::open(&dir).unwrap();
        exercise(&mut f);
    }
    let f = FileStore::open(&dir).unwrap();
    assert_eq!(f.list().unwrap(), vec![rec(1, 5)], "survives reopening");
    std::fs::remove_dir_all(&dir).unwrap();
    {
        let mut f = FileStore::open(&dir).unwrap();
        exercise_chunks(&mut f);
        f.apply(Batch::new().put(with_chunks(rec(9, 1), &[chunk(0, 0xc0), chunk(1, 0xc1)])))
            .unwrap();
    }
    let f = FileStore::open(&dir).unwrap();
    assert_eq!(
        f.list().unwrap(),
        vec![
            with_chunks(rec(8, 1), &[chunk(0, 0xb0)]),
            with_chunks(rec(9, 1), &[chunk(0, 0xc0), chunk(1, 0xc1)]),
        ],
        "chunks survive reopening"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn channel_records_are_monotonic_and_restore_exactly() {
    let mut p = open_pair(OpenOpts::default());
    for i in 0..3 {
        p.add(Side::Holder, Msat(1_000_000), i).unwrap();
        p.sign(Side::Holder);
    }
    let rec = p.a.store.get(&p.a.ch.channel_id()).unwrap().unwrap();
    assert_eq!(rec.update_number, p.a.ch.update_number());
    let back = Channel::restore(&rec, &p.a.wallet, config()).unwrap();
    assert_eq!(back.funded().unwrap(), p.a.ch.funded().unwrap());
    // Restoring with another wallet is refused.
    let e = Channel::restore(&rec, &p.b.wallet, config()).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_CHANNEL_RECORD");
}

#[test]
fn hostile_records_never_panic() {
    let p = open_pair(OpenOpts::default());
    let rec = p.a.ch.record().unwrap();
    for cut in 0..rec.data.len() {
        let mut r = rec.clone();
        r.data.truncate(cut);
        assert!(Channel::restore(&r, &p.a.wallet, config()).is_err());
    }
    let mut r = rec.clone();
    r.data[4] = 99;
    assert_eq!(
        Channel::restore(&r, &p.a.wallet, config())
            .unwrap_err()
            .to_string(),
        "corrupt channel record: unknown record version"
    );
    // Flipping bytes: error or a (different) channel, never a panic.
    for i in (0..rec.data.len()).step_by(7) {
        let mut r = rec.clone();
        r.data[i] ^= 0xff;
        let _ = Channel::restore(&r, &p.a.wallet, config());
    }
    // Huge list counts do not allocate: a count of 2^32-1 with no data fails fast.
    let mut r = rec.clone();
    r.data
        .truncate(5 + 4 + 32 + 32 + 4 + 8 + 2 + 2 * (5 * 33 + 10) + 2 * 26 + 8 + 2);
    r.data.extend_from_slice(&[0xff; 8]);
    assert!(Channel::restore(&r, &p.a.wallet, config()).is_err());
}

/// A long-lived channel: what a persist writes does not grow with the
/// history (the revoked commitments go into sealed chunks written once),
/// and the channel restores exactly from its record and chunks.
#[test]
fn persists_do_not_grow_with_history() {
    let mut p = open_pair(OpenOpts::default());
    let mut sizes = vec![];
    for n in 0..60u64 {
        let id = p.add(Side::Holder, Msat(1_000_000), n).unwrap();
        p.sign(Side::Holder);
        p.b.handle(Command::FulfillHtlc {
            id,
            preimage: preimage(n),
        })
        .unwrap();
        p.sign(Side::Counterparty);
        let rec = p.a.ch.record().unwrap();
        // A record to persist carries at most the newest chunk.
        assert!(rec.chunks.len() <= 1);
        sizes.push((rec.data.len(), p.a.store.stored_bytes()));
    }
    p.check();
    let revoked = p.a.ch.commitments().unwrap().revoked.len();
    assert!(revoked >= 4 * 16, "{revoked} revocations");
    // The record proper stays under a few kilobytes however long the
    // history, while the chunks stored beside it grow.
    let max = sizes.iter().map(|s| s.0).max().unwrap();
    assert!(max < 8 * 1024, "record of {max} bytes");
    let (first, last) = (sizes[10].1, sizes[59].1);
    assert!(last.1 > first.1 + 2 * 1024, "chunks {first:?} -> {last:?}");
    // Restores exactly from the store (record + all chunks).
    let stored = p.a.store.get(&p.a.ch.channel_id()).unwrap().unwrap();
    assert_eq!(stored.chunks.len(), revoked / 16);
    assert!(stored
        .chunks
        .iter()
        .enumerate()
        .all(|(i, c)| c.index as usize == i));
    let back = Channel::restore(&stored, &p.a.wallet, config()).unwrap();
    assert_eq!(back.funded().unwrap(), p.a.ch.funded().unwrap());
    assert_eq!(back.commitments().unwrap().revoked.len(), revoked);
    // The chunks' order in the record does not matter.
    let mut shuffled = stored.clone();
    shuffled.chunks.reverse();
    let back = Channel::restore(&shuffled, &p.a.wallet, config()).unwrap();
    assert_eq!(back.funded().unwrap(), p.a.ch.funded().unwrap());
    // A missing chunk is a corrupt record, not a shorter history.
    let mut r = stored.clone();
    r.chunks.remove(1);
    assert_eq!(
        Channel::restore(&r, &p.a.wallet, config())
            .unwrap_err()
            .to_string(),
        "corrupt channel record: revoked commitments missing"
    );
    // A chunk cut short or padded is refused.
    for edit in [
        |c: &mut Vec<u8>| {
            c.pop();
        },
        |c: &mut Vec<u8>| c.push(0),
    ] {
        let mut r = stored.clone();
        edit(&mut r.chunks[0].data);
        assert!(Channel::restore(&r, &p.a.wallet, config()).is_err());
    }
    // After a reload from the store, payments go on.
    p.a.reload();
    p.b.reload();
    p.reconnect();
    let id = p.add(Side::Holder, Msat(1_000_000), 100).unwrap();
    p.sign(Side::Holder);
    p.b.handle(Command::FulfillHtlc {
        id,
        preimage: preimage(100),
    })
    .unwrap();
    p.sign(Side::Counterparty);
    p.check();
}
