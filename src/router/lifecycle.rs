//! Closing: every close cascades down (transport → producers → consumers),
//! emits one event per object, and frees every map entry and timer.

use super::Router;
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
                    t.remove_send_stream(ssrc);
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
        self.hub.timers.clear_producer(pid, p.layers.len());
        self.unobserve_producer(pid, &p.observers);
        self.pipe_producer_closed(pid, &p);
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
        self.close_transport_data(tid);
        for cid in consumers {
            self.close_consumer(cid, CloseReason::TransportClosed);
        }
        for pid in producers {
            self.close_producer(pid, CloseReason::TransportClosed);
        }
        // Say goodbye (RTCP BYE, DTLS close_notify) while routes still exist.
        if let Some(t) = self.transports.get_mut(&tid) {
            if t.failure.is_none() {
                t.close_rtc();
                self.drain_transport(tid);
            }
        }
        self.hub.timers.clear_transport(tid);
        let Some(t) = self.transports.remove(&tid) else {
            return;
        };
        for u in &t.ufrags {
            self.hub.demux.remove_ufrag(u, tid);
        }
        for r in &t.routes {
            self.hub.demux.remove_route(*r, tid);
        }
        self.hub.work.retain(|(x, _)| *x != tid);
        self.hub.failed.retain(|x| *x != tid);
        if self.transports.is_empty() {
            // No subscriber is left to ask for a resend.
            self.hub.kept.clear();
            self.hub.timers.set(super::timers::Timer::Kept, None);
        }
        self.emit(Event::TransportClosed {
            transport: tid,
            reason,
        });
    }
}
