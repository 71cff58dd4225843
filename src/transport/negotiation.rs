//! SDP offer/answer for a transport, in both directions.
//!
//! * The client offers (WHIP/WHEP, or a client renegotiating): the transport
//!   answers. Media the client sends become producers; m-lines the client
//!   only receives on become *spare* lines that consumers bind to without a
//!   new negotiation.
//! * The server offers: consumers that find no spare line are queued as
//!   changes. When the transport is connected and no offer is pending, the
//!   queue becomes one offer (announced by
//!   [`Event::RenegotiationNeeded`](crate::Event)); changes made meanwhile
//!   wait for the next one.
//! * Glare (the client offers while ours is pending): the router is the
//!   polite side. It drops its own offer, answers the client's, and offers
//!   its changes again afterwards.

use std::collections::VecDeque;

use smallvec::SmallVec;
use str0m::change::SdpPendingOffer;
use str0m::channel::{ChannelConfig, ChannelId};
use str0m::media::{Direction, MediaKind, Mid};

use super::payload_types::PayloadTypes;
use super::{sdp_memo, DataEnd, Transport};
use crate::config::Limits;
use crate::error::SignalingError;
use crate::{ConsumerId, DataConsumerId};

/// One change the server wants the client to agree to.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Send a new track for this consumer.
    Add {
        consumer: ConsumerId,
        kind: MediaKind,
        stream_id: String,
        track_id: String,
    },
    /// Stop an m-line whose consumer closed.
    Stop(Mid),
    /// Restart ICE with new local credentials.
    IceRestart,
    /// Open a data channel for this data consumer: the first one adds the
    /// SCTP m-line (`m=application`); once it is negotiated, channels open
    /// without an offer.
    Channel {
        data_consumer: DataConsumerId,
        config: ChannelConfig,
    },
}

pub(crate) struct Pending {
    offer: SdpPendingOffer,
    changes: Vec<Change>,
    added: Vec<(ConsumerId, Mid)>,
    channels: Vec<(DataConsumerId, ChannelId)>,
    new_ufrag: Option<String>,
}

#[derive(Default)]
pub(crate) struct Negotiation {
    pub queue: VecDeque<Change>,
    pub pending: Option<Pending>,
    /// M-lines the client receives on that no consumer uses yet.
    pub spare: SmallVec<[(Mid, MediaKind); 4]>,
    /// Whether a remote description was ever applied.
    pub has_remote: bool,
    /// Whether the SCTP m-line (`m=application`) is negotiated.
    pub has_app: bool,
    /// What each payload type means, from every SDP the client sent.
    pub payload_types: PayloadTypes,
}

/// What an accepted answer changed.
pub(crate) struct AnswerOutcome {
    /// Consumers now carried by these m-lines.
    pub added: Vec<(ConsumerId, Mid)>,
}

/// A parser error fit to show a client: str0m's messages carry parser
/// internals (pointer offsets) after the useful part.
fn clean(msg: &str) -> String {
    let cut = msg.find("PointerOffset").unwrap_or(msg.len());
    let text: String = msg[..cut]
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let text = text.trim_end_matches([' ', ',', ':', '(', '[']).trim();
    if text.is_empty() {
        "unparseable SDP".to_string()
    } else {
        text.to_string()
    }
}

/// Refuse an SDP before parsing when it breaks the limits.
pub(crate) fn check_sdp(sdp: &str, limits: &Limits) -> Result<(), SignalingError> {
    if sdp.len() > limits.max_sdp_bytes {
        return Err(SignalingError::SdpTooLarge {
            len: sdp.len(),
            max: limits.max_sdp_bytes,
        });
    }
    let count = sdp.lines().filter(|l| l.starts_with("m=")).count();
    if count > limits.max_m_lines {
        return Err(SignalingError::TooManyMLines {
            count,
            max: limits.max_m_lines,
        });
    }
    Ok(())
}

/// The error for an SDP without a DTLS fingerprint (JSEP requires one in
/// every offer and answer). str0m refuses it too, but by closing the whole
/// session for good when it knows no fingerprint yet, which would leave an
/// open transport that can never connect; so the router refuses it first.
fn missing_fingerprint() -> SignalingError {
    SignalingError::BadSdp("missing a=fingerprint".into())
}

