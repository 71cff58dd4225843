//! Synthetic media: Opus-sized audio and VP8 video with real payload
//! descriptors (picture ids, keyframe bits), so the router's codec logic
//! sees what a browser would send.

use std::time::{Duration, Instant};

/// Builds one VP8 RTP payload: descriptor with a 15-bit picture id, then
/// the VP8 payload header byte (P bit clear on keyframes) and filler that
/// carries the frame number.
pub fn vp8_payload(
    picture_id: u16,
    start: bool,
    keyframe: bool,
    frame: u32,
    len: usize,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(len.max(10));
    p.push(0x80 | if start { 0x10 } else { 0 });
    p.push(0x80);
    p.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
    p.push(picture_id as u8);
    p.push(if keyframe { 0x00 } else { 0x01 });
    p.extend_from_slice(&frame.to_be_bytes());
    p.resize(len.max(p.len()), 0xab);
    p
}

/// Frame number carried by [`vp8_payload`].
pub fn vp8_frame(payload: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(payload.get(5..9)?.try_into().ok()?))
}

/// Whether a VP8 payload starts a keyframe.
pub fn vp8_is_keyframe_start(payload: &[u8]) -> bool {
    payload.len() > 4 && payload[0] & 0x10 != 0 && payload[4] & 0x01 == 0
}

/// One RTP packet to write.
#[derive(Debug, Clone)]
pub struct Packet {
    pub video: bool,
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// A publisher's media clock: audio every 20 ms, video at 30 fps with a
/// keyframe every `keyframe_interval` or on request.
pub struct Source {
    pub audio: bool,
    pub video: bool,
    start: Instant,
    next_audio: Instant,
    next_video: Instant,
    audio_seq: u64,
    video_seq: u64,
    frame: u32,
    picture_id: u16,
    last_keyframe: Option<Instant>,
    pub keyframe_interval: Duration,
    pub force_keyframe: bool,
    pub packets_per_frame: usize,
    pub keyframe_packets: usize,
    pub packet_size: usize,
    pub keyframes_sent: u64,
}

impl Source {
    pub fn new(now: Instant, audio: bool, video: bool) -> Self {
        Source {
            audio,
            video,
            start: now,
            next_audio: now,
            next_video: now,
            audio_seq: 100,
            video_seq: 5000,
            frame: 0,
            picture_id: 300,
            last_keyframe: None,
            keyframe_interval: Duration::from_secs(3),
            force_keyframe: false,
            packets_per_frame: 3,
            keyframe_packets: 8,
            packet_size: 1000,
            keyframes_sent: 0,
        }
    }

    pub fn next_at(&self) -> Instant {
        match (self.audio, self.video) {
            (true, true) => self.next_audio.min(self.next_video),
            (true, false) => self.next_audio,
            (false, true) => self.next_video,
            (false, false) => self.start + Duration::from_secs(1 << 20),
        }
    }

    /// Packets due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Packet> {
        let mut out = Vec::new();
        while self.audio && self.next_audio <= now {
            let ts = (self.next_audio - self.start).as_millis() as u32 * 48;
            out.push(Packet {
                video: false,
                seq: self.audio_seq,
                ts,
                marker: false,
                payload: vec![0xfc; 120],
            });
            self.audio_seq += 1;
            self.next_audio += Duration::from_millis(20);
        }
        while self.video && self.next_video <= now {
            let ts = ((self.next_video - self.start).as_micros() as u64 * 9 / 100) as u32;
            let keyframe = self.force_keyframe
                || self
                    .last_keyframe
                    .is_none_or(|k| self.next_video - k >= self.keyframe_interval);
            if keyframe {
                self.force_keyframe = false;
                self.last_keyframe = Some(self.next_video);
                self.keyframes_sent += 1;
            }
            let n = if keyframe {
                self.keyframe_packets
            } else {
                self.packets_per_frame
            };
            for i in 0..n {
                out.push(Packet {
                    video: true,
                    seq: self.video_seq,
                    ts,
                    marker: i + 1 == n,
                    payload: vp8_payload(
                        self.picture_id,
                        i == 0,
                        keyframe,
                        self.frame,
                        self.packet_size,
                    ),
                });
                self.video_seq += 1;
            }
            self.frame += 1;
            self.picture_id = (self.picture_id + 1) & 0x7fff;
            self.next_video += Duration::from_micros(33_333);
        }
        out
    }
}
