//! VP8 picture ID and TL0PICIDX continuity for one consumer.
//!
//! Simulcast encodings number their pictures independently, and dropped
//! temporal layers leave holes. The subscriber's decoder must see picture
//! IDs that go up by one per forwarded picture and a TL0PICIDX that goes up
//! by one per forwarded base-layer picture, so both are rewritten as
//! `input + offset`, rebased at every switch.

/// Rewrite state; all arithmetic is modulo the field widths.
#[derive(Debug, Default)]
pub(crate) struct Vp8Rewrite {
    pid_offset: u16,
    tl0_offset: u8,
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
}

const PID_MASK: u16 = 0x7fff;

impl Vp8Rewrite {
    /// A new segment starts with this picture: it follows the last one sent.
    pub(crate) fn rebase(&mut self, pid: Option<u16>, tl0: Option<u8>) {
        if let (Some(last), Some(pid)) = (self.last_pid, pid) {
            self.pid_offset = last.wrapping_add(1).wrapping_sub(pid) & PID_MASK;
        }
        if let (Some(last), Some(tl0)) = (self.last_tl0, tl0) {
            self.tl0_offset = last.wrapping_add(1).wrapping_sub(tl0);
        }
    }

    /// A whole picture is dropped: later pictures move down by one.
    pub(crate) fn drop_picture(&mut self) {
        self.pid_offset = self.pid_offset.wrapping_sub(1) & PID_MASK;
    }

    /// Output values for a forwarded packet.
    pub(crate) fn map(&mut self, pid: Option<u16>, tl0: Option<u8>) -> (Option<u16>, Option<u8>) {
        let pid = pid.map(|p| p.wrapping_add(self.pid_offset) & PID_MASK);
        let tl0 = tl0.map(|t| t.wrapping_add(self.tl0_offset));
        if pid.is_some() {
            self.last_pid = pid;
        }
        if tl0.is_some() {
            self.last_tl0 = tl0;
        }
        (pid, tl0)
    }

    /// Whether output equals input (no patch needed).
    pub(crate) fn is_identity(&self) -> bool {
        self.pid_offset == 0 && self.tl0_offset == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_switch_and_drops() {
        let mut r = Vp8Rewrite::default();
        assert_eq!(r.map(Some(100), Some(7)), (Some(100), Some(7)));
        assert_eq!(r.map(Some(101), Some(7)), (Some(101), Some(7)));
        // Switch to another encoding with its own numbering.
        r.rebase(Some(5000), Some(200));
        assert_eq!(r.map(Some(5000), Some(200)), (Some(102), Some(8)));
        // Picture 5001 dropped (upper temporal layer).
        r.drop_picture();
        assert_eq!(r.map(Some(5002), Some(201)), (Some(103), Some(9)));
        // Wraps within 15 bits.
        r.rebase(Some(0x7fff), None);
        assert_eq!(r.map(Some(0x7fff), None).0, Some(104));
    }
}
