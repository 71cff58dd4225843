//! Offer/answer and consumer binding at the router level.

use super::Router;
use crate::config::ConsumerOptions;
use crate::error::{RouterError, SignalingError};
use crate::media::consumer::Consumer;
use crate::media::layers::LayerSelector;
use crate::media::rewrite::Rewriter;
use crate::transport::negotiation::{sdp_video_bandwidth, Change};
use crate::transport::ssrc_group;
use crate::{ConsumerId, Event, ProducerId, TransportId};
use tracing::warn;

impl Router {
    /// Consume `producer` on `transport`: a new outgoing track for that
    /// client. It binds to an m-line the client already offered to receive
    /// on, or the router offers a new one
    /// ([`Event::RenegotiationNeeded`]) once the transport is connected.
    /// [`Event::ConsumerReady`] says when it is bound. `now` is the host's
    /// time (see [`Router`]'s time contract).
    pub fn consume(
        &mut self,
        now: std::time::Instant,
        transport: TransportId,
        producer: ProducerId,
        options: ConsumerOptions,
    ) -> Result<ConsumerId, RouterError> {
        self.catch_up(now);
        let limits = &self.config.limits;
        let Some(p) = self.producers.get(&producer) else {
            return Err(RouterError::UnknownProducer(producer));
        };
        let Some(t) = self.transports.get(&transport) else {
            return Err(RouterError::UnknownTransport(transport));
        };
        if p.transport == transport {
            return Err(RouterError::SelfConsume);
        }
        if t.consumers.len() >= limits.max_consumers_per_transport {
            let max = limits.max_consumers_per_transport;
            warn!(%transport, %producer, max, "consumer refused: max_consumers_per_transport reached");
            return Err(RouterError::Limit {
                what: "max_consumers_per_transport",
                max: limits.max_consumers_per_transport,
            });
        }
        if p.consumers.len() >= limits.max_consumers_per_producer {
            let max = limits.max_consumers_per_producer;
            warn!(%transport, %producer, max, "consumer refused: max_consumers_per_producer reached");
            return Err(RouterError::Limit {
                what: "max_consumers_per_producer",
                max: limits.max_consumers_per_producer,
            });
        }
        let (kind, producer_paused) = (p.kind, p.paused);
        let selector = LayerSelector::new(options.preferred_layers, &p.layer_states());
        let stream_id = format!("{}-{}", p.transport, producer);
        let (seq, ts) = self.random_start();
        let cid = ConsumerId(self.ids.next());
        self.consumers.insert(
            cid,
            Consumer {
                transport,
                producer,
                kind,
                mid: None,
                ssrc: None,
                connected: false,
                paused: options.paused,
                bw_paused: false,
                urgent_down: false,
                priority: options.priority,
                allocated_bps: None,
                bytes_sent: 0,
                producer_paused,
                wait_keyframe: kind.is_video(),
                current: None,
                selector,
                pt_map: Default::default(),
                rewriter: Rewriter::new(seq, ts),
                vp8: Default::default(),
                svc: false,
                packets_sent: 0,
                keyframe_requests: 0,
                egress: Default::default(),
                score: Default::default(),
                reported_score: 10,
            },
        );
        if let Some(p) = self.producers.get_mut(&producer) {
            p.consumers.push(cid);
        }
        let Some(t) = self.transports.get_mut(&transport) else {
            return Err(RouterError::UnknownTransport(transport));
        };
        t.consumers.push(cid);
        t.negotiation.queue.push_back(Change::Add {
            consumer: cid,
            kind,
            stream_id,
            track_id: cid.to_string(),
        });
        self.bind_queued(transport);
        self.try_offer(transport);
        self.process_work();
        Ok(cid)
    }

