//! The RDB primitives read from any byte source: lengths (6/14/32/64-bit), strings (raw,
//! integer-encoded, LZF), scores and millisecond times. [`Source`] is implemented by a
//! slice cursor (DUMP payloads) and by the file reader, so one decoder serves both.

use super::error::{RdbError, RdbResult};
use super::lzf;

/// Bytes read per step while a long string arrives: a length read from the input never
/// sizes an allocation by itself.
const STEP: usize = 1 << 20;

/// A byte source the decoders read from.
pub trait Source {
    /// Exactly `n` bytes, or an error if the input ends first.
    fn bytes(&mut self, n: usize) -> RdbResult<Vec<u8>>;

    fn byte(&mut self) -> RdbResult<u8> {
        Ok(self.bytes(1)?[0])
    }
}

/// A cursor over an in-memory payload.
pub struct SliceSource<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> SliceSource<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        SliceSource { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

impl Source for SliceSource<'_> {
    fn bytes(&mut self, n: usize) -> RdbResult<Vec<u8>> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| RdbError::corrupt("payload ends early"))?;
        let out = self.data[self.pos..end].to_vec();
        self.pos = end;
        Ok(out)
    }
}

/// Reads `n` bytes from a source that may hold fewer: grown step by step.
pub fn read_exact_stepwise(
    read: &mut dyn FnMut(&mut [u8]) -> RdbResult<()>,
    n: usize,
) -> RdbResult<Vec<u8>> {
    let mut out = Vec::with_capacity(n.min(STEP));
    while out.len() < n {
        let step = (n - out.len()).min(STEP);
        let at = out.len();
        out.resize(at + step, 0);
        read(&mut out[at..])?;
    }
    Ok(out)
}

/// A length, or the special-encoding marker of a string.
pub enum Length {
    Plain(u64),
    Encoded(u8),
}

pub fn length_or_encoding(src: &mut dyn Source) -> RdbResult<Length> {
    let first = src.byte()?;
    Ok(match first >> 6 {
        0 => Length::Plain(u64::from(first & 0x3f)),
        1 => Length::Plain((u64::from(first & 0x3f) << 8) | u64::from(src.byte()?)),
        2 => match first {
            0x80 => {
                let b = src.bytes(4)?;
                Length::Plain(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
            }
            0x81 => {
                let b = src.bytes(8)?;
                let mut w = [0u8; 8];
                w.copy_from_slice(&b);
                Length::Plain(u64::from_be_bytes(w))
            }
            other => return Err(RdbError::corrupt(format!("length prefix {other:#x}"))),
        },
        _ => Length::Encoded(first & 0x3f),
    })
}

pub fn length(src: &mut dyn Source) -> RdbResult<u64> {
    match length_or_encoding(src)? {
        Length::Plain(n) => Ok(n),
        Length::Encoded(_) => Err(RdbError::corrupt("encoded value where a length belongs")),
    }
}

/// A length used as a size in memory.
pub fn size(src: &mut dyn Source) -> RdbResult<usize> {
    usize::try_from(length(src)?).map_err(|_| RdbError::corrupt("length too large"))
}

pub fn string(src: &mut dyn Source) -> RdbResult<Vec<u8>> {
    match length_or_encoding(src)? {
        Length::Plain(n) => {
            let n = usize::try_from(n).map_err(|_| RdbError::corrupt("string length"))?;
            src.bytes(n)
        }
        Length::Encoded(0) => Ok((src.byte()? as i8).to_string().into_bytes()),
        Length::Encoded(1) => {
            let b = src.bytes(2)?;
            Ok(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
        }
        Length::Encoded(2) => {
            let b = src.bytes(4)?;
            Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                .to_string()
                .into_bytes())
        }
        Length::Encoded(3) => {
            let compressed = size(src)?;
            let expanded = size(src)?;
            let data = src.bytes(compressed)?;
            lzf::decompress(&data, expanded)
        }
        Length::Encoded(other) => Err(RdbError::corrupt(format!("string encoding {other}"))),
    }
}

/// RDB_TYPE_ZSET's scores: a length byte then ASCII, with 253/254/255 for nan/+inf/-inf.
pub fn text_double(src: &mut dyn Source) -> RdbResult<f64> {
    let len = src.byte()?;
    match len {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => {
            let text = src.bytes(n as usize)?;
            std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .ok_or_else(|| RdbError::corrupt("zset score"))
        }
    }
}

pub fn binary_double(src: &mut dyn Source) -> RdbResult<f64> {
    let b = src.bytes(8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(&b);
    Ok(f64::from_le_bytes(w))
}

pub fn u64_le(src: &mut dyn Source) -> RdbResult<u64> {
    let b = src.bytes(8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(&b);
    Ok(u64::from_le_bytes(w))
}

pub fn u32_le(src: &mut dyn Source) -> RdbResult<u32> {
    let b = src.bytes(4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
