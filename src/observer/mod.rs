//! Observers: audio levels and the active speaker, from the RFC 6464
//! audio-level header extension only.
//!
//! An observer follows some audio producers of its router. Each packet of
//! an observed producer adds its header's level (dBov) to a small
//! accumulator of that producer in the observer: no decoding, so it works
//! as well on end-to-end encrypted payloads, and no allocation. Producers
//! nobody observes do no work at all. Every interval the observer turns
//! its accumulators into an event:
//!
//! * an **audio level observer** ([`Router::create_audio_level_observer`])
//!   reports the producers whose mean level over the interval reached its
//!   threshold, loudest first ([`Event::AudioLevels`]), or that there are
//!   none ([`Event::Silence`], once when reports stop), as mediasoup does;
//! * an **active speaker observer** ([`Router::create_active_speaker_observer`])
//!   picks the dominant speaker with hysteresis ([`Event::DominantSpeaker`]):
//!   a short interjection or a cough does not switch, a new speaker who
//!   keeps talking takes over within about a second, silence does not
//!   switch.
//!
//! An observer has the same `handle_timeout` / `poll_timeout` shape as
//! every subsystem; the router keeps its deadline in its one timer table.
//! It ticks only while it is not paused and observes at least one
//! producer.
//!
//! [`Router::create_audio_level_observer`]: crate::Router::create_audio_level_observer
//! [`Router::create_active_speaker_observer`]: crate::Router::create_active_speaker_observer
//! [`Event::AudioLevels`]: crate::Event::AudioLevels
//! [`Event::Silence`]: crate::Event::Silence
//! [`Event::DominantSpeaker`]: crate::Event::DominantSpeaker

pub(crate) mod speaker;

use std::time::{Duration, Instant};

use crate::id::IdMap;
use crate::{Event, ObserverId, ProducerId};
use speaker::SpeakerSelector;

/// The shortest interval an observer accepts; shorter ones are raised to it.
pub const MIN_OBSERVER_INTERVAL: Duration = Duration::from_millis(20);

/// Options of an audio level observer
/// ([`Router::create_audio_level_observer`](crate::Router::create_audio_level_observer)).
/// mediasoup's defaults: one entry, -80 dBov, every second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AudioLevelObserverOptions {
    /// How often levels are reported (at least [`MIN_OBSERVER_INTERVAL`]).
    pub interval: Duration,
    /// The lowest mean level reported, in dBov (-127 to 0).
    pub threshold_dbov: i8,
    /// The most producers in one report (the loudest); at least 1.
    pub max_entries: usize,
}

impl Default for AudioLevelObserverOptions {
    fn default() -> Self {
        AudioLevelObserverOptions {
            interval: Duration::from_secs(1),
            threshold_dbov: -80,
            max_entries: 1,
        }
    }
}

impl AudioLevelObserverOptions {
    /// Report every `interval`.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Report only producers at or above `dbov` (-127 to 0).
    pub fn with_threshold_dbov(mut self, dbov: i8) -> Self {
        self.threshold_dbov = dbov;
        self
    }

    /// Report at most the `n` loudest producers.
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }
}

/// Options of an active speaker observer
/// ([`Router::create_active_speaker_observer`](crate::Router::create_active_speaker_observer)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ActiveSpeakerObserverOptions {
    /// How often speech is sampled and the dominant speaker decided
    /// (at least [`MIN_OBSERVER_INTERVAL`]; default 100 ms). The hysteresis
    /// is in time, not in ticks; ticks much longer than 100 ms make the
    /// decision coarser.
    pub interval: Duration,
    /// The mean level over a tick at or above which a producer counts as
    /// speaking, in dBov (default -50).
    pub speech_threshold_dbov: i8,
}

impl Default for ActiveSpeakerObserverOptions {
    fn default() -> Self {
        ActiveSpeakerObserverOptions {
            interval: Duration::from_millis(100),
            speech_threshold_dbov: -50,
        }
    }
}

impl ActiveSpeakerObserverOptions {
    /// Decide every `interval`.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Count levels at or above `dbov` as speech.
    pub fn with_speech_threshold_dbov(mut self, dbov: i8) -> Self {
        self.speech_threshold_dbov = dbov;
        self
    }
}

