//! The router's one timer table: the single truth for when it wakes.
//!
//! Every subsystem answers `poll_timeout` for itself (a transport's str0m
//! and liveness deadline, a layer's keyframe throttle, a producer's layer
//! monitor, a transport's allocator); the router writes those answers here
//! with [`Timers::set`] and nowhere else, and runs the subsystem's
//! `handle_timeout` when its entry falls due. No subsystem keeps a copy of
//! its scheduled time.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::id::IdMap;
use crate::{ObserverId, PipeId, ProducerId, TcpConnId, TransportId};

/// Something the router must do at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// str0m's timeout or the liveness deadline of a transport.
    Transport(TransportId),
    /// A merged keyframe request for one layer of a producer is due.
    Keyframe(ProducerId, u8),
    /// A multi-layer producer's layers are due for a check.
    Layers(ProducerId),
    /// A transport's bandwidth allocation (and REMB to its sender) is due.
    Allocate(TransportId),
    /// An observer's next tick.
    Observer(ObserverId),
    /// An ICE-over-TCP connection's idle deadline.
    Tcp(TcpConnId),
    /// A remote pipe's control message is due to be sent again.
    Pipe(PipeId),
    /// The owned path's kept payloads are due for a sweep.
    Kept,
}

/// One word per timer for the id hasher (ids stay far below 2^48, a
/// host's TCP connection ids may not; a
/// collision would only share a bucket).
impl std::hash::Hash for Timer {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let word = match *self {
            Timer::Transport(t) => t.0 << 3,
            Timer::Keyframe(p, l) => (p.0 << 3 | 1) ^ (u64::from(l) << 56),
            Timer::Layers(p) => p.0 << 3 | 2,
            Timer::Allocate(t) => t.0 << 3 | 3,
            Timer::Observer(o) => o.0 << 3 | 4,
            Timer::Tcp(c) => c.0 << 3 | 5,
            Timer::Pipe(p) => p.0 << 3 | 6,
            Timer::Kept => 7,
        };
        state.write_u64(word);
    }
}

/// Timers by deadline, with at most one deadline per [`Timer`].
#[derive(Default)]
pub(crate) struct Timers {
    by_time: BTreeSet<(Instant, Timer)>,
    at: IdMap<Timer, Instant>,
}

impl Timers {
    /// Schedule `timer` at `at`, replacing its previous deadline; `None`
    /// cancels it.
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        let old = match at {
            Some(new) => self.at.insert(timer, new),
            None => self.at.remove(&timer),
        };
        if old == at {
            return;
        }
        if let Some(o) = old {
            self.by_time.remove(&(o, timer));
        }
        if let Some(n) = at {
            self.by_time.insert((n, timer));
        }
    }

    /// When `timer` is due, if it is scheduled.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.at.get(&timer).copied()
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The timers due at `now`, in deadline order. Taken as a snapshot: a
    /// handler that reschedules its timer at or before `now` runs again at
    /// the next input, never in a loop within one.
    pub(crate) fn due(&self, now: Instant) -> Vec<(Instant, Timer)> {
        self.by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .copied()
            .collect()
    }

    /// Remove `timer` if it is still due at `at` (an earlier handler in the
    /// same round may have moved or cancelled it). Returns whether to run it.
    pub(crate) fn take(&mut self, at: Instant, timer: Timer) -> bool {
        if self.at.get(&timer) != Some(&at) {
            return false;
        }
        self.at.remove(&timer);
        self.by_time.remove(&(at, timer));
        true
    }

    /// Cancel every timer of a closing transport.
    pub(crate) fn clear_transport(&mut self, tid: TransportId) {
        self.set(Timer::Transport(tid), None);
        self.set(Timer::Allocate(tid), None);
    }

    /// Cancel every timer of a closing producer with `layers` layers.
    pub(crate) fn clear_producer(&mut self, pid: ProducerId, layers: usize) {
        for l in 0..layers.min(u8::MAX as usize + 1) {
            self.set(Timer::Keyframe(pid, l as u8), None);
        }
        self.set(Timer::Layers(pid), None);
    }

    pub(crate) fn len(&self) -> usize {
        self.by_time.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_deadline_per_timer_and_snapshot_rounds() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let a = Timer::Transport(TransportId(1));
        let b = Timer::Layers(ProducerId(2));
        timers.set(a, Some(t0 + Duration::from_millis(5)));
        timers.set(a, Some(t0 + Duration::from_millis(1)));
        timers.set(b, Some(t0 + Duration::from_millis(3)));
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.next(), Some(t0 + Duration::from_millis(1)));
        let due = timers.due(t0 + Duration::from_millis(3));
        assert_eq!(due.len(), 2);
        // b was moved by a's handler: not run in this round.
        timers.set(b, Some(t0 + Duration::from_millis(9)));
        assert!(timers.take(due[0].0, due[0].1));
        assert!(!timers.take(due[1].0, due[1].1));
        assert_eq!(timers.get(b), Some(t0 + Duration::from_millis(9)));
        timers.clear_producer(ProducerId(2), 3);
        assert_eq!(timers.len(), 0);
        assert_eq!(timers.next(), None);
    }
}
