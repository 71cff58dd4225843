//! Batched UDP I/O for a router loop: `recvmmsg` reads up to
//! [`RECV_BATCH`] messages per system call, `sendmmsg` sends up to
//! [`SEND_BATCH`] messages per call.
//!
//! Send uses UDP GSO where the kernel offers it (`crate::gso`; `--no-gso`
//! turns it off): an SFU's fan-out goes to a different viewer every
//! datagram, so the queue is sorted by destination (stably) before it is
//! sent, and each viewer's run of same-size datagrams (its share of a video
//! frame) leaves as one message. The loop holds up to [`GSO_WINDOW`]
//! datagrams for it while it reads a batch of input
//! ([`batch_ready`](UdpIo::batch_ready)); a lone input's fan-out goes out
//! as soon as it is handled.
//!
//! Receive uses UDP GRO where the kernel offers it (Linux 5.0+): datagrams
//! of one flow that arrive back to back (a publisher's keyframe burst) come
//! up as one message of up to 64 KiB with their segment size, walked once
//! through the network stack instead of once each, and are split here
//! into the datagrams they were. On loopback the kernel coalesces only what
//! was sent as one GSO message; through a NIC it coalesces what arrives
//! together. `--no-gro` turns it off.
//!
//! Sending never waits: [`UdpIo::push`] queues a transmit and
//! [`UdpIo::flush`] sends what the socket takes. When the socket's send
//! buffer is full (`EAGAIN`) the rest stays queued, in order, until the
//! loop sees the socket writable again; past [`MAX_QUEUE`] queued datagrams
//! new ones are dropped and counted. A datagram the kernel refuses for any
//! other reason (`ENOBUFS`, unreachable, ...) is dropped and counted; the
//! ones after it are still sent.
//!
//! The two system calls are the only `unsafe` code in the server: each
//! fills an array of `mmsghdr` that points at buffers living on the
//! caller's stack or in `self` for the duration of the call.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use manifold_sfu::Transmit;

use crate::gso;
use socket2::{SockAddr, SockAddrStorage, SockRef};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams read per `recvmmsg`.
pub const RECV_BATCH: usize = 32;
/// Datagrams sent per `sendmmsg` (the kernel's limit is 1024).
pub const SEND_BATCH: usize = 64;
/// Datagrams held before sending while a batch of input is handled, with
/// GSO (about one to two milliseconds of fan-out on one core).
pub const GSO_WINDOW: usize = 512;
/// Datagrams waiting for room in the socket; past this, new ones are dropped.
const MAX_QUEUE: usize = 32 * 1024;
/// Largest datagram we read; longer ones are truncated and dropped.
const MAX_DATAGRAM: usize = 2048;
/// Bytes of one receive slot with GRO: the most the kernel coalesces.
const GRO_SLOT: usize = 65_536;
/// Socket buffer size asked for, each way. Linux caps it at
/// `net.core.rmem_max` / `wmem_max` and then doubles it.
pub const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Counters of one socket, since it was opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IoStats {
    /// `recvmmsg` calls that returned datagrams.
    pub recv_calls: u64,
    /// Datagrams read (a GRO message counts as the datagrams it holds).
    pub received: u64,
    /// Datagrams that arrived coalesced with others (UDP GRO), split here.
    pub coalesced: u64,
    /// Datagrams longer than [`MAX_DATAGRAM`], empty or without an IP
    /// source, dropped.
    pub unreadable: u64,
    /// `sendmmsg` calls that sent something.
    pub send_calls: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Of which sent in a UDP GSO message with others.
    pub gso_sent: u64,
    /// Times the socket was found full (`EAGAIN`) and sending paused until
    /// it was writable again; nothing is lost.
    pub stalls: u64,
    /// Datagrams the kernel refused (not `EAGAIN`), dropped.
    pub send_errors: u64,
    /// Datagrams dropped because [`MAX_QUEUE`] were already waiting.
    pub queue_drops: u64,
}

