//! Short-lived borrowed views for commands on one object.
//!
//! Get one with [`Router::transport`], [`Router::producer`] or
//! [`Router::consumer`], use it, drop it, then drain
//! [`Router::poll_output`]: commands may queue datagrams and events.
//!
//! Every command that changes state runs through one settle point
//! (`settled`): the router's clock is brought to the host's `now` first,
//! and whatever the command set off (str0m events, a transport failure it
//! caused) is handled before it returns, so the host's next
//! [`Router::poll_output`] sees all of it.
//!
//! Every command that changes state takes the host's `now`: the router
//! first brings its clock (and any timers that fell due) up to it, so a
//! command never acts on the time of the router's last input.

use std::time::{Duration, Instant};

use crate::MediaKind;

use std::borrow::Borrow;

use super::Router;
use crate::error::RouterError;
use crate::media::layers::LayerSelector;
use crate::Layers;
use crate::{CloseReason, ConsumerId, ProducerId, TransportId};

impl Router {
    /// Commands for one transport, if it is open.
    pub fn transport(&mut self, id: TransportId) -> Option<TransportApi<'_>> {
        self.transports
            .contains_key(&id)
            .then_some(TransportView { router: self, id })
    }

    /// Getters for one transport, if it is open, from a shared borrow.
    pub fn transport_ref(&self, id: TransportId) -> Option<TransportRef<'_>> {
        self.transports
            .contains_key(&id)
            .then_some(TransportView { router: self, id })
    }

    /// Commands for one producer, if it is open.
    pub fn producer(&mut self, id: ProducerId) -> Option<ProducerApi<'_>> {
        self.producers
            .contains_key(&id)
            .then_some(ProducerView { router: self, id })
    }

    /// Getters for one producer, if it is open, from a shared borrow.
    pub fn producer_ref(&self, id: ProducerId) -> Option<ProducerRef<'_>> {
        self.producers
            .contains_key(&id)
            .then_some(ProducerView { router: self, id })
    }

    /// Commands for one consumer, if it is open.
    pub fn consumer(&mut self, id: ConsumerId) -> Option<ConsumerApi<'_>> {
        self.consumers
            .contains_key(&id)
            .then_some(ConsumerView { router: self, id })
    }

    /// Getters for one consumer, if it is open, from a shared borrow.
    pub fn consumer_ref(&self, id: ConsumerId) -> Option<ConsumerRef<'_>> {
        self.consumers
            .contains_key(&id)
            .then_some(ConsumerView { router: self, id })
    }

    /// Ids of all open transports.
    pub fn transport_ids(&self) -> Vec<TransportId> {
        self.transports.keys().copied().collect()
    }
}

/// A view of one transport: [`TransportApi`] (commands and getters, from
/// [`Router::transport`]) or [`TransportRef`] (getters only, from
/// [`Router::transport_ref`]).
pub struct TransportView<R> {
    router: R,
    id: TransportId,
}

/// Commands and getters for one transport, borrowed mutably. See
/// [`Router::transport`].
pub type TransportApi<'a> = TransportView<&'a mut Router>;

/// Getters for one transport, borrowed read-only. See
/// [`Router::transport_ref`].
pub type TransportRef<'a> = TransportView<&'a Router>;

impl<R: Borrow<Router>> TransportView<R> {
    fn r(&self) -> &Router {
        self.router.borrow()
    }

    /// This transport's id.
    pub fn id(&self) -> TransportId {
        self.id
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.r()
            .transports
            .get(&self.id)
            .is_some_and(|t| t.connected)
    }

    /// Producers on this transport.
    pub fn producers(&self) -> Vec<ProducerId> {
        self.r()
            .transports
            .get(&self.id)
            .map(|t| t.producers.to_vec())
            .unwrap_or_default()
    }

    /// Consumers on this transport.
    pub fn consumers(&self) -> Vec<ConsumerId> {
        self.r()
            .transports
            .get(&self.id)
            .map(|t| t.consumers.clone())
            .unwrap_or_default()
    }

    /// Data producers on this transport (the client's data channels).
    pub fn data_producers(&self) -> Vec<crate::DataProducerId> {
        self.r()
            .transports
            .get(&self.id)
            .map(|t| t.data_producers.to_vec())
            .unwrap_or_default()
    }

    /// Data consumers on this transport.
    pub fn data_consumers(&self) -> Vec<crate::DataConsumerId> {
        self.r()
            .transports
            .get(&self.id)
            .map(|t| t.data_consumers.clone())
            .unwrap_or_default()
    }

