//! The router's side of pipes (`crate::pipe`): creating and closing them,
//! the borrowed view [`PipeApi`], sending a producer's packets out, and
//! taking the other end's messages in.

use std::time::Instant;

use smallvec::SmallVec;
use str0m::media::{Mid, Rid};
use str0m::rtp::{ExtensionValues, Ssrc, VideoOrientation};
use tracing::{debug, warn};

use super::timers::Timer;
use super::Router;
use crate::error::RouterError;
use crate::io::Output;
use crate::media::inspect::MediaPacket;
use crate::media::producer::{LayerKey, Producer};
use crate::pipe::{Pipe, PipeCodec, PipeLayer, PipeMessage, PipeProducer, PipeRtp};
use crate::{CloseReason, Event, PipeId, ProducerId};

impl Router {
    /// Create this router's end of a pipe to another router, at the
    /// host's time `now`. The other router creates its own end; the host
    /// then carries every [`Output::Pipe`] of each end to the other as
    /// [`Input::pipe`](crate::Input::pipe), in order, with the receiving
    /// end's id. Send a producer through it with [`PipeApi::send_producer`];
    /// the other router announces it as
    /// [`Event::PipeProducerAdded`](crate::Event::PipeProducerAdded) and
    /// its consumers consume it like a local producer. What travels and
    /// why: the [`pipe`](crate::pipe) module.
    ///
    /// ```
    /// use std::time::Instant;
    /// use manifold_sfu::{Input, Output, Router, RouterConfig};
    ///
    /// let now = Instant::now();
    /// let mut a = Router::new(RouterConfig::default(), now);
    /// let mut b = Router::new(RouterConfig::default(), now);
    /// let (pa, pb) = (a.create_pipe(now).unwrap(), b.create_pipe(now).unwrap());
    /// // ... a.pipe(pa).unwrap().send_producer(now, producer) ...
    /// // The host's loop, for each router: carry pipe messages across.
    /// while let Output::Pipe { pipe, message } = a.poll_output() {
    ///     assert_eq!(pipe, pa);
    ///     b.handle_input(Input::pipe(now, pb, message));
    /// }
    /// a.pipe(pa).unwrap().close(now);
    /// if let Output::Pipe { message, .. } = a.poll_output() {
    ///     b.handle_input(Input::pipe(now, pb, message)); // b's end closes too
    /// }
    /// assert_eq!(b.counts().pipes, 0);
    /// ```
    ///
    /// Fails past [`Limits::max_pipes`](crate::Limits).
    pub fn create_pipe(&mut self, now: Instant) -> Result<PipeId, RouterError> {
        self.catch_up(now);
        let max = self.config.limits.max_pipes;
        if self.pipes.len() >= max {
            warn!(max, "pipe refused: max_pipes reached");
            return Err(RouterError::Limit {
                what: "max_pipes",
                max,
            });
        }
        let id = PipeId(self.ids.next());
        self.pipes.insert(id, Pipe::default());
        debug!(pipe = %id, "pipe created");
        Ok(id)
    }