    /// Bind queued consumers to spare m-lines the client offered.
    pub(crate) fn bind_queued(&mut self, tid: TransportId) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let mut bound = Vec::new();
        let mut i = 0;
        while i < t.negotiation.queue.len() {
            if let Change::Add { consumer, kind, .. } = &t.negotiation.queue[i] {
                let (consumer, kind) = (*consumer, *kind);
                if let Some(mid) = t.take_spare(kind) {
                    t.negotiation.queue.remove(i);
                    bound.push((consumer, mid));
                    continue;
                }
            }
            i += 1;
        }
        for (cid, mid) in bound {
            self.bind_consumer(tid, cid, mid);
        }
    }

    /// The consumer now sends on `mid`.
    fn bind_consumer(&mut self, tid: TransportId, cid: ConsumerId, mid: str0m::media::Mid) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let ssrc = t.bind_send_stream(mid);
        let Some(c) = self.consumers.get_mut(&cid) else {
            return;
        };
        c.mid = Some(mid);
        c.ssrc = ssrc;
        c.connected = t.connected;
        let connected = t.connected;
        t.consumer_by_mid.insert(mid, cid);
        self.emit(Event::ConsumerReady {
            consumer: cid,
            transport: tid,
            mid: mid.to_string(),
        });
        // Before the connection, the keyframe is asked for when it comes up.
        if connected {
            self.request_wished_keyframe(cid);
        }
    }

    /// Offer queued changes to the client if the transport is ready for it.
    pub(crate) fn try_offer(&mut self, tid: TransportId) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let Some(result) = t.make_offer() else {
            return;
        };
        self.sync_ufrags(tid);
        self.drain_transport(tid);
        if let Ok(offer) = result {
            self.emit(Event::RenegotiationNeeded {
                transport: tid,
                offer,
            });
        }
    }

    pub(crate) fn accept_offer(
        &mut self,
        tid: TransportId,
        sdp: &str,
    ) -> Result<String, RouterError> {
        self.sync_transport_clock(tid);
        let t = self
            .transports
            .get_mut(&tid)
            .ok_or(RouterError::UnknownTransport(tid))?;
        let limits = &self.config.limits;
        let result = t.accept_offer(sdp, limits);
        if result.is_ok() {
            t.allocator.sdp_cap = sdp_video_bandwidth(sdp);
            // Before str0m's events turn new m-lines into producers.
            t.ssrc_simulcast =
                ssrc_group::parse(sdp, limits.max_layers_per_producer, limits.max_m_lines);
        }
        self.sync_ufrags(tid);
        self.drain_transport(tid);
        self.process_work();
        if result.is_ok() {
            self.register_medias(tid, sdp);
        }
        self.bind_queued(tid);
        self.try_offer(tid);
        self.process_work();
        Ok(result?)
    }

    pub(crate) fn accept_answer(&mut self, tid: TransportId, sdp: &str) -> Result<(), RouterError> {
        self.sync_transport_clock(tid);
        let t = self
            .transports
            .get_mut(&tid)
            .ok_or(RouterError::UnknownTransport(tid))?;
        let result = t.accept_answer(sdp, &self.config.limits);
        if result.is_ok() {
            t.allocator.sdp_cap = sdp_video_bandwidth(sdp);
        }
        self.sync_ufrags(tid);
        self.drain_transport(tid);
        self.process_work();
        let outcome = result?;
        for (cid, mid) in outcome.added {
            if let Some(t) = self.transports.get_mut(&tid) {
                t.known_mids.push(mid);
            }
            if self.consumers.contains_key(&cid) {
                self.bind_consumer(tid, cid, mid);
            }
        }
        self.try_offer(tid);
        self.process_work();
        Ok(())
    }

    /// Ask for an ICE restart in the next offer.
    pub(crate) fn restart_ice(&mut self, tid: TransportId) -> Result<(), RouterError> {
        self.sync_transport_clock(tid);
        let t = self
            .transports
            .get_mut(&tid)
            .ok_or(RouterError::UnknownTransport(tid))?;
        if !t.negotiation.has_remote {
            return Err(SignalingError::NoPendingOffer.into());
        }
        if !t
            .negotiation
            .queue
            .iter()
            .any(|c| matches!(c, Change::IceRestart))
        {
            t.negotiation.queue.push_back(Change::IceRestart);
        }
        self.try_offer(tid);
        self.process_work();
        Ok(())
    }

    /// Route exactly the ufrags the transport answers to: the WebRTC
    /// stack's current one, plus the new one of our pending ICE-restart
    /// offer. Called after every change of either, so the old ufrag stops
    /// routing after a restart, and one changed by an offer that was then
    /// refused (str0m applies a client's ICE restart before it validates the
    /// rest) still routes.
    fn sync_ufrags(&mut self, tid: TransportId) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let mut want: smallvec::SmallVec<[String; 2]> = smallvec::smallvec![t.local_ufrag()];
        if let Some(p) = t.pending_ufrag() {
            if !want.iter().any(|u| u == p) {
                want.push(p.to_owned());
            }
        }
        if t.ufrags == want {
            return;
        }
        for old in t.ufrags.drain(..) {
            self.hub.demux.remove_ufrag(&old, tid);
        }
        for u in &want {
            self.hub.demux.add_ufrag(u, tid);
        }
        t.ufrags = want;
    }
}
