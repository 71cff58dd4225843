//! The VP8 payload descriptor fields a consumer renumbers (RFC 7741
//! section 4.2: PictureID and TL0PICIDX), rewritten in the subscriber's
//! own copy of the payload: the copy SRTP encrypts in place anyway, so
//! the shared payload is never touched and nothing is allocated.

/// Where one packet's PictureID and TL0PICIDX go, and their new values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Vp8Rewrite {
    /// (offset in the payload, 15-bit form, new value). Offsets are bytes
    /// (the descriptor's fields are within its first five): the rewrite
    /// is kept per packet in every subscriber's RTX history, whose slot
    /// size is what a push costs in cache misses.
    picture_id: Option<(u8, bool, u16)>,
    /// (offset in the payload, new value).
    tl0: Option<(u8, u8)>,
}

impl Vp8Rewrite {
    /// The rewrite of `payload`'s descriptor to `picture_id` and `tl0`:
    /// `None` if there is nothing to rewrite, the descriptor lacks a field
    /// asked for, or a value does not fit the field's width (the packet
    /// then goes out as it came, as it does on the WebRTC stack's path).
    pub(crate) fn new(payload: &[u8], picture_id: Option<u16>, tl0: Option<u8>) -> Option<Self> {
        if picture_id.is_none() && tl0.is_none() {
            return None;
        }
        let (pid_at, tl0_at) = fields(payload)?;
        let mut r = Vp8Rewrite::default();
        if let Some(value) = picture_id {
            let (at, long) = pid_at?;
            if value > if long { 0x7fff } else { 0x7f } {
                return None;
            }
            r.picture_id = Some((u8::try_from(at).ok()?, long, value));
        }
        if let Some(value) = tl0 {
            r.tl0 = Some((u8::try_from(tl0_at?).ok()?, value));
        }
        Some(r)
    }

    /// How many leading bytes of the payload [`apply`](Self::apply)
    /// may change.
    pub(crate) fn extent(&self) -> usize {
        let pid = self.picture_id.map_or(0, |(at, long, _)| {
            usize::from(at) + if long { 2 } else { 1 }
        });
        let tl0 = self.tl0.map_or(0, |(at, _)| usize::from(at) + 1);
        pid.max(tl0)
    }

    /// Apply to a copy of the payload the rewrite was made for.
    pub(crate) fn apply(&self, payload: &mut [u8]) {
        if let Some((at, long, value)) = self.picture_id {
            let at = usize::from(at);
            if long {
                if let Some(b) = payload.get_mut(at..at + 2) {
                    b[0] = 0x80 | ((value >> 8) as u8 & 0x7f);
                    b[1] = value as u8;
                }
            } else if let Some(b) = payload.get_mut(at) {
                *b = value as u8 & 0x7f;
            }
        }
        if let Some((at, value)) = self.tl0 {
            if let Some(b) = payload.get_mut(usize::from(at)) {
                *b = value;
            }
        }
    }
}

/// The offsets of the PictureID (and whether it is the 15-bit form) and
/// of TL0PICIDX in a VP8 payload descriptor; `None` if it is cut short.
#[allow(clippy::type_complexity)]
fn fields(p: &[u8]) -> Option<(Option<(usize, bool)>, Option<usize>)> {
    let first = *p.first()?;
    if first & 0x80 == 0 {
        return Some((None, None));
    }
    let ext = *p.get(1)?;
    let mut at = 2;
    let mut pid = None;
    if ext & 0x80 != 0 {
        let long = *p.get(at)? & 0x80 != 0;
        pid = Some((at, long));
        at += if long { 2 } else { 1 };
    }
    let mut tl0 = None;
    if ext & 0x40 != 0 {
        p.get(at)?;
        tl0 = Some(at);
    }
    if let Some((pid_at, long)) = pid {
        p.get(pid_at + usize::from(long))?;
    }
    Some((pid, tl0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::rtp::Vp8Descriptor;

    /// The same rewrite as str0m's patch, read back by str0m's parser.
    #[test]
    fn rewrites_what_str0m_reads_back() {
        // X; I, L, T; 15-bit PictureID 0x1234; TL0PICIDX 7; TID 1.
        let long = [0x90, 0xe0, 0x92, 0x34, 7, 0x40, 0xaa, 0xbb];
        // X; I, L, T; 7-bit PictureID 5; TL0PICIDX 9; TID 1.
        let short = [0x90, 0xe0, 0x05, 9, 0x40, 0xaa];
        for (payload, pid) in [(&long[..], 0x7ffe), (&short[..], 0x7e)] {
            let r = Vp8Rewrite::new(payload, Some(pid), Some(200)).unwrap();
            let mut copy = payload.to_vec();
            r.apply(&mut copy);
            let d = Vp8Descriptor::parse(&copy).unwrap();
            assert_eq!(d.picture_id(), Some(pid));
            assert_eq!(d.tl0_pic_idx(), Some(200));
            assert_eq!(copy.last(), payload.last(), "the frame is untouched");
            let n = r.extent();
            assert_eq!(copy[n..], payload[n..], "nothing changes past the extent");
            assert_ne!(
                copy[n - 1],
                payload[n - 1],
                "the extent's last byte is rewritten"
            );
        }
    }

    #[test]
    fn refuses_what_does_not_fit_or_is_missing() {
        let short = [0x90, 0xc0, 0x05, 9, 0xaa];
        assert!(Vp8Rewrite::new(&short, Some(0x80), None).is_none());
        // No X: no PictureID to rewrite.
        assert!(Vp8Rewrite::new(&[0x10, 0xaa], Some(1), None).is_none());
        // Cut short inside the 15-bit PictureID.
        assert!(Vp8Rewrite::new(&[0x90, 0x80, 0x92], Some(1), None).is_none());
        assert!(Vp8Rewrite::new(&short, None, None).is_none());
        // A rewrite never writes past the payload it is applied to.
        let r = Vp8Rewrite::new(&short, Some(3), Some(4)).unwrap();
        let mut cut = [0x90, 0xc0];
        r.apply(&mut cut);
        assert_eq!(cut, [0x90, 0xc0]);
    }
}
