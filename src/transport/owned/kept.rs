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
        let id = self.next;
        self.next += 1;
        let young = |e: &Entry| now.saturating_duration_since(e.at) < self.max_age;
        if self.slots[self.index(id)].as_ref().is_some_and(young) && self.slots.len() < MAX_KEPT {
            self.grow();
        }
        let i = self.index(id);
        self.slots[i] = Some(Entry {
            id,
            at: now,
            payload: payload.clone(),
        });
        id
    }

    /// Twice the slots, every entry moved to its slot in the new ring.
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = (0..old.len() * 2).map(|_| None).collect();
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

    /// Payloads kept now (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.iter().flatten().count()
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
}
