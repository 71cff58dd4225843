//! Transport-wide congestion control's sending half, minus the estimator
//! (step 4 of the owned send path): a transport-wide sequence number per
//! packet, a register of when each was sent and how large it was, and the
//! subscriber's feedback (draft-holmer-rmcat-transport-wide-cc-extensions,
//! RTPFB format 15) read into one arrival time per packet. Joined, they
//! are the (send time, arrival time, size) samples a delay-based
//! estimator consumes; the estimator is the step still to come.

use std::time::Instant;

use super::feedback::{walk, RTPFB};

/// Transport-wide feedback's RTPFB format.
const FMT_TWCC: u8 = 15;
/// Receive deltas count in units of 250 µs.
const DELTA_US: i64 = 250;
/// The reference time counts in units of 64 ms.
const REFERENCE_US: i64 = 64_000;

/// What one feedback says of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// Its transport-wide sequence number.
    pub seq: u16,
    /// When it arrived, in µs on the receiver's clock (the feedback's
    /// reference time plus the deltas before it); `None` if it did not.
    pub at_us: Option<i64>,
}

/// Append to `out` the fate of every packet the transport-wide feedback
/// packets in the compound `rtcp` report, in order, up to `limit` entries
/// in `out`. A feedback cut short (its deltas missing) reports what it
/// fully holds.
pub(crate) fn arrivals(rtcp: &[u8], out: &mut Vec<Arrival>, limit: usize) {
    walk(rtcp, |fmt, pt, packet| {
        if pt == RTPFB && fmt == FMT_TWCC {
            read_feedback(packet, out, limit);
        }
        out.len() < limit
    });
}

/// One feedback packet: header (8), media SSRC (4), base sequence number,
/// status count, reference time (24 bits) and feedback count, then the
/// status chunks, then one receive delta per received packet.
fn read_feedback(p: &[u8], out: &mut Vec<Arrival>, limit: usize) {
    if p.len() < 20 {
        return;
    }
    let base = u16::from_be_bytes([p[12], p[13]]);
    let count = usize::from(u16::from_be_bytes([p[14], p[15]]));
    let reference = i64::from(u32::from_be_bytes([0, p[16], p[17], p[18]]));
    // The status symbol of each reported packet: 0 not received, 1 a
    // one-byte delta, 2 a two-byte (signed) delta.
    let mut symbols: Vec<u8> = Vec::with_capacity(count.min(limit));
    let mut at = 20;
    while symbols.len() < count {
        let Some(chunk) = p.get(at..at + 2) else {
            return;
        };
        at += 2;
        let chunk = u16::from_be_bytes([chunk[0], chunk[1]]);
        let left = count - symbols.len();
        if chunk & 0x8000 == 0 {
            // Run length: a symbol (2 bits) and a run (13 bits).
            let symbol = ((chunk >> 13) & 0x3) as u8;
            let run = usize::from(chunk & 0x1fff).min(left);
            symbols.extend(std::iter::repeat_n(symbol, run));
        } else if chunk & 0x4000 == 0 {
            // Status vector of 14 one-bit symbols.
            symbols.extend((0..14).rev().map(|i| ((chunk >> i) & 1) as u8).take(left));
        } else {
            // Status vector of 7 two-bit symbols.
            symbols.extend(
                (0..7)
                    .rev()
                    .map(|i| ((chunk >> (2 * i)) & 3) as u8)
                    .take(left),
            );
        }
    }
    let mut t = reference * REFERENCE_US;
    for (i, symbol) in symbols.into_iter().enumerate() {
        if out.len() >= limit {
            return;
        }
        let seq = base.wrapping_add(i as u16);
        let at_us = match symbol {
            1 => {
                let Some(&d) = p.get(at) else { return };
                at += 1;
                t += i64::from(d) * DELTA_US;
                Some(t)
            }
            2 => {
                let Some(d) = p.get(at..at + 2) else { return };
                at += 2;
                t += i64::from(i16::from_be_bytes([d[0], d[1]])) * DELTA_US;
                Some(t)
            }
            _ => None,
        };
        out.push(Arrival { seq, at_us });
    }
}

/// When each transport-wide sequence number went out, and its size: a
/// ring indexed by sequence number, the newest packet per slot, with what
/// feedback said of it so far.
#[derive(Debug)]
pub(crate) struct SendRegister {
    slots: Vec<Option<Slot>>,
    next_seq: u16,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u16,
    at: Instant,
    size: u16,
    fate: Fate,
}

/// What feedback has said of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Unreported,
    Lost,
    Received,
}

/// What one report of a packet changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum News {
    /// First reported received: (send time, size).
    Received(Instant, usize),
    /// First reported lost: (send time, size).
    Lost(Instant, usize),
    /// Reported received after a feedback had said lost (it was late or
    /// reordered): one loss fewer.
    Found(Instant, usize),
    /// Nothing new (a repeated report, or a packet no longer kept).
    Nothing,
}

impl SendRegister {
    /// Room for `capacity` packets (rounded up to a power of two, at least
    /// 64); numbering starts at `first_seq`.
    pub(crate) fn new(capacity: usize, first_seq: u16) -> Self {
        let n = capacity.max(64).next_power_of_two();
        SendRegister {
            slots: vec![None; n],
            next_seq: first_seq,
        }
    }

