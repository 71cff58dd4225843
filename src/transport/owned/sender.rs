//! The owned send path of one subscriber transport (step 6 of
//! `docs/owned-send-path.md`): forwarded RTP leaves through here instead
//! of str0m's streams, pacer and RTX cache.
//!
//! * **Media**: the header written for this subscriber, the shared
//!   payload copied once behind it (with this subscriber's VP8
//!   renumbering), SRTP with the transport's own copy of the DTLS keys.
//! * **NACKs** from the subscriber, read from its SRTCP beside str0m, are
//!   answered with RTX from a history of shared payloads (kept once per
//!   router: `kept.rs`).
//! * **Sender reports**: str0m keeps writing the SR of each stream it
//!   negotiated (with its CNAME, on its interval), but it never sees what
//!   we send, so its counts are zero and its RTP time is 0. Every SRTCP
//!   packet str0m sends on the transport is therefore read with our keys,
//!   the SRs of our streams are corrected to what was sent, and the
//!   packet is protected again under an SRTCP index of ours (from
//!   [`FIRST_SRTCP_INDEX`]): one index counter for all the transport's
//!   RTCP, so no two packets share a nonce and each SSRC's indexes rise.
//!
//! str0m keeps ICE, DTLS, SDP, SCTP and all other RTCP: it still reads
//! the subscriber's receiver reports and keyframe requests for the
//! streams it negotiated (their SSRCs are ours), and its NACK answers
//! find nothing in its empty RTX cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smallvec::SmallVec;

use super::bufs::SendBufs;
use super::estimate::{Estimation, Feedback, MAX_PADDING_PER_PACKET};
use super::feedback::{nacks, walk};
use super::header::{write_header, PacketBuf, RtpFields};
use super::history::{History, RtxStream, Sent};
use super::kept::Kept;
use super::report::{SendCounts, FIRST_SRTCP_INDEX};
use super::twcc::{arrivals, SendRegister};
use super::vp8::Vp8Rewrite;
use crate::crypto::keys::DtlsKeys;
use crate::crypto::srtp_tx::{SrtcpRx, SrtpError, SrtpTx};

/// How long a sent video packet is kept for a retransmission.
pub(crate) const HISTORY_AGE: Duration = Duration::from_secs(1);
/// Packets kept per video stream (about a second of 2.5 Mbit/s video).
const HISTORY_PACKETS: usize = 512;
/// The most NACKed packets answered from one RTCP datagram.
const MAX_NACKS: usize = 256;
/// A packet goes out again for a NACK at most once per round trip, and
/// never twice within this.
const RESEND_GAP_MIN: Duration = Duration::from_millis(20);
/// Transport-wide sequence numbers remembered for feedback.
const REGISTER_PACKETS: usize = 4096;
/// RTCP packet types of sender and receiver reports.
const SR: u8 = 200;
const RR: u8 = 201;
/// Payload-specific feedback (PLI is format 1, FIR format 4).
const PSFB: u8 = 206;
/// The most transport-wide feedback entries read from one datagram.
const MAX_ARRIVALS: usize = 4096;
/// Padding bytes in a padding-only packet: the most RFC 3550's one-octet
/// padding count allows.
const PADDING_ONLY: usize = 255;
/// A padding-only packet's size on the wire, about (header, MID and
/// transport-wide sequence number, padding, SRTP tag).
const PADDING_ONLY_SIZE: usize = 12 + 12 + PADDING_ONLY + 16;

/// The header extension ids this subscriber negotiated (0: not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExtIds {
    pub mid: u8,
    pub audio_level: u8,
    pub video_orientation: u8,
    pub dependency_descriptor: u8,
    pub transport_cc: u8,
}

/// One forwarded packet as this subscriber gets it.
pub(crate) struct Outgoing<'a> {
    pub pt: u8,
    pub marker: bool,
    /// Extended sequence number: the rollover counter above 16 bits.
    pub seq: u64,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: &'a Arc<[u8]>,
    /// The payload's number in the router's [`Kept`] (video: what the
    /// history refers to).
    pub kept: Option<u64>,
    pub vp8: Option<Vp8Rewrite>,
    /// Audio level in -dBov and voice activity.
    pub audio_level: Option<(i8, bool)>,
    pub video_orientation: Option<u8>,
    pub dependency_descriptor: Option<&'a [u8]>,
}

