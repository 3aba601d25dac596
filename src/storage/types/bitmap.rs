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
        let mask = 1u8 << (7 - (offset % 8));
        self.patch_string(db, key, offset / 8, 1, max_len, |byte| {
            previous = u8::from(byte[0] & mask != 0);
            if on {
                byte[0] |= mask;
            } else {
                byte[0] &= !mask;
            }
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

/// Reads `bits` bits at bit `offset` as an unsigned number (bits past the end read 0).
pub fn get_unsigned(value: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |acc, i| {
        (acc << 1) | u64::from(bit_at(value, offset + i))
    })
}

/// Reads `bits` bits at bit `offset` as a two's-complement signed number.
pub fn get_signed(value: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(value, offset, bits);
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `offset`, growing `value` as needed.
pub fn set_bits(value: &mut Vec<u8>, offset: u64, bits: u32, v: u64) {
    let last_byte = ((offset + u64::from(bits) - 1) / 8) as usize;
    if value.len() <= last_byte {
        value.resize(last_byte + 1, 0);
    }
    for i in 0..u64::from(bits) {
        let bit = (v >> (u64::from(bits) - 1 - i)) & 1;
        let pos = offset + i;
        let mask = 1u8 << (7 - (pos % 8));
        if bit == 1 {
            value[(pos / 8) as usize] |= mask;
        } else {
            value[(pos / 8) as usize] &= !mask;
        }
    }
}

/// `BITFIELD` overflow behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// Redis's unsigned overflow rule for `value + incr` in `bits` bits: `Some(result)`, or
/// `None` when FAIL applies.
pub fn unsigned_result(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > max_incr) {
        return match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        };
    }
    if incr < 0 && incr < min_incr {
        return match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(0),
            Overflow::Fail => None,
        };
    }
    Some(value.wrapping_add(incr as u64))
}

/// Redis's signed overflow rule for `value + incr` in `bits` bits.
pub fn signed_result(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = max.wrapping_sub(value);
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            return c as i64;
        }
        let high = u64::MAX << bits;
        (if c & (1 << (bits - 1)) != 0 {
            c | high
        } else {
            c & !high
        }) as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        return match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        };
    }
    if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr)
    {
        return match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(min),
            Overflow::Fail => None,
        };
    }
    Some(value.wrapping_add(incr))
}