    /// The sequence number of a packet of `size` bytes sent at `now`.
    pub(crate) fn on_send(&mut self, size: usize, now: Instant) -> u16 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let i = usize::from(seq) & (self.slots.len() - 1);
        self.slots[i] = Some(Slot {
            seq,
            at: now,
            size: size.min(usize::from(u16::MAX)) as u16,
            fate: Fate::Unreported,
        });
        seq
    }

    /// (send time, size) of the packet with `seq`, if still kept.
    pub(crate) fn sent(&self, seq: u16) -> Option<(Instant, usize)> {
        let i = usize::from(seq) & (self.slots.len() - 1);
        match self.slots[i] {
            Some(s) if s.seq == seq => Some((s.at, usize::from(s.size))),
            _ => None,
        }
    }

    /// A feedback reports `seq` received or not: what that changes.
    pub(crate) fn report(&mut self, seq: u16, received: bool) -> News {
        let i = usize::from(seq) & (self.slots.len() - 1);
        let Some(s) = self.slots[i].as_mut().filter(|s| s.seq == seq) else {
            return News::Nothing;
        };
        let (at, size) = (s.at, usize::from(s.size));
        match (s.fate, received) {
            (Fate::Unreported, true) => {
                s.fate = Fate::Received;
                News::Received(at, size)
            }
            (Fate::Unreported, false) => {
                s.fate = Fate::Lost;
                News::Lost(at, size)
            }
            (Fate::Lost, true) => {
                s.fate = Fate::Received;
                News::Found(at, size)
            }
            _ => News::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A feedback with `chunks` and `deltas` after the fixed fields.
    fn feedback(base: u16, count: u16, reference: u32, chunks: &[u16], deltas: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80 | FMT_TWCC, RTPFB, 0, 0];
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&2u32.to_be_bytes());
        p.extend_from_slice(&base.to_be_bytes());
        p.extend_from_slice(&count.to_be_bytes());
        p.extend_from_slice(&reference.to_be_bytes()[1..]);
        p.push(0);
        for c in chunks {
            p.extend_from_slice(&c.to_be_bytes());
        }
        p.extend_from_slice(deltas);
        while p.len() % 4 != 0 {
            p.push(0);
        }
        let words = (p.len() / 4 - 1) as u16;
        p[2..4].copy_from_slice(&words.to_be_bytes());
        p
    }

    #[test]
    fn run_length_and_vector_chunks() {
        // 65,534 .. 65,535, 0 .. 5 (8 packets): a run of two received
        // with small deltas, then a two-bit vector: received (large,
        // negative), lost, received (small), lost, lost, (two padding).
        let run = (1 << 13) | 2;
        let vector = 0xc000 | (2 << 12) | (1 << 8);
        let chunks = [run, vector];
        let deltas = [4, 8, 0xff, 0xfc, 20];
        let p = feedback(65_534, 7, 10, &chunks, &deltas);
        let mut out = Vec::new();
        arrivals(&p, &mut out, 100);
        let t0 = 10 * REFERENCE_US;
        let want = [
            (65_534, Some(t0 + 1000)),
            (65_535, Some(t0 + 3000)),
            (0, Some(t0 + 3000 - 1000)),
            (1, None),
            (2, Some(t0 + 2000 + 5000)),
            (3, None),
            (4, None),
        ];
        let got: Vec<_> = out.iter().map(|a| (a.seq, a.at_us)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn one_bit_vectors_and_truncation() {
        // 14 one-bit symbols: 1,0,1,0... for 5 packets.
        let vector = 0x8000 | 0b10_1010_1010_1010;
        let p = feedback(100, 5, 0, &[vector], &[1, 2, 3]);
        let mut out = Vec::new();
        arrivals(&p, &mut out, 100);
        let got: Vec<_> = out.iter().map(|a| a.at_us).collect();
        assert_eq!(got, [Some(250), None, Some(750), None, Some(1500)]);
        // Deltas missing: only the packets fully reported (the one byte
        // of word padding reads as the third packet's zero delta; the
        // fifth's is not there).
        let short = feedback(100, 5, 0, &[vector], &[1]);
        assert_eq!(short.len(), 24);
        out.clear();
        arrivals(&short, &mut out, 100);
        let got: Vec<_> = out.iter().map(|a| a.at_us).collect();
        assert_eq!(got, [Some(250), None, Some(250), None]);
        // Bounded by `limit`.
        out.clear();
        arrivals(&p, &mut out, 3);
        assert_eq!(out.len(), 3);
        // A count with no chunks to back it: nothing.
        out.clear();
        arrivals(&feedback(1, 9, 0, &[], &[]), &mut out, 100);
        assert!(out.is_empty());
    }

    #[test]
    fn register_numbers_packets_and_forgets_old_ones() {
        let t0 = Instant::now();
        let mut r = SendRegister::new(10, 65_535);
        assert_eq!(r.on_send(1200, t0), 65_535);
        assert_eq!(r.on_send(300, t0), 0);
        assert_eq!(r.sent(65_535), Some((t0, 1200)));
        assert_eq!(r.sent(0), Some((t0, 300)));
        assert_eq!(r.sent(1), None);
        for _ in 0..64 {
            r.on_send(100, t0);
        }
        assert_eq!(r.sent(65_535), None, "its slot holds a newer packet");
    }

    #[test]
    fn a_late_packet_reported_lost_then_received_is_found_once() {
        let t0 = Instant::now();
        let mut r = SendRegister::new(64, 10);
        assert_eq!(r.on_send(100, t0), 10);
        assert_eq!(r.on_send(200, t0), 11);
        assert_eq!(r.report(10, true), News::Received(t0, 100));
        assert_eq!(r.report(10, true), News::Nothing, "a repeated report");
        assert_eq!(r.report(11, false), News::Lost(t0, 200));
        assert_eq!(r.report(11, false), News::Nothing);
        assert_eq!(r.report(11, true), News::Found(t0, 200));
        assert_eq!(
            r.report(11, false),
            News::Nothing,
            "received stays received"
        );
        assert_eq!(r.report(12, true), News::Nothing, "never sent");
    }
}