/// One received datagram: where it is in the receive buffer, its length
/// and its source.
#[derive(Debug, Clone, Copy)]
struct Received {
    start: usize,
    len: usize,
    source: SocketAddr,
    /// When it reached the socket (`SO_TIMESTAMPNS`, ns since the Unix
    /// epoch), if the kernel said.
    arrived: Option<u64>,
}

/// Arrival stamps held for [`UdpIo::record_delays`]; past this (a socket
/// that stays full) the rest go unmeasured.
const MAX_ARRIVALS: usize = 4096;

/// A non-blocking UDP socket with batched receive and send.
pub struct UdpIo {
    socket: UdpSocket,
    /// [`RECV_BATCH`] receive slots of `slot` bytes each.
    bufs: Vec<u8>,
    slot: usize,
    /// Whether the socket has UDP GRO on.
    gro: bool,
    /// Whether datagrams go out with UDP GSO (off after the kernel refuses it).
    gso: bool,
    /// Whether the queue is sorted by destination (nothing pushed since).
    sorted: bool,
    /// The GSO messages of the batch being sent, and their iovecs.
    runs: Vec<gso::Run>,
    iovs: Vec<libc::iovec>,
    received: Vec<Received>,
    queue: VecDeque<Transmit>,
    /// Destinations of the batch being sent (kept to reuse the allocation).
    addrs: Vec<SockAddr>,
    /// The last flush found the socket full (to count stalls, not retries).
    stalled: bool,
    /// Arrival stamps of the datagrams read since the queue was last
    /// empty (see `delay.rs`).
    arrivals: Vec<u64>,
    pub stats: IoStats,
}

/// Ask for [`SOCKET_BUFFER`] bytes of receive and send buffer; returns what
/// the kernel granted (receive, send).
pub fn grow_buffers(socket: &std::net::UdpSocket) -> io::Result<(usize, usize)> {
    let s = SockRef::from(socket);
    s.set_recv_buffer_size(SOCKET_BUFFER)?;
    s.set_send_buffer_size(SOCKET_BUFFER)?;
    Ok((s.recv_buffer_size()?, s.send_buffer_size()?))
}

/// Turn a boolean socket option on; false if the kernel does not have it.
fn enable(socket: &std::net::UdpSocket, level: libc::c_int, option: libc::c_int) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a c_int option value of its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

impl UdpIo {
    /// Wrap a bound, non-blocking socket, with UDP GRO if `gro` and the
    /// kernel has it, and UDP GSO if `gso`; call inside a tokio runtime.
    pub fn new(socket: std::net::UdpSocket, gro: bool, gso: bool) -> io::Result<Self> {
        let gro = gro && enable(&socket, libc::SOL_UDP, libc::UDP_GRO);
        // Receive timestamps for the delay histogram (`delay.rs`).
        enable(&socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS);
        let slot = if gro { GRO_SLOT } else { MAX_DATAGRAM };
        Ok(Self {
            socket: UdpSocket::from_std(socket)?,
            bufs: vec![0; RECV_BATCH * slot],
            slot,
            gro,
            gso,
            sorted: true,
            runs: Vec::with_capacity(SEND_BATCH),
            iovs: Vec::new(),
            received: Vec::with_capacity(RECV_BATCH),
            queue: VecDeque::new(),
            addrs: Vec::with_capacity(SEND_BATCH),
            stalled: false,
            arrivals: Vec::with_capacity(MAX_ARRIVALS),
            stats: IoStats::default(),
        })
    }

    /// Wait until the socket may have datagrams to read.
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Wait until the socket may take more datagrams.
    pub async fn writable(&self) -> io::Result<()> {
        self.socket.writable().await
    }

    /// Whether the socket receives with UDP GRO.
    pub fn gro(&self) -> bool {
        self.gro
    }

    /// Whether the socket sends with UDP GSO (until the kernel refuses it).
    pub fn gso(&self) -> bool {
        self.gso
    }

