//! Sender reports for the streams the owned send path sends (step 5):
//! once a second per outgoing SSRC, an RTCP compound packet of an SR (RFC
//! 3550 section 6.4.1: NTP and RTP time of one instant, packet and octet
//! counts) and an SDES with the stream's CNAME, which receivers need to
//! line audio and video up and to measure the round trip. SRTCP protects
//! it with an index from [`FIRST_SRTCP_INDEX`] on.

use std::time::{Duration, Instant};

/// The owned path's first SRTCP index: far above the range str0m's own
/// counter (from 1, one per RTCP packet of the transport) ever reaches, so
/// the two never protect two packets with one index
/// (`docs/owned-send-path.md`, "What to watch").
pub(crate) const FIRST_SRTCP_INDEX: u32 = 1 << 30;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp from a time since the Unix epoch.
pub(crate) fn ntp_from_unix(since_epoch: Duration) -> u64 {
    let secs = since_epoch.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// What one outgoing stream has sent, for its sender reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendCounts {
    pub packets: u32,
    pub octets: u32,
    /// The RTP timestamp of the newest packet, and when it was sent.
    pub last: Option<(u32, Instant)>,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
}

impl SendCounts {
    pub(crate) fn new(clock_rate: u32) -> Self {
        SendCounts {
            packets: 0,
            octets: 0,
            last: None,
            clock_rate,
        }
    }

    /// Count a packet of `payload_len` bytes with RTP timestamp `ts`.
    pub(crate) fn on_sent(&mut self, ts: u32, payload_len: usize, now: Instant) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((ts, now));
    }

    /// The RTP timestamp of `now` on this stream's clock, extrapolated from
    /// its newest packet; `None` before the first.
    pub(crate) fn rtp_time_at(&self, now: Instant) -> Option<u32> {
        let (ts, at) = self.last?;
        let ticks = now.saturating_duration_since(at).as_nanos() * u128::from(self.clock_rate)
            / 1_000_000_000;
        Some(ts.wrapping_add(ticks as u32))
    }
}

/// Write an SR for `ssrc` with `counts` at NTP time `ntp` (the instant
/// `now`) and an SDES CNAME chunk into `buf` (cleared first). Writes
/// nothing and returns `false` before the stream's first packet.
pub(crate) fn write_sender_report(
    buf: &mut Vec<u8>,
    ssrc: u32,
    counts: &SendCounts,
    ntp: u64,
    now: Instant,
    cname: &[u8],
) -> bool {
    buf.clear();
    let Some(rtp_time) = counts.rtp_time_at(now) else {
        return false;
    };
    // SR, no report blocks: 7 words after the first.
    buf.extend_from_slice(&[0x80, 200, 0, 6]);
    buf.extend_from_slice(&ssrc.to_be_bytes());
    buf.extend_from_slice(&ntp.to_be_bytes());
    buf.extend_from_slice(&rtp_time.to_be_bytes());
    buf.extend_from_slice(&counts.packets.to_be_bytes());
    buf.extend_from_slice(&counts.octets.to_be_bytes());
    // SDES, one chunk: SSRC, CNAME item, end, padded to a word.
    let cname = &cname[..cname.len().min(255)];
    let start = buf.len();
    buf.extend_from_slice(&[0x81, 202, 0, 0]);
    buf.extend_from_slice(&ssrc.to_be_bytes());
    buf.push(1);
    buf.push(cname.len() as u8);
    buf.extend_from_slice(cname);
    buf.push(0);
    while !(buf.len() - start).is_multiple_of(4) {
        buf.push(0);
    }
    let words = ((buf.len() - start) / 4 - 1) as u16;
    buf[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_time_of_a_unix_time() {
        assert_eq!(ntp_from_unix(Duration::ZERO), NTP_UNIX_OFFSET << 32);
        let half = ntp_from_unix(Duration::from_millis(1500));
        assert_eq!(half >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(half as u32, 1 << 31);
    }

    #[test]
    fn report_extrapolates_the_rtp_clock_and_pads_the_sdes() {
        let t0 = Instant::now();
        let mut counts = SendCounts::new(90_000);
        let mut buf = vec![1, 2, 3];
        assert!(!write_sender_report(&mut buf, 7, &counts, 0, t0, b"x"));
        assert!(buf.is_empty());
        counts.on_sent(u32::MAX - 899, 1000, t0);
        counts.on_sent(u32::MAX - 899, 200, t0);
        // 20 ms later: 1,800 ticks on, across the timestamp wrap.
        let ntp = 0x0102_0304_0506_0708;
        assert!(write_sender_report(
            &mut buf,
            7,
            &counts,
            ntp,
            t0 + Duration::from_millis(20),
            b"abcdefg"
        ));
        assert_eq!(&buf[..8], [0x80, 200, 0, 6, 0, 0, 0, 7]);
        assert_eq!(&buf[8..16], ntp.to_be_bytes());
        assert_eq!(&buf[16..20], 900u32.to_be_bytes());
        assert_eq!(&buf[20..24], 2u32.to_be_bytes());
        assert_eq!(&buf[24..28], 1200u32.to_be_bytes());
        // SDES: header, SSRC, CNAME (2 + 7 bytes), end: 4 + 4 + 10 = 18, padded to 20.
        assert_eq!(&buf[28..32], [0x81, 202, 0, 4]);
        assert_eq!(&buf[36..45], b"\x01\x07abcdefg");
        assert_eq!(&buf[45..], [0, 0, 0]);
        assert_eq!(buf.len(), 48);
    }
}
