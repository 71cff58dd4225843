//! VP8 picture ID and TL0PICIDX continuity for one consumer.
//!
//! Simulcast encodings number their pictures independently, and dropped
//! temporal layers leave holes. The subscriber's decoder must see picture
//! IDs that go up by one per forwarded picture and a TL0PICIDX that goes up
//! by one per forwarded base-layer picture, so both are rewritten as
//! `input + offset`, rebased at every switch.

use smallvec::SmallVec;

/// Rewrite state; all arithmetic is modulo the field widths.
#[derive(Debug, Default)]
pub(crate) struct Vp8Rewrite {
    pid_offset: u16,
    tl0_offset: u8,
    /// The newest picture ID sent (output).
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
    /// The newest input picture ID seen since the last rebase, forwarded or
    /// dropped.
    newest_in: Option<u16>,
    /// Recent dropped pictures: (input picture ID, the offset of the
    /// pictures before it), oldest first. A packet that arrives late (a
    /// retransmission, reordering) keeps the number its picture had.
    drops: SmallVec<[(u16, u16); DROPS_KEPT]>,
    /// The newest input picture forwarded, and whether its last packet
    /// (RTP marker) was.
    newest_fwd: Option<(u16, bool)>,
}

const PID_MASK: u16 = 0x7fff;
/// Dropped pictures remembered for late packets: at 30 fps with the top
/// temporal layer of three dropped, about half a second.
const DROPS_KEPT: usize = 8;

/// Whether 15-bit picture ID `a` comes after `b`.
fn newer(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b) & PID_MASK;
    d != 0 && d < 0x4000
}

impl Vp8Rewrite {
    /// A new segment starts with this picture: it follows the last one sent.
    pub(crate) fn rebase(&mut self, pid: Option<u16>, tl0: Option<u8>) {
        if let (Some(last), Some(pid)) = (self.last_pid, pid) {
            self.pid_offset = last.wrapping_add(1).wrapping_sub(pid) & PID_MASK;
        }
        if let (Some(last), Some(tl0)) = (self.last_tl0, tl0) {
            self.tl0_offset = last.wrapping_add(1).wrapping_sub(tl0);
        }
        self.newest_in = pid;
        self.drops.clear();
        self.newest_fwd = None;
    }

    /// Whether input picture `pid` comes right after the newest forwarded
    /// picture, which is complete, or after dropped pictures that follow
    /// it: then every packet since that picture's last one (lost ones
    /// included) belongs to `pid` or to dropped pictures.
    pub(crate) fn follows_dropped(&self, pid: Option<u16>) -> bool {
        let (Some(pid), Some((last, true))) = (pid, self.newest_fwd) else {
            return false;
        };
        if !newer(pid, last) {
            return false;
        }
        let mut between = last.wrapping_add(1) & PID_MASK;
        for _ in 0..=DROPS_KEPT {
            if between == pid {
                return true;
            }
            if !self.drops.iter().any(|(d, _)| *d == between) {
                return false;
            }
            between = between.wrapping_add(1) & PID_MASK;
        }
        false
    }

    /// A packet of picture `pid` is dropped (an upper temporal layer):
    /// later pictures move down by one. Counted once per picture, and only
    /// for a picture newer than every one seen: a late or repeated packet
    /// of a picture whose successors were already numbered changes nothing.
    pub(crate) fn drop_picture(&mut self, pid: Option<u16>) {
        let Some(pid) = pid else {
            self.pid_offset = self.pid_offset.wrapping_sub(1) & PID_MASK;
            return;
        };
        if self.newest_in.is_some_and(|n| !newer(pid, n)) {
            return;
        }
        if self.drops.len() == DROPS_KEPT {
            self.drops.remove(0);
        }
        self.drops.push((pid, self.pid_offset));
        self.pid_offset = self.pid_offset.wrapping_sub(1) & PID_MASK;
        self.newest_in = Some(pid);
    }

