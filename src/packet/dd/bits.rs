//! Bit-level reader and writer for the dependency descriptor, MSB first.

use crate::packet::PacketError;

/// Reads bits MSB first; reading past the end is [`PacketError::Truncated`].
pub(super) struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        BitReader { buf, pos: 0 }
    }

    /// Reads `n <= 32` bits as an unsigned integer, the `f(n)` of the spec.
    pub(super) fn bits(&mut self, n: u32) -> Result<u32, PacketError> {
        if n > 32 {
            return Err(PacketError::Malformed("bit field wider than 32"));
        }
        let mut value: u32 = 0;
        for _ in 0..n {
            let byte = self.buf.get(self.pos / 8).ok_or(PacketError::Truncated)?;
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.pos += 1;
        }
        Ok(value)
    }

    /// Reads up to 8 bits.
    pub(super) fn u8(&mut self, n: u32) -> Result<u8, PacketError> {
        debug_assert!(n <= 8);
        // At most 8 bits were read, so the value fits.
        Ok(self.bits(n)? as u8)
    }

    /// Reads one bit as a flag.
    pub(super) fn flag(&mut self) -> Result<bool, PacketError> {
        Ok(self.bits(1)? == 1)
    }

    /// Reads a non-symmetric unsigned value in `0..n`, the `ns(n)` of the
    /// spec: values below `m = 2^w - n` take `w - 1` bits, the rest `w`.
    pub(super) fn ns(&mut self, n: u32) -> Result<u32, PacketError> {
        debug_assert!(n >= 1);
        let w = u32::BITS - n.leading_zeros();
        let m = (1u32 << w) - n;
        let v = self.bits(w - 1)?;
        if v < m {
            return Ok(v);
        }
        let extra = self.bits(1)?;
        Ok((v << 1) - m + extra)
    }
}

/// Appends bits MSB first to a byte vector.
pub(super) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Bits used in the last byte of `out` (0 = the next bit starts a byte).
    used: u32,
}

impl<'a> BitWriter<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, used: 0 }
    }

    /// Writes the low `n <= 32` bits of `value`.
    pub(super) fn bits(&mut self, n: u32, value: u32) {
        debug_assert!(n <= 32);
        for i in (0..n).rev() {
            if self.used == 0 {
                self.out.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            if let Some(last) = self.out.last_mut() {
                *last |= bit << (7 - self.used);
            }
            self.used = (self.used + 1) % 8;
        }
    }

    pub(super) fn flag(&mut self, value: bool) {
        self.bits(1, u32::from(value));
    }

    /// Writes `v < n` in the `ns(n)` encoding.
    pub(super) fn ns(&mut self, n: u32, v: u32) {
        debug_assert!(v < n);
        let w = u32::BITS - n.leading_zeros();
        let m = (1u32 << w) - n;
        if v < m {
            self.bits(w - 1, v);
        } else {
            self.bits(w - 1, (v + m) >> 1);
            self.bits(1, (v + m) & 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.bits(3, 0b101);
        w.bits(16, 0xBEEF);
        w.flag(true);
        w.bits(32, 0xDEAD_BEEF);
        let mut r = BitReader::new(&out);
        assert_eq!(r.bits(3).unwrap(), 0b101);
        assert_eq!(r.bits(16).unwrap(), 0xBEEF);
        assert!(r.flag().unwrap());
        assert_eq!(r.bits(32).unwrap(), 0xDEAD_BEEF);
        assert_eq!(r.bits(4).unwrap(), 0); // zero padding
        assert_eq!(r.bits(1), Err(PacketError::Truncated));
    }

    #[test]
    fn ns_round_trip_all_values() {
        for n in 1..=33 {
            for v in 0..n {
                let mut out = Vec::new();
                BitWriter::new(&mut out).ns(n, v);
                assert_eq!(BitReader::new(&out).ns(n).unwrap(), v, "ns({n}) = {v}");
            }
        }
        // ns(5): m = 3, so 0..3 take 2 bits and 3..5 take 3 bits.
        let mut out = Vec::new();
        BitWriter::new(&mut out).ns(5, 4);
        assert_eq!(out, [0b1110_0000]);
    }
}
