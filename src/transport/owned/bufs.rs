//! Where the owned path writes its datagrams: consecutive slices of one
//! shared block instead of one allocation each.
//!
//! A forwarded packet leaves as one datagram per subscriber, and each
//! datagram used to be its own `Vec` (over a kilobyte, past glibc's
//! per-thread cache, so a trip through its bins to allocate and another
//! to free) plus the `Bytes` header the host's [`Transmit`] wraps it in.
//! Here a datagram is written at the end of a block of [`BLOCK`] bytes
//! and split off it as a `Bytes` that shares the block: a reference
//! count instead of two allocations. Once the host has dropped every
//! datagram of a block (it sends them before the router's next input),
//! the block is written from its start again; a block still referenced
//! is left to its datagrams and a new one is allocated.
//!
//! A host that keeps one datagram keeps its whole block (at most
//! [`BLOCK`] bytes) alive as long; see [`Transmit::contents`].
//!
//! [`Transmit`]: crate::Transmit
//! [`Transmit::contents`]: crate::Transmit

use bytes::{Bytes, BytesMut};

/// Bytes per block: about 28 datagrams of a full-size video packet, and
/// well under glibc's mmap threshold (128 KiB), so a block that must be
/// replaced comes from the heap's bins, not from the kernel.
pub(crate) const BLOCK: usize = 32 * 1024;

/// The block the next datagram is written into.
#[derive(Debug, Default)]
pub(crate) struct SendBufs {
    block: BytesMut,
}

impl SendBufs {
    /// An empty buffer with room for `len` bytes without reallocating,
    /// to write the next datagram into and hand to [`finish`](Self::finish).
    pub(crate) fn start(&mut self, len: usize) -> &mut BytesMut {
        self.block.clear();
        // `try_reclaim` succeeds when no datagram of the block is still
        // held (or the room is there already): no allocation then.
        if self.block.capacity() < len && !self.block.try_reclaim(len) {
            self.block = BytesMut::with_capacity(BLOCK.max(len));
        }
        &mut self.block
    }

    /// The datagram written since [`start`](Self::start), split off the
    /// block.
    pub(crate) fn finish(&mut self) -> Bytes {
        self.block.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(bufs: &mut SendBufs, byte: u8, len: usize) -> Bytes {
        let b = bufs.start(len);
        b.extend_from_slice(&vec![byte; len]);
        bufs.finish()
    }

    #[test]
    fn datagrams_share_a_block_and_keep_their_bytes() {
        let mut bufs = SendBufs::default();
        let a = datagram(&mut bufs, 1, 1200);
        let b = datagram(&mut bufs, 2, 1000);
        assert_eq!(&a[..], &[1; 1200][..]);
        assert_eq!(&b[..], &[2; 1000][..]);
        // Consecutive in one block.
        assert_eq!(a.as_ptr().wrapping_add(1200), b.as_ptr());
    }

    #[test]
    fn a_released_block_is_written_again_and_a_held_one_is_not() {
        let mut bufs = SendBufs::default();
        let first = datagram(&mut bufs, 1, 1000);
        let start = first.as_ptr();
        // Fill the block while `first` is held: the next datagram needs a
        // new block, and `first` is untouched.
        let rest: Vec<Bytes> = (0..BLOCK / 1000)
            .map(|_| datagram(&mut bufs, 2, 1000))
            .collect();
        assert_eq!(&first[..], &[1; 1000][..]);
        let moved = rest.last().map(|b| b.as_ptr());
        assert!(moved.is_some_and(|p| p < start || p >= start.wrapping_add(BLOCK)));
        drop(first);
        drop(rest);
        // Each datagram released before the next, as a host does: the
        // writes wrap around within one block (no allocation).
        let at: Vec<usize> = (0..3 * BLOCK / 1000)
            .map(|i| datagram(&mut bufs, i as u8, 1000).as_ptr() as usize)
            .collect();
        let (low, high) = (at.iter().min(), at.iter().max());
        assert!(low.zip(high).is_some_and(|(l, h)| h - l < BLOCK));
    }

    #[test]
    fn a_datagram_larger_than_a_block_gets_its_own() {
        let mut bufs = SendBufs::default();
        let big = datagram(&mut bufs, 9, BLOCK + 10);
        assert_eq!(big.len(), BLOCK + 10);
        assert!(big.iter().all(|b| *b == 9));
    }
}
