//! UDP GSO on the send side (Linux 4.18+): a run of datagrams to one
//! destination, all of one size but the last (which may be shorter), goes
//! to the kernel as one message with a `UDP_SEGMENT` control message and is
//! walked through the network stack once, then cut into its datagrams.
//!
//! An SFU's fan-out alternates destinations (one packet to every viewer,
//! then the next), so [`crate::udp::UdpIo`] sorts what it holds by
//! destination before sending (stably: each viewer's packets keep their
//! order) and [`runs`] finds the runs. A viewer's share of a video frame
//! (packets of the maximum size and a shorter last one) is such a run.

use std::io;
use std::os::fd::RawFd;

use manifold_sfu::Transmit;
use socket2::SockAddr;

use crate::udp::SEND_BATCH;

/// Most datagrams in one GSO message (the kernel's `UDP_MAX_SEGMENTS` is
/// 64 before Linux 6.9 and 128 after).
const MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO message (its UDP payload must stay under 64 KiB).
const MAX_BYTES: usize = 60_000;

/// One message of a `sendmmsg`: `count` datagrams from `start` of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: usize,
    pub count: usize,
}

/// Split the front of `batch` into at most [`SEND_BATCH`] runs.
pub fn runs(batch: &[Transmit], out: &mut Vec<Run>) {
    out.clear();
    let mut i = 0;
    while i < batch.len() && out.len() < SEND_BATCH {
        let first = &batch[i];
        let size = first.contents.len();
        let mut bytes = size;
        let mut j = i + 1;
        while j < batch.len() && j - i < MAX_SEGMENTS && size > 0 {
            let t = &batch[j];
            let len = t.contents.len();
            if t.destination != first.destination || len > size || len == 0 {
                break;
            }
            if bytes + len > MAX_BYTES {
                break;
            }
            bytes += len;
            j += 1;
            // A shorter datagram can only be a message's last segment.
            if len < size {
                break;
            }
        }
        out.push(Run {
            start: i,
            count: j - i,
        });
        i = j;
    }
}

/// Room for one control message carrying a `u16` (the segment size):
/// `CMSG_SPACE(sizeof(u16))` is 24 bytes on 64-bit Linux; 8-byte aligned.
type Control = [u64; 3];

/// One `sendmmsg` of `runs` over `batch`, each run one message to
/// `addrs[k]` (runs of more than one datagram with `UDP_SEGMENT`); returns
/// how many messages the kernel took, from the front.
pub fn send(
    fd: RawFd,
    batch: &[Transmit],
    runs: &[Run],
    addrs: &[SockAddr],
    iovs: &mut Vec<libc::iovec>,
) -> io::Result<usize> {
    let n = runs.len().min(addrs.len()).min(SEND_BATCH);
    let Some(last) = runs[..n].last() else {
        return Ok(0);
    };
    iovs.clear();
    iovs.extend(
        batch[..last.start + last.count]
            .iter()
            .map(|t| libc::iovec {
                iov_base: t.contents.as_ptr().cast_mut().cast(),
                iov_len: t.contents.len(),
            }),
    );
    let mut controls: [Control; SEND_BATCH] = [[0; 3]; SEND_BATCH];
    // SAFETY: all-zero is a valid `mmsghdr` (null pointers, zero lengths).
    let mut hdrs: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
    for (k, h) in hdrs.iter_mut().enumerate().take(n) {
        let run = runs[k];
        let m = &mut h.msg_hdr;
        m.msg_name = addrs[k].as_ptr().cast_mut().cast();
        m.msg_namelen = addrs[k].len();
        // SAFETY: `run` lies within `iovs` (it was filled up to the last run).
        m.msg_iov = unsafe { iovs.as_mut_ptr().add(run.start) };
        m.msg_iovlen = run.count;
        if run.count > 1 {
            let segment = batch[run.start].contents.len() as u16;
            m.msg_control = controls[k].as_mut_ptr().cast();
            // SAFETY: CMSG_SPACE only computes a size.
            m.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
            // SAFETY: the control buffer is `msg_controllen` bytes, 8-byte
            // aligned, so CMSG_FIRSTHDR is non-null and its data has room
            // for a u16.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(m);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
            }
        }
    }
    // SAFETY: the first `n` headers point at live addresses in `addrs`, at
    // iovecs in `iovs` over the transmits' contents (which the kernel only
    // reads) and at control buffers on this stack frame.
    unsafe { crate::udp::sendmmsg(fd, &mut hdrs[..n]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn t(to: u16, len: usize) -> Transmit {
        let from = SocketAddr::from(([127, 0, 0, 1], 1));
        let to = SocketAddr::from(([127, 0, 0, 1], to));
        Transmit::new(from, to, vec![0u8; len])
    }

    fn counts(batch: &[Transmit]) -> Vec<usize> {
        let mut out = Vec::new();
        runs(batch, &mut out);
        out.iter().map(|r| r.count).collect()
    }

    #[test]
    fn runs_are_one_destination_of_one_size_with_a_shorter_last() {
        let batch = [
            t(1, 1200),
            t(1, 1200),
            t(1, 700),
            t(1, 1200),
            t(2, 1200),
            t(2, 1300),
            t(3, 100),
        ];
        // A shorter datagram ends a run; a longer one starts the next.
        assert_eq!(counts(&batch), [3, 1, 1, 1, 1]);
        let many: Vec<_> = (0..70).map(|_| t(1, 900)).collect();
        // 64 segments at most, and 60,000 bytes: 66 of 900 would pass 64.
        assert_eq!(counts(&many), [64, 6]);
        let big: Vec<_> = (0..60).map(|_| t(1, 1400)).collect();
        assert_eq!(counts(&big), [42, 18]);
    }
}