/// What the transport knows about one of its outgoing streams.
#[derive(Debug, Clone)]
pub(crate) struct StreamInfo {
    pub mid: SmallVec<[u8; 8]>,
    /// RTX SSRC, if negotiated.
    pub rtx: Option<u32>,
    /// Media payload type to RTX payload type.
    pub rtx_pts: SmallVec<[(u8, u8); 4]>,
    pub clock_rate: u32,
    /// Video: kept for NACKs.
    pub nackable: bool,
    /// The header extension ids negotiated on its m-line.
    pub ext: ExtIds,
}

struct Stream {
    info: StreamInfo,
    counts: SendCounts,
    history: Option<History>,
    /// The RTX stream's extended sequence number.
    rtx_seq: u64,
    /// The newest packet's sequence number and size (padding resends it),
    /// and its timestamp (padding-only packets carry it).
    last: Option<(u16, usize)>,
    last_ts: u32,
    last_at: Option<Instant>,
    /// What it sent (media and retransmissions) and the NACKed packets
    /// the subscriber asked for, for the consumer's stats.
    sent: StreamSent,
}

/// What the owned path sent on one stream, for the consumer's stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamSent {
    pub packets: u64,
    pub bytes: u64,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    /// The subscriber's last receiver report block about it.
    pub remote: Option<crate::stats::RemoteReport>,
}

/// What the owned send path of one transport did (the test kit reads it
/// as `testkit_hooks::OwnedPathCounts`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnedCounters {
    /// Media packets sent.
    pub packets_sent: u64,
    /// Retransmissions sent for the subscriber's NACKs.
    pub rtx_sent: u64,
    /// Padding packets (resends on an RTX stream) sent to probe.
    pub padding_sent: u64,
    /// NACKed packets no longer kept (or on a stream without RTX).
    pub nacks_unanswered: u64,
    /// NACKed packets not sent again: resent less than a round trip ago,
    /// or over the retransmission budget (a share of the estimate).
    pub rtx_limited: u64,
    /// str0m's sender reports of owned streams corrected on the way out.
    pub reports_corrected: u64,
    /// str0m's SRTCP packets that could not be read or protected again
    /// (dropped).
    pub rtcp_dropped: u64,
}

/// The owned send path of one transport, made once its DTLS keys exist.
pub(crate) struct OwnedTx {
    srtp: SrtpTx,
    peer_rtcp: SrtcpRx,
    own_rtcp: SrtcpRx,
    /// By SSRC (the id hasher: SSRCs are random, not chosen by the peer
    /// to collide, and this lookup is per packet).
    streams: crate::id::IdMap<u32, Stream>,
    srtcp_index: u32,
    register: SendRegister,
    plain: Vec<u8>,
    nacked: Vec<(u32, u16)>,
    counters: OwnedCounters,
    /// Send-side estimation, when the router runs it.
    estimation: Option<Estimation>,
    /// The newest stream that can carry padding (history and RTX).
    pad_stream: Option<u32>,
}