    /// Read one batch without waiting; returns how many datagrams it
    /// holds (0 if none were waiting; with GRO it may be more than
    /// [`RECV_BATCH`]). [`datagram`](Self::datagram) gives each one.
    pub fn recv_batch(&mut self) -> io::Result<usize> {
        self.received.clear();
        let (socket, out) = (&self.socket, &mut self.received);
        let mut slots = Slots {
            bufs: &mut self.bufs,
            size: self.slot,
            gro: self.gro,
        };
        let r = socket.try_io(Interest::READABLE, || {
            recv_mmsg(socket.as_raw_fd(), &mut slots, out)
        });
        let read = match r {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Read::default(),
            Err(e) => return Err(e),
        };
        let room = MAX_ARRIVALS - self.arrivals.len();
        let stamps = self.received.iter().filter_map(|r| r.arrived);
        self.arrivals.extend(stamps.take(room));
        if read.messages > 0 {
            self.stats.recv_calls += 1;
            self.stats.received += (self.received.len() + read.unreadable) as u64;
            self.stats.unreadable += read.unreadable as u64;
            self.stats.coalesced += read.coalesced as u64;
        }
        Ok(self.received.len())
    }

    /// The source and bytes of the `i`th datagram of the last batch.
    pub fn datagram(&self, i: usize) -> (SocketAddr, &[u8]) {
        let r = self.received[i];
        (r.source, &self.bufs[r.start..r.start + r.len])
    }

    /// Once everything read so far has been handled and its output handed
    /// to the kernel (the queue is empty), count each datagram's time in
    /// the server into `delays`.
    pub fn record_delays(&mut self, delays: &mut crate::delay::Delays) {
        if !self.queue.is_empty() || self.arrivals.is_empty() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        for a in self.arrivals.drain(..) {
            delays.record(std::time::Duration::from_nanos(now.saturating_sub(a)));
        }
    }

    /// Queue a datagram; sends happen in [`flush`](Self::flush).
    pub fn push(&mut self, t: Transmit) {
        if self.queue.len() >= MAX_QUEUE {
            self.stats.queue_drops += 1;
            return;
        }
        self.queue.push_back(t);
        self.sorted = false;
    }

    /// Whether enough is queued to send now: a whole batch
    /// ([`SEND_BATCH`]), or with GSO the window ([`GSO_WINDOW`]).
    pub fn batch_ready(&self) -> bool {
        let window = if self.gso { GSO_WINDOW } else { SEND_BATCH };
        self.queue.len() >= window
    }

    /// Send queued datagrams, in order, until the queue is empty or the
    /// socket is full. Returns whether datagrams are left (wait for
    /// [`writable`](Self::writable)). Until tokio has seen the socket
    /// writable once (its first poll), everything stays queued.
    pub fn flush(&mut self) -> bool {
        if self.gso && !self.sorted {
            // Stable: each destination's datagrams keep their order.
            self.queue.make_contiguous().sort_by_key(|t| t.destination);
            self.sorted = true;
        }
        while !self.queue.is_empty() {
            let r = match self.gso {
                true => self.send_runs(),
                false => self.send_datagrams(),
            };
            match r {
                Err(e)
                    if self.gso
                        && self.runs.first().is_some_and(|r| r.count > 1)
                        && gso_refused(&e) =>
                {
                    tracing::warn!("UDP GSO refused ({e}): sending datagrams one by one");
                    self.gso = false;
                }
                Ok(n) => {
                    // Fewer than asked: the next call reports why.
                    self.stalled = false;
                    self.stats.send_calls += 1;
                    self.stats.sent += n as u64;
                    self.queue.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.stalls += u64::from(!self.stalled);
                    self.stalled = true;
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The first message of the batch failed: drop it alone.
                    tracing::debug!("UDP send: {e}");
                    let n = match self.gso {
                        true => self.runs.first().map_or(1, |r| r.count),
                        false => 1,
                    };
                    self.stats.send_errors += n as u64;
                    self.queue.drain(..n);
                }
            }
        }
        false
    }