    /// Bandwidth as the allocator sees it.
    pub fn bandwidth(&self) -> TransportBandwidth {
        // A command on this view may have closed the transport (a failed
        // WebRTC stack): report nothing then.
        let Some(t) = self.r().transports.get(&self.id) else {
            return TransportBandwidth {
                estimate_bps: None,
                allocated_bps: 0,
                desired_bps: 0,
                sdp_cap_bps: None,
            };
        };
        TransportBandwidth {
            estimate_bps: t.allocator.estimate(),
            allocated_bps: t.allocator.allocated_bps,
            desired_bps: t.allocator.desired_bps,
            sdp_cap_bps: t.allocator.sdp_cap,
        }
    }

    /// A snapshot of its state and counters.
    pub fn stats(&self) -> crate::TransportStats {
        // A view exists only while its transport does (a command on it
        // that closed it consumed the view).
        self.r()
            .transport_stats(self.id)
            .expect("a transport view never outlives its transport")
    }
}

impl TransportView<&mut Router> {
    /// The one settle point of every command on this view: bring the
    /// router's clock to `now`, run the command, then handle whatever it
    /// set off before returning.
    fn settled<R>(&mut self, now: Instant, f: impl FnOnce(&mut Self) -> R) -> R {
        self.router.advance(now);
        let r = f(self);
        self.router.process_work();
        r
    }

    /// Answer the client's SDP offer (first offer, renegotiation or ICE
    /// restart). Media the client sends become producers
    /// ([`Event::ProducerAdded`](crate::Event)); m-lines it receives on carry
    /// consumers. If an offer of ours is pending (glare), ours is dropped
    /// and offered again later.
    pub fn accept_offer(&mut self, now: Instant, sdp: &str) -> Result<String, RouterError> {
        self.settled(now, |v| v.router.accept_offer(v.id, sdp))
    }

    /// Apply the client's answer to the offer of the last
    /// [`Event::RenegotiationNeeded`](crate::Event).
    pub fn accept_answer(&mut self, now: Instant, sdp: &str) -> Result<(), RouterError> {
        self.settled(now, |v| v.router.accept_answer(v.id, sdp))
    }

    /// Restart ICE with new credentials: an offer follows as
    /// [`Event::RenegotiationNeeded`](crate::Event).
    pub fn restart_ice(&mut self, now: Instant) -> Result<(), RouterError> {
        self.settled(now, |v| v.router.restart_ice(v.id))
    }

    /// Close the transport with its producers and consumers.
    pub fn close(mut self, now: Instant) {
        self.settled(now, |v| {
            v.router.close_transport(v.id, CloseReason::Requested);
        })
    }
}

/// A view of one producer: [`ProducerApi`] (commands and getters, from
/// [`Router::producer`]) or [`ProducerRef`] (getters only, from
/// [`Router::producer_ref`]).
pub struct ProducerView<R> {
    router: R,
    id: ProducerId,
}

/// Commands and getters for one producer, borrowed mutably. See
/// [`Router::producer`].
pub type ProducerApi<'a> = ProducerView<&'a mut Router>;

/// Getters for one producer, borrowed read-only. See
/// [`Router::producer_ref`].
pub type ProducerRef<'a> = ProducerView<&'a Router>;

impl<R: Borrow<Router>> ProducerView<R> {
    fn r(&self) -> &Router {
        self.router.borrow()
    }

    /// This producer's id.
    pub fn id(&self) -> ProducerId {
        self.id
    }

    fn get(&self) -> &crate::media::producer::Producer {
        // A view exists only while its producer does.
        &self.r().producers[&self.id]
    }

    /// The transport it arrives on.
    pub fn transport(&self) -> TransportId {
        self.get().transport
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        MediaKind::from_str0m(self.get().kind)
    }

    /// The SDP media id (`a=mid`) it arrives on.
    pub fn mid(&self) -> String {
        self.get().mid.to_string()
    }

    /// Simulcast rids, lowest first; empty without simulcast.
    pub fn rids(&self) -> Vec<String> {
        self.get()
            .layers
            .iter()
            .filter_map(|l| l.key.rid().map(|r| r.to_string()))
            .collect()
    }

    /// Its consumers.
    pub fn consumers(&self) -> Vec<ConsumerId> {
        self.get().consumers.clone()
    }

