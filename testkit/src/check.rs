//! Checks on a received stream: continuity of sequence numbers,
//! timestamps, VP8 picture IDs, and where simulcast switches land.

use std::time::Instant;

use crate::client::Rx;

/// Packets ordered by output sequence number, duplicates removed.
pub fn by_seq(rx: &[Rx]) -> Vec<Rx> {
    let mut v = rx.to_vec();
    v.sort_by_key(|r| r.seq);
    v.dedup_by_key(|r| r.seq);
    v
}

/// Assert a received VP8 simulcast stream is one continuous stream:
/// every switch between encodings lands on a keyframe, picture IDs and
/// TL0PICIDX advance by at most one, no sequence gap, timestamps never go
/// backwards. Returns the number of switches.
pub fn simulcast_stream(rx: &[Rx]) -> usize {
    let v = by_seq(rx);
    let mut switches = 0;
    for w in v.windows(2) {
        let (a, b) = (w[0].vp8.unwrap(), w[1].vp8.unwrap());
        if a.layer != b.layer {
            switches += 1;
            assert!(
                b.keyframe,
                "switch {}→{} at seq {} not on a keyframe",
                a.layer, b.layer, w[1].seq
            );
        }
        if b.start && b.picture_id != a.picture_id {
            assert_eq!(
                b.picture_id,
                (a.picture_id + 1) & 0x7fff,
                "picture id jump at seq {}",
                w[1].seq
            );
        } else {
            assert_eq!(
                b.picture_id, a.picture_id,
                "picture id changes inside a frame at seq {}",
                w[1].seq
            );
        }
        if let (Some(x), Some(y)) = (a.tl0, b.tl0) {
            let d = y.wrapping_sub(x);
            assert!(d <= 1, "tl0picidx jump {x}→{y} at seq {}", w[1].seq);
        }
    }
    assert_eq!(missing_seqs(&v), 0, "sequence gap");
    assert!(timestamps_monotonic(&v), "timestamps go backwards");
    switches
}

/// When the first packet of VP8 simulcast encoding `layer` arrived after `after`.
pub fn first_at_layer(rx: &[Rx], layer: u8, after: Instant) -> Option<Instant> {
    rx.iter()
        .find(|r| r.at > after && r.vp8.is_some_and(|v| v.layer == layer))
        .map(|r| r.at)
}

/// Sequence numbers (in arrival order, after sorting) have no holes.
pub fn missing_seqs(rx: &[Rx]) -> usize {
    let mut seqs: Vec<u64> = rx.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    match (seqs.first(), seqs.last()) {
        (Some(a), Some(b)) => (b - a + 1) as usize - seqs.len(),
        _ => 0,
    }
}

/// Distinct sequence numbers received.
pub fn distinct(rx: &[Rx]) -> usize {
    let mut seqs: Vec<u64> = rx.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs.len()
}

/// The share of the sequence numbers from the lowest to the highest
/// received that arrived at least once (0 when nothing arrived).
pub fn delivered_share(rx: &[Rx]) -> f64 {
    let (Some(first), Some(last)) = (
        rx.iter().map(|r| r.seq).min(),
        rx.iter().map(|r| r.seq).max(),
    ) else {
        return 0.0;
    };
    distinct(rx) as f64 / (last - first + 1) as f64
}

/// Timestamps never go backwards when ordered by sequence number.
pub fn timestamps_monotonic(rx: &[Rx]) -> bool {
    let mut v: Vec<(u64, u32)> = rx.iter().map(|r| (r.seq, r.ts)).collect();
    v.sort_unstable();
    v.windows(2)
        .all(|w| (w[1].1.wrapping_sub(w[0].1) as i32) >= 0)
}