    /// One `sendmmsg` of the queue's front, a datagram per message; how
    /// many datagrams the kernel took.
    fn send_datagrams(&mut self) -> io::Result<usize> {
        let batch = self.queue.as_slices().0;
        let batch = &batch[..batch.len().min(SEND_BATCH)];
        self.addrs.clear();
        self.addrs
            .extend(batch.iter().map(|t| SockAddr::from(t.destination)));
        let (socket, addrs) = (&self.socket, &self.addrs);
        socket.try_io(Interest::WRITABLE, || {
            send_mmsg(socket.as_raw_fd(), batch, addrs)
        })
    }

    /// One `sendmmsg` of the queue's front, a run to one destination per
    /// message (`crate::gso`); how many datagrams the kernel took.
    fn send_runs(&mut self) -> io::Result<usize> {
        let batch = self.queue.as_slices().0;
        gso::runs(batch, &mut self.runs);
        self.addrs.clear();
        self.addrs.extend(
            self.runs
                .iter()
                .map(|r| SockAddr::from(batch[r.start].destination)),
        );
        let (socket, runs, addrs, iovs) = (&self.socket, &self.runs, &self.addrs, &mut self.iovs);
        let messages = socket.try_io(Interest::WRITABLE, || {
            gso::send(socket.as_raw_fd(), batch, runs, addrs, iovs)
        })?;
        let sent = &self.runs[..messages];
        self.stats.gso_sent += sent
            .iter()
            .filter(|r| r.count > 1)
            .map(|r| r.count as u64)
            .sum::<u64>();
        Ok(sent.iter().map(|r| r.count).sum())
    }
}

/// Whether a send error says the kernel or the device cannot do GSO.
fn gso_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EOPNOTSUPP)
    )
}

/// The receive buffer: [`RECV_BATCH`] slots of `size` bytes.
struct Slots<'a> {
    bufs: &'a mut [u8],
    size: usize,
    gro: bool,
}

/// What one `recvmmsg` read.
#[derive(Debug, Default, Clone, Copy)]
struct Read {
    /// Messages (a GRO message is one, whatever it holds).
    messages: usize,
    /// Truncated messages and ones without an IP source, dropped.
    unreadable: usize,
    /// Datagrams that came in a GRO message with others.
    coalesced: usize,
}

/// Room for two control messages: the GRO segment size (an `int`,
/// `CMSG_SPACE` 24 bytes on 64-bit Linux) and the receive timestamp (a
/// `timespec`, 32 bytes); 8-byte aligned.
type Control = [u64; 8];

/// The segment size of a GRO message and its receive timestamp (ns since
/// the Unix epoch), from its control messages.
fn read_controls(h: &libc::msghdr) -> (Option<usize>, Option<u64>) {
    let (mut seg, mut stamp) = (None, None);
    // SAFETY: walking the control messages the kernel wrote within
    // `msg_control` / `msg_controllen` of this header.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::SOL_UDP, libc::UDP_GRO) => {
                    let s = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    seg = usize::try_from(s).ok().filter(|s| *s > 0);
                }
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                    let t = std::ptr::read_unaligned(data.cast::<libc::timespec>());
                    stamp = Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64);
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    (seg, stamp)
}

