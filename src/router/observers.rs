//! The router's side of observers (`crate::observer`): creating them, the
//! borrowed view [`ObserverApi`], their ticks in the timer table, and
//! forgetting a closing producer.

use std::time::Instant;

use tracing::warn;

use super::timers::Timer;
use super::Router;
use crate::error::RouterError;
use crate::observer::{
    ActiveSpeakerObserverOptions, AudioLevelObserverOptions, Observer, ObserverKind,
};
use crate::{ObserverId, ProducerId};

impl Router {
    /// Create an audio level observer at the host's time `now`: it reports
    /// the levels of the producers added to it
    /// ([`ObserverApi::add_producer`]) as [`Event::AudioLevels`](crate::Event::AudioLevels)
    /// and [`Event::Silence`](crate::Event::Silence). Fails past
    /// [`Limits::max_observers`](crate::Limits).
    pub fn create_audio_level_observer(
        &mut self,
        now: Instant,
        options: AudioLevelObserverOptions,
    ) -> Result<ObserverId, RouterError> {
        self.add_observer(now, Observer::audio_level(options))
    }

    /// Create an active speaker observer at the host's time `now`: it
    /// reports the dominant speaker among the producers added to it
    /// ([`ObserverApi::add_producer`]) as
    /// [`Event::DominantSpeaker`](crate::Event::DominantSpeaker). Fails past
    /// [`Limits::max_observers`](crate::Limits).
    ///
    /// ```
    /// use std::time::Instant;
    /// use manifold_sfu::{ActiveSpeakerObserverOptions, Event, ObserverId, ProducerId, Router};
    ///
    /// /// One observer for a room's microphones.
    /// fn watch_room(router: &mut Router, mics: &[ProducerId]) -> ObserverId {
    ///     let now = Instant::now();
    ///     let options = ActiveSpeakerObserverOptions::default();
    ///     let id = router.create_active_speaker_observer(now, options).unwrap();
    ///     let mut observer = router.observer(id).unwrap();
    ///     for mic in mics {
    ///         observer.add_producer(now, *mic).unwrap();
    ///     }
    ///     id
    /// }
    ///
    /// /// In the host loop, for each `Output::Event`.
    /// fn on_event(event: &Event) {
    ///     if let Event::DominantSpeaker { producer, .. } = event {
    ///         println!("{producer} has the floor");
    ///     }
    /// }
    /// ```
    pub fn create_active_speaker_observer(
        &mut self,
        now: Instant,
        options: ActiveSpeakerObserverOptions,
    ) -> Result<ObserverId, RouterError> {
        self.add_observer(now, Observer::active_speaker(options))
    }

    fn add_observer(&mut self, now: Instant, o: Observer) -> Result<ObserverId, RouterError> {
        self.catch_up(now);
        let max = self.config.limits.max_observers;
        if self.observers.len() >= max {
            warn!(max, "observer refused: max_observers reached");
            return Err(RouterError::Limit {
                what: "max_observers",
                max,
            });
        }
        let id = ObserverId(self.ids.next());
        self.observers.insert(id, o);
        Ok(id)
    }

    /// Commands for one observer, if it is open.
    pub fn observer(&mut self, id: ObserverId) -> Option<ObserverApi<'_>> {
        self.observers
            .contains_key(&id)
            .then_some(ObserverApi { router: self, id })
    }

    /// Write an observer's `poll_timeout` into the timer table.
    fn schedule_observer(&mut self, id: ObserverId) {
        let at = self.observers.get(&id).and_then(|o| o.poll_timeout());
        self.hub.timers.set(Timer::Observer(id), at);
    }

    pub(super) fn observer_timeout(&mut self, id: ObserverId, now: Instant) {
        let Some(o) = self.observers.get_mut(&id) else {
            return;
        };
        let event = o.handle_timeout(id, now);
        self.schedule_observer(id);
        if let Some(e) = event {
            self.emit(e);
        }
    }

    /// A closing producer leaves every observer following it.
    pub(super) fn unobserve_producer(&mut self, pid: ProducerId, observers: &[ObserverId]) {
        let now = self.now;
        for oid in observers {
            if let Some(o) = self.observers.get_mut(oid) {
                o.remove(pid, now);
                self.schedule_observer(*oid);
            }
        }
    }

    fn close_observer(&mut self, id: ObserverId) {
        let Some(o) = self.observers.remove(&id) else {
            return;
        };
        for pid in o.producers() {
            if let Some(p) = self.producers.get_mut(&pid) {
                p.observers.retain(|x| *x != id);
            }
        }
        self.hub.timers.set(Timer::Observer(id), None);
    }
}

