//! A reader that turns fuzz input into choices. It never fails: past the
//! end every read is zero, so each input decodes to one operation sequence.

/// Reads numbers and slices off the front of the fuzz input.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// Read from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    /// `N` bytes.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        for b in &mut a {
            *b = self.u8();
        }
        a
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A slice whose length comes first, as one byte, below `max`.
    pub fn short_slice(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.u8()) % max.max(1);
        self.take(n)
    }

    /// A slice whose length comes first, as two bytes, below `max`.
    pub fn slice(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.u16()) % max.max(1);
        self.take(n)
    }

    /// An index below `len` (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        usize::from(self.u8()) % len.max(1)
    }

    /// One of `items`, if there are any.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let i = self.index(items.len());
        items.get(i).copied()
    }
}
