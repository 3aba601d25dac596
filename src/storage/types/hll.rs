//! HyperLogLog in Redis's own string representation, so a value read with `GET` from Redis
//! and written with `SET` into Strata (or back) counts the same.
//!
//! Format (Redis 7): a 16-byte header — `HYLL`, the encoding (0 dense, 1 sparse), three
//! unused bytes, the cached cardinality as 8 little-endian bytes whose top bit set means
//! "stale" — then 16384 registers of 6 bits. Dense packs them LSB-first in 12288 bytes;
//! sparse is a run-length code of ZERO (`00llllll`), XZERO (`01llllll llllllll`) and VAL
//! (`1vvvvvll`) opcodes. A sparse value is promoted to dense when a register exceeds 32 or
//! the value would outgrow `hll-sparse-max-bytes`. Elements are hashed with MurmurHash64A
//! (seed 0xadc83b19); the estimate is Ertl's improved estimator, as in Redis.
//!
//! Pure functions over byte strings plus the three storage operations; values that are not
//! valid HLLs give [`StoreError::InvalidHll`] / [`StoreError::CorruptHll`], never a panic.

use crate::error::{StoreError, StoreResult};
use crate::storage::encoding::{KeyType, Meta};
use crate::storage::{now_ms, Storage, WriteSet};

const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
const Q: u32 = 64 - P;
const HEADER: usize = 16;
const DENSE_SIZE: usize = HEADER + (REGISTERS * 6).div_ceil(8);
const REGISTER_MAX: u8 = 63;
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
const SPARSE_VAL_MAX: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u64 = 0xadc8_3b19;

/// MurmurHash64A, the hash Redis feeds its HLL with.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Register index and run length ("number of leading zeroes + 1") of an element.
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A fresh empty HLL: sparse, one XZERO run over every register, cached cardinality 0.
pub fn empty() -> Vec<u8> {
    let mut v = header(ENC_SPARSE);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(SPARSE_XZERO_MAX_LEN);
        push_xzero(&mut v, run);
        left -= run;
    }
    v
}

fn header(encoding: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(DENSE_SIZE);
    v.extend_from_slice(b"HYLL");
    v.push(encoding);
    v.extend_from_slice(&[0; 11]);
    v
}

/// Checks what Redis's `isHLLObjectOrReply` checks.
pub fn validate(value: &[u8]) -> StoreResult<()> {
    let ok = value.len() >= HEADER
        && &value[..4] == b"HYLL"
        && value[4] <= ENC_SPARSE
        && (value[4] != ENC_DENSE || value.len() == DENSE_SIZE);
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidHll)
    }
}

pub fn is_sparse(value: &[u8]) -> bool {
    value[4] == ENC_SPARSE
}

fn invalidate_cache(value: &mut [u8]) {
    value[15] |= 0x80;
}

fn cached(value: &[u8]) -> Option<u64> {
    (value[15] & 0x80 == 0).then(|| u64::from_le_bytes(value[8..16].try_into().unwrap_or([0; 8])))
}

fn dense_get(registers: &[u8], index: usize) -> u8 {
    let bit = index * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = u16::from(registers[byte]);
    let high = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((low | (high << 8)) >> shift) as u8) & REGISTER_MAX
}

fn dense_set(registers: &mut [u8], index: usize, value: u8) {
    let bit = index * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    registers[byte] &= !(REGISTER_MAX << shift);
    registers[byte] |= value << shift;
    if shift > 2 {
        let spill = 8 - shift;
        registers[byte + 1] &= !(REGISTER_MAX >> spill);
        registers[byte + 1] |= value >> spill;
    }
}

/// One decoded sparse opcode.
#[derive(Clone, Copy)]
enum Op {
    Zero(usize),
    Val(u8, usize),
}

fn decode_op(bytes: &[u8]) -> Option<(Op, usize)> {
    let b = *bytes.first()?;
    Some(match b >> 6 {
        0 => (Op::Zero(usize::from(b & 0x3f) + 1), 1),
        1 => {
            let low = usize::from(*bytes.get(1)?);
            (Op::Zero(((usize::from(b & 0x3f) << 8) | low) + 1), 2)
        }
        _ => (Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 0x3) + 1), 1),
    })
}

