//! Bitmap operations on string values (bitmaps are strings, exactly as in Redis: `SETBIT`
//! on a value written by `SET` works and `GET` returns the bytes). Bit 0 is the most
//! significant bit of byte 0. Values are whole strings for now; chunked storage of long
//! strings (so a far `SETBIT` does not rewrite the value) is a planned refinement.

use crate::error::StoreResult;
use crate::storage::Storage;

/// The bit at `offset` of `value` (0 past the end).
pub fn bit_at(value: &[u8], offset: u64) -> u8 {
    let byte = (offset / 8) as usize;
    value.get(byte).map_or(0, |b| (b >> (7 - (offset % 8))) & 1)
}

/// Counts set bits in `value[range]` of bytes.
pub fn popcount(bytes: &[u8]) -> u64 {
    bytes.iter().map(|b| u64::from(b.count_ones())).sum()
}

impl Storage {
    /// `SETBIT`: sets the bit and returns its previous value; the TTL is kept.
    pub fn setbit(
        &self,
        db: usize,
        key: &[u8],
        offset: u64,
        on: bool,
        max_len: usize,
    ) -> StoreResult<u8> {
        let mut previous = 0;
        self.edit_string(db, key, max_len, |current| {
            let mut v = current.unwrap_or_default();
            let byte = (offset / 8) as usize;
            if v.len() <= byte {
                v.resize(byte + 1, 0);
            }
            let mask = 1u8 << (7 - (offset % 8));
            previous = u8::from(v[byte] & mask != 0);
            if on {
                v[byte] |= mask;
            } else {
                v[byte] &= !mask;
            }
            Ok(v)
        })?;
        Ok(previous)
    }
}

/// Which bitwise operation `BITOP` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// `BITOP` over source values (missing keys are empty strings, zero-padded to the longest).
pub fn bitop(op: BitOp, sources: &[Vec<u8>]) -> Vec<u8> {
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    for (i, slot) in out.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *slot = match op {
            BitOp::Not => !byte(&sources[0]),
            BitOp::And => sources.iter().map(byte).fold(0xFF, |a, b| a & b),
            BitOp::Or => sources.iter().map(byte).fold(0, |a, b| a | b),
            BitOp::Xor => sources.iter().map(byte).fold(0, |a, b| a ^ b),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_msb_first() {
        assert_eq!(bit_at(&[0b1000_0000], 0), 1);
        assert_eq!(bit_at(&[0b0000_0001], 7), 1);
        assert_eq!(bit_at(&[0xFF], 8), 0);
        assert_eq!(
            bitop(BitOp::And, &[vec![0xF0, 0xFF], vec![0x3C]]),
            vec![0x30, 0x00]
        );
        assert_eq!(bitop(BitOp::Not, &[vec![0x0F]]), vec![0xF0]);
    }
}
