//! Simulcast signalled by SSRC groups instead of rids.
//!
//! Legacy Chromium SDP munging (and some native clients) announce simulcast
//! without `a=simulcast`/`a=rid`: one `a=ssrc-group:SIM` lists the
//! encodings' SSRCs, lowest quality first, and an `a=ssrc-group:FID` pairs
//! each with its RTX SSRC:
//!
//! ```text
//! a=ssrc-group:SIM 111 222 333
//! a=ssrc-group:FID 111 112
//! a=ssrc:111 cname:x
//! ...
//! ```
//!
//! str0m does not read the SIM group: it creates one receive stream per
//! `a=ssrc` (mid, no rid) and leaves telling them apart to us. The router
//! turns each SSRC of the group into one layer of the m-line's producer.

use smallvec::SmallVec;
use str0m::media::Mid;
use str0m::rtp::Ssrc;

/// `a=ssrc-group:FID` pairs remembered per m-line: enough for every layer
/// of the largest allowed group; further pairs are ignored.
const MAX_FID_PER_SECTION: usize = 16;

/// One m-line's SSRC simulcast group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SsrcSimulcast {
    pub mid: Mid,
    /// (media SSRC, its RTX SSRC), lowest encoding first, at most the layer limit.
    pub layers: SmallVec<[(Ssrc, Option<Ssrc>); 4]>,
    /// SSRCs of the group past the layer limit.
    pub ignored: usize,
}

/// Per-m-line state while reading one media section.
#[derive(Default)]
struct Section {
    mid: Option<Mid>,
    sim: Option<SmallVec<[u32; 4]>>,
    ignored: usize,
    fid: SmallVec<[(u32, u32); 4]>,
}

impl Section {
    fn finish(self, out: &mut SmallVec<[SsrcSimulcast; 1]>) {
        let (Some(mid), Some(sim)) = (self.mid, self.sim) else {
            return;
        };
        // One SSRC is no simulcast: the m-line's only encoding.
        if sim.len() < 2 {
            return;
        }
        let layers = sim
            .iter()
            .map(|&s| {
                // An RTX SSRC that is itself a layer (or the stream's own) is
                // no repair stream.
                let rtx = self
                    .fid
                    .iter()
                    .find(|(m, _)| *m == s)
                    .map(|(_, r)| *r)
                    .filter(|r| *r != 0 && !sim.contains(r));
                (Ssrc::from(s), rtx.map(Ssrc::from))
            })
            .collect();
        out.push(SsrcSimulcast {
            mid,
            layers,
            ignored: self.ignored,
        });
    }
}

/// The SSRC simulcast groups of an SDP, at most `max_sections` m-lines and
/// `max_layers` SSRCs each (extra SSRCs are counted in `ignored`). Only the
/// first SIM group of an m-line counts; repeated and zero SSRCs are skipped.
/// Never panics on any input.
pub(crate) fn parse(
    sdp: &str,
    max_layers: usize,
    max_sections: usize,
) -> SmallVec<[SsrcSimulcast; 1]> {
    let mut out = SmallVec::new();
    let mut section: Option<Section> = None;
    let mut sections = 0;
    for line in sdp.lines().map(str::trim) {
        if line.starts_with("m=") {
            if let Some(s) = section.take() {
                s.finish(&mut out);
            }
            sections += 1;
            if sections > max_sections {
                return out;
            }
            section = Some(Section::default());
            continue;
        }
        let Some(s) = section.as_mut() else {
            continue;
        };
        if let Some(mid) = line.strip_prefix("a=mid:") {
            s.mid.get_or_insert(Mid::from(mid.trim()));
        } else if let Some(rest) = line.strip_prefix("a=ssrc-group:") {
            let mut words = rest.split_ascii_whitespace();
            let semantics = words.next().unwrap_or_default();
            let ssrcs = words.filter_map(|w| w.parse::<u32>().ok());
            if semantics.eq_ignore_ascii_case("SIM") && s.sim.is_none() {
                let mut sim = SmallVec::<[u32; 4]>::new();
                for ssrc in ssrcs {
                    if ssrc == 0 || sim.contains(&ssrc) {
                        continue;
                    }
                    if sim.len() < max_layers {
                        sim.push(ssrc);
                    } else {
                        s.ignored += 1;
                    }
                }
                s.sim = Some(sim);
            } else if semantics.eq_ignore_ascii_case("FID") && s.fid.len() < MAX_FID_PER_SECTION {
                let pair: SmallVec<[u32; 2]> = ssrcs.take(3).collect();
                if let [main, rtx] = pair[..] {
                    s.fid.push((main, rtx));
                }
            }
        }
    }
    if let Some(s) = section {
        s.finish(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:0\r\n\
        a=ssrc:5 cname:x\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n\
        a=mid:1\r\n\
        a=ssrc-group:SIM 111 222 333\r\n\
        a=ssrc-group:FID 111 112\r\n\
        a=ssrc-group:FID 222 223\r\n\
        a=ssrc-group:FID 333 334\r\n\
        a=ssrc:111 cname:x\r\n";

    #[test]
    fn reads_sim_group_with_rtx() {
        let v = parse(OFFER, 4, 8);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].mid, Mid::from("1"));
        let got: Vec<_> = v[0]
            .layers
            .iter()
            .map(|(s, r)| (**s, r.map(|r| *r)))
            .collect();
        assert_eq!(got, [(111, Some(112)), (222, Some(223)), (333, Some(334))]);
        assert_eq!(v[0].ignored, 0);
    }

    #[test]
    fn bounded_by_layer_limit() {
        let v = parse(OFFER, 2, 8);
        assert_eq!(v[0].layers.len(), 2);
        assert_eq!(v[0].ignored, 1);
        // The m-line limit: the video line is the second.
        assert!(parse(OFFER, 4, 1).is_empty());
    }

    #[test]
    fn hostile_lines_are_skipped() {
        let sdp = "m=video 9 X 96\r\na=mid:v\r\na=ssrc-group:SIM 1 1 x 0 99999999999\r\n\
                   a=ssrc-group:FID 1\r\na=ssrc-group:\r\na=ssrc-group:SIM 2 3\r\nm=video\r\n\
                   a=ssrc-group:SIM 4 5\r\n";
        // One distinct SSRC in the first SIM group: no simulcast; the
        // second section has no mid.
        assert!(parse(sdp, 4, 8).is_empty());
        let sdp = "m=video 9 X 96\r\na=mid:v\r\na=ssrc-group:SIM 1 2\r\n\
                   a=ssrc-group:FID 1 1\r\na=ssrc-group:FID 2 1\r\n";
        let v = parse(sdp, 4, 8);
        assert!(v[0].layers.iter().all(|(_, rtx)| rtx.is_none()));
    }
}
