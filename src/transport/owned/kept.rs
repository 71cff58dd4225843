//! The payloads of recently forwarded video packets, kept once per router
//! for the RTX answers of every subscriber (`history.rs`).
//!
//! Each subscriber's history used to hold a reference to the payload in
//! each of its slots. A push then dropped the slot's previous reference: a
//! read of a slot last written a ring's length of packets ago (a cache
//! miss) that the atomic decrement after it has to wait for, once per
//! subscriber per forwarded packet. Here the payload is kept once, when the
//! first subscriber's copy is sent, under a number; a subscriber's slot
//! holds that number, plain data that is overwritten without being read.
//!
//! The ring grows (to [`MAX_KEPT`]) while the payload it would overwrite is
//! younger than the age RTX answers are given for, so a burst of
//! producers does not cut the second of history short; past that bound
//! the oldest payloads go first.
//!
//! Once per `max_age` while anything is kept, the router's `Timer::Kept`
//! sweeps the ring ([`Kept::handle_timeout`]): payloads too old to be
//! resent are released, a ring mostly empty after a burst shrinks, and an
//! empty one is freed, so a router whose sessions left holds no payload
//! (its `kept_payloads` count is zero) and memory taken by a burst is
//! there for the next one instead of pinned beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Payloads kept at first: a second of 1,000 packets per second.
const FIRST_KEPT: usize = 1024;
/// The most payloads kept: a second of about 500 Mbit/s of forwarded video
/// (a router's whole intake, not per subscriber).
pub(crate) const MAX_KEPT: usize = 65_536;

/// Kept payloads by number.
#[derive(Debug)]
pub(crate) struct Kept {
    slots: Vec<Option<Entry>>,
    /// The number of the next payload kept (numbers are never reused).
    next: u64,
    max_age: Duration,
    /// Slots holding a payload.
    live: usize,
    /// When the current sweep period began: the last sweep, or the keep
    /// that found the ring empty. `None` while nothing is kept.
    since: Option<Instant>,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    at: Instant,
    payload: Arc<[u8]>,
}

impl Kept {
    /// Payloads kept for at least `max_age` while under [`MAX_KEPT`].
    pub(crate) fn new(max_age: Duration) -> Self {
        Kept {
            slots: Vec::new(),
            next: 0,
            max_age,
            live: 0,
            since: None,
        }
    }