    /// Commands for one end of a pipe, if it is open.
    pub fn pipe(&mut self, id: PipeId) -> Option<PipeApi<'_>> {
        self.pipes
            .contains_key(&id)
            .then_some(PipeApi { router: self, id })
    }

    fn pipe_out(&mut self, pipe: PipeId, message: PipeMessage) {
        if message.is_media() {
            self.stats.pipe_rtp_out += 1;
        }
        if !self.remote_pipe_out(pipe, &message) {
            self.hub.out.push(Output::Pipe { pipe, message });
        }
    }

    /// Send one packet of an exported producer through each of its pipes
    /// (its codec first, the first time a payload type goes through).
    pub(super) fn export_packet(&mut self, pid: ProducerId, layer: u8, pkt: &MediaPacket) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        let pt = *pkt.pt;
        let codec = p.codec_for(pkt.pt).map(|(_, params, _)| *params);
        let pipes = p.pipes.clone();
        let dd = pkt
            .exts
            .user_values
            .get::<crate::ext::RawDependencyDescriptor>()
            .map(|raw| std::sync::Arc::<[u8]>::from(&raw.0[..]));
        for pipe in pipes {
            let Some(export) = self
                .pipes
                .get_mut(&pipe)
                .and_then(|x| x.exports.get_mut(&pid))
            else {
                continue;
            };
            if !export.sent_pts.contains(&pt) {
                let Some(params) = codec else {
                    continue;
                };
                export.sent_pts.push(pt);
                let codec = PipeCodec::from_params(&params);
                self.pipe_out(
                    pipe,
                    PipeMessage::Codec {
                        producer: pid,
                        codec,
                    },
                );
            }
            let rtp = PipeRtp {
                producer: pid,
                layer,
                payload_type: pt,
                seq: pkt.seq,
                timestamp: pkt.ts,
                marker: pkt.marker,
                audio_level: pkt.exts.audio_level,
                voice_activity: pkt.exts.voice_activity,
                video_orientation: pkt.exts.video_orientation.map(|v| v as u8),
                dependency_descriptor: dd.clone(),
                payload: pkt.payload.clone(),
            };
            if let Some(export) = self
                .pipes
                .get_mut(&pipe)
                .and_then(|x| x.exports.get_mut(&pid))
            {
                export.remember(&rtp);
            }
            self.pipe_out(pipe, PipeMessage::Rtp(rtp));
        }
    }

    /// A message from the other end of `pipe`.
    pub(super) fn pipe_input(&mut self, now: Instant, pipe: PipeId, message: PipeMessage) {
        self.stats.pipe_messages_in += 1;
        if !self.pipes.contains_key(&pipe) {
            self.stats.pipe_dropped += 1;
            return;
        }
        let ok = match message {
            PipeMessage::ProducerAnnounce(a) => self.pipe_announce(now, pipe, a),
            PipeMessage::Codec { producer, codec } => self.pipe_codec(pipe, producer, &codec),
            PipeMessage::Rtp(rtp) => self.pipe_rtp(now, pipe, rtp),
            PipeMessage::KeyframeRequest { producer, layer } => {
                let exported = self.pipes[&pipe].exports.contains_key(&producer);
                let known = self
                    .producers
                    .get(&producer)
                    .is_some_and(|p| (layer as usize) < p.layers.len() || p.svc_layers > 1);
                if exported && known {
                    self.request_keyframe(producer, Some(layer));
                }
                exported && known
            }
            PipeMessage::ProducerClosed { producer } => {
                match self
                    .pipes
                    .get_mut(&pipe)
                    .and_then(|x| x.imports.remove(&producer))
                {
                    Some(local) => {
                        self.close_producer(local, CloseReason::PeerClosed);
                        true
                    }
                    None => false,
                }
            }
            PipeMessage::ProducerUnwanted { producer } => self.stop_export(pipe, producer),
            PipeMessage::Nack {
                producer,
                layer,
                mut seqs,
            } => {
                seqs.truncate(crate::pipe::MAX_NACK);
                seqs.sort_unstable();
                let exports = &self.pipes[&pipe].exports;
                let again = exports.get(&producer).map(|e| e.resend(layer, &seqs));
                let known = again.is_some();
                for rtp in again.unwrap_or_default() {
                    self.stats.pipe_retransmitted += 1;
                    self.pipe_out(pipe, PipeMessage::Rtp(rtp));
                }
                known
            }
            PipeMessage::ProducerPaused { producer, paused } => {
                match self.pipes[&pipe].imports.get(&producer).copied() {
                    Some(local) => {
                        self.set_producer_paused(local, paused);
                        true
                    }
                    None => false,
                }
            }
            PipeMessage::PipeClosed => {
                self.close_pipe(pipe, CloseReason::PeerClosed);
                true
            }
        };
        if !ok {
            self.stats.pipe_dropped += 1;
        }
    }

    fn pipe_announce(&mut self, now: Instant, pipe: PipeId, a: PipeProducer) -> bool {
        let limits = &self.config.limits;
        let imports = &self.pipes[&pipe].imports;
        if imports.contains_key(&a.producer) {
            return false;
        }
        if imports.len() >= limits.max_producers_per_pipe {
            warn!(%pipe, max = limits.max_producers_per_pipe, "piped producer refused: max_producers_per_pipe reached");
            return false;
        }
        if a.layers.is_empty() || a.layers.len() > limits.max_layers_per_producer {
            return false;
        }
        let kind = a.kind.to_str0m();
        let keys: SmallVec<[LayerKey; 4]> = if a.layers.len() == 1 {
            smallvec::smallvec![LayerKey::Only]
        } else {
            a.layers
                .iter()
                .enumerate()
                .map(|(i, l)| layer_key(l, i))
                .collect()
        };
        let interval = self.config.keyframe_min_interval;
        let mid = Mid::from(a.mid.as_str());
        let mut p = Producer::new(pipe.as_transport(), mid, kind, &keys, interval, now);
        p.piped = Some((pipe, a.producer));
        for c in &a.codecs {
            if let Some(params) = c.to_params() {
                p.learn_codec(params.pt(), params);
            }
        }
        let pid = ProducerId(self.ids.next());
        self.hub
            .timers
            .set(Timer::Layers(pid), p.poll_monitor_timeout());
        p.paused = a.paused;
        self.producers.insert(pid, p);
        if let Some(x) = self.pipes.get_mut(&pipe) {
            x.imports.insert(a.producer, pid);
            let layers = a.layers.iter().map(|_| Default::default()).collect();
            x.gaps.insert(a.producer, layers);
        }
        self.emit(Event::PipeProducerAdded {
            producer: pid,
            pipe,
            remote_producer: a.producer,
            kind: a.kind,
        });
        true
    }

    fn pipe_codec(&mut self, pipe: PipeId, remote: ProducerId, codec: &PipeCodec) -> bool {
        let Some(local) = self.pipes[&pipe].imports.get(&remote).copied() else {
            return false;
        };
        let (Some(p), Some(params)) = (self.producers.get_mut(&local), codec.to_params()) else {
            return false;
        };
        // A payload type re-announced with another codec replaces it.
        p.codecs.retain(|(pt, _, _)| *pt != params.pt());
        p.learn_codec(params.pt(), params);
        true
    }

    fn pipe_rtp(&mut self, now: Instant, pipe: PipeId, rtp: PipeRtp) -> bool {
        let Some(pid) = self.pipes[&pipe].imports.get(&rtp.producer).copied() else {
            return false;
        };
        let Some(p) = self.producers.get_mut(&pid) else {
            return false;
        };
        let pt = str0m::media::Pt::from(rtp.payload_type);
        if p.codec_for(pt).is_none() || rtp.layer as usize >= p.layers.len() {
            return false;
        }
        let remote = self.pipes[&pipe].remote.is_some();
        let duplicate = remote
            && self.pipes[&pipe]
                .gaps
                .get(&rtp.producer)
                .and_then(|h| h.get(rtp.layer as usize))
                .is_some_and(|h| h.is_duplicate(rtp.seq));
        if duplicate {
            // Only a remote pipe delivers a packet twice (late, and sent
            // again on a NACK): forwarded once.
            self.stats.pipe_rtp_duplicates += 1;
            return true;
        }
        let skipped = self
            .pipes
            .get_mut(&pipe)
            .and_then(|x| x.gaps.get_mut(&rtp.producer))
            .and_then(|h| h.get_mut(rtp.layer as usize))
            .map(|h| h.on_packet(rtp.seq, now))
            .unwrap_or_default();
        if !skipped.is_empty() {
            self.pipe_out(
                pipe,
                PipeMessage::Nack {
                    producer: rtp.producer,
                    layer: rtp.layer,
                    seqs: skipped,
                },
            );
        }
        let Some(p) = self.producers.get_mut(&pid) else {
            return false;
        };
        let Some(l) = p.layers.get_mut(rtp.layer as usize) else {
            return false;
        };
        self.stats.pipe_rtp_in += 1;
        self.stats.rtp_in += 1;
        l.on_packet(now, rtp.payload.len());
        p.packets += 1;
        if !p.observers.is_empty() && !p.paused {
            if let Some(level) = rtp.audio_level {
                for oid in &p.observers {
                    if let Some(o) = self.observers.get_mut(oid) {
                        o.on_level(pid, level);
                    }
                }
            }
        }
        if p.paused || (p.consumers.is_empty() && p.pipes.is_empty()) {
            return true;
        }
        let mut exts = ExtensionValues {
            audio_level: rtp.audio_level,
            voice_activity: rtp.voice_activity,
            video_orientation: rtp.video_orientation.map(|v| VideoOrientation::from(v & 3)),
            ..Default::default()
        };
        if let Some(dd) = &rtp.dependency_descriptor {
            exts.user_values
                .set(crate::ext::RawDependencyDescriptor(SmallVec::from_slice(
                    dd,
                )));
        }
        let pkt = MediaPacket {
            pt,
            seq: rtp.seq,
            ts: rtp.timestamp,
            marker: rtp.marker,
            arrival: now,
            payload: rtp.payload,
            exts,
        };
        let has_pipes = !p.pipes.is_empty();
        if has_pipes {
            self.export_packet(pid, rtp.layer, &pkt);
        }
        self.fan_out(pid, rtp.layer, &pkt);
        true
    }

    /// Stop sending a producer through a pipe; returns whether it was sent.
    fn stop_export(&mut self, pipe: PipeId, pid: ProducerId) -> bool {
        let sent = self
            .pipes
            .get_mut(&pipe)
            .is_some_and(|x| x.exports.remove(&pid).is_some());
        if let Some(p) = self.producers.get_mut(&pid) {
            p.pipes.retain(|x| *x != pipe);
        }
        sent
    }

    /// A producer paused or resumed: the pipes sending it tell their other
    /// ends.
    pub(super) fn pipe_producer_paused(&mut self, pid: ProducerId, paused: bool) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        for pipe in p.pipes.clone() {
            self.pipe_out(
                pipe,
                PipeMessage::ProducerPaused {
                    producer: pid,
                    paused,
                },
            );
        }
    }

    /// A keyframe request for a piped producer goes to the router that
    /// sends it; returns whether `pid` is one.
    pub(super) fn pipe_keyframe_request(&mut self, pid: ProducerId, layer: u8) -> bool {
        let Some((pipe, remote)) = self.producers.get(&pid).and_then(|p| p.piped) else {
            return false;
        };
        if self.pipes.contains_key(&pipe) {
            self.stats.keyframe_requests += 1;
            self.pipe_out(
                pipe,
                PipeMessage::KeyframeRequest {
                    producer: remote,
                    layer,
                },
            );
        }
        true
    }

    /// A closing producer (already removed): its pipes are told, and a
    /// piped one is forgotten by its pipe (which tells the sender it is
    /// unwanted, unless the sender closed it).
    pub(super) fn pipe_producer_closed(&mut self, pid: ProducerId, p: &Producer) {
        for &pipe in &p.pipes {
            if let Some(x) = self.pipes.get_mut(&pipe) {
                x.exports.remove(&pid);
                self.pipe_out(pipe, PipeMessage::ProducerClosed { producer: pid });
            }
        }
        if let Some((pipe, remote)) = p.piped {
            let still = self.pipes.get_mut(&pipe).is_some_and(|x| {
                x.gaps.remove(&remote);
                x.imports.remove(&remote).is_some()
            });
            if still {
                self.pipe_out(pipe, PipeMessage::ProducerUnwanted { producer: remote });
            }
        }
    }

    /// Close one end of a pipe: every producer it brought in closes (with
    /// its consumers), nothing more is sent through it, and the other end
    /// is told unless it closed first.
    pub(crate) fn close_pipe(&mut self, pipe: PipeId, reason: CloseReason) {
        let Some(mut x) = self.pipes.remove(&pipe) else {
            return;
        };
        let remote = x.remote.is_some();
        self.remote_pipe_closed(pipe, &mut x, reason != CloseReason::PeerClosed);
        for (_, local) in x.imports {
            self.close_producer(local, CloseReason::TransportClosed);
        }
        for (pid, _) in x.exports {
            if let Some(p) = self.producers.get_mut(&pid) {
                p.pipes.retain(|y| *y != pipe);
            }
        }
        if reason != CloseReason::PeerClosed && !remote {
            self.hub.out.push(Output::Pipe {
                pipe,
                message: PipeMessage::PipeClosed,
            });
        }
        self.emit(Event::PipeClosed { pipe, reason });
    }
}