impl std::fmt::Debug for OwnedTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedTx")
            .field("streams", &self.streams.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl OwnedTx {
    /// The path of a transport whose DTLS exported `keys`; with
    /// `initial_bps`, it estimates the subscriber's bandwidth from there.
    pub(crate) fn new(keys: &DtlsKeys, initial_bps: Option<u64>) -> Result<Self, SrtpError> {
        Ok(OwnedTx {
            srtp: keys.sender()?,
            peer_rtcp: keys.rtcp_receiver()?,
            own_rtcp: keys.own_rtcp_reader()?,
            streams: crate::id::IdMap::default(),
            srtcp_index: FIRST_SRTCP_INDEX,
            register: SendRegister::new(REGISTER_PACKETS, 1),
            plain: Vec::new(),
            nacked: Vec::new(),
            counters: OwnedCounters::default(),
            estimation: initial_bps.map(Estimation::new),
            pad_stream: None,
        })
    }

    pub(crate) fn counters(&self) -> OwnedCounters {
        self.counters
    }

    /// What stream `ssrc` sent, if it is known.
    pub(crate) fn stream_sent(&self, ssrc: u32) -> Option<StreamSent> {
        self.streams.get(&ssrc).map(|s| s.sent)
    }

    /// Whether the stream `ssrc` is known (see [`OwnedTx::add_stream`]).
    pub(crate) fn has_stream(&self, ssrc: u32) -> bool {
        self.streams.contains_key(&ssrc)
    }

    /// Start sending on `ssrc`.
    pub(crate) fn add_stream(&mut self, ssrc: u32, info: StreamInfo) {
        if info.nackable && info.rtx.is_some() && self.pad_stream.is_none() {
            // Padding can go out before any video did (all of it paused
            // from the start).
            self.pad_stream = Some(ssrc);
        }
        let history = info
            .nackable
            .then(|| History::new(HISTORY_PACKETS, HISTORY_AGE));
        self.streams.insert(
            ssrc,
            Stream {
                counts: SendCounts::new(info.clock_rate),
                info,
                history,
                rtx_seq: 0,
                last: None,
                last_ts: 0,
                last_at: None,
                sent: StreamSent::default(),
            },
        );
    }

    /// Forget a stream (its consumer closed).
    pub(crate) fn remove_stream(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
        if self.pad_stream == Some(ssrc) {
            self.pad_stream = self
                .streams
                .iter()
                .find(|(_, s)| s.history.is_some() && s.info.rtx.is_some())
                .map(|(ssrc, _)| *ssrc);
        }
    }

    /// The protected datagram of `p` on a known stream, at `now`, written
    /// into `bufs`.
    pub(crate) fn send(
        &mut self,
        p: &Outgoing<'_>,
        now: Instant,
        bufs: &mut SendBufs,
    ) -> Option<Bytes> {
        let stream = self.streams.get_mut(&p.ssrc)?;
        let fields = RtpFields {
            pt: p.pt,
            marker: p.marker,
            seq: p.seq as u16,
            ts: p.ts,
            ssrc: p.ssrc,
        };
        let ext = stream.info.ext;
        let level;
        let orientation;
        let twcc;
        let mut exts: SmallVec<[(u8, &[u8]); 5]> = SmallVec::new();
        if ext.mid != 0 && !stream.info.mid.is_empty() {
            exts.push((ext.mid, &stream.info.mid));
        }
        if let (Some((dbov, voice)), true) = (p.audio_level, ext.audio_level != 0) {
            level = [if voice { 0x80 } else { 0 } | (dbov.unsigned_abs() & 0x7f)];
            exts.push((ext.audio_level, &level));
        }
        if let (Some(v), true) = (p.video_orientation, ext.video_orientation != 0) {
            orientation = [v];
            exts.push((ext.video_orientation, &orientation));
        }
        if let (Some(dd), true) = (p.dependency_descriptor, ext.dependency_descriptor != 0) {
            exts.push((ext.dependency_descriptor, dd));
        }
        let overhead = self.srtp.suite().rtp_overhead();
        let buf = bufs.start(12 + 40 + p.payload.len() + overhead);
        if ext.transport_cc != 0 {
            // Numbered at the send: the router hands the datagram to the
            // host now, and the host sends it before the next input.
            let size = 12 + 24 + p.payload.len() + overhead;
            twcc = self.register.on_send(size, now).to_be_bytes();
            exts.push((ext.transport_cc, &twcc));
        }
        write_header(buf, &fields, &exts);
        // This subscriber's VP8 renumbering goes into its copy of the
        // payload: SRTP encrypts from the shared payload with the
        // renumbered bytes patched in.
        let patched = p.vp8.map_or(0, |r| r.extent());
        let patch = |first: &mut [u8]| {
            if let Some(r) = &p.vp8 {
                r.apply(first);
            }
        };
        self.srtp
            .protect_rtp_payload(buf, p.payload, patched, patch, (p.seq >> 16) as u32)
            .ok()?;
        let buf = bufs.finish();
        stream.counts.on_sent(p.ts, p.payload.len(), now);
        stream.last = Some((fields.seq, buf.len()));
        stream.last_ts = p.ts;
        stream.last_at = Some(now);
        stream.sent.packets += 1;
        stream.sent.bytes += buf.len() as u64;
        if stream.history.is_some() && stream.info.rtx.is_some() {
            self.pad_stream = Some(p.ssrc);
        }
        self.counters.packets_sent += 1;
        if let Some(e) = &mut self.estimation {
            e.on_sent(now, buf.len());
        }
        if let (Some(h), Some(kept)) = (&mut stream.history, p.kept) {
            h.push(&fields, kept, p.vp8);
        }
        Some(buf)
    }

    /// Read a datagram the subscriber sent (SRTCP, already accepted by
    /// str0m) for the NACKs of our streams; each packet still kept goes
    /// out again as RTX through `send`.
    pub(crate) fn on_peer_rtcp(
        &mut self,
        datagram: &[u8],
        now: Instant,
        kept: &Kept,
        mut send: impl FnMut(Bytes),
    ) {
        if self.peer_rtcp.unprotect(datagram, &mut self.plain).is_err() {
            return;
        }
        self.nacked.clear();
        nacks(&self.plain, &mut self.nacked, MAX_NACKS);
        for i in 0..self.nacked.len() {
            let (ssrc, seq) = self.nacked[i];
            if let Some(s) = self.streams.get_mut(&ssrc) {
                s.sent.nacks += 1;
            }
            // Looked up once: its size for the budget, its payload to send.
            let Some(sent) = self
                .streams
                .get(&ssrc)
                .and_then(|s| s.history.as_ref()?.get(seq, now, kept))
            else {
                self.counters.nacks_unanswered += 1;
                continue;
            };
            if !self.may_resend(ssrc, seq, sent.payload.len(), now) {
                self.counters.rtx_limited += 1;
                continue;
            }
            // Its own buffer: NACKs are rare next to media.
            let mut buf = Vec::new();
            match self.resend(ssrc, &sent, now, &mut buf) {
                Some(()) => {
                    self.counters.rtx_sent += 1;
                    send(buf.into());
                }
                None => self.counters.nacks_unanswered += 1,
            }
        }
        self.read_reports(now);
        let Some(e) = &mut self.estimation else {
            return;
        };
        arrivals(&self.plain, &mut e.arrivals, MAX_ARRIVALS);
        let register = &mut self.register;
        e.on_arrivals(now, |seq, received| register.report(seq, received));
    }

    /// The receiver reports and keyframe requests in the peer's plain
    /// RTCP about our streams: their stats, and the round trip.
    fn read_reports(&mut self, now: Instant) {
        let OwnedTx {
            plain,
            streams,
            estimation,
            ..
        } = self;
        walk(plain, |fmt, pt, packet| {
            let blocks = match pt {
                SR if packet.len() >= 28 => &packet[28..],
                RR if packet.len() >= 8 => &packet[8..],
                PSFB if packet.len() >= 12 => {
                    let media = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
                    match fmt {
                        1 => {
                            if let Some(s) = streams.get_mut(&media) {
                                s.sent.plis += 1;
                            }
                        }
                        4 => {
                            for fci in packet[12..].chunks_exact(8) {
                                let ssrc = u32::from_be_bytes([fci[0], fci[1], fci[2], fci[3]]);
                                if let Some(s) = streams.get_mut(&ssrc) {
                                    s.sent.firs += 1;
                                }
                            }
                        }
                        _ => {}
                    }
                    return true;
                }
                _ => return true,
            };
            for b in blocks.chunks_exact(24) {
                let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                let Some(s) = streams.get_mut(&word(0)) else {
                    continue;
                };
                // Cumulative loss: 24 bits, signed (duplicates count back).
                let lost = (word(4) << 8) as i32 >> 8;
                s.sent.remote = Some(crate::stats::RemoteReport {
                    max_seq: u64::from(word(8)),
                    packets_lost: lost.max(0) as u64,
                    jitter: word(12),
                });
                if let Some(e) = estimation.as_mut() {
                    e.on_report_block(word(16), word(20), now);
                }
            }
            true
        });
    }

    /// The round trip last measured from a receiver report.
    pub(crate) fn rtt(&self) -> Option<Duration> {
        self.estimation.as_ref().and_then(Estimation::rtt)
    }

    /// What the estimation learned since the last call (nothing without
    /// estimation).
    pub(crate) fn take_feedback(&mut self) -> Feedback {
        self.estimation
            .as_mut()
            .map(Estimation::take)
            .unwrap_or_default()
    }

    /// The allocator's correction of the estimate.
    pub(crate) fn reset_estimate(&mut self, bps: u64) {
        if let Some(e) = &mut self.estimation {
            e.reset(bps);
        }
    }

    /// The allocator's allocated and desired rates at `now`, for padding.
    pub(crate) fn set_rates(&mut self, now: Instant, allocated_bps: u64, desired_bps: u64) {
        if let Some(e) = &mut self.estimation {
            e.set_rates(now, allocated_bps, desired_bps);
        }
    }

    /// When padding is next due with no media to ride on (see
    /// [`OwnedTx::pad`]), if ever.
    /// While its video flows, padding rides on media only: the timer
    /// waits until the newest video packet is no longer kept to resend.
    pub(crate) fn padding_at(&self) -> Option<Instant> {
        let stream = self.streams.get(&self.pad_stream?)?;
        if stream.info.ext.transport_cc == 0 {
            return None;
        }
        let at = self.estimation.as_ref()?.padding_at()?;
        Some(stream.last_at.map_or(at, |t| at.max(t + HISTORY_AGE)))
    }

    /// Padding due at `now` (after a packet, or on the transport's timer):
    /// resends of the newest packet of the newest video stream on its RTX
    /// stream while that packet is kept, else padding-only packets on
    /// that RTX stream; each written into `bufs` and handed to `send`.
    pub(crate) fn pad(
        &mut self,
        now: Instant,
        bufs: &mut SendBufs,
        kept: &Kept,
        mut send: impl FnMut(Bytes),
    ) {
        let (Some(e), Some(ssrc)) = (&mut self.estimation, self.pad_stream) else {
            return;
        };
        let Some(stream) = self.streams.get(&ssrc) else {
            return;
        };
        if stream.info.ext.transport_cc == 0 {
            // No feedback would say what a probe found.
            return;
        }
        let last = stream.last;
        let n = e.padding_due(now, last.map_or(PADDING_ONLY_SIZE, |(_, size)| size));
        if n == 0 {
            return;
        }
        let resend = last
            .and_then(|(seq, size)| Some((stream.history.as_ref()?.get(seq, now, kept)?, size)));
        let n = match resend {
            Some(_) => n,
            // Recounted at the padding-only size (the credit is as it was).
            None => e.padding_due(now, PADDING_ONLY_SIZE).max(1),
        };
        for _ in 0..n.min(MAX_PADDING_PER_PACKET) {
            let sent = match &resend {
                // Room for the RTX packet: the original's size, its
                // sequence number and the RTX header's extensions.
                Some((sent, size)) => self.resend(ssrc, sent, now, bufs.start(size + 32)),
                None => self.padding_only(ssrc, now, bufs.start(PADDING_ONLY_SIZE + 16)),
            };
            if sent.is_none() {
                return;
            }
            self.counters.padding_sent += 1;
            send(bufs.finish());
        }
    }

    /// Whether a NACK for `seq` on `ssrc` (`size` payload bytes) is
    /// answered now: not if the packet went out again less than a round
    /// trip ago, nor once retransmissions would take more than their share
    /// of the estimate (under congestion, resending all that was lost
    /// feeds the queue that lost it).
    fn may_resend(&mut self, ssrc: u32, seq: u16, size: usize, now: Instant) -> bool {
        let Some(history) = self.streams.get_mut(&ssrc).and_then(|s| s.history.as_mut()) else {
            return true;
        };
        let rtt = self.estimation.as_ref().and_then(|e| e.rtt());
        let gap = rtt.unwrap_or(RESEND_GAP_MIN).max(RESEND_GAP_MIN);
        if let Some(e) = &mut self.estimation {
            if !e.rtx_allowed(now, size) {
                return false;
            }
        }
        history.may_resend(seq, now, gap)
    }

    /// The protected RTX packet of `sent` (from the history of `ssrc`)
    /// written into `buf`, if the stream has RTX.
    fn resend<B: PacketBuf>(
        &mut self,
        ssrc: u32,
        sent: &Sent,
        now: Instant,
        buf: &mut B,
    ) -> Option<()> {
        self.rtx(ssrc, Some(sent), now, buf)
    }

    /// A padding-only packet (RFC 3550 section 5.1, as WebRTC senders pad
    /// when they have nothing to resend) on the RTX stream of `ssrc`,
    /// written into `buf`. The subscriber drops it, after counting it in
    /// its transport-wide feedback; it is not the consumer's media, so not
    /// in the stream's counts.
    fn padding_only<B: PacketBuf>(&mut self, ssrc: u32, now: Instant, buf: &mut B) -> Option<()> {
        self.rtx(ssrc, None, now, buf)
    }

    /// One packet on the RTX stream of `ssrc` written into `buf` and
    /// protected: the resend of `sent`, or with `None` padding only.
    fn rtx<B: PacketBuf>(
        &mut self,
        ssrc: u32,
        sent: Option<&Sent>,
        now: Instant,
        buf: &mut B,
    ) -> Option<()> {
        let stream = self.streams.get_mut(&ssrc)?;
        let ext = stream.info.ext;
        let rtx_ssrc = stream.info.rtx?;
        let pts = &stream.info.rtx_pts;
        let rtx_pt = match sent {
            Some(sent) => pts.iter().find(|(pt, _)| *pt == sent.fields.pt)?.1,
            None => pts.first()?.1,
        };
        let roc = (stream.rtx_seq >> 16) as u32;
        let overhead = self.srtp.suite().rtp_overhead();
        let twcc;
        let mut exts: SmallVec<[(u8, &[u8]); 2]> = SmallVec::new();
        if ext.mid != 0 && !stream.info.mid.is_empty() {
            exts.push((ext.mid, &stream.info.mid));
        }
        if ext.transport_cc != 0 {
            let body = sent.map_or(PADDING_ONLY, |s| 2 + s.payload.len());
            twcc = self
                .register
                .on_send(12 + 16 + body + overhead, now)
                .to_be_bytes();
            exts.push((ext.transport_cc, &twcc));
        }
        let header = match sent {
            Some(sent) => {
                let mut rtx = RtxStream {
                    ssrc: rtx_ssrc,
                    pt: rtx_pt,
                    next_seq: stream.rtx_seq as u16,
                };
                rtx.write(buf, sent, &exts)
            }
            None => {
                let fields = RtpFields {
                    pt: rtx_pt,
                    marker: false,
                    seq: stream.rtx_seq as u16,
                    ts: stream.last_ts,
                    ssrc: rtx_ssrc,
                };
                let header = write_header(buf, &fields, &exts);
                buf[0] |= 0x20;
                buf.resize(header + PADDING_ONLY);
                buf[header + PADDING_ONLY - 1] = PADDING_ONLY as u8;
                header
            }
        };
        stream.rtx_seq += 1;
        self.srtp.protect_rtp(buf, header, roc).ok()?;
        if sent.is_some() {
            stream.sent.packets += 1;
            stream.sent.bytes += buf.len() as u64;
        }
        if let Some(e) = &mut self.estimation {
            e.on_sent(now, buf.len());
        }
        Some(())
    }

    /// str0m's own SRTCP datagram `datagram` as it may leave: the SRs of
    /// our streams corrected to what we sent (as of `now`, the instant
    /// str0m wrote them for), protected again under our next index.
    /// `None`: it could not be read or protected, and is dropped (a
    /// report str0m would send with our SSRC's wrong counts, or under an
    /// index below ours, must not leave).
    pub(crate) fn correct_own_rtcp(&mut self, datagram: &[u8], now: Instant) -> Option<Vec<u8>> {
        let mut plain = Vec::with_capacity(datagram.len());
        if self.own_rtcp.unprotect(datagram, &mut plain).is_err() {
            self.counters.rtcp_dropped += 1;
            return None;
        }
        let mut at = 0;
        let mut srs: SmallVec<[(usize, u32); 4]> = SmallVec::new();
        walk(&plain, |_, pt, packet| {
            if pt == SR && packet.len() >= 28 {
                let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
                srs.push((at, ssrc));
            }
            at += packet.len();
            true
        });
        for (start, ssrc) in srs {
            let Some(stream) = self.streams.get(&ssrc) else {
                continue;
            };
            let Some(rtp_time) = stream.counts.rtp_time_at(now) else {
                continue;
            };
            let sr = &mut plain[start..start + 28];
            if let Some(e) = &mut self.estimation {
                let ntp = u64::from_be_bytes([
                    sr[8], sr[9], sr[10], sr[11], sr[12], sr[13], sr[14], sr[15],
                ]);
                e.on_report_sent(ntp, now);
            }
            sr[16..20].copy_from_slice(&rtp_time.to_be_bytes());
            sr[20..24].copy_from_slice(&stream.counts.packets.to_be_bytes());
            sr[24..28].copy_from_slice(&stream.counts.octets.to_be_bytes());
            self.counters.reports_corrected += 1;
        }
        let index = self.srtcp_index;
        if self.srtp.protect_rtcp(&mut plain, index).is_err() {
            self.counters.rtcp_dropped += 1;
            return None;
        }
        self.srtcp_index = index.wrapping_add(1) & 0x7fff_ffff;
        Some(plain)
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
