//! LZF decompression, for strings Redis saved compressed (`rdbcompression yes`). Written
//! by hand: the format is a dozen lines and the one crate for it wraps C. Strata writes
//! strings uncompressed, which every Redis reads.

use super::error::{RdbError, RdbResult};

/// Expands `input` into exactly `expected` bytes.
pub fn decompress(input: &[u8], expected: usize) -> RdbResult<Vec<u8>> {
    let bad = || RdbError::corrupt("LZF data");
    // `expected` came from the input: the output may not outgrow what LZF can produce
    // from this many bytes (at most 264 output bytes per 2 input bytes, plus literals).
    if expected > input.len().saturating_mul(133).saturating_add(64) {
        return Err(bad());
    }
    // Grown as output is produced: the claimed size only bounds it.
    let mut out: Vec<u8> = Vec::with_capacity(expected.min(input.len().saturating_mul(4)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let len = ctrl + 1;
            let literal = input.get(i..i + len).ok_or_else(bad)?;
            out.extend_from_slice(literal);
            i += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i).ok_or_else(bad)? as usize;
                i += 1;
            }
            len += 2;
            let low = *input.get(i).ok_or_else(bad)? as usize;
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back).ok_or_else(bad)?;
            for k in 0..len {
                let byte = out[start + k];
                out.push(byte);
            }
        }
        if out.len() > expected {
            return Err(bad());
        }
    }
    if out.len() != expected {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_back_references() {
        // "abcabcabc": literal "abc" then a back-reference of length 6 at distance 3.
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 9).unwrap(), b"abcabcabc");
        assert!(decompress(&data, 10).is_err());
        assert!(decompress(&[0xe0, 0xff, 0x00], 300).is_err());
    }
}