/// The key of a piped producer's layer: what its publisher named it by
/// (informative on this router, where packets come by index).
fn layer_key(l: &PipeLayer, index: usize) -> LayerKey {
    match (&l.rid, l.ssrc) {
        (Some(rid), _) => LayerKey::Rid(Rid::from(rid.as_str())),
        (None, Some(ssrc)) => LayerKey::Ssrc(Ssrc::from(ssrc)),
        (None, None) => LayerKey::Ssrc(Ssrc::from(index as u32)),
    }
}

/// Commands for one end of a pipe. See [`Router::create_pipe`].
pub struct PipeApi<'a> {
    router: &'a mut Router,
    id: PipeId,
}

impl PipeApi<'_> {
    /// The pipe's id.
    pub fn id(&self) -> PipeId {
        self.id
    }

    /// Start sending `producer` (a local one, or one piped in from a third
    /// router) to the other end, at the host's time `now`: an announce
    /// now, then every packet of every layer. Sending one already sent is
    /// a no-op. Fails for an unknown producer, for one that came in
    /// through this very pipe, and past
    /// [`Limits::max_producers_per_pipe`](crate::Limits).
    pub fn send_producer(&mut self, now: Instant, producer: ProducerId) -> Result<(), RouterError> {
        let r = &mut *self.router;
        r.advance(now);
        let Some(p) = r.producers.get(&producer) else {
            return Err(RouterError::UnknownProducer(producer));
        };
        if p.piped.is_some_and(|(pipe, _)| pipe == self.id) {
            return Err(RouterError::InvalidOptions(
                "a producer cannot be sent back through the pipe it came from".into(),
            ));
        }
        let pipe = &r.pipes[&self.id];
        if pipe.exports.contains_key(&producer) {
            return Ok(());
        }
        let max = r.config.limits.max_producers_per_pipe;
        if pipe.exports.len() >= max {
            warn!(pipe = %self.id, max, "send_producer refused: max_producers_per_pipe reached");
            return Err(RouterError::Limit {
                what: "max_producers_per_pipe",
                max,
            });
        }
        let announce = PipeProducer {
            producer,
            kind: crate::MediaKind::from_str0m(p.kind),
            mid: p.mid.to_string(),
            layers: p
                .layers
                .iter()
                .map(|l| PipeLayer {
                    rid: l.key.rid().map(|r| r.to_string()),
                    ssrc: l.key.ssrc().map(|s| *s),
                })
                .collect(),
            codecs: p
                .codecs
                .iter()
                .map(|(_, params, _)| PipeCodec::from_params(params))
                .collect(),
            paused: p.paused,
        };
        let sent = p.codecs.iter().map(|(pt, _, _)| **pt).collect();
        let limits = &r.config.limits;
        let keep = match p.kind.is_video() {
            true => limits.rtx_cache_video,
            false => limits.rtx_cache_audio,
        };
        if let Some(x) = r.pipes.get_mut(&self.id) {
            x.exports
                .insert(producer, crate::pipe::Export::new(sent, keep));
        }
        if let Some(p) = r.producers.get_mut(&producer) {
            p.pipes.push(self.id);
        }
        debug!(pipe = %self.id, %producer, "producer sent through the pipe");
        r.pipe_out(self.id, PipeMessage::ProducerAnnounce(announce));
        Ok(())
    }

    /// Stop sending `producer`: the other end closes its copy. Returns
    /// whether it was being sent.
    pub fn stop_producer(&mut self, now: Instant, producer: ProducerId) -> bool {
        self.router.advance(now);
        let sent = self.router.stop_export(self.id, producer);
        if sent {
            self.router
                .pipe_out(self.id, PipeMessage::ProducerClosed { producer });
        }
        sent
    }

    /// Local producers sent through this end.
    pub fn sent_producers(&self) -> Vec<ProducerId> {
        let mut v: Vec<_> = self.router.pipes[&self.id]
            .exports
            .keys()
            .copied()
            .collect();
        v.sort_unstable();
        v
    }

    /// Producers brought in through this end: (id on the other router,
    /// id here).
    pub fn received_producers(&self) -> Vec<(ProducerId, ProducerId)> {
        let mut v: Vec<_> = self.router.pipes[&self.id]
            .imports
            .iter()
            .map(|(a, b)| (*a, *b))
            .collect();
        v.sort_unstable();
        v
    }

    /// Close this end at the host's time `now`: the producers it brought
    /// in close (with their consumers), sending stops, the other end is
    /// told ([`PipeMessage::PipeClosed`]), and
    /// [`Event::PipeClosed`](crate::Event::PipeClosed) follows.
    pub fn close(self, now: Instant) {
        self.router.catch_up(now);
        self.router.close_pipe(self.id, CloseReason::Requested);
        self.router.process_work();
    }
}
