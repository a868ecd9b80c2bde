//! The pieces binary encodings share: varints (LEB128), zigzag for signed deltas, flags eight
//! to a byte, and a reader that never reads past its input.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    /// The input ended inside the named part.
    Truncated(&'static str),
    /// A varint of the named part ran past 64 bits.
    BadVarint(&'static str),
}

pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

pub(crate) fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Flags, eight to a byte, the first in the lowest bit.
pub(crate) fn write_bits(out: &mut Vec<u8>, flags: &[bool]) {
    for chunk in flags.chunks(8) {
        let byte = chunk
            .iter()
            .enumerate()
            .fold(0u8, |acc, (bit, &on)| acc | (u8::from(on) << bit));
        out.push(byte);
    }
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub(crate) fn take(
        &mut self,
        length: usize,
        part: &'static str,
    ) -> Result<&'a [u8], WireError> {
        let end = self
            .at
            .checked_add(length)
            .ok_or(WireError::Truncated(part))?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or(WireError::Truncated(part))?;
        self.at = end;
        Ok(slice)
    }

    pub(crate) fn byte(&mut self, part: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, part)?[0])
    }

    pub(crate) fn varint(&mut self, part: &'static str) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte(part)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(WireError::BadVarint(part));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::BadVarint(part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_read_back_at_the_edges() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(Reader::new(&out).varint("v"), Ok(value));
        }
        for value in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
        // Eleven continuation bytes, or a tenth byte above one bit, are not a u64.
        assert_eq!(
            Reader::new(&[0xff; 11]).varint("v"),
            Err(WireError::BadVarint("v"))
        );
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(
            Reader::new(&too_big).varint("v"),
            Err(WireError::BadVarint("v"))
        );
        assert_eq!(
            Reader::new(&[0x80]).varint("v"),
            Err(WireError::Truncated("v"))
        );
    }
}
