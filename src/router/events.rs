//! Reacting to what a transport's WebRTC stack reports.

use smallvec::SmallVec;
use str0m::media::{MediaAdded, MediaChanged};

use super::Router;
use crate::keyframe::KeyframeThrottle;
use crate::producer::{Layer, Producer};
use crate::{CloseReason, Event, ProducerId, TransportId};

impl Router {
    pub(super) fn on_rtc_event(&mut self, tid: TransportId, e: str0m::Event) {
        match e {
            str0m::Event::RtpPacket(p) => self.forward(tid, p),
            str0m::Event::KeyframeRequest(req) => {
                let consumer = self
                    .transports
                    .get(&tid)
                    .and_then(|t| t.consumer_by_mid.get(&req.mid))
                    .copied();
                if let Some(pid) = consumer
                    .and_then(|c| self.consumers.get(&c))
                    .map(|c| c.producer)
                {
                    self.request_keyframe(pid);
                }
            }
            str0m::Event::Connected => {
                if let Some(t) = self.transports.get_mut(&tid) {
                    t.connected = true;
                    self.emit(Event::TransportConnected { transport: tid });
                    self.try_offer(tid);
                }
            }
            str0m::Event::MediaAdded(m) => self.on_media_added(tid, m),
            str0m::Event::MediaChanged(c) => self.on_media_changed(tid, c),
            str0m::Event::Closed => {
                if let Some(t) = self.transports.get_mut(&tid) {
                    t.failure = Some(crate::transport::Failure::PeerClosed);
                    self.failed.push(tid);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn emit(&mut self, e: Event) {
        self.out.push(crate::Output::Event(e));
    }

    fn on_media_added(&mut self, tid: TransportId, m: MediaAdded) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        if m.direction.is_sending() {
            t.negotiation.spare.push((m.mid, m.kind));
        }
        if m.direction.is_receiving() {
            let limits = &self.config.limits;
            if t.producers.len() >= limits.max_producers_per_transport {
                return;
            }
            let rids: SmallVec<[_; 3]> = m
                .simulcast
                .as_ref()
                .map(|s| {
                    let layers = if s.recv.is_empty() { &s.send } else { &s.recv };
                    layers.iter().map(|l| l.rid).collect()
                })
                .unwrap_or_default();
            let layers: SmallVec<[Layer; 3]> = if rids.is_empty() {
                smallvec::smallvec![Layer {
                    rid: None,
                    last_packet: None
                }]
            } else {
                rids.iter()
                    .take(limits.max_layers_per_producer)
                    .map(|r| Layer {
                        rid: Some(*r),
                        last_packet: None,
                    })
                    .collect()
            };
            let pid = ProducerId(self.ids.next());
            t.producers.push(pid);
            t.producer_by_mid.push((m.mid, pid));
            self.producers.insert(
                pid,
                Producer {
                    transport: tid,
                    mid: m.mid,
                    kind: m.kind,
                    layers,
                    codecs: SmallVec::new(),
                    paused: false,
                    consumers: Vec::new(),
                    keyframe: KeyframeThrottle::new(self.config.keyframe_min_interval),
                    packets: 0,
                    scheduled: None,
                },
            );
            self.emit(Event::ProducerAdded {
                producer: pid,
                transport: tid,
                kind: m.kind,
            });
        }
        if m.direction.is_sending() {
            self.bind_queued(tid);
        }
    }

    fn on_media_changed(&mut self, tid: TransportId, c: MediaChanged) {
        let Some(t) = self.transports.get(&tid) else {
            return;
        };
        if !c.direction.is_receiving() {
            if let Some(pid) = t.producer_for_mid(c.mid) {
                self.close_producer(pid, CloseReason::PeerClosed);
            }
        }
    }
}