/// One `recvmmsg` into `slots`; appends a [`Received`] to `out` for every
/// datagram (a GRO message split into its segments) but those of
/// truncated messages.
fn recv_mmsg(fd: RawFd, slots: &mut Slots<'_>, out: &mut Vec<Received>) -> io::Result<Read> {
    let size = slots.size;
    let mut addrs: [SockAddrStorage; RECV_BATCH] =
        std::array::from_fn(|_| SockAddrStorage::zeroed());
    let mut controls: [Control; RECV_BATCH] = [[0; 8]; RECV_BATCH];
    let mut iovs: [libc::iovec; RECV_BATCH] = std::array::from_fn(|i| libc::iovec {
        iov_base: slots.bufs[i * size..].as_mut_ptr().cast(),
        iov_len: size,
    });
    // SAFETY: all-zero is a valid `mmsghdr` (null pointers, zero lengths).
    let mut hdrs: [libc::mmsghdr; RECV_BATCH] = unsafe { std::mem::zeroed() };
    for (i, h) in hdrs.iter_mut().enumerate() {
        h.msg_hdr.msg_name = (&mut addrs[i] as *mut SockAddrStorage).cast();
        h.msg_hdr.msg_namelen = addrs[i].size_of();
        h.msg_hdr.msg_iov = &mut iovs[i];
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_control = controls[i].as_mut_ptr().cast();
        h.msg_hdr.msg_controllen = size_of::<Control>() as _;
    }
    // SAFETY: every header points at one address storage, one control
    // buffer and one iovec of this frame, and each iovec at a distinct
    // `size`-byte slot of `slots.bufs` (RECV_BATCH × size bytes long); all
    // outlive the call and the kernel writes within those sizes.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            RECV_BATCH as _,
            0,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut read = Read {
        messages: n as usize,
        ..Read::default()
    };
    for (slot, (h, addr)) in hdrs.iter().zip(addrs).take(n as usize).enumerate() {
        // SAFETY: the kernel wrote a socket address of this length.
        let source = unsafe { SockAddr::new(addr, h.msg_hdr.msg_namelen) }.as_socket();
        // A datagram without an IP source cannot be answered; skip it.
        let Some(source) = source.filter(|_| h.msg_hdr.msg_flags & libc::MSG_TRUNC == 0) else {
            read.unreadable += 1;
            continue;
        };
        let (start, len) = (slot * size, (h.msg_len as usize).min(size));
        let (seg, arrived) = read_controls(&h.msg_hdr);
        let seg = match seg.filter(|_| slots.gro) {
            Some(seg) if seg < len => seg,
            _ => len,
        };
        // Empty, or (with GRO's large slots) one datagram longer than any
        // we read without GRO: dropped either way.
        if len == 0 || seg > MAX_DATAGRAM {
            read.unreadable += 1;
            continue;
        }
        let mut at = 0;
        while at < len {
            let part = seg.min(len - at);
            out.push(Received {
                start: start + at,
                len: part,
                source,
                arrived,
            });
            at += part;
        }
        if seg < len {
            read.coalesced += len.div_ceil(seg);
        }
    }
    Ok(read)
}

/// One `sendmmsg` of `batch` (at most [`SEND_BATCH`]) to `addrs` (one per
/// datagram); returns how many the kernel took, from the front.
fn send_mmsg(fd: RawFd, batch: &[Transmit], addrs: &[SockAddr]) -> io::Result<usize> {
    let n = batch.len().min(addrs.len()).min(SEND_BATCH);
    let mut iovs: [libc::iovec; SEND_BATCH] = std::array::from_fn(|i| match batch.get(i) {
        Some(t) => libc::iovec {
            iov_base: t.contents.as_ptr().cast_mut().cast(),
            iov_len: t.contents.len(),
        },
        None => libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        },
    });
    // SAFETY: all-zero is a valid `mmsghdr` (null pointers, zero lengths).
    let mut hdrs: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
    for (i, h) in hdrs.iter_mut().enumerate().take(n) {
        h.msg_hdr.msg_name = addrs[i].as_ptr().cast_mut().cast();
        h.msg_hdr.msg_namelen = addrs[i].len();
        h.msg_hdr.msg_iov = &mut iovs[i];
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the first `n` headers point at live addresses in `addrs` and
    // at iovecs over the transmits' contents, which the kernel only reads.
    unsafe { sendmmsg(fd, &mut hdrs[..n]) }
}

