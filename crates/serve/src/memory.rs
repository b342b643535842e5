//! Memory given back after a burst: big buffers get mappings of their own.
//!
//! When a burst ends — clients that sent megabyte messages and never read the
//! echoes close, or drain their queues — a server frees those buffers. Whether
//! the process's RSS falls back is up to the allocator, not to us. glibc's
//! malloc serves a request of 128 KiB or more with an `mmap(2)` of its own and
//! returns it with `munmap(2)` on free — but only at first: each time it frees
//! such a block it *raises* that threshold to the block's size (up to 32 MiB),
//! so that the next ones come from its heaps (arenas) instead. It keeps what
//! its heaps grew to. That guess suits a program that allocates big blocks
//! over and over; a server under a burst is the other case: after the burst,
//! the heaps keep tens of megabytes it will not need again.
//!
//! So every server fixes the threshold at start ([`give_back_big_buffers`],
//! `mallopt(3)` `M_MMAP_THRESHOLD`, which also turns the raising off), and the
//! heaps' trim threshold with it: a freed big buffer goes back to the kernel
//! at once, and a heap whose top is free shrinks. The cost: every big buffer
//! is a fresh mapping, so its pages fault in (zeroed by the kernel) each time,
//! a small price next to a megabyte's worth of `read()`s. Small buffers (the
//! loops' 16 KiB read buffer, a chat line, a pong) are untouched.
//!
//! Measured with `scripts/burst-rss.sh --kib 1000 --messages 8` (48 clients
//! send eight 1,000 KiB messages each to `serve ws` and never read, then
//! close), `--serve chat --kib 1024 --messages 4 --clients 24` and `--kib
//! 16384`, each run once as shipped and once with `--glibc-defaults` (this
//! call turned into a no-op): with glibc's defaults the server kept from a few
//! to tens of megabytes above idle seconds after the clients had gone,
//! varying run to run; with the fixed threshold it came back within a megabyte
//! or two of idle every time, and its peak was no higher. (Figures from a
//! loaded 2-vCPU machine: run the script on yours.) A `malloc_trim(0)` on the
//! loops' timer was the other candidate; with the threshold fixed there was
//! nothing left for it to give back, so it is not done.
//!
//! Other allocators (musl, a `#[global_allocator]`) decide for themselves:
//! there this does nothing.

use std::sync::Once;

/// Requests at least this big get their own mapping, returned on free: glibc's
/// own starting value (128 KiB), kept fixed instead of raised.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// A heap whose free top passes this is trimmed (given back) on free: glibc's
/// starting value too, no longer raised along with the threshold above.
pub const TRIM_THRESHOLD: usize = 128 * 1024;

// ANCHOR: give_back
/// Makes the allocator give big buffers back to the kernel when they are
/// freed. Called by every server model as it starts; once per process.
pub fn give_back_big_buffers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(set_thresholds);
}
// ANCHOR_END: give_back

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() {
    // SAFETY: mallopt only sets allocator parameters; it is safe to call at
    // any time, from any thread (glibc takes its own locks).
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
    };
    if ok {
        log::debug!(
            "malloc: buffers of {} KiB or more are mapped on their own and given back when freed",
            MMAP_THRESHOLD / 1024
        );
    } else {
        log::warn!(
            "mallopt refused the thresholds: memory freed after a burst may stay with the process"
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() {}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Bytes glibc holds in mappings of their own (big blocks).
    fn mapped() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        unsafe { libc::mallinfo2() }.hblkhd
    }

    /// A big buffer freed once does not teach the allocator to keep the next
    /// one in its heap: the second is mapped on its own too (and so given
    /// back when freed), where glibc's default would have raised the threshold.
    #[test]
    fn a_big_buffer_stays_mapped_after_one_was_freed() {
        give_back_big_buffers();
        const BIG: usize = 1 << 20;
        // The counter is the whole process's: another test freeing a big
        // block between the two readings hides our mapping. So a few tries,
        // each allocating after a freed one; one clean reading shows it.
        const TRIES: usize = 20;
        let mapped_on_its_own = (0..TRIES).any(|_| {
            drop(std::hint::black_box(vec![1u8; BIG]));
            let before = mapped();
            let again = std::hint::black_box(vec![1u8; BIG]);
            let grew = mapped() >= before + BIG;
            drop(again);
            grew
        });
        assert!(mapped_on_its_own, "the second 1 MiB buffer is mapped");
    }
}
