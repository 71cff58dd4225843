//! Reacting to what a transport's WebRTC stack reports.

use smallvec::SmallVec;
use str0m::bwe::BweKind;
use str0m::media::{MediaChanged, Mid};

use super::timers::Timer;
use super::Router;
use crate::media::producer::{LayerKey, Producer};
use crate::transport::MediaFacts;
use crate::{CloseReason, ConsumerId, Event, ProducerId, TransportId};
use tracing::{debug, trace, warn};

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
                let target = consumer.and_then(|c| self.consumers.get(&c)).map(|c| {
                    let layer = c.current.unwrap_or(c.selector.target()).spatial;
                    (c.producer, layer)
                });
                if let Some(c) = consumer.and_then(|c| self.consumers.get_mut(&c)) {
                    c.keyframe_requests += 1;
                }
                if let Some((pid, layer)) = target {
                    trace!(producer = %pid, layer, kind = ?req.kind, "keyframe requested by a subscriber");
                    self.request_keyframe(pid, Some(layer));
                }
            }
            str0m::Event::Connected => {
                if let Some(t) = self.transports.get_mut(&tid) {
                    t.connected = true;
                    let consumers = t.consumers.clone();
                    self.emit(Event::TransportConnected { transport: tid });
                    // Consumers bound before the connection start now, from a keyframe.
                    for cid in consumers {
                        let Some(c) = self.consumers.get_mut(&cid) else {
                            continue;
                        };
                        c.connected = true;
                        c.restart();
                        self.request_wished_keyframe(cid);
                    }
                    self.try_offer(tid);
                }
            }
            str0m::Event::IceConnectionStateChange(state) => {
                debug!(?state, "ICE state changed");
                if let Some(t) = self.transports.get_mut(&tid) {
                    t.observed.ice = crate::stats::IceState::from_str0m(state);
                }
            }
            str0m::Event::MediaIngressStats(s) => self.on_ingress_stats(tid, &s),
            str0m::Event::MediaEgressStats(s) => {
                let t = self.transports.get(&tid);
                // The owned send path reports its streams itself
                // (`Router::owned_egress_stats`).
                if t.is_some_and(|t| t.owned_active()) {
                    return;
                }
                let consumer = t.and_then(|t| t.consumer_by_mid.get(&s.mid)).copied();
                if let Some(cid) = consumer {
                    self.on_egress_sample(cid, &crate::stats::EgressSample::from(&s));
                }
            }
            str0m::Event::MediaAdded(m) => self.on_media(tid, m.mid),
            str0m::Event::EgressBitrateEstimate(
                BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. },
            ) => {
                trace!(estimate_bps = estimate.as_u64(), "bandwidth estimate");
                self.on_estimate(tid, estimate.as_u64());
            }
            str0m::Event::MediaChanged(c) => self.on_media_changed(tid, c),
            str0m::Event::PeerStats(s) => {
                // The owned send path reports these itself (its estimation
                // runs beside str0m, whose own is off).
                if let Some(t) = self.transports.get_mut(&tid).filter(|t| !t.owned_active()) {
                    t.observed.rtt = s.rtt;
                    let loss = s.egress_loss_fraction;
                    (t.allocator.loss).on_stats(self.now, s.peer_bytes_tx, loss);
                }
            }
            str0m::Event::ChannelOpen(id, label) => self.on_channel_open(tid, id, label),
            str0m::Event::ChannelData(d) => self.on_channel_data(tid, d),
            str0m::Event::ChannelClose(id) => self.on_channel_close(tid, id),
            str0m::Event::Closed => {
                if let Some(t) = self.transports.get_mut(&tid) {
                    t.failure = Some(crate::transport::Failure::PeerClosed);
                    self.hub.failed.push(tid);
                }
            }
            _ => {}
        }
    }

    /// A report about a consumer's outgoing stream: its stats and score.
    pub(crate) fn on_egress_sample(&mut self, cid: ConsumerId, s: &crate::stats::EgressSample) {
        let Some(c) = self.consumers.get_mut(&cid) else {
            return;
        };
        let nacks = s.nacks.saturating_sub(c.egress.nacks);
        if nacks > 0 {
            trace!(consumer = %cid, nacks, "NACKs received from the subscriber");
        }
        if let Some(sample) = c.egress.update(s) {
            self.score_consumer(cid, sample);
        }
    }

    /// Queue an event for the host. Every event is a state change of a
    /// transport, producer or consumer: logged at debug.
    pub(crate) fn emit(&mut self, e: Event) {
        match &e {
            // The offer carries the transport's ICE password: not logged.
            Event::RenegotiationNeeded { transport, offer } => {
                debug!(%transport, offer_bytes = offer.len(), "renegotiation needed");
            }
            _ => debug!(event = ?e),
        }
        self.hub.out.push(crate::Output::Event(e));
    }

    /// Learn the m-lines of an SDP the client sent: new receiving lines
    /// become producers, new sending lines spare lines for consumers.
    pub(crate) fn register_medias(&mut self, tid: TransportId, sdp: &str) {
        for mid in sdp.lines().filter_map(|l| l.strip_prefix("a=mid:")) {
            self.on_media(tid, Mid::from(mid.trim()));
        }
    }

    fn on_media(&mut self, tid: TransportId, mid: Mid) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        if t.known_mids.contains(&mid) || t.known_mids.len() >= self.config.limits.max_m_lines {
            return;
        }
        let Some(MediaFacts {
            kind,
            direction,
            rids,
        }) = t.media_facts(mid)
        else {
            return;
        };
        t.known_mids.push(mid);
        if direction.is_sending() {
            t.negotiation.spare.push((mid, kind));
        }
        if direction.is_receiving() {
            let limits = &self.config.limits;
            if t.producers.len() >= limits.max_producers_per_transport {
                warn!(
                    %mid,
                    max = limits.max_producers_per_transport,
                    "producer refused: max_producers_per_transport reached"
                );
                self.stats.refused_producers += 1;
                return;
            }
            let interval = self.config.keyframe_min_interval;
            let max = limits.max_layers_per_producer;
            let sim = t
                .ssrc_simulcast
                .iter()
                .find(|s| s.mid == mid && kind.is_video())
                .cloned();
            let keys: SmallVec<[LayerKey; 4]> = if !rids.is_empty() {
                if rids.len() > max {
                    warn!(%mid, rids = rids.len(), max, "simulcast layers past max_layers_per_producer ignored");
                }
                self.stats.ignored_layers += rids.len().saturating_sub(max) as u64;
                rids.iter().take(max).map(|r| LayerKey::Rid(*r)).collect()
            } else if let Some(sim) = sim {
                // Simulcast by SSRC group: same layers, keyed by SSRC.
                if sim.ignored > 0 {
                    warn!(%mid, ignored = sim.ignored, max, "simulcast SSRCs past max_layers_per_producer ignored");
                }
                self.stats.ignored_layers += sim.ignored as u64;
                // `mid` is a media of this transport (looked up above), so
                // this cannot panic.
                t.expect_ssrcs(mid, &sim.layers);
                sim.layers.iter().map(|(s, _)| LayerKey::Ssrc(*s)).collect()
            } else {
                smallvec::smallvec![LayerKey::Only]
            };
            let pid = ProducerId(self.ids.next());
            t.producers.push(pid);
            t.producer_by_mid.push((mid, pid));
            // Every producer's layers are measured: liveness and bitrate
            // feed layer selection and bandwidth allocation.
            let p = Producer::new(tid, mid, kind, &keys, interval, self.now);
            self.hub
                .timers
                .set(Timer::Layers(pid), p.poll_monitor_timeout());
            self.producers.insert(pid, p);
            self.emit(Event::ProducerAdded {
                producer: pid,
                transport: tid,
                kind: crate::MediaKind::from_str0m(kind),
            });
        }
        if direction.is_sending() {
            self.bind_queued(tid);
        }
    }

    /// Keep the WebRTC stack's report on an incoming stream with its layer.
    fn on_ingress_stats(&mut self, tid: TransportId, s: &str0m::stats::MediaIngressStats) {
        let Some(pid) = self
            .transports
            .get(&tid)
            .and_then(|t| t.producer_for_mid(s.mid))
        else {
            return;
        };
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        let layer = match s.rid {
            Some(rid) => p.layers.iter_mut().find(|l| l.key.rid() == Some(rid)),
            // One layer, or simulcast by SSRC group (the report names no
            // SSRC): only the single-layer case can be told.
            None if p.layers.len() == 1 => p.layers.first_mut(),
            None => None,
        };
        let Some(l) = layer else {
            return;
        };
        let nacks = s.nacks.saturating_sub(l.ingress.map_or(0, |r| r.nacks));
        if nacks > 0 {
            trace!(producer = %pid, rid = ?s.rid, nacks, "NACKs sent to the publisher");
        }
        l.ingress = Some(crate::stats::IngressReport::from_str0m(s));
        let now = (s.nacks, s.packets);
        let nacked = crate::stats::score::nack_share(l.nack_mark, now);
        l.nack_mark = now;
        if let Some(nacked) = nacked {
            self.score_producer(pid, nacked.max(s.loss.unwrap_or(0.0)));
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