    /// Codecs seen on it so far, as MIME subtypes (`"VP8"`, `"opus"`...).
    pub fn codecs(&self) -> Vec<String> {
        self.get()
            .codecs
            .iter()
            .map(|(_, p, _)| p.spec().codec.to_string())
            .collect()
    }

    /// Incoming SSRCs seen on it so far (one per simulcast encoding).
    pub fn ssrcs(&self) -> Vec<u32> {
        let p = self.get();
        self.r()
            .transports
            .get(&p.transport)
            .map(|t| {
                t.ssrc_cache
                    .iter()
                    .filter(|(_, (pid, _))| *pid == self.id)
                    .map(|(s, _)| **s)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether forwarding is paused.
    pub fn is_paused(&self) -> bool {
        self.get().paused
    }

    /// RTP packets received.
    pub fn packets_received(&self) -> u64 {
        self.get().packets
    }

    /// Keyframe requests sent to the publisher (after throttling).
    pub fn keyframe_requests_sent(&self) -> u64 {
        self.get().keyframes_sent()
    }

    /// Its layers (simulcast encodings), lowest first: rid or SSRC,
    /// liveness and measured bitrate.
    pub fn layers(&self) -> Vec<ProducerLayer> {
        self.get()
            .layers
            .iter()
            .map(|l| ProducerLayer {
                rid: l.key.rid().map(|r| r.to_string()),
                ssrc: l.key.ssrc().map(|s| *s),
                live: l.live,
                bitrate_bps: l.bitrate_bps,
            })
            .collect()
    }

    /// A snapshot of it and its layers.
    pub fn stats(&self) -> crate::ProducerStats {
        // A view exists only while its producer does (a command on it that
        // closed it consumed the view).
        self.r()
            .producer_stats(self.id)
            .expect("a producer view never outlives its producer")
    }
}

impl ProducerView<&mut Router> {
    /// The one settle point of every command on this view: bring the
    /// router's clock to `now`, run the command, then handle whatever it
    /// set off before returning.
    fn settled<R>(&mut self, now: Instant, f: impl FnOnce(&mut Self) -> R) -> R {
        self.router.advance(now);
        let r = f(self);
        self.router.process_work();
        r
    }

    /// Stop forwarding to every consumer (a muted sender costs nobody bandwidth).
    pub fn pause(&mut self, now: Instant) {
        self.settled(now, |v| {
            v.set_paused(true);
        })
    }

    /// Forward again; consumers continue without sequence gaps, video from
    /// the next keyframe (requested now).
    pub fn resume(&mut self, now: Instant) {
        self.settled(now, |v| {
            v.set_paused(false);
        })
    }

    fn set_paused(&mut self, paused: bool) {
        self.router.set_producer_paused(self.id, paused);
    }

    /// Close it and its consumers.
    pub fn close(mut self, now: Instant) {
        self.settled(now, |v| {
            v.router.close_producer(v.id, CloseReason::Requested);
        })
    }
}

/// One layer of a producer, as reported by [`ProducerApi::layers`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ProducerLayer {
    /// The simulcast rid, if any.
    pub rid: Option<String>,
    /// The SSRC, when simulcast is signalled by `a=ssrc-group:SIM` instead
    /// of rids.
    pub ssrc: Option<u32>,
    /// Whether packets arrived recently.
    pub live: bool,
    /// Measured bitrate over the last second.
    pub bitrate_bps: u64,
}

/// Bandwidth of one transport, from [`TransportApi::bandwidth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TransportBandwidth {
    /// Latest send-side estimate toward this client.
    pub estimate_bps: Option<u64>,
    /// What the allocator handed out.
    pub allocated_bps: u64,
    /// What the consumers' preferred layers would need.
    pub desired_bps: u64,
    /// The client's own SDP limit (`b=TIAS` / `b=AS`).
    pub sdp_cap_bps: Option<u64>,
}

/// One consumer's counters, from [`ConsumerApi::stats`]. Figures from the
/// WebRTC stack's periodic reports are `None` until the first one (every
/// 250 ms while bandwidth estimation is on).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ConsumerStats {
    /// RTP packets forwarded.
    pub packets_sent: u64,
    /// Payload bytes forwarded.
    pub bytes_sent: u64,
    /// The allocator's bitrate cap, if any.
    pub allocated_bps: Option<u64>,
    /// The host's ceiling ([`ConsumerApi::set_max_bitrate`]), if any.
    pub max_bitrate_bps: Option<u64>,
    /// Paused because not even its lowest layer fits.
    pub paused_for_bandwidth: bool,
    /// Layers forwarded now.
    pub current_layers: Option<Layers>,
    /// Layers it is moving to.
    pub target_layers: Layers,
    /// Bandwidth priority.
    pub priority: u8,
    /// Layers the host prefers.
    pub preferred_layers: Layers,
    /// Bitrate sent between the WebRTC stack's last two reports.
    pub bitrate_bps: Option<u64>,
    /// Share of packets the subscriber reports lost (0.0 to 1.0) between
    /// its last two receiver reports.
    pub loss: Option<f32>,
    /// Packets the subscriber reports lost since the start (its last
    /// receiver report's cumulative count; retransmissions do not lower it).
    pub packets_lost: Option<u64>,
    /// Interarrival jitter the subscriber reports, in RTP timestamp units.
    pub jitter: Option<u32>,
    /// Round-trip time to the subscriber.
    pub rtt: Option<Duration>,
    /// NACKs received from the subscriber (answered from the retransmission
    /// cache while the packet is still in it).
    pub nacks_served: u64,
    /// PLIs received from the subscriber.
    pub plis_received: u64,
    /// FIRs received from the subscriber.
    pub firs_received: u64,
    /// Quality score, 0 to 10: loss toward its subscriber, capped by its
    /// producer's score (see [`Event::ConsumerScore`](crate::Event::ConsumerScore)).
    pub score: u8,
    /// Keyframe requests of its subscriber passed on to the publisher
    /// (before the publisher-side throttle merges them).
    pub plis_sent: u64,
}

