//! Dominant speaker selection: who holds the floor, with hysteresis.
//!
//! The idea comes from the dominant speaker identification of Volfin and
//! Cohen (used by Jitsi and mediasoup): compare each speaker's activity over
//! a short and a longer window, so that a short burst (a cough, "mm-hm")
//! never takes the floor and a speaker who keeps talking does. This is a
//! much smaller version of it, on the levels of the RFC 6464 header
//! extension only:
//!
//! * every tick, a producer *speaks* if at least a third of its packets in
//!   the tick were at or above the speech threshold (so the short gaps of
//!   real speech do not break it); the last ticks are kept as bits;
//! * a producer's speech is *sustained* if it spoke in nearly every tick of
//!   the last [`SUSTAIN`] (one tick in eight may be a gap between words);
//! * its *medium activity* is a moving average (time constant [`MEDIUM`])
//!   of how far above silence it spoke (the tick's mean level);
//! * a challenger with sustained speech takes the floor when the dominant
//!   speaker was mostly quiet over the same window (it spoke in fewer than
//!   half the ticks a challenger needs), or when the challenger's medium
//!   activity is half again the dominant's (a clearly louder, longer
//!   talker). Among several, the most active wins.
//!
//! So a 300 ms interjection or cough never switches (it is not sustained),
//! a new speaker who keeps talking takes over about [`SUSTAIN`] after they
//! start, and silence switches nothing (nobody is sustained).

use std::time::Duration;

use crate::id::IdMap;
use crate::ProducerId;

/// How long a challenger must keep talking to take the floor.
pub(crate) const SUSTAIN: Duration = Duration::from_millis(800);
/// Time constant of the medium activity average.
pub(crate) const MEDIUM: Duration = Duration::from_millis(1500);

/// One producer's recent speech.
#[derive(Debug, Default, Clone)]
struct Track {
    /// Bit 0: the last tick; a set bit: it spoke in that tick.
    bits: u64,
    /// Moving average of the activity (level above silence, 0 to 127).
    medium: f32,
}

/// The speaker selection of one active speaker observer.
#[derive(Debug)]
pub(crate) struct SpeakerSelector {
    threshold_dbov: i8,
    /// Ticks in the [`SUSTAIN`] window (1 to 64).
    window: u32,
    /// Speaking ticks in the window that make speech sustained.
    needed: u32,
    /// Weight of one tick in the medium average.
    alpha: f32,
    tracks: IdMap<ProducerId, Track>,
    dominant: Option<ProducerId>,
}

impl SpeakerSelector {
    /// A selector ticking every `tick`, counting levels at or above
    /// `threshold_dbov` as speech.
    pub(crate) fn new(tick: Duration, threshold_dbov: i8) -> SpeakerSelector {
        let tick_ms = tick.as_millis().max(1) as u32;
        let window = SUSTAIN.as_millis() as u32;
        let window = window.div_ceil(tick_ms).clamp(1, 64);
        SpeakerSelector {
            threshold_dbov,
            window,
            needed: window - window / 8,
            alpha: (tick.as_secs_f32() / MEDIUM.as_secs_f32()).min(1.0),
            tracks: IdMap::default(),
            dominant: None,
        }
    }

    /// The current dominant speaker.
    pub(crate) fn dominant(&self) -> Option<ProducerId> {
        self.dominant
    }

    /// Start following a producer.
    pub(crate) fn add(&mut self, pid: ProducerId) {
        self.tracks.entry(pid).or_default();
    }

    /// Stop following a producer; it loses the floor if it held it.
    pub(crate) fn remove(&mut self, pid: ProducerId) {
        self.tracks.remove(&pid);
        if self.dominant == Some(pid) {
            self.dominant = None;
        }
    }

    /// Forget every producer's history (the observer was paused); the
    /// dominant speaker stays.
    pub(crate) fn reset(&mut self) {
        for t in self.tracks.values_mut() {
            *t = Track::default();
        }
    }

    /// The level (dBov) at or above which a packet counts as speech.
    pub(crate) fn threshold_dbov(&self) -> i8 {
        self.threshold_dbov
    }

    /// Record one tick of a producer: its packets' mean level in dBov
    /// (`None` if nothing arrived) and the share of its packets at or above
    /// the speech threshold.
    pub(crate) fn record(&mut self, pid: ProducerId, mean: Option<i8>, loud: u32, packets: u32) {
        let Some(t) = self.tracks.get_mut(&pid) else {
            return;
        };
        let level = mean.unwrap_or(-127);
        let speaking = packets > 0 && loud * 3 >= packets;
        let activity = if speaking {
            f32::from(level.max(-127)) + 127.0
        } else {
            0.0
        };
        t.bits = (t.bits << 1) | u64::from(speaking);
        t.medium += (activity - t.medium) * self.alpha;
    }