/// What an observer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ObserverKind {
    /// Audio levels ([`Event::AudioLevels`](crate::Event::AudioLevels)).
    AudioLevel,
    /// The dominant speaker ([`Event::DominantSpeaker`](crate::Event::DominantSpeaker)).
    ActiveSpeaker,
}

/// Levels of one producer within the current interval.
#[derive(Debug, Default, Clone, Copy)]
struct Accumulator {
    /// Sum of -dBov (0 to 127) over the packets.
    sum: u32,
    packets: u32,
    /// Packets at or above the observer's loud threshold.
    loud: u32,
}

impl Accumulator {
    #[inline]
    fn add(&mut self, dbov: i8, loud_dbov: i8) {
        self.sum = self
            .sum
            .saturating_add(u32::from(dbov.max(-127).unsigned_abs()));
        self.packets = self.packets.saturating_add(1);
        self.loud = self.loud.saturating_add(u32::from(dbov >= loud_dbov));
    }

    /// The mean level in dBov, rounded, if any packet came.
    fn mean(&self) -> Option<i8> {
        (self.packets > 0).then(|| -(((self.sum + self.packets / 2) / self.packets).min(127) as i8))
    }
}

enum Logic {
    Levels {
        threshold_dbov: i8,
        max_entries: usize,
        /// Whether the last report was silence (or none was made yet).
        silent: bool,
    },
    Speaker(SpeakerSelector),
}

/// One observer: its producers' accumulators and its logic.
pub(crate) struct Observer {
    pub(crate) kind: ObserverKind,
    interval: Duration,
    producers: IdMap<ProducerId, Accumulator>,
    logic: Logic,
    /// The level a packet counts as loud at (the speech threshold).
    loud_dbov: i8,
    pub(crate) paused: bool,
    /// Its next tick (its `poll_timeout`).
    next: Option<Instant>,
}

impl Observer {
    pub(crate) fn audio_level(options: AudioLevelObserverOptions) -> Observer {
        Observer {
            kind: ObserverKind::AudioLevel,
            interval: options.interval.max(MIN_OBSERVER_INTERVAL),
            producers: IdMap::default(),
            logic: Logic::Levels {
                threshold_dbov: options.threshold_dbov.clamp(-127, 0),
                max_entries: options.max_entries.max(1),
                silent: true,
            },
            loud_dbov: 0,
            paused: false,
            next: None,
        }
    }

    pub(crate) fn active_speaker(options: ActiveSpeakerObserverOptions) -> Observer {
        let interval = options.interval.max(MIN_OBSERVER_INTERVAL);
        let selector = SpeakerSelector::new(interval, options.speech_threshold_dbov.clamp(-127, 0));
        Observer {
            kind: ObserverKind::ActiveSpeaker,
            interval,
            producers: IdMap::default(),
            loud_dbov: selector.threshold_dbov(),
            logic: Logic::Speaker(selector),
            paused: false,
            next: None,
        }
    }

    /// The producers it observes, in id order.
    pub(crate) fn producers(&self) -> Vec<ProducerId> {
        let mut v: Vec<_> = self.producers.keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }

    pub(crate) fn contains(&self, pid: ProducerId) -> bool {
        self.producers.contains_key(&pid)
    }

    /// The dominant speaker of an active speaker observer.
    pub(crate) fn dominant(&self) -> Option<ProducerId> {
        match &self.logic {
            Logic::Speaker(s) => s.dominant(),
            Logic::Levels { .. } => None,
        }
    }

    /// Start observing `pid`; the first one starts the ticks at `now`.
    pub(crate) fn add(&mut self, pid: ProducerId, now: Instant) {
        self.producers.entry(pid).or_default();
        if let Logic::Speaker(s) = &mut self.logic {
            s.add(pid);
        }
        self.reschedule(now);
    }

    /// Stop observing `pid`; the last one stops the ticks.
    pub(crate) fn remove(&mut self, pid: ProducerId, now: Instant) {
        self.producers.remove(&pid);
        if let Logic::Speaker(s) = &mut self.logic {
            s.remove(pid);
        }
        self.reschedule(now);
    }

