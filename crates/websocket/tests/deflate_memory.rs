//! What one connection's compression contexts really hold, measured with a
//! counting allocator: the figure the memory budget charges
//! ([`websocket::deflate::CONTEXT_BYTES`]) must be at least this, or the budget
//! would let more connections in than the memory it promises.
//!
//! Run: `cargo test -p websocket --test deflate_memory -- --nocapture` prints
//! the measured bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use websocket::deflate::{CONTEXT_BYTES, Compressor, Config, Decompressor, Side, negotiate};

/// Counts the bytes live on the heap (this test binary only).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// A server's compressor and decompressor after one message each way, with
/// context takeover and a 15-bit window (a browser's default): what stays
/// allocated for the connection's life is within CONTEXT_BYTES.
#[test]
fn context_memory() {
    let agreement = negotiate(["permessage-deflate"], &Config::default()).expect("offer accepted");
    let message = br#"{"user":"ada","text":"hello, room"}"#.repeat(100);
    let before = LIVE.load(Ordering::SeqCst);
    let mut compressor = Compressor::new(&agreement, Side::Server);
    let mut decompressor = Decompressor::new(&agreement, Side::Server);
    let wire = compressor.compress(&message);
    let back = decompressor.decompress(&wire, 1 << 20).expect("round trip");
    assert_eq!(back, message);
    drop((wire, back));
    let held = LIVE.load(Ordering::SeqCst) - before;
    println!(
        "one connection's deflate contexts hold {held} bytes (budget charges {CONTEXT_BYTES})"
    );
    assert!(held <= CONTEXT_BYTES, "{held} > {CONTEXT_BYTES}");
    assert!(
        held >= CONTEXT_BYTES / 2,
        "CONTEXT_BYTES is far too big: {held}"
    );
    drop((compressor, decompressor));
}