    /// Decide after a tick's records: the new dominant speaker, if it
    /// changed.
    pub(crate) fn decide(&mut self) -> Option<ProducerId> {
        let mask = if self.window >= 64 {
            u64::MAX
        } else {
            (1u64 << self.window) - 1
        };
        let spoke = |t: &Track| (t.bits & mask).count_ones();
        let dominant = self.dominant.and_then(|d| self.tracks.get(&d));
        let challenger = self
            .tracks
            .iter()
            .filter(|(pid, t)| Some(**pid) != self.dominant && spoke(t) >= self.needed)
            // Most active first; ties to the older producer.
            .max_by(|(pa, a), (pb, b)| a.medium.total_cmp(&b.medium).then(pb.cmp(pa)))?;
        let takes_over = match dominant {
            None => true,
            Some(d) => spoke(d) * 2 < self.needed || challenger.1.medium > d.medium * 1.5,
        };
        if !takes_over {
            return None;
        }
        self.dominant = Some(*challenger.0);
        self.dominant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(100);
    const A: ProducerId = ProducerId(1);
    const B: ProducerId = ProducerId(2);

    /// One tick of five packets at `level` (none: no packets).
    fn record(s: &mut SpeakerSelector, pid: ProducerId, level: Option<i8>) {
        match level {
            Some(l) => {
                let loud = if l >= s.threshold_dbov() { 5 } else { 0 };
                s.record(pid, Some(l), loud, 5);
            }
            None => s.record(pid, None, 0, 0),
        }
    }

    /// Who speaks when: (producer, from ms, to ms, dBov).
    type Script = &'static [(ProducerId, u64, u64, i8)];

    /// Run `script` for `ms` and return every change of dominant speaker
    /// with the time of the tick that decided it.
    fn run(script: Script, ms: u64) -> Vec<(u64, ProducerId)> {
        let mut s = SpeakerSelector::new(TICK, -50);
        s.add(A);
        s.add(B);
        let mut changes = Vec::new();
        let mut t = 0;
        while t < ms {
            t += TICK.as_millis() as u64;
            for pid in [A, B] {
                // The tick [t - 100, t): a level if the producer speaks at its middle.
                let mid = t - 50;
                let level = script
                    .iter()
                    .find(|(p, from, to, _)| *p == pid && (*from..*to).contains(&mid))
                    .map_or(-127, |s| s.3);
                record(&mut s, pid, Some(level));
            }
            if let Some(d) = s.decide() {
                changes.push((t, d));
            }
        }
        changes
    }

    #[test]
    fn speaker_selection_table() {
        struct Case {
            name: &'static str,
            script: Script,
            ms: u64,
            /// Expected changes: (earliest ms, latest ms, producer).
            want: &'static [(u64, u64, ProducerId)],
        }
        let cases = [
            Case {
                name: "first speaker takes the floor",
                script: &[(A, 0, 5000, -20)],
                ms: 5000,
                want: &[(700, 1000, A)],
            },
            Case {
                name: "a 300 ms interjection over the speaker does not switch",
                script: &[(A, 0, 5000, -30), (B, 2000, 2300, -10)],
                ms: 5000,
                want: &[(700, 1000, A)],
            },
            Case {
                name: "a cough in silence does not switch",
                script: &[(A, 0, 2000, -20), (B, 3000, 3300, -5)],
                ms: 6000,
                want: &[(700, 1000, A)],
            },
            Case {
                name: "silence does not switch",
                script: &[(A, 0, 2000, -20)],
                ms: 10_000,
                want: &[(700, 1000, A)],
            },
            Case {
                name: "a new speaker takes over within a second",
                script: &[(A, 0, 5000, -20), (B, 6000, 10_000, -25)],
                ms: 10_000,
                want: &[(700, 1000, A), (6000, 7000, B)],
            },
            Case {
                name: "a speaker who starts as the other stops takes over",
                script: &[(A, 0, 3000, -20), (B, 3000, 6000, -30)],
                ms: 6000,
                want: &[(700, 1000, A), (3000, 4000, B)],
            },
            Case {
                name: "two speakers at once: the first keeps the floor",
                script: &[(A, 0, 6000, -25), (B, 2000, 6000, -25)],
                ms: 6000,
                want: &[(700, 1000, A)],
            },
            Case {
                name: "below the speech threshold is silence",
                script: &[(A, 0, 3000, -20), (B, 4000, 8000, -60)],
                ms: 8000,
                want: &[(700, 1000, A)],
            },
        ];
        for c in cases {
            let got = run(c.script, c.ms);
            assert_eq!(got.len(), c.want.len(), "{}: {got:?}", c.name);
            for ((at, who), (from, to, want)) in got.iter().zip(c.want) {
                assert_eq!(who, want, "{}: {got:?}", c.name);
                assert!(
                    (*from..=*to).contains(at),
                    "{}: switched to {who} at {at} ms, wanted {from}..={to}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn gaps_between_words_keep_speech_sustained() {
        let mut s = SpeakerSelector::new(TICK, -50);
        s.add(A);
        // Each tick: three words at -25 dBov, two packets of pause at -127.
        for _ in 0..8 {
            s.record(A, Some(-66), 3, 5);
        }
        assert_eq!(s.decide(), Some(A));
        // One loud packet in five is a click, not speech.
        s.add(B);
        for _ in 0..20 {
            s.record(A, Some(-66), 3, 5);
            s.record(B, Some(-110), 1, 5);
            assert_eq!(s.decide(), None);
        }
    }

    #[test]
    fn coarse_ticks_still_ignore_a_cough() {
        let mut s = SpeakerSelector::new(Duration::from_millis(300), -50);
        s.add(A);
        s.add(B);
        for _ in 0..5 {
            record(&mut s, A, Some(-20));
            record(&mut s, B, None);
            s.decide();
        }
        assert_eq!(s.dominant(), Some(A));
        // A 300 ms cough straddling two ticks, then silence.
        record(&mut s, A, None);
        record(&mut s, B, Some(-10));
        assert_eq!(s.decide(), None);
        record(&mut s, A, None);
        record(&mut s, B, Some(-10));
        assert_eq!(s.decide(), None);
        for _ in 0..5 {
            record(&mut s, A, None);
            record(&mut s, B, None);
            assert_eq!(s.decide(), None);
        }
        s.remove(A);
        assert_eq!(s.dominant(), None);
    }
}
