//! The floor of forwarding on this machine, kernel included (issue #19):
//! per forwarded packet, what any SFU must do with real UDP sockets on
//! loopback, with the best batching the kernel offers.
//!
//! One batch is [`BATCH`] publisher datagrams (the same SRTP packet as the
//! `forward` bench's floor: a 1000-byte VP8 payload, AES-256-GCM). Timed,
//! on the bench thread's CPU clock (system time and the loopback delivery
//! the sending thread does inline included):
//!
//! 1. receive the batch: `recvmmsg` (one call), or with UDP GRO one
//!    `recvmsg` of a coalesced datagram (`gro`; on loopback the kernel
//!    coalesces only what the sender sent as one GSO datagram, so the
//!    publisher sends with GSO there: the best case a NIC's GRO could give);
//! 2. decrypt each datagram once, and per subscriber copy, rewrite the RTP
//!    header and encrypt (`support::floor`, the router's own provider);
//! 3. send N × [`BATCH`] datagrams: `sendmmsg` with one entry per datagram
//!    (`mmsg`, what the reference server does), or one entry per
//!    subscriber carrying its [`BATCH`] packets as UDP GSO segments
//!    (`gso`: a run to one destination, as a keyframe burst is).
//!
//! Untimed between batches: the publisher's send and the subscribers'
//! sockets drained (so nothing is dropped for a full receive buffer; each
//! subscriber's datagram count is checked).
//!
//! Criterion's throughput is forwarded packets, so `thrpt` is forwarded
//! packets per second of one core and the time per element is the cost per
//! forwarded packet. `docs/benchmarks.md` reports the router and the server
//! as ratios of these floors measured in the same run.

mod support;

use std::io;
use std::mem::{size_of, zeroed};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use socket2::SockAddr;
use support::floor::{Floor, Profile};
use support::{thread_cpu, CpuTime};

/// Publisher datagrams per batch (the reference server's `recvmmsg` batch).
const BATCH: usize = 32;
const SUBSCRIBERS: [usize; 3] = [1, 10, 100];
/// Datagrams per `sendmmsg` (the kernel's limit).
const SEND_BATCH: usize = 1024;
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Recv {
    Mmsg,
    Gro,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Send {
    Mmsg,
    Gso,
}

struct Net {
    floor: Floor,
    publisher: UdpSocket,
    server: UdpSocket,
    subscribers: Vec<UdpSocket>,
    addrs: Vec<SockAddr>,
    /// Receive buffers: [`BATCH`] datagrams, or one GRO datagram.
    bufs: Vec<Vec<u8>>,
    /// Each subscriber's packets of the current batch.
    out: Vec<Vec<Vec<u8>>>,
    /// Concatenated segments per subscriber (GSO).
    joined: Vec<Vec<u8>>,
}

fn loopback() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_nonblocking(true).expect("nonblocking");
    s
}

impl Net {
    fn new(subscribers: usize, sample: &[u8]) -> Net {
        let floor = Floor::new(Profile::AeadAes256Gcm, subscribers, sample);
        let subs: Vec<UdpSocket> = (0..subscribers).map(|_| loopback()).collect();
        let addrs = subs
            .iter()
            .map(|s| SockAddr::from(s.local_addr().unwrap()))
            .collect();
        let server = loopback();
        let publisher = loopback();
        publisher.connect(server.local_addr().unwrap()).unwrap();
        Net {
            floor,
            publisher,
            server,
            subscribers: subs,
            addrs,
            bufs: vec![vec![0; 2048]; BATCH],
            out: vec![Vec::with_capacity(BATCH); subscribers],
            joined: vec![Vec::new(); subscribers],
        }
    }