/// The client's own video bandwidth limit: `b=TIAS` (bit/s) or `b=AS`
/// (kbit/s) in a video section (or at session level).
pub(crate) fn sdp_video_bandwidth(sdp: &str) -> Option<u64> {
    let mut in_video = true;
    let mut found: Option<u64> = None;
    for line in sdp.lines() {
        let line = line.trim();
        if let Some(m) = line.strip_prefix("m=") {
            in_video = m.starts_with("video");
            continue;
        }
        if !in_video {
            continue;
        }
        let bps = if let Some(v) = line.strip_prefix("b=TIAS:") {
            v.trim().parse::<u64>().ok()
        } else if let Some(v) = line.strip_prefix("b=AS:") {
            v.trim().parse::<u64>().ok().map(|k| k.saturating_mul(1000))
        } else {
            None
        };
        if let Some(b) = bps.filter(|b| *b > 0) {
            found = Some(found.map_or(b, |f| f.min(b)));
        }
    }
    found
}

/// The SDP with at most one `b=` line per section, the first: str0m's
/// parser takes one, and a second (`b=AS` next to `b=TIAS`, as RFC 8866
/// allows and clients send) made it drop the section's attributes and
/// refuse the whole SDP. The limits are read from the original SDP
/// ([`sdp_video_bandwidth`]).
pub(crate) fn one_bandwidth_line(sdp: &str) -> std::borrow::Cow<'_, str> {
    let mut seen = false;
    let mut extra = false;
    for line in sdp.lines() {
        if line.starts_with("m=") {
            seen = false;
        } else if line.starts_with("b=") {
            extra |= seen;
            seen = true;
        }
    }
    if !extra {
        return std::borrow::Cow::Borrowed(sdp);
    }
    let mut out = String::with_capacity(sdp.len());
    seen = false;
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("m=") {
            seen = false;
        } else if line.starts_with("b=") {
            if seen {
                continue;
            }
            seen = true;
        }
        out.push_str(line);
    }
    std::borrow::Cow::Owned(out)
}

impl Transport {
    /// Answer a client's offer. An ICE restart the client asks for changes
    /// our local ufrag, even when the offer is then refused: the router
    /// re-reads it afterwards either way.
    pub(crate) fn accept_offer(
        &mut self,
        sdp: &str,
        limits: &Limits,
    ) -> Result<String, SignalingError> {
        check_sdp(sdp, limits)?;
        let offer = sdp_memo::offer(&one_bandwidth_line(sdp))
            .map_err(|e| SignalingError::BadSdp(clean(&e)))?;
        if offer.session.fingerprint().is_none()
            && offer.media_lines.iter().all(|m| m.fingerprint().is_none())
        {
            return Err(missing_fingerprint());
        }
        let payload_types = self.negotiation.payload_types.with_sections(
            offer
                .media_lines
                .iter()
                .filter(|m| m.typ.is_media())
                .map(|m| m.rtp_params()),
        )?;
        let has_app = offer
            .media_lines
            .iter()
            .any(|m| m.typ.is_channel() && !m.disabled);
        // Glare: drop our offer and queue its changes again, first.
        if let Some(p) = self.negotiation.pending.take() {
            for c in p.changes.into_iter().rev() {
                self.negotiation.queue.push_front(c);
            }
        }
        let answer = self
            .guarded(|rtc| rtc.sdp_api().accept_offer(offer))
            .ok_or(SignalingError::Closed)?
            .map_err(|e| SignalingError::Refused(e.to_string()))?;
        self.negotiation.has_remote = true;
        self.negotiation.has_app |= has_app;
        self.negotiation.payload_types = payload_types;
        Ok(answer.to_sdp_string())
    }

    /// Make an offer from the queued changes, if the time is right.
    pub(crate) fn make_offer(&mut self) -> Option<Result<String, SignalingError>> {
        self.open_queued_channels();
        let n = &self.negotiation;
        if n.pending.is_some() || n.queue.is_empty() || !n.has_remote || !self.connected {
            return None;
        }
        let changes: Vec<Change> = self.negotiation.queue.drain(..).collect();
        let result = self.guarded(|rtc| {
            let mut api = rtc.sdp_api();
            let mut added = Vec::new();
            let mut channels = Vec::new();
            let mut new_ufrag = None;
            for c in &changes {
                match c {
                    Change::Add {
                        consumer,
                        kind,
                        stream_id,
                        track_id,
                    } => {
                        let mid = api.add_media(
                            *kind,
                            Direction::SendOnly,
                            Some(stream_id.clone()),
                            Some(track_id.clone()),
                            None,
                        );
                        added.push((*consumer, mid));
                    }
                    Change::Stop(mid) => api.stop_media(*mid),
                    Change::IceRestart => new_ufrag = Some(api.ice_restart(true).ufrag),
                    Change::Channel {
                        data_consumer,
                        config,
                    } => {
                        let id = api.add_channel_with_config(config.clone());
                        channels.push((*data_consumer, id));
                    }
                }
            }
            api.apply()
                .map(|(offer, pending)| (offer, pending, added, channels, new_ufrag))
        });
        match result {
            None => Some(Err(SignalingError::Closed)),
            Some(None) => None,
            Some(Some((offer, pending, added, channels, new_ufrag))) => {
                let sdp = offer.to_sdp_string();
                self.negotiation.pending = Some(Pending {
                    offer: pending,
                    changes,
                    added,
                    channels,
                    new_ufrag,
                });
                Some(Ok(sdp))
            }
        }
    }