/// `sendmmsg` of `hdrs`; how many messages the kernel took, from the front.
///
/// # Safety
/// Every header must point at live addresses, iovecs, buffers and control
/// messages for the duration of the call.
pub unsafe fn sendmmsg(fd: RawFd, hdrs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    // SAFETY: the caller's promise; `hdrs.len()` headers are passed.
    let sent = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), hdrs.len() as _, 0) };
    match sent {
        s if s < 0 => Err(io::Error::last_os_error()),
        s => Ok(s as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transmit(from: SocketAddr, to: SocketAddr, byte: u8) -> Transmit {
        Transmit::new(from, to, vec![byte; 100 + byte as usize])
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Two sockets on loopback, the second non-blocking, and their addresses.
    fn pair() -> (
        std::net::UdpSocket,
        std::net::UdpSocket,
        SocketAddr,
        SocketAddr,
    ) {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_nonblocking(true).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        (a, b, a_addr, b_addr)
    }

    /// Each datagram read carries the kernel's arrival stamp; once the
    /// queue is empty its time in the server is counted, and not before.
    #[test]
    fn delays_count_from_the_kernel_stamp_once_the_output_is_sent() {
        runtime().block_on(async {
            let (a, b, a_addr, b_addr) = pair();
            let mut b = UdpIo::new(b, true, false).unwrap();
            for _ in 0..3 {
                a.send_to(b"x", b_addr).unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            b.readable().await.unwrap();
            assert_eq!(b.recv_batch().unwrap(), 3);
            assert_eq!(b.arrivals.len(), 3, "every datagram is stamped");
            let mut delays = crate::delay::Delays::default();
            b.push(transmit(b_addr, a_addr, 1));
            b.record_delays(&mut delays);
            assert_eq!(delays.count(), 0, "output still queued");
            b.writable().await.unwrap();
            assert!(!b.flush());
            b.record_delays(&mut delays);
            // They waited 20 ms in the socket: that is time in the server.
            let p50 = crate::delay::json(&delays)["p50_us"].as_u64().unwrap();
            assert!((20_000..2_000_000).contains(&p50), "{p50}");
            assert_eq!(crate::delay::json(&delays)["count"], 3);
            assert!(b.arrivals.is_empty());
        });
    }

    /// Datagrams to several destinations leave in one call, in order, and
    /// arrive whole with the right source.
    #[test]
    fn batches_go_out_and_come_in() {
        runtime().block_on(async {
            let bind = || {
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_nonblocking(true).unwrap();
                s
            };
            let (a, b, c) = (bind(), bind(), bind());
            let (a_addr, b_addr, c_addr) = (
                a.local_addr().unwrap(),
                b.local_addr().unwrap(),
                c.local_addr().unwrap(),
            );
            let mut a = UdpIo::new(a, false, false).unwrap();
            let mut b = UdpIo::new(b, true, false).unwrap();
            let mut c = UdpIo::new(c, false, false).unwrap();
            for i in 0..100u8 {
                let to = if i % 2 == 0 { b_addr } else { c_addr };
                a.push(transmit(a_addr, to, i));
            }
            // tokio learns that a new socket is writable on its first poll.
            a.writable().await.unwrap();
            assert!(!a.flush());
            assert!(a.queue.is_empty());
            assert_eq!(a.stats.sent, 100);
            assert_eq!(a.stats.send_calls, 2);
            for (io, first) in [(&mut b, 0u8), (&mut c, 1u8)] {
                let mut want = first;
                while want < 100 {
                    io.readable().await.unwrap();
                    let n = io.recv_batch().unwrap();
                    for i in 0..n {
                        let (source, data) = io.datagram(i);
                        assert_eq!(source, a_addr);
                        assert_eq!(data, vec![want; 100 + want as usize].as_slice());
                        want += 2;
                    }
                }
                assert_eq!(io.stats.received, 50);
            }
        });
    }

    /// With GSO, a fan-out (frames of four 1000-byte datagrams and a
    /// 300-byte one, alternating two viewers) leaves as one message per
    /// viewer and frame, and arrives as the datagrams it was, in order.
    #[test]
    fn gso_sends_each_viewers_frame_as_one_message() {
        runtime().block_on(async {
            let (a, b, a_addr, b_addr) = pair();
            let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let c_addr = c.local_addr().unwrap();
            a.set_nonblocking(true).unwrap();
            let mut io = UdpIo::new(a, false, true).unwrap();
            let len = |i: u8| if i % 5 == 4 { 300 } else { 1000 };
            for i in 0..15u8 {
                for to in [b_addr, c_addr] {
                    io.push(Transmit::new(a_addr, to, vec![i; len(i)]));
                }
            }
            io.writable().await.unwrap();
            assert!(!io.flush());
            assert!(io.gso(), "the kernel refused UDP GSO");
            assert_eq!((io.stats.sent, io.stats.gso_sent), (30, 30));
            assert_eq!(io.stats.send_calls, 1);
            b.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 2048];
            for viewer in [&b, &c] {
                viewer
                    .set_read_timeout(Some(std::time::Duration::from_secs(2)))
                    .unwrap();
                for i in 0..15u8 {
                    let (n, from) = viewer.recv_from(&mut buf).unwrap();
                    assert_eq!(from, a_addr);
                    assert_eq!(&buf[..n], vec![i; len(i)].as_slice());
                }
            }
        });
    }

    /// Send `data` from `socket` to `to` as one UDP GSO message of
    /// `segment`-byte datagrams (the last one shorter).
    fn send_gso(socket: &std::net::UdpSocket, to: SocketAddr, data: &[u8], segment: u16) {
        let to = SockAddr::from(to);
        let mut iov = libc::iovec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        };
        let mut control: Control = [0; 8];
        // SAFETY: a zeroed msghdr pointing at live locals; the control
        // message is written within `control`, which CMSG_SPACE(2) fits.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = to.as_ptr().cast_mut().cast();
            msg.msg_namelen = to.len();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = libc::UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
            libc::sendmsg(socket.as_raw_fd(), &msg, 0)
        };
        assert_eq!(sent, data.len() as isize, "{}", io::Error::last_os_error());
    }

    /// With GRO, a burst sent as one GSO message comes up as one message
    /// and is split back into its datagrams, in order, each with its
    /// source; a plain datagram after it still reads as itself.
    #[test]
    fn gro_messages_are_split_into_their_datagrams() {
        runtime().block_on(async {
            let (a, b, a_addr, b_addr) = pair();
            let mut b = UdpIo::new(b, true, false).unwrap();
            assert!(b.gro(), "this kernel has UDP GRO (Linux 5.0+)");
            // Five 100-byte datagrams and a 40-byte one, each its own byte.
            let burst: Vec<u8> = (0..540).map(|i| (i / 100) as u8).collect();
            send_gso(&a, b_addr, &burst, 100);
            a.send_to(&[9; 30], b_addr).unwrap();
            let mut got = Vec::new();
            while got.len() < 7 {
                b.readable().await.unwrap();
                let n = b.recv_batch().unwrap();
                for i in 0..n {
                    let (source, data) = b.datagram(i);
                    assert_eq!(source, a_addr);
                    got.push(data.to_vec());
                }
            }
            let mut want: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 100]).collect();
            want.push(vec![5; 40]);
            want.push(vec![9; 30]);
            assert_eq!(got, want);
            assert_eq!(b.stats.received, 7);
            assert_eq!(b.stats.coalesced, 6);
            assert_eq!(b.stats.unreadable, 0);
        });
    }

    /// An unsendable datagram is dropped and counted; the rest still go.
    #[test]
    fn a_refused_datagram_does_not_block_the_rest() {
        runtime().block_on(async {
            let (a, _b, a_addr, b_addr) = pair();
            a.set_nonblocking(true).unwrap();
            let mut a = UdpIo::new(a, false, false).unwrap();
            // An IPv6 destination on an IPv4 socket: EAFNOSUPPORT or EINVAL.
            a.push(transmit(a_addr, "[::1]:9".parse().unwrap(), 1));
            a.push(transmit(a_addr, b_addr, 2));
            a.writable().await.unwrap();
            assert!(!a.flush());
            assert_eq!((a.stats.sent, a.stats.send_errors), (1, 1));
        });
    }
}