    fn set_gro(&mut self, on: bool) {
        let v: libc::c_int = on.into();
        // SAFETY: a valid socket and a c_int option value of the right size.
        let rc = unsafe {
            libc::setsockopt(
                self.server.as_raw_fd(),
                SOL_UDP,
                UDP_GRO,
                &v as *const _ as *const libc::c_void,
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "UDP_GRO: {}", io::Error::last_os_error());
        self.bufs[0].resize(if on { 65_536 } else { 2048 }, 0);
    }

    /// The publisher sends one batch (untimed).
    fn publish(&mut self, recv: Recv) {
        let packet = self.floor.packet().to_vec();
        match recv {
            Recv::Mmsg => {
                for _ in 0..BATCH {
                    self.publisher.send(&packet).expect("publish");
                }
            }
            Recv::Gro => {
                let joined: Vec<u8> = (0..BATCH).flat_map(|_| packet.iter().copied()).collect();
                let n = send_gso(self.publisher.as_raw_fd(), None, &joined, packet.len())
                    .expect("publish with GSO");
                assert_eq!(n, joined.len());
            }
        }
    }

    /// One timed batch: receive, forward, send. Returns its CPU time.
    fn batch(&mut self, recv: Recv, send: Send) -> Duration {
        self.publish(recv);
        let start = thread_cpu();
        let fd = self.server.as_raw_fd();
        let received: Vec<(usize, usize)> = match recv {
            Recv::Mmsg => {
                let lens = recv_mmsg(fd, &mut self.bufs).expect("recvmmsg");
                lens.into_iter().enumerate().collect()
            }
            Recv::Gro => {
                let (len, seg) = recv_gro(fd, &mut self.bufs[0]).expect("recvmsg");
                let seg = seg.unwrap_or(len);
                (0..len.div_ceil(seg))
                    .map(|k| (k * seg, seg.min(len - k * seg)))
                    .collect()
            }
        };
        let mut count = 0;
        for (a, b) in received {
            let packet = match recv {
                Recv::Mmsg => &self.bufs[a][..b],
                Recv::Gro => &self.bufs[0][a..a + b],
            };
            let out = &mut self.out;
            self.floor.forward_each(packet, |i, p| out[i].push(p));
            count += 1;
        }
        assert_eq!(count, BATCH, "the whole batch arrived");
        match send {
            Send::Mmsg => {
                let all: Vec<(usize, &[u8])> = self
                    .out
                    .iter()
                    .enumerate()
                    .flat_map(|(i, ps)| ps.iter().map(move |p| (i, p.as_slice())))
                    .collect();
                for chunk in all.chunks(SEND_BATCH) {
                    send_mmsg(fd, chunk, &self.addrs).expect("sendmmsg");
                }
            }
            Send::Gso => {
                for (joined, ps) in self.joined.iter_mut().zip(&self.out) {
                    joined.clear();
                    for p in ps {
                        joined.extend_from_slice(p);
                    }
                }
                let seg = self.out[0][0].len();
                for (j, addr) in self.joined.iter().zip(&self.addrs) {
                    send_gso(fd, Some(addr), j, seg).expect("send with GSO");
                }
            }
        }
        for ps in &mut self.out {
            ps.clear();
        }
        let spent = thread_cpu() - start;
        self.drain();
        spent
    }

    /// Empty every subscriber's socket (untimed); each got the batch.
    fn drain(&mut self) {
        let mut buf = [0u8; 2048];
        for s in &self.subscribers {
            let mut n = 0;
            while s.recv(&mut buf).is_ok() {
                n += 1;
            }
            assert_eq!(n, BATCH, "a subscriber got every packet of the batch");
        }
    }
}

/// One `recvmmsg` of up to `bufs.len()` datagrams; their lengths.
fn recv_mmsg(fd: libc::c_int, bufs: &mut [Vec<u8>]) -> io::Result<Vec<usize>> {
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: zeroed mmsghdr is valid; each points at one iovec that lives
    // for the call.
    let mut hdrs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: `hdrs` and the buffers they point at are valid for the call.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            hdrs.len() as _,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(hdrs[..n as usize]
        .iter()
        .map(|h| h.msg_len as usize)
        .collect())
}

/// One `recvmsg` with UDP GRO: the length and the segment size, if the
/// kernel coalesced.
fn recv_gro(fd: libc::c_int, buf: &mut [u8]) -> io::Result<(usize, Option<usize>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: zeroed msghdr is valid; it points at `iov` and `control`.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    // SAFETY: `msg` and what it points at are valid for the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut seg = None;
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == SOL_UDP && (*c).cmsg_type == UDP_GRO {
                seg = Some(
                    std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::c_int) as usize,
                );
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, seg))
}