/// Commands for one observer. See [`Router::observer`].
pub struct ObserverApi<'a> {
    router: &'a mut Router,
    id: ObserverId,
}

impl ObserverApi<'_> {
    /// The one settle point of every command on this view: bring the
    /// router's clock to `now`, run the command, write the observer's next
    /// tick into the timer table.
    fn settled<R>(&mut self, now: Instant, f: impl FnOnce(&mut Self) -> R) -> R {
        self.router.advance(now);
        let r = f(self);
        self.router.schedule_observer(self.id);
        self.router.process_work();
        r
    }

    fn get(&self) -> &Observer {
        // A view exists only while its observer does.
        &self.router.observers[&self.id]
    }

    /// This observer's id.
    pub fn id(&self) -> ObserverId {
        self.id
    }

    /// What it reports.
    pub fn kind(&self) -> ObserverKind {
        self.get().kind
    }

    /// The producers it follows, in id order.
    pub fn producers(&self) -> Vec<ProducerId> {
        self.get().producers()
    }

    /// Whether it is paused.
    pub fn is_paused(&self) -> bool {
        self.get().paused
    }

    /// An active speaker observer's dominant speaker (`None` for an audio
    /// level observer, before anyone spoke long enough, or after the
    /// speaker's producer was removed or closed: the floor is then free,
    /// without an event, until someone else keeps talking).
    pub fn dominant_speaker(&self) -> Option<ProducerId> {
        self.get().dominant()
    }

    /// Follow an audio producer. Adding one it already follows does
    /// nothing. Fails for an unknown producer, a video producer
    /// ([`RouterError::InvalidOptions`]), or past
    /// [`Limits::max_producers_per_observer`](crate::Limits) or
    /// [`Limits::max_observers_per_producer`](crate::Limits).
    pub fn add_producer(&mut self, now: Instant, producer: ProducerId) -> Result<(), RouterError> {
        self.settled(now, |v| {
            let r = &mut *v.router;
            let limits = &r.config.limits;
            let Some(p) = r.producers.get_mut(&producer) else {
                return Err(RouterError::UnknownProducer(producer));
            };
            if p.kind != str0m::media::MediaKind::Audio {
                return Err(RouterError::InvalidOptions(format!(
                    "{producer} is not an audio producer"
                )));
            }
            let o = r
                .observers
                .get_mut(&v.id)
                .expect("a view never outlives its observer");
            if o.contains(producer) {
                return Ok(());
            }
            let max = limits.max_producers_per_observer;
            if o.len() >= max {
                warn!(observer = %v.id, max, "producer refused: max_producers_per_observer reached");
                return Err(RouterError::Limit {
                    what: "max_producers_per_observer",
                    max,
                });
            }
            let max = limits.max_observers_per_producer;
            if p.observers.len() >= max {
                warn!(%producer, max, "observer refused: max_observers_per_producer reached");
                return Err(RouterError::Limit {
                    what: "max_observers_per_producer",
                    max,
                });
            }
            p.observers.push(v.id);
            o.add(producer, r.now);
            Ok(())
        })
    }

    /// Stop following a producer (nothing if it does not follow it).
    pub fn remove_producer(&mut self, now: Instant, producer: ProducerId) {
        self.settled(now, |v| {
            let r = &mut *v.router;
            if let Some(p) = r.producers.get_mut(&producer) {
                p.observers.retain(|x| *x != v.id);
            }
            if let Some(o) = r.observers.get_mut(&v.id) {
                o.remove(producer, r.now);
            }
        })
    }

    /// Stop reporting; levels that arrive meanwhile are dropped.
    pub fn pause(&mut self, now: Instant) {
        self.settled(now, |v| {
            let now = v.router.now;
            if let Some(o) = v.router.observers.get_mut(&v.id) {
                o.set_paused(true, now);
            }
        })
    }

    /// Report again, from a fresh interval.
    pub fn resume(&mut self, now: Instant) {
        self.settled(now, |v| {
            let now = v.router.now;
            if let Some(o) = v.router.observers.get_mut(&v.id) {
                o.set_paused(false, now);
            }
        })
    }

    /// Close it: no more events; its producers are untouched.
    pub fn close(self, now: Instant) {
        self.router.advance(now);
        self.router.close_observer(self.id);
    }
}
