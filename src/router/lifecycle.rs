//! Closing: every close cascades down (transport → producers → consumers),
//! emits one event per object, and frees every map entry and timer.

use super::{Router, Timer};
use crate::transport::negotiation::Change;
use crate::{CloseReason, ConsumerId, Event, ProducerId, TransportId};

impl Router {
    pub(crate) fn close_consumer(&mut self, cid: ConsumerId, reason: CloseReason) {
        let Some(c) = self.consumers.remove(&cid) else {
            return;
        };
        if let Some(p) = self.producers.get_mut(&c.producer) {
            p.consumers.retain(|x| *x != cid);
        }
        let tid = c.transport;
        if let Some(t) = self.transports.get_mut(&tid) {
            t.consumers.retain(|x| *x != cid);
            t.negotiation
                .queue
                .retain(|ch| !matches!(ch, Change::Add { consumer, .. } if *consumer == cid));
            if let Some(mid) = c.mid {
                t.consumer_by_mid.remove(&mid);
                if let Some(ssrc) = c.ssrc {
                    t.guarded(|rtc| rtc.direct_api().remove_stream_tx(ssrc));
                }
                if reason != CloseReason::TransportClosed {
                    t.negotiation.queue.push_back(Change::Stop(mid));
                }
            }
        }
        self.emit(Event::ConsumerClosed {
            consumer: cid,
            transport: tid,
            producer: c.producer,
            reason,
        });
        if reason != CloseReason::TransportClosed {
            self.drain_transport(tid);
            self.try_offer(tid);
        }
    }

    pub(crate) fn close_producer(&mut self, pid: ProducerId, reason: CloseReason) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        for cid in p.consumers.clone() {
            self.close_consumer(cid, CloseReason::ProducerClosed);
        }
        let Some(p) = self.producers.remove(&pid) else {
            return;
        };
        for (i, l) in p.layers.iter().enumerate() {
            if let Some(at) = l.scheduled {
                self.timers.remove(&(at, Timer::Keyframe(pid, i as u8)));
            }
        }
        if let Some(at) = p.monitor_at {
            self.timers.remove(&(at, Timer::Layers(pid)));
        }
        if let Some(t) = self.transports.get_mut(&p.transport) {
            t.producers.retain(|x| *x != pid);
            t.producer_by_mid.retain(|(_, x)| *x != pid);
            t.ssrc_cache.retain(|_, (x, _)| *x != pid);
        }
        self.emit(Event::ProducerClosed {
            producer: pid,
            transport: p.transport,
            reason,
        });
    }

    pub(crate) fn close_transport(&mut self, tid: TransportId, reason: CloseReason) {
        let Some(t) = self.transports.get(&tid) else {
            return;
        };
        let span = t.span.clone();
        let _span = span.enter();
        let consumers = t.consumers.clone();
        let producers = t.producers.clone();
        for cid in consumers {
            self.close_consumer(cid, CloseReason::TransportClosed);
        }
        for pid in producers {
            self.close_producer(pid, CloseReason::TransportClosed);
        }
        // Say goodbye (RTCP BYE, DTLS close_notify) while routes still exist.
        if let Some(t) = self.transports.get_mut(&tid) {
            if t.failure.is_none() {
                let _ = t.guarded(|rtc| rtc.close());
                self.drain_transport(tid);
            }
        }
        self.unschedule_transport(tid);
        if let Some(at) = self.transports.get(&tid).and_then(|t| t.alloc_at) {
            self.timers.remove(&(at, Timer::Allocate(tid)));
        }
        let Some(t) = self.transports.remove(&tid) else {
            return;
        };
        for u in &t.ufrags {
            self.demux.remove_ufrag(u, tid);
        }
        for r in &t.routes {
            self.demux.remove_route(*r, tid);
        }
        self.work.retain(|(x, _)| *x != tid);
        self.failed.retain(|x| *x != tid);
        self.emit(Event::TransportClosed {
            transport: tid,
            reason,
        });
    }
}
