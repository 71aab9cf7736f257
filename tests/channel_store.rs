//! The Store trait: atomic batches, monotonic update numbers, file store
//! durability, and hostile channel records.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Channel, ChannelRecord};
use lnwasm::error::ErrorCode;
#[cfg(not(target_arch = "wasm32"))]
use lnwasm::store::FileStore;
use lnwasm::store::{Batch, MemoryStore, Store};
use lnwasm::tx::Side;
use lnwasm::types::Msat;
use lnwasm::wire::ChannelId;

fn rec(id: u8, n: u64) -> ChannelRecord {
    ChannelRecord {
        channel_id: ChannelId([id; 32]),
        update_number: n,
        data: vec![id; 10],
    }
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