fn push_zero(out: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push(0x40 | ((l >> 8) as u8 & 0x3f));
    out.push((l & 0xff) as u8);
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

/// Every register of `value` (dense or sparse) as one byte each; `CorruptHll` if a sparse
/// value does not cover exactly 16384 registers.
pub fn registers(value: &[u8]) -> StoreResult<Vec<u8>> {
    let mut out = vec![0u8; REGISTERS];
    merge_into(&mut out, value)?;
    Ok(out)
}

/// `max[i] = max(max[i], register i of value)`.
pub fn merge_into(max: &mut [u8], value: &[u8]) -> StoreResult<()> {
    let body = &value[HEADER..];
    if !is_sparse(value) {
        for (i, slot) in max.iter_mut().enumerate() {
            *slot = (*slot).max(dense_get(body, i));
        }
        return Ok(());
    }
    let mut index = 0usize;
    let mut pos = 0;
    while pos < body.len() {
        let (op, width) = decode_op(&body[pos..]).ok_or(StoreError::CorruptHll)?;
        pos += width;
        match op {
            Op::Zero(len) => index += len,
            Op::Val(v, len) => {
                if index + len > REGISTERS {
                    return Err(StoreError::CorruptHll);
                }
                for slot in &mut max[index..index + len] {
                    *slot = (*slot).max(v);
                }
                index += len;
            }
        }
    }
    if index != REGISTERS {
        return Err(StoreError::CorruptHll);
    }
    Ok(())
}

/// Rewrites a sparse value as dense (header kept, cache invalidated).
fn to_dense(value: &[u8]) -> StoreResult<Vec<u8>> {
    if !is_sparse(value) {
        return Ok(value.to_vec());
    }
    let regs = registers(value)?;
    let mut out = value[..HEADER].to_vec();
    out[4] = ENC_DENSE;
    out.resize(DENSE_SIZE, 0);
    for (i, &r) in regs.iter().enumerate() {
        if r != 0 {
            dense_set(&mut out[HEADER..], i, r);
        }
    }
    Ok(out)
}

/// Raises register `index` to `count` if lower; true if it changed. May promote a sparse
/// value to dense (then it always changed, as in Redis).
pub fn set_register(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> StoreResult<bool> {
    if is_sparse(value) {
        match sparse_set(value, index, count, sparse_max)? {
            Some(changed) => return Ok(changed),
            None => *value = to_dense(value)?,
        }
    }
    let regs = &mut value[HEADER..];
    if dense_get(regs, index) >= count {
        return Ok(false);
    }
    dense_set(regs, index, count);
    Ok(true)
}

/// The sparse update of Redis's `hllSparseSet`: find the opcode covering `index`, split it
/// around the new VAL, then merge equal neighbouring VALs. `None` asks for promotion.
fn sparse_set(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> StoreResult<Option<bool>> {
    if count > SPARSE_VAL_MAX {
        return Ok(None);
    }
    // Locate the opcode covering `index`: its offset, first register, and the previous one.
    let mut pos = HEADER;
    let mut first = 0usize;
    let mut prev = None;
    let (op, width) = loop {
        let (op, width) = decode_op(&value[pos..]).ok_or(StoreError::CorruptHll)?;
        let span = match op {
            Op::Zero(l) | Op::Val(_, l) => l,
        };
        if index < first + span {
            break (op, width);
        }
        prev = Some(pos);
        pos += width;
        first += span;
        if pos >= value.len() {
            return Err(StoreError::CorruptHll);
        }
    };
    let (span, current) = match op {
        Op::Zero(l) => (l, 0),
        Op::Val(v, l) => (l, v),
    };
    if current >= count {
        return Ok(Some(false));
    }
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Zero(_) => {
            if index != first {
                push_zero(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zero(&mut seq, last - index);
            }
        }
        Op::Val(v, _) => {
            if index != first {
                seq.push(val_byte(v, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(v, last - index));
            }
        }
    }
    if seq.len() > width && value.len() + seq.len() - width > sparse_max {
        return Ok(None);
    }
    value.splice(pos..pos + width, seq);
    merge_adjacent_vals(value, prev.unwrap_or(HEADER));
    invalidate_cache(value);
    Ok(Some(true))
}

/// Merges runs of equal VAL opcodes among the (up to) five opcodes from `start`.
fn merge_adjacent_vals(value: &mut Vec<u8>, start: usize) {
    let mut pos = start;
    let mut budget = 5;
    while pos < value.len() && budget > 0 {
        budget -= 1;
        let Some((op, width)) = decode_op(&value[pos..]) else {
            return;
        };
        let Op::Val(v1, l1) = op else {
            pos += width;
            continue;
        };
        if let Some((Op::Val(v2, l2), _)) = value.get(pos + 1..).and_then(decode_op) {
            if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                value[pos + 1] = val_byte(v1, l1 + l2);
                value.remove(pos);
                continue;
            }
        }
        pos += 1;
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// Cardinality estimate from one byte per register.
pub fn estimate(registers: &[u8]) -> u64 {
    let mut histogram = [0u32; 64];
    for &r in registers {
        histogram[usize::from(r & 63)] += 1;
    }
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Adds elements; true if any register changed.
pub fn add_all(value: &mut Vec<u8>, elements: &[&[u8]], sparse_max: usize) -> StoreResult<bool> {
    let mut changed = false;
    for element in elements {
        let (index, count) = pattern(element);
        changed |= set_register(value, index, count, sparse_max)?;
    }
    if changed {
        invalidate_cache(value);
    }
    Ok(changed)
}

/// Writes `registers` into `value` (kept sparse when every register fits, like Redis's
/// PFMERGE into a sparse destination).
pub fn store_registers(
    value: &mut Vec<u8>,
    registers: &[u8],
    dense: bool,
    sparse_max: usize,
) -> StoreResult<()> {
    if dense {
        *value = to_dense(value)?;
    }
    for (i, &r) in registers.iter().enumerate() {
        if r != 0 {
            set_register(value, i, r, sparse_max)?;
        }
    }
    invalidate_cache(value);
    Ok(())
}

/// `PFDEBUG DECODE`'s text: the sparse opcodes as `z:len`, `Z:len`, `v:value,len`.
pub fn describe_sparse(value: &[u8]) -> StoreResult<String> {
    let mut parts = Vec::new();
    let mut pos = HEADER;
    while pos < value.len() {
        let (op, width) = decode_op(&value[pos..]).ok_or(StoreError::CorruptHll)?;
        parts.push(match op {
            Op::Zero(l) if width == 1 => format!("z:{l}"),
            Op::Zero(l) => format!("Z:{l}"),
            Op::Val(v, l) => format!("v:{v},{l}"),
        });
        pos += width;
    }
    Ok(parts.join(" "))
}

/// The live string at `key` checked to be an HLL (`None` if missing).
fn hll_value(
    storage: &Storage,
    db: usize,
    key: &[u8],
) -> StoreResult<(Option<Meta>, Option<Vec<u8>>)> {
    let raw = storage.raw_meta(db, key)?;
    let live = raw.as_ref().filter(|m| !m.is_expired(now_ms()));
    match live {
        None => Ok((raw, None)),
        Some(m) if m.kind != KeyType::String => Err(StoreError::WrongType),
        Some(m) => {
            validate(&m.body)?;
            let value = m.body.clone();
            Ok((raw, Some(value)))
        }
    }
}

impl Storage {
    /// `PFADD`: true if the key was created or a register changed.
    pub fn pfadd(
        &self,
        db: usize,
        key: &[u8],
        elements: &[&[u8]],
        sparse_max: usize,
    ) -> StoreResult<bool> {
        let (raw, current) = hll_value(self, db, key)?;
        let created = current.is_none();
        let mut value = current.unwrap_or_else(empty);
        let changed = add_all(&mut value, elements, sparse_max)?;
        if created {
            invalidate_cache(&mut value);
        }
        if created || changed {
            self.put_hll(db, key, raw.as_ref(), value)?;
        }
        Ok(created || changed)
    }

    /// `PFCOUNT`: one key answers from (and refreshes) the cached cardinality; several keys
    /// count their union.
    pub fn pfcount(&self, db: usize, keys: &[&[u8]]) -> StoreResult<u64> {
        if let [key] = keys {
            let (raw, current) = hll_value(self, db, key)?;
            let Some(mut value) = current else {
                return Ok(0);
            };
            if let Some(card) = cached(&value) {
                return Ok(card);
            }
            let card = estimate(&registers(&value)?);
            value[8..16].copy_from_slice(&card.to_le_bytes());
            self.put_hll(db, key, raw.as_ref(), value)?;
            return Ok(card);
        }
        let mut max = vec![0u8; REGISTERS];
        for key in keys {
            if let (_, Some(value)) = hll_value(self, db, key)? {
                merge_into(&mut max, &value)?;
            }
        }
        Ok(estimate(&max))
    }

    /// `PFMERGE`: the union of `dest` and `sources` into `dest`.
    pub fn pfmerge(
        &self,
        db: usize,
        dest: &[u8],
        sources: &[&[u8]],
        sparse_max: usize,
    ) -> StoreResult<()> {
        let mut max = vec![0u8; REGISTERS];
        let mut dense = false;
        for key in std::iter::once(&dest).chain(sources) {
            if let (_, Some(value)) = hll_value(self, db, key)? {
                dense |= !is_sparse(&value);
                merge_into(&mut max, &value)?;
            }
        }
        let (raw, current) = hll_value(self, db, dest)?;
        let mut value = current.unwrap_or_else(empty);
        store_registers(&mut value, &max, dense, sparse_max)?;
        self.put_hll(db, dest, raw.as_ref(), value)
    }

    /// The HLL at `key` as dense (`PFDEBUG TODENSE/GETREG`); true if it was converted.
    pub fn pf_to_dense(&self, db: usize, key: &[u8]) -> StoreResult<Option<(Vec<u8>, bool)>> {
        let (raw, current) = hll_value(self, db, key)?;
        let Some(value) = current else {
            return Ok(None);
        };
        if !is_sparse(&value) {
            return Ok(Some((value, false)));
        }
        let dense = to_dense(&value)?;
        self.put_hll(db, key, raw.as_ref(), dense.clone())?;
        Ok(Some((dense, true)))
    }

    /// The validated HLL at `key` as stored (`PFDEBUG ENCODING/DECODE`).
    pub fn pf_value(&self, db: usize, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(hll_value(self, db, key)?.1)
    }

    fn put_hll(
        &self,
        db: usize,
        key: &[u8],
        raw: Option<&Meta>,
        value: Vec<u8>,
    ) -> StoreResult<()> {
        let expire_ms = raw
            .filter(|m| !m.is_expired(now_ms()))
            .map_or(0, |m| m.expire_ms);
        let new = Meta {
            chunked: false,
            kind: KeyType::String,
            expire_ms,
            body: value,
        };
        let mut ws = WriteSet::default();
        self.stage_put(&mut ws, db, key, raw, &new);
        self.commit(ws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_places_known_elements_in_known_registers() {
        // `PFADD h a b c` then `PFDEBUG DECODE h` on redis-server 7.0 prints
        // "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603".
        let mut v = empty();
        add_all(&mut v, &[b"a", b"b", b"c"], 3000).unwrap();
        assert_eq!(
            describe_sparse(&v).unwrap(),
            "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        );
    }

    #[test]
    fn empty_hll_is_redis_bytes() {
        let v = empty();
        assert_eq!(&v[..5], b"HYLL\x01");
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert_eq!(estimate(&registers(&v).unwrap()), 0);
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HEADER];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = empty();
        let mut dense = to_dense(&empty()).unwrap();
        for i in 0..2000u32 {
            let e = i.to_string();
            add_all(&mut sparse, &[e.as_bytes()], usize::MAX).unwrap();
            add_all(&mut dense, &[e.as_bytes()], usize::MAX).unwrap();
        }
        assert!(is_sparse(&sparse));
        assert_eq!(registers(&sparse).unwrap(), registers(&dense).unwrap());
        let n = estimate(&registers(&sparse).unwrap());
        assert!((1960..=2040).contains(&n), "{n}");
    }

    #[test]
    fn corrupt_sparse_is_an_error_not_a_panic() {
        let mut v = empty();
        v.truncate(17);
        assert!(registers(&v).is_err());
        assert!(add_all(&mut v, &[b"x"], 3000).is_err());
        let mut long = empty();
        long.extend_from_slice(&[0xff; 10]);
        assert!(registers(&long).is_err());
        assert!(validate(b"HYLL\x00short").is_err());
    }
}