/// `sendmmsg` of `(subscriber, datagram)` pairs to their addresses.
fn send_mmsg(fd: libc::c_int, batch: &[(usize, &[u8])], addrs: &[SockAddr]) -> io::Result<()> {
    let mut iov: Vec<libc::iovec> = batch
        .iter()
        .map(|(_, p)| libc::iovec {
            iov_base: p.as_ptr() as *mut _,
            iov_len: p.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = batch
        .iter()
        .zip(iov.iter_mut())
        .map(|((i, _), v)| {
            // SAFETY: zeroed mmsghdr is valid.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = addrs[*i].as_ptr() as *mut _;
            h.msg_hdr.msg_namelen = addrs[*i].len();
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    let mut done = 0;
    while done < hdrs.len() {
        // SAFETY: headers, addresses and buffers are valid for the call.
        let n =
            unsafe { libc::sendmmsg(fd, hdrs[done..].as_mut_ptr(), (hdrs.len() - done) as _, 0) };
        if n <= 0 {
            return Err(io::Error::last_os_error());
        }
        done += n as usize;
    }
    Ok(())
}

/// One `sendmsg` of `data` as UDP GSO segments of `seg` bytes (to `addr`,
/// or the connected peer).
fn send_gso(
    fd: libc::c_int,
    addr: Option<&SockAddr>,
    data: &[u8],
    seg: usize,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    };
    let mut control = [0u64; 4];
    // SAFETY: zeroed msghdr is valid; it points at `iov`, `control` and
    // `addr`, which live for the call; the control message fits.
    let n = unsafe {
        let mut msg: libc::msghdr = zeroed();
        if let Some(a) = addr {
            msg.msg_name = a.as_ptr() as *mut _;
            msg.msg_namelen = a.len();
        }
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = SOL_UDP;
        (*c).cmsg_type = UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, seg as u16);
        libc::sendmsg(fd, &msg, 0)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// A publisher SRTP datagram like the `forward` bench's: 12-byte header
/// plus a one-byte-extension block, 1000-byte payload, AES-256-GCM tag.
fn sample() -> Vec<u8> {
    let mut p = vec![0x90, 96, 0, 1, 0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78];
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0x01, 0, 0]);
    p.resize(p.len() + 1000 + 16, 0);
    p
}

fn floor_net(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("floor_net");
    let sizes: &[usize] = if support::measuring() {
        &SUBSCRIBERS
    } else {
        &SUBSCRIBERS[..2]
    };
    let sample = sample();
    for &n in sizes {
        g.throughput(Throughput::Elements((n * BATCH) as u64));
        for (recv, send) in [
            (Recv::Mmsg, Send::Mmsg),
            (Recv::Mmsg, Send::Gso),
            (Recv::Gro, Send::Gso),
        ] {
            let mut net = Net::new(n, &sample);
            net.set_gro(recv == Recv::Gro);
            let name = format!(
                "{}+{}",
                if recv == Recv::Gro { "gro" } else { "recvmmsg" },
                if send == Send::Gso { "gso" } else { "sendmmsg" }
            );
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| net.batch(recv, send)).sum())
            });
        }
    }
    g.finish();
}

fn main() {
    let mut c = support::criterion();
    floor_net(&mut c);
    c.final_summary();
}
