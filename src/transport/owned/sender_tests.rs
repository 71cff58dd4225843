//! The owned path's padding when there is no media to ride on.

use std::time::{Duration, Instant};

use smallvec::smallvec;

use super::*;
use crate::crypto::srtp_tx::SrtpSuite;

const MEDIA: u32 = 1001;
const RTX: u32 = 2002;

fn path() -> OwnedTx {
    let suite = SrtpSuite::AeadAes128Gcm;
    let keys = DtlsKeys::new(suite, &vec![7; suite.keying_material_len()], false);
    let mut o = OwnedTx::new(&keys, Some(300_000)).expect("keys");
    o.add_stream(
        MEDIA,
        StreamInfo {
            mid: smallvec![b'1'],
            rtx: Some(RTX),
            rtx_pts: smallvec![(96, 97)],
            clock_rate: 90_000,
            nackable: true,
            ext: ExtIds {
                mid: 1,
                transport_cc: 3,
                ..ExtIds::default()
            },
        },
    );
    o
}

#[test]
fn paused_video_probes_with_padding_only_packets_on_a_timer() {
    let mut o = path();
    let t0 = Instant::now();
    assert_eq!(o.padding_at(), None, "nothing wanted: no timer");
    // Every video paused: the allocator has 50 kbit/s allocated (audio)
    // and wants 600. No video packet was ever sent, so none is kept to
    // resend: padding must stand alone, on the transport's timer.
    o.set_rates(t0, 50_000, 600_000);
    let mut now = o.padding_at().expect("a probe is due");
    assert_eq!(now, t0);
    let (mut bufs, kept) = (SendBufs::default(), Kept::new(HISTORY_AGE));
    let mut out: Vec<(Instant, Bytes)> = Vec::new();
    while now < t0 + Duration::from_millis(400) {
        o.pad(now, &mut bufs, &kept, |d| out.push((now, d)));
        match o.padding_at() {
            Some(at) if at > now => now = at,
            Some(_) => panic!("padding due again at once"),
            None => break,
        }
    }
    // One cluster of 150 ms at twice the estimate (600 kbit/s, about
    // 11 kB), then one packet after it whose feedback reads the cluster;
    // then nothing until its result is in or given up.
    let end = t0 + Duration::from_millis(150);
    let cluster: usize = out
        .iter()
        .filter(|(at, _)| *at < end)
        .map(|(_, d)| d.len())
        .sum();
    assert!(
        (8_000..=14_000).contains(&cluster),
        "{cluster} bytes in the cluster"
    );
    assert_eq!(
        out.iter().filter(|(at, _)| *at >= end).count(),
        1,
        "one tail packet"
    );
    assert!(
        now >= end + Duration::from_secs(1),
        "next wake at {:?}",
        now - t0
    );
    for (i, (_, d)) in out.iter().enumerate() {
        // RTP padding bit, the RTX stream's payload type, SSRC and
        // sequence numbers: a packet the subscriber counts in its
        // transport-wide feedback and drops.
        assert_eq!(d[0] & 0x20, 0x20, "padding bit");
        assert_eq!(d[1] & 0x7f, 97);
        assert_eq!(u16::from_be_bytes([d[2], d[3]]), i as u16);
        assert_eq!(u32::from_be_bytes([d[8], d[9], d[10], d[11]]), RTX);
        assert!(d.len() > PADDING_ONLY && d.len() <= PADDING_ONLY_SIZE + 16);
    }
    assert_eq!(o.counters().padding_sent, out.len() as u64);
    assert_eq!(
        o.stream_sent(MEDIA).map(|s| s.bytes),
        Some(0),
        "not the consumer's media"
    );
}