    /// Output values for a forwarded packet.
    pub(crate) fn map(
        &mut self,
        pid: Option<u16>,
        tl0: Option<u8>,
        marker: bool,
    ) -> (Option<u16>, Option<u8>) {
        if let Some(p) = pid {
            match self.newest_fwd {
                Some((n, seen)) if n == p => self.newest_fwd = Some((p, seen || marker)),
                Some((n, _)) if !newer(p, n) => {}
                _ => self.newest_fwd = Some((p, marker)),
            }
        }
        let pid = pid.map(|p| {
            // A picture before a recent drop keeps the offset it had.
            let mut offset = self.pid_offset;
            for &(dropped, before) in self.drops.iter().rev() {
                if !newer(dropped, p) {
                    break;
                }
                offset = before;
            }
            if self.newest_in.is_none_or(|n| newer(p, n)) {
                self.newest_in = Some(p);
            }
            p.wrapping_add(offset) & PID_MASK
        });
        let tl0 = tl0.map(|t| t.wrapping_add(self.tl0_offset));
        if let Some(out) = pid {
            if self.last_pid.is_none_or(|last| !newer(last, out)) {
                self.last_pid = Some(out);
            }
        }
        if tl0.is_some() {
            self.last_tl0 = tl0;
        }
        (pid, tl0)
    }

    /// Whether output equals input for every packet (no patch needed).
    pub(crate) fn is_identity(&self) -> bool {
        self.pid_offset == 0 && self.tl0_offset == 0 && self.drops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_switch_and_drops() {
        let mut r = Vp8Rewrite::default();
        assert_eq!(r.map(Some(100), Some(7), false), (Some(100), Some(7)));
        assert_eq!(r.map(Some(101), Some(7), false), (Some(101), Some(7)));
        // Switch to another encoding with its own numbering.
        r.rebase(Some(5000), Some(200));
        assert_eq!(r.map(Some(5000), Some(200), false), (Some(102), Some(8)));
        // Picture 5001 dropped (upper temporal layer).
        r.drop_picture(Some(5001));
        assert_eq!(r.map(Some(5002), Some(201), false), (Some(103), Some(9)));
        // Wraps within 15 bits.
        r.rebase(Some(0x7fff), None);
        assert_eq!(r.map(Some(0x7fff), None, false).0, Some(104));
    }

    #[test]
    fn late_and_repeated_packets_keep_their_picture_number() {
        let mut r = Vp8Rewrite::default();
        r.rebase(Some(10), None);
        assert_eq!(r.map(Some(10), None, false).0, Some(10));
        r.drop_picture(Some(11));
        // Every packet of the dropped picture, and its retransmission: once.
        r.drop_picture(Some(11));
        assert_eq!(r.map(Some(12), None, false).0, Some(11));
        r.drop_picture(Some(11));
        // A late packet of picture 10 (before the drop) keeps number 10.
        assert_eq!(r.map(Some(10), None, false).0, Some(10));
        assert_eq!(r.map(Some(12), None, false).0, Some(11));
        r.drop_picture(Some(13));
        assert_eq!(r.map(Some(14), None, false).0, Some(12));
        // Late packets of 12 and 10, after two drops.
        assert_eq!(r.map(Some(12), None, false).0, Some(11));
        assert_eq!(r.map(Some(10), None, false).0, Some(10));
        // A late first packet of a picture whose successor was numbered
        // already changes nothing.
        r.drop_picture(Some(13));
        assert_eq!(r.map(Some(15), None, false).0, Some(13));
        // The next switch follows the newest number sent, not a late one.
        assert_eq!(r.map(Some(12), None, false).0, Some(11));
        r.rebase(Some(900), None);
        assert_eq!(r.map(Some(900), None, false).0, Some(14));
        assert!(!r.is_identity());
    }

    #[test]
    fn knows_when_a_picture_follows_dropped_ones() {
        let mut r = Vp8Rewrite::default();
        r.rebase(Some(10), None);
        r.map(Some(10), None, false);
        r.drop_picture(Some(11));
        // 10's last packet not seen yet: nothing is known.
        assert!(!r.follows_dropped(Some(12)));
        r.map(Some(10), None, true);
        assert!(r.follows_dropped(Some(12)));
        assert!(!r.follows_dropped(Some(13)), "13 follows 12, never seen");
        assert!(!r.follows_dropped(Some(10)));
        r.map(Some(12), None, true);
        assert!(!r.follows_dropped(Some(14)), "13 was not dropped");
        r.drop_picture(Some(13));
        r.drop_picture(Some(14));
        assert!(r.follows_dropped(Some(15)));
    }
}