/// A view of one consumer: [`ConsumerApi`] (commands and getters, from
/// [`Router::consumer`]) or [`ConsumerRef`] (getters only, from
/// [`Router::consumer_ref`]).
pub struct ConsumerView<R> {
    router: R,
    id: ConsumerId,
}

/// Commands and getters for one consumer, borrowed mutably. See
/// [`Router::consumer`].
pub type ConsumerApi<'a> = ConsumerView<&'a mut Router>;

/// Getters for one consumer, borrowed read-only. See
/// [`Router::consumer_ref`].
pub type ConsumerRef<'a> = ConsumerView<&'a Router>;

impl<R: Borrow<Router>> ConsumerView<R> {
    fn r(&self) -> &Router {
        self.router.borrow()
    }

    /// This consumer's id.
    pub fn id(&self) -> ConsumerId {
        self.id
    }

    fn get(&self) -> &crate::media::consumer::Consumer {
        // A view exists only while its consumer does.
        &self.r().consumers[&self.id]
    }

    /// The producer it consumes.
    pub fn producer(&self) -> ProducerId {
        self.get().producer
    }

    /// Its transport.
    pub fn transport(&self) -> TransportId {
        self.get().transport
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        MediaKind::from_str0m(self.get().kind)
    }

    /// The SDP media id carrying it, once bound.
    pub fn mid(&self) -> Option<String> {
        self.get().mid.map(|m| m.to_string())
    }

    /// Whether the consumer itself is paused.
    pub fn is_paused(&self) -> bool {
        self.get().paused
    }

    /// RTP packets forwarded so far.
    pub fn packets_sent(&self) -> u64 {
        self.get().packets_sent
    }

    /// Counters and the allocator's decision.
    pub fn stats(&self) -> ConsumerStats {
        let c = self.get();
        ConsumerStats {
            packets_sent: c.packets_sent,
            bytes_sent: c.bytes_sent,
            allocated_bps: c.allocated_bps,
            max_bitrate_bps: c.selector.host_cap(),
            paused_for_bandwidth: c.bw_paused,
            current_layers: c.current,
            target_layers: c.selector.target(),
            priority: c.priority,
            preferred_layers: c.selector.preferred(),
            bitrate_bps: c.egress.at.map(|_| c.egress.bitrate_bps),
            loss: c.egress.loss,
            packets_lost: c.egress.packets_lost,
            jitter: c.egress.jitter,
            rtt: c.egress.rtt,
            nacks_served: c.egress.nacks,
            plis_received: c.egress.plis,
            firs_received: c.egress.firs,
            plis_sent: c.keyframe_requests,
            score: self.r().consumer_score(self.id).unwrap_or(0),
        }
    }

    /// The layers the subscriber asked for.
    pub fn preferred_layers(&self) -> Layers {
        self.get().selector.preferred()
    }

