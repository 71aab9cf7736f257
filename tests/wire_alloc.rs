//! Decoding hostile bytes never allocates more than the input justifies.
//! A counting global allocator records the largest single allocation made
//! while decoding inputs full of maximal length prefixes.
//!
//! This file holds a single test so no other test allocates concurrently.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lnwasm::wire::Message;

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Largest allocation made by `f`.
fn largest_alloc(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    LARGEST.load(Ordering::SeqCst)
}

const TYPES: [u16; 29] = [
    1, 16, 17, 18, 19, 32, 33, 34, 35, 36, 38, 39, 128, 130, 131, 132, 133, 134, 135, 136, 256, 257, 258, 259, 261,
    262, 263, 264, 265,
];

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn hostile_length_prefixes_do_not_allocate() {
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for t in TYPES {
        for len in 0..=48usize {
            for fill in [0xffu8, 0xfe, 0xfd, 0x7f] {
                let mut b = t.to_be_bytes().to_vec();
                b.extend(std::iter::repeat(fill).take(len));
                inputs.push(b);
            }
        }
    }
    // Specific shapes: a 65535-byte pong on a 10-byte input, a TLV of
    // 2^64-1 bytes, 65535 HTLC signatures.
    inputs.push([&[0u8, 19, 0xff, 0xff][..], &[0; 10]].concat());
    inputs.push([&[0u8, 16, 0, 0, 0, 0, 1][..], &[0xff; 9]].concat());
    let mut cs = vec![0u8, 132];
    cs.extend([1u8; 32]);
    cs.extend([0u8; 63]);
    cs.push(1);
    cs.extend([0xff, 0xff, 0, 0]);
    inputs.push(cs);
    // The counter works: a genuine 1000-byte pong allocates its payload.
    let pong = [&[0u8, 19, 0x03, 0xe8][..], &[0; 1000]].concat();
    assert!(largest_alloc(|| drop(std::hint::black_box(Message::decode(&pong)))) >= 1000);
    for input in &inputs {
        let n = input.len();
        let biggest = largest_alloc(|| {
            let _ = std::hint::black_box(Message::decode(std::hint::black_box(input)));
        });
        assert!(biggest <= 2 * n + 64, "{} bytes of type {:?} allocated {biggest}", n, &input[..2.min(n)]);
    }
}
