//! Consumers: one outgoing copy of a producer on a subscriber's transport.
//!
//! A consumer decides per packet whether to forward it (paused, waiting for
//! a keyframe, wrong layer) and rewrites SSRC, sequence number, timestamp
//! and payload type so the subscriber sees one continuous stream.

pub(crate) mod rewrite;

use std::time::Instant;

use smallvec::SmallVec;
use str0m::media::{MediaKind, Mid, Pt};
use str0m::rtp::Ssrc;

use crate::{ProducerId, TransportId};
use rewrite::{Rewriter, Rewritten};

pub(crate) struct Consumer {
    pub transport: TransportId,
    pub producer: ProducerId,
    pub kind: MediaKind,
    /// The m-line and send stream once bound.
    pub mid: Option<Mid>,
    pub ssrc: Option<Ssrc>,
    /// Whether its transport is connected (media written before would be lost).
    pub connected: bool,
    pub paused: bool,
    pub producer_paused: bool,
    /// Video only: drop until a keyframe of `target_layer` starts.
    pub wait_keyframe: bool,
    pub current_layer: Option<u8>,
    pub target_layer: u8,
    /// Incoming payload type to outgoing payload type on this transport
    /// (`None`: the subscriber cannot take that codec).
    pub pt_map: SmallVec<[(Pt, Option<Pt>); 2]>,
    pub rewriter: Rewriter,
    pub packets_sent: u64,
}

/// What a consumer does with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Forward with these numbers.
    Forward(Rewritten),
    /// Not forwarded (paused, unbound, other layer, waiting for a keyframe).
    Drop,
}

/// Facts about one incoming packet that every consumer of it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketInfo {
    pub layer: u8,
    pub keyframe: bool,
    pub seq: u64,
    pub ts: u32,
    pub clock_rate: u32,
    pub now: Instant,
}

impl Consumer {
    pub(crate) fn is_active(&self) -> bool {
        self.connected && self.ssrc.is_some() && !self.paused && !self.producer_paused
    }

    /// Break the outgoing stream; video waits for a keyframe to go on.
    pub(crate) fn restart(&mut self) {
        self.rewriter.break_segment();
        if self.kind.is_video() {
            self.wait_keyframe = true;
        }
    }

    pub(crate) fn on_packet(&mut self, p: &PacketInfo) -> Verdict {
        if !self.is_active() {
            return Verdict::Drop;
        }
        if self.kind.is_video() {
            let on_current = self.current_layer == Some(p.layer);
            let switch_here = p.layer == self.target_layer && p.keyframe;
            if switch_here && (!on_current || self.wait_keyframe) {
                self.current_layer = Some(p.layer);
                self.wait_keyframe = false;
                self.rewriter.rebase(p.seq, p.ts, p.now, p.clock_rate);
            } else if !on_current || self.wait_keyframe {
                return Verdict::Drop;
            }
        } else if self.rewriter.needs_rebase() {
            self.rewriter.rebase(p.seq, p.ts, p.now, p.clock_rate);
        }
        match self.rewriter.map(p.seq, p.ts, p.now) {
            Some(w) => {
                self.packets_sent += 1;
                Verdict::Forward(w)
            }
            None => Verdict::Drop,
        }
    }

    /// Whether this consumer is waiting for a keyframe it has to ask for.
    pub(crate) fn wants_keyframe(&self) -> bool {
        self.is_active()
            && self.kind.is_video()
            && (self.wait_keyframe || self.current_layer != Some(self.target_layer))
    }
}