    /// Once the SCTP m-line is negotiated, queued data channels open at
    /// once, without an offer.
    fn open_queued_channels(&mut self) {
        if !self.negotiation.has_app {
            return;
        }
        let mut i = 0;
        while i < self.negotiation.queue.len() {
            if !matches!(self.negotiation.queue[i], Change::Channel { .. }) {
                i += 1;
                continue;
            }
            if let Some(Change::Channel {
                data_consumer,
                config,
            }) = self.negotiation.queue.remove(i)
            {
                if let Some(id) = self.create_channel(config) {
                    self.channels.insert(id, DataEnd::Consumer(data_consumer));
                }
            }
        }
    }

    /// The ufrag a pending offer of ours introduces (ICE restart).
    pub(crate) fn pending_ufrag(&self) -> Option<&str> {
        self.negotiation.pending.as_ref()?.new_ufrag.as_deref()
    }

    /// Apply the client's answer to our pending offer.
    pub(crate) fn accept_answer(
        &mut self,
        sdp: &str,
        limits: &Limits,
    ) -> Result<AnswerOutcome, SignalingError> {
        check_sdp(sdp, limits)?;
        let answer = sdp_memo::answer(&one_bandwidth_line(sdp))
            .map_err(|e| SignalingError::BadSdp(clean(&e)))?;
        if answer.session.fingerprint().is_none()
            && answer.media_lines.iter().all(|m| m.fingerprint().is_none())
        {
            return Err(missing_fingerprint());
        }
        let payload_types = self.negotiation.payload_types.with_sections(
            answer
                .media_lines
                .iter()
                .filter(|m| m.typ.is_media())
                .map(|m| m.rtp_params()),
        )?;
        let pending = self
            .negotiation
            .pending
            .take()
            .ok_or(SignalingError::NoPendingOffer)?;
        let Pending {
            offer,
            added,
            channels,
            ..
        } = pending;
        let has_app = answer
            .media_lines
            .iter()
            .any(|m| m.typ.is_channel() && !m.disabled);
        self.guarded(|rtc| rtc.sdp_api().accept_answer(offer, answer))
            .ok_or(SignalingError::Closed)?
            .map_err(|e| SignalingError::Refused(e.to_string()))?;
        self.negotiation.payload_types = payload_types;
        self.negotiation.has_app |= has_app;
        if has_app {
            for (dc, id) in channels {
                self.channels.insert(id, DataEnd::Consumer(dc));
            }
        }
        Ok(AnswerOutcome { added })
    }

    /// Our current local ICE ufrag.
    pub(crate) fn local_ufrag(&mut self) -> String {
        self.rtc.direct_api().local_ice_credentials().ufrag
    }

    /// Take a spare m-line of this kind, if the client left one.
    pub(crate) fn take_spare(&mut self, kind: MediaKind) -> Option<Mid> {
        let i = self
            .negotiation
            .spare
            .iter()
            .position(|(_, k)| *k == kind)?;
        Some(self.negotiation.spare.remove(i).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_bandwidth_line_per_section() {
        let sdp =
            "v=0\r\nb=AS:5000\r\nb=CT:6000\r\nt=0 0\r\nm=audio 9 X 111\r\nb=AS:64\r\na=mid:0\r\n\
                   m=video 9 X 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:300\r\nb=TIAS:300000\r\na=mid:1\r\n";
        assert_eq!(
            one_bandwidth_line(sdp),
            "v=0\r\nb=AS:5000\r\nt=0 0\r\nm=audio 9 X 111\r\nb=AS:64\r\na=mid:0\r\n\
             m=video 9 X 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:300\r\na=mid:1\r\n"
        );
        // The limit still comes from every line of the original.
        assert_eq!(sdp_video_bandwidth(sdp), Some(300_000));
        let plain = "v=0\r\nm=video 9 X 96\r\nb=TIAS:5\r\na=mid:1\r\n";
        assert!(matches!(
            one_bandwidth_line(plain),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