    /// The layers the consumer is moving to.
    pub fn target_layers(&self) -> Layers {
        self.get().selector.target()
    }

    /// The layers forwarded now (`None` until the first keyframe).
    pub fn current_layers(&self) -> Option<Layers> {
        self.get().current
    }
}

impl ConsumerView<&mut Router> {
    /// The one settle point of every command on this view: bring the
    /// router's clock to `now`, run the command, then handle whatever it
    /// set off before returning.
    fn settled<R>(&mut self, now: Instant, f: impl FnOnce(&mut Self) -> R) -> R {
        self.router.advance(now);
        let r = f(self);
        self.router.process_work();
        r
    }

    /// Bandwidth priority (higher first). See [`ConsumerOptions::priority`](crate::ConsumerOptions).
    pub fn set_priority(&mut self, now: Instant, priority: u8) {
        self.settled(now, |v| {
            if let Some(c) = v.router.consumers.get_mut(&v.id) {
                c.priority = priority;
            }
        })
    }

    /// Stop forwarding to this subscriber.
    pub fn pause(&mut self, now: Instant) {
        self.settled(now, |v| {
            if let Some(c) = v.router.consumers.get_mut(&v.id) {
                c.paused = true;
            }
        })
    }

    /// Forward again, without sequence gaps; video from the next keyframe.
    pub fn resume(&mut self, now: Instant) {
        self.settled(now, |v| {
            let Some(c) = v.router.consumers.get_mut(&v.id) else {
                return;
            };
            if !c.paused {
                return;
            }
            c.paused = false;
            c.restart();
            v.router.request_wished_keyframe(v.id);
        })
    }

    /// Ask the producer for a keyframe of the forwarded layer (throttled).
    pub fn request_keyframe(&mut self, now: Instant) {
        self.settled(now, |v| {
            let Some(c) = v.router.consumers.get(&v.id) else {
                return;
            };
            let (pid, layer) = (c.producer, c.current.unwrap_or(c.selector.target()).spatial);
            v.router.request_keyframe(pid, Some(layer));
        })
    }

    /// The layers the subscriber wants. The consumer switches at the next
    /// keyframe of the new spatial layer (asked for now) or the next frame
    /// for a temporal change; it never goes above what the producer has
    /// live, and falls back to the best live lower layer when a layer stops.
    pub fn set_preferred_layers(&mut self, now: Instant, layers: Layers) {
        self.settled(now, |v| {
            v.update_selector(|s, states| s.set_preferred(layers, states));
        })
    }

    /// The host's ceiling on the bitrate this consumer may use (`None`: no
    /// ceiling): the target drops to the best layer that fits. It combines
    /// with the bandwidth allocator's share (the lower of the two wins, and
    /// the allocator never hands out more than the ceiling lets the
    /// consumer use); the allocator never overwrites it.
    pub fn set_max_bitrate(&mut self, now: Instant, bps: Option<u64>) {
        self.settled(now, |v| {
            v.update_selector(|s, states| s.set_max_bitrate(bps, states));
        })
    }

    fn update_selector(
        &mut self,
        f: impl FnOnce(&mut LayerSelector, &[crate::media::layers::LayerState]) -> bool,
    ) {
        let id = self.id;
        let r = &mut *self.router;
        let Some(c) = r.consumers.get_mut(&id) else {
            return;
        };
        let Some(p) = r.producers.get(&c.producer) else {
            return;
        };
        if f(&mut c.selector, &p.layer_states()) {
            r.request_wished_keyframe(id);
        }
    }

    /// Close it; the subscriber's m-line is stopped in the next offer.
    pub fn close(mut self, now: Instant) {
        self.settled(now, |v| {
            v.router.close_consumer(v.id, CloseReason::Requested);
        })
    }
}

impl Router {
    /// Pause or resume forwarding a producer to its consumers (and
    /// through its pipes, whose other ends do the same).
    pub(crate) fn set_producer_paused(&mut self, pid: ProducerId, paused: bool) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        if p.paused == paused {
            return;
        }
        p.paused = paused;
        for cid in &p.consumers {
            if let Some(c) = self.consumers.get_mut(cid) {
                c.producer_paused = paused;
                if !paused {
                    c.restart();
                }
            }
        }
        self.pipe_producer_paused(pid, paused);
        if !paused {
            self.update_layer_targets(pid);
            self.request_keyframe(pid, None);
        }
    }
}
