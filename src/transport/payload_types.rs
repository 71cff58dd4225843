//! What each RTP payload type means in a client's SDP, kept consistent.
//!
//! All m-sections of a transport share one BUNDLE group, so a payload type
//! must mean the same codec configuration in every section (RFC 8843,
//! section 7.5) and keep that meaning for the whole session (RFC 3264,
//! section 8.3.2). str0m assumes both: it pins ("locks") each payload type to
//! one of its codec entries as sections arrive, and asserts that no payload
//! type is pinned twice. An SDP that maps one payload type to two codecs (in
//! two sections, twice in one section, as both a codec and another codec's
//! retransmission, or differently from an earlier offer) made it panic. Such
//! an SDP is refused here, before str0m sees it, with a reason the client
//! can read.
//!
//! The descriptions checked are str0m's own reading of each section
//! (`rtp_params`), so this check and str0m never disagree on what a line
//! says. The table is bounded: a payload type is 7 bits.

use smallvec::SmallVec;
use str0m::format::{CodecSpec, PayloadParams};

use crate::error::SignalingError;

/// What one payload type stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// A codec with its parameters.
    Codec(CodecSpec),
    /// Retransmissions (RTX) of the codec on this payload type.
    Repair(u8),
    /// Redundant audio (RED) of the codec on this payload type.
    Redundancy(u8),
}

/// The meaning of every payload type a client's SDPs have described so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct PayloadTypes {
    roles: Vec<(u8, Role)>,
}

impl PayloadTypes {
    fn role(&self, pt: u8) -> Option<Role> {
        self.roles.iter().find(|(p, _)| *p == pt).map(|(_, r)| *r)
    }

    /// This table with the payload types of `sections` (str0m's
    /// descriptions of each media section, in order) added, or the reason
    /// the SDP is refused. `self` is left as it was: the caller keeps the
    /// result only when the SDP is applied.
    pub(crate) fn with_sections(
        &self,
        sections: impl IntoIterator<Item = Vec<PayloadParams>>,
    ) -> Result<PayloadTypes, SignalingError> {
        let mut next = self.clone();
        for params in sections {
            let mut in_section: SmallVec<[u8; 32]> = SmallVec::new();
            for p in &params {
                let pt = *p.pt();
                let uses = [
                    Some((pt, Role::Codec(p.spec()))),
                    p.resend().map(|r| (*r, Role::Repair(pt))),
                    p.red().map(|r| (*r, Role::Redundancy(pt))),
                ];
                for (used, role) in uses.into_iter().flatten() {
                    if in_section.contains(&used) {
                        return Err(SignalingError::BadSdp(format!(
                            "payload type {used} has two meanings in one m-section"
                        )));
                    }
                    in_section.push(used);
                    match next.role(used) {
                        Some(known) if known != role => {
                            return Err(SignalingError::BadSdp(format!(
                                "payload type {used} means different codecs in different \
                                 m-sections or offers"
                            )));
                        }
                        Some(_) => {}
                        None => next.roles.push((used, role)),
                    }
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::format::{Codec, FormatParams};

    fn spec(codec: Codec, profile: Option<u32>) -> CodecSpec {
        CodecSpec {
            codec,
            clock_rate: str0m::media::Frequency::NINETY_KHZ,
            channels: None,
            format: FormatParams {
                profile_level_id: profile,
                packetization_mode: Some(1),
                ..Default::default()
            },
        }
    }

    fn param(pt: u8, rtx: Option<u8>, s: CodecSpec) -> PayloadParams {
        PayloadParams::new(pt.into(), rtx.map(Into::into), s)
    }

    #[test]
    fn same_meaning_in_every_section_is_accepted() {
        let video = [
            param(96, Some(97), spec(Codec::Vp8, None)),
            param(102, Some(103), spec(Codec::H264, Some(0x42e01f))),
        ];
        let t = PayloadTypes::default()
            .with_sections([video.to_vec(), video.to_vec()])
            .expect("consistent");
        // A later offer that repeats them is fine too.
        t.with_sections([video.to_vec()]).expect("still consistent");
    }

    #[test]
    fn one_payload_type_for_two_codecs_is_refused() {
        let a = [param(35, None, spec(Codec::H264, Some(0x42e01f)))];
        let b = [param(35, None, spec(Codec::H264, Some(0x4d001f)))];
        let err = PayloadTypes::default().with_sections([a.to_vec(), b.to_vec()]);
        assert!(matches!(err, Err(SignalingError::BadSdp(m)) if m.contains("35")));
        // Across offers as well.
        let first = PayloadTypes::default().with_sections([a.to_vec()]).unwrap();
        assert!(first.with_sections([b.to_vec()]).is_err());
    }

    #[test]
    fn a_codec_payload_type_reused_for_retransmission_is_refused() {
        let s = [
            param(96, Some(98), spec(Codec::Vp8, None)),
            param(98, None, spec(Codec::Vp9, None)),
        ];
        assert!(PayloadTypes::default().with_sections([s.to_vec()]).is_err());
        let twice = [
            param(96, None, spec(Codec::Vp8, None)),
            param(96, None, spec(Codec::Vp8, None)),
        ];
        assert!(PayloadTypes::default()
            .with_sections([twice.to_vec()])
            .is_err());
    }
}