    /// Pause (levels are dropped, no events) or resume (ticks restart at
    /// `now`).
    pub(crate) fn set_paused(&mut self, paused: bool, now: Instant) {
        if self.paused == paused {
            return;
        }
        self.paused = paused;
        for a in self.producers.values_mut() {
            *a = Accumulator::default();
        }
        match &mut self.logic {
            Logic::Speaker(s) => s.reset(),
            Logic::Levels { silent, .. } => *silent = true,
        }
        self.next = None;
        self.reschedule(now);
    }

    fn reschedule(&mut self, now: Instant) {
        let ticking = !self.paused && !self.producers.is_empty();
        self.next = match (ticking, self.next) {
            (false, _) => None,
            (true, Some(at)) => Some(at),
            (true, None) => Some(now + self.interval),
        };
    }

    /// The per-packet step: one level (dBov) of an observed producer.
    #[inline]
    pub(crate) fn on_level(&mut self, pid: ProducerId, dbov: i8) {
        if self.paused {
            return;
        }
        if let Some(a) = self.producers.get_mut(&pid) {
            a.add(dbov, self.loud_dbov);
        }
    }

    /// When it next wants [`handle_timeout`](Self::handle_timeout).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// A tick: the event it reports, if any.
    pub(crate) fn handle_timeout(&mut self, id: ObserverId, now: Instant) -> Option<Event> {
        let at = self.next?;
        if now < at {
            return None;
        }
        // The next tick one interval on; a host that fell behind skips
        // ticks instead of running them back to back.
        let next = at + self.interval;
        self.next = Some(if next <= now {
            now + self.interval
        } else {
            next
        });
        match &mut self.logic {
            Logic::Levels {
                threshold_dbov,
                max_entries,
                silent,
            } => {
                let mut levels: Vec<(ProducerId, i8)> = self
                    .producers
                    .iter_mut()
                    .filter_map(|(pid, a)| std::mem::take(a).mean().map(|l| (*pid, l)))
                    .filter(|(_, l)| *l >= *threshold_dbov)
                    .collect();
                if levels.is_empty() {
                    if *silent {
                        return None;
                    }
                    *silent = true;
                    return Some(Event::Silence { observer: id });
                }
                *silent = false;
                levels.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                levels.truncate(*max_entries);
                Some(Event::AudioLevels {
                    observer: id,
                    levels,
                })
            }
            Logic::Speaker(s) => {
                for (pid, a) in self.producers.iter_mut() {
                    let a = std::mem::take(a);
                    s.record(*pid, a.mean(), a.loud, a.packets);
                }
                s.decide().map(|producer| Event::DominantSpeaker {
                    observer: id,
                    producer,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_report_loudest_first_then_silence_once() {
        let t0 = Instant::now();
        let id = ObserverId(1);
        let options = AudioLevelObserverOptions::default()
            .with_interval(Duration::from_millis(100))
            .with_threshold_dbov(-70)
            .with_max_entries(2);
        let mut o = Observer::audio_level(options);
        let (a, b, c) = (ProducerId(1), ProducerId(2), ProducerId(3));
        for p in [a, b, c] {
            o.add(p, t0);
        }
        assert_eq!(o.poll_timeout(), Some(t0 + Duration::from_millis(100)));
        for _ in 0..5 {
            o.on_level(a, -40);
            o.on_level(b, -20);
            o.on_level(b, -21);
            o.on_level(c, -30);
        }
        let at = t0 + Duration::from_millis(100);
        assert_eq!(
            o.handle_timeout(id, at),
            Some(Event::AudioLevels {
                observer: id,
                levels: vec![(b, -21), (c, -30)],
            })
        );
        // Below the threshold: silence, once.
        o.on_level(a, -90);
        let at = at + Duration::from_millis(100);
        assert_eq!(
            o.handle_timeout(id, at),
            Some(Event::Silence { observer: id })
        );
        let at = at + Duration::from_millis(100);
        assert_eq!(o.handle_timeout(id, at), None);
        o.set_paused(true, at);
        assert_eq!(o.poll_timeout(), None);
        o.set_paused(false, at);
        for p in [a, b, c] {
            o.remove(p, at);
        }
        assert_eq!(o.poll_timeout(), None);
    }
}
