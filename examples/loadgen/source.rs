//! Synthetic media for one publisher: VP8 video at a set bitrate and
//! Opus-sized audio, each payload stamped with its send time.
//!
//! Video runs at 30 fps in packets of at most [`MAX_PAYLOAD`] bytes; a
//! keyframe (three times a delta frame) comes every [`KEYFRAME_INTERVAL`] or
//! when the router asks for one. Every video payload starts with a real VP8
//! payload descriptor (S bit on a frame's first packet, 15-bit picture ID)
//! and the VP8 payload header's P bit, so the router's keyframe and picture
//! ID logic sees what a browser would send. Then come 8 bytes: the send time
//! in nanoseconds since the process-wide epoch ([`stamp_of`] reads it back).

use std::time::{Duration, Instant};

use manifold_sfu::packet::Vp8Descriptor;

/// Largest RTP payload written.
pub const MAX_PAYLOAD: usize = 1200;
/// Video frame rate.
const FPS: u32 = 30;
/// Time between periodic keyframes.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);
/// A keyframe is this many delta frames big.
const KEYFRAME_SHARES: u64 = 3;
/// Audio packet interval and payload size (about 48 kbit/s Opus).
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const AUDIO_PAYLOAD: usize = 120;
/// VP8 payload descriptor (4 bytes) and payload header byte before the stamp.
const VP8_HEADER: usize = 5;
/// Smallest payload: room for the headers and the stamp.
const MIN_PAYLOAD: usize = VP8_HEADER + 8;

/// One RTP packet to write.
pub struct Packet {
    pub video: bool,
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// One publisher's media clock.
pub struct Source {
    start: Instant,
    next_video: Instant,
    next_audio: Instant,
    /// Size of a delta frame in bytes.
    frame_bytes: usize,
    video_seq: u64,
    audio_seq: u64,
    picture_id: u16,
    last_keyframe: Option<Instant>,
    force_keyframe: bool,
    pub keyframes: u64,
}

impl Source {
    /// A source starting at `now` at `bitrate` bits per second of video.
    pub fn new(now: Instant, bitrate: u64, seed: u64) -> Self {
        // Over one keyframe interval: one keyframe plus the delta frames.
        let frames = FPS as u64 * KEYFRAME_INTERVAL.as_secs();
        let shares = frames - 1 + KEYFRAME_SHARES;
        let frame_bytes = (bitrate / 8 * KEYFRAME_INTERVAL.as_secs() / shares) as usize;
        Source {
            start: now,
            next_video: now,
            next_audio: now,
            frame_bytes: frame_bytes.max(MIN_PAYLOAD),
            video_seq: 1000 + (seed % 20_000),
            audio_seq: 30_000 + (seed % 20_000),
            picture_id: (seed % 0x7fff) as u16,
            last_keyframe: None,
            force_keyframe: false,
            keyframes: 0,
        }
    }

    /// Send a keyframe next (a PLI or FIR came in).
    pub fn request_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    /// When the next packet is due.
    pub fn next_at(&self) -> Instant {
        self.next_video.min(self.next_audio)
    }

    /// Append the packets due at `now` to `out`, stamped `now`
    /// (nanoseconds since `epoch`): they are sent right away.
    pub fn poll(&mut self, now: Instant, epoch: Instant, out: &mut Vec<Packet>) {
        let stamp = now.saturating_duration_since(epoch).as_nanos() as u64;
        while self.next_audio <= now {
            let ts = (self.next_audio - self.start).as_millis() as u32 * 48;
            let mut payload = vec![0xfc; AUDIO_PAYLOAD];
            payload[..8].copy_from_slice(&stamp.to_be_bytes());
            out.push(Packet {
                video: false,
                seq: self.audio_seq,
                ts,
                marker: false,
                payload,
            });
            self.audio_seq += 1;
            self.next_audio += AUDIO_INTERVAL;
        }
        while self.next_video <= now {
            let at = self.next_video;
            let keyframe = self.force_keyframe
                || self
                    .last_keyframe
                    .is_none_or(|k| at - k >= KEYFRAME_INTERVAL);
            if keyframe {
                self.force_keyframe = false;
                self.last_keyframe = Some(at);
                self.keyframes += 1;
            }
            let bytes = match keyframe {
                true => self.frame_bytes * KEYFRAME_SHARES as usize,
                false => self.frame_bytes,
            };
            let n = bytes.div_ceil(MAX_PAYLOAD);
            let size = (bytes / n).max(MIN_PAYLOAD);
            let ts = ((at - self.start).as_micros() as u64 * 9 / 100) as u32;
            for i in 0..n {
                out.push(Packet {
                    video: true,
                    seq: self.video_seq,
                    ts,
                    marker: i + 1 == n,
                    payload: vp8_payload(self.picture_id, i == 0, keyframe, stamp, size),
                });
                self.video_seq += 1;
            }
            self.picture_id = (self.picture_id + 1) & 0x7fff;
            self.next_video += Duration::from_micros(1_000_000 / FPS as u64);
        }
    }
}

/// A VP8 payload: descriptor with a 15-bit picture ID (S bit on the first
/// packet of a frame), the payload header's P bit (clear on keyframes),
/// the stamp, then filler up to `len`.
fn vp8_payload(picture_id: u16, start: bool, keyframe: bool, stamp: u64, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len);
    p.push(0x80 | if start { 0x10 } else { 0 });
    p.push(0x80);
    p.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
    p.push(picture_id as u8);
    p.push(if keyframe { 0x00 } else { 0x01 });
    p.extend_from_slice(&stamp.to_be_bytes());
    p.resize(len.max(p.len()), 0xab);
    p
}

/// The send stamp (nanoseconds since the epoch) of a payload this module
/// wrote, after the router's rewrites (which keep the descriptor's length).
pub fn stamp_of(video: bool, payload: &[u8]) -> Option<u64> {
    let at = match video {
        true => Vp8Descriptor::parse(payload).ok()?.header_len + 1,
        false => 0,
    };
    let bytes = payload.get(at..at + 8)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrate_and_stamps() {
        let t0 = Instant::now();
        let mut s = Source::new(t0, 1_500_000, 7);
        let mut out = Vec::new();
        // Four seconds: two keyframe intervals.
        s.poll(t0 + Duration::from_millis(3999), t0, &mut out);
        let video: usize = out
            .iter()
            .filter(|p| p.video)
            .map(|p| p.payload.len())
            .sum();
        let bps = video as f64 * 8.0 / 4.0;
        assert!((1_400_000.0..1_600_000.0).contains(&bps), "{bps}");
        assert!(out.iter().all(|p| p.payload.len() <= MAX_PAYLOAD));
        assert_eq!(out.iter().filter(|p| !p.video).count(), 200);
        assert_eq!(s.keyframes, 2);
        let stamp = 3_999_000_000;
        for p in &out {
            assert_eq!(stamp_of(p.video, &p.payload), Some(stamp));
        }
    }
}