    /// Payloads kept now.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// When the ring is next swept: a `max_age` after the last sweep, while
    /// anything is kept.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.since.map(|t| t + self.max_age)
    }

    /// Release every payload and the ring (no subscriber is left).
    pub(crate) fn clear(&mut self) {
        self.slots = Vec::new();
        self.live = 0;
        self.since = None;
    }

    /// The sweep: release every payload sent more than `max_age` before
    /// `now` (no RTX answer is given for it), free an empty ring and halve
    /// one at most a quarter full (not below its first size).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let max_age = self.max_age;
        let mut live = 0;
        for slot in &mut self.slots {
            if slot
                .as_ref()
                .is_some_and(|e| now.saturating_duration_since(e.at) > max_age)
            {
                *slot = None;
            }
            live += usize::from(slot.is_some());
        }
        self.live = live;
        if live == 0 {
            self.slots = Vec::new();
            self.since = None;
            return;
        }
        self.since = Some(now);
        // The payloads still kept are the newest numbers, consecutive (a
        // number is only overwritten by a newer one a ring's length on), so
        // they keep distinct slots in any ring at least `live` long.
        let mut len = self.slots.len();
        while len > FIRST_KEPT && live * 4 <= len {
            len /= 2;
        }
        if len < self.slots.len() {
            self.resize(len);
        }
    }

    fn index(&self, id: u64) -> usize {
        id as usize & (self.slots.len() - 1)
    }

    /// Keep `payload`, sent at `now`; returns its number.
    pub(crate) fn keep(&mut self, payload: &Arc<[u8]>, now: Instant) -> u64 {
        if self.slots.is_empty() {
            self.slots = (0..FIRST_KEPT).map(|_| None).collect();
        }
        if self.since.is_none() {
            self.since = Some(now);
        }
        let id = self.next;
        self.next += 1;
        let young = |e: &Entry| now.saturating_duration_since(e.at) < self.max_age;
        if self.slots[self.index(id)].as_ref().is_some_and(young) && self.slots.len() < MAX_KEPT {
            self.resize(self.slots.len() * 2);
        }
        let i = self.index(id);
        self.live += usize::from(self.slots[i].is_none());
        self.slots[i] = Some(Entry {
            id,
            at: now,
            payload: payload.clone(),
        });
        id
    }

    /// A ring of `len` slots (a power of two), every entry moved to its
    /// slot in it.
    fn resize(&mut self, len: usize) {
        let old = std::mem::take(&mut self.slots);
        self.slots = (0..len).map(|_| None).collect();
        for e in old.into_iter().flatten() {
            let i = self.index(e.id);
            self.slots[i] = Some(e);
        }
    }

    /// The payload numbered `id` and when it was sent, if still kept.
    pub(crate) fn get(&self, id: u64) -> Option<(Instant, &Arc<[u8]>)> {
        if self.slots.is_empty() {
            return None;
        }
        self.slots[self.index(id)]
            .as_ref()
            .filter(|e| e.id == id)
            .map(|e| (e.at, &e.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_second_and_grows_for_it() {
        let t0 = Instant::now();
        let mut k = Kept::new(Duration::from_secs(1));
        let p: Arc<[u8]> = Arc::from(&b"payload"[..]);
        // 3,000 payloads in one instant: the ring grows to hold them all.
        let ids: Vec<u64> = (0..3000).map(|_| k.keep(&p, t0)).collect();
        assert!(ids.iter().all(|id| k.get(*id).is_some()));
        assert_eq!(k.slots.len(), 4096);
        // A second later the oldest are overwritten, not grown for.
        let later = t0 + Duration::from_secs(1);
        for _ in 0..4096 {
            k.keep(&p, later);
        }
        assert_eq!(k.slots.len(), 4096);
        assert!(k.get(ids[0]).is_none());
        assert_eq!(k.len(), 4096);
        assert_eq!(k.get(3000).map(|(at, _)| at), Some(later));
    }

    #[test]
    fn never_grows_past_its_bound() {
        let t0 = Instant::now();
        let mut k = Kept::new(Duration::from_secs(1));
        let p: Arc<[u8]> = Arc::from(&b"x"[..]);
        for _ in 0..MAX_KEPT + 10 {
            k.keep(&p, t0);
        }
        assert_eq!(k.slots.len(), MAX_KEPT);
        assert!(k.get(9).is_none(), "overwritten");
        assert!(k.get(10).is_some());
        assert!(Kept::new(Duration::from_secs(1)).get(0).is_none());
    }

    #[test]
    fn a_sweep_releases_old_payloads_shrinks_and_frees_the_ring() {
        let t0 = Instant::now();
        let sec = Duration::from_secs(1);
        let mut k = Kept::new(sec);
        assert_eq!(k.poll_timeout(), None);
        let p: Arc<[u8]> = Arc::from(&b"payload"[..]);
        // A burst: 10,000 payloads within a second grow the ring to 16,384.
        for _ in 0..10_000 {
            k.keep(&p, t0);
        }
        assert_eq!(k.slots.len(), 16_384);
        assert_eq!(k.poll_timeout(), Some(t0 + sec));
        // Then a trickle: 100 payloads in the next second.
        let t1 = t0 + Duration::from_millis(600);
        let ids: Vec<u64> = (0..100).map(|_| k.keep(&p, t1)).collect();
        assert_eq!(k.len(), 10_100);
        // The sweep at t0 + 1.5 s: the burst is past its second, the
        // trickle is not; the ring shrinks to what holds the trickle.
        let t2 = t0 + Duration::from_millis(1500);
        k.handle_timeout(t2);
        assert_eq!(k.len(), 100);
        assert_eq!(k.slots.len(), FIRST_KEPT);
        assert!(
            ids.iter().all(|id| k.get(*id).is_some()),
            "the trickle is kept"
        );
        assert!(k.get(0).is_none());
        assert_eq!(k.poll_timeout(), Some(t2 + sec));
        // Nothing more: the next sweep frees the ring.
        k.handle_timeout(t2 + sec);
        assert_eq!(k.len(), 0);
        assert!(k.slots.is_empty());
        assert_eq!(k.poll_timeout(), None);
        assert!(k.get(ids[0]).is_none());
        // And it starts again from its first size.
        let id = k.keep(&p, t2 + 2 * sec);
        assert_eq!(k.get(id).map(|(at, _)| at), Some(t2 + 2 * sec));
        assert_eq!(k.slots.len(), FIRST_KEPT);
        assert_eq!(Arc::strong_count(&p), 2, "only the newest payload is held");
    }
}
