//! Long strings in fixed-size chunks, so `SETBIT`/`SETRANGE`/`APPEND` on a big value write
//! one chunk instead of the whole value.
//!
//! A string longer than [`INLINE_MAX`] is kept as a chunked meta record (encoding nibble 1,
//! body `[version u64][len u64]`) plus chunk `i` = bytes `[i*CHUNK, (i+1)*CHUNK)` under
//! `data` sub-key `[i u64 BE]` of that version. A chunk may be stored shorter than its span
//! or not at all: the missing bytes are zeros, so a bitmap with one bit set at 2^32-1 costs
//! one chunk. Like a collection, the value's identity is its version: overwriting or
//! deleting it touches only the meta record and compaction reclaims the old chunks.
//!
//! Shorter strings stay inline in the meta record (the hot path for GET/SET is unchanged).

use crate::error::{StoreError, StoreResult};
use crate::storage::encoding::{KeyType, Meta};
use crate::storage::engine::Cf;
use crate::storage::{now_ms, Storage, WriteSet};

/// Bytes per chunk.
pub const CHUNK: u64 = 4096;
/// Longest string kept inline in its meta record.
pub const INLINE_MAX: usize = 64 * 1024;

fn chunk_sub(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// `(version, len)` of a chunked string's meta.
fn chunked_header(meta: &Meta) -> StoreResult<(u64, u64)> {
    let word = |i: usize| {
        meta.body
            .get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Corrupt("chunked string meta shorter than 16 bytes".into()))
    };
    Ok((word(0)?, word(8)?))
}

fn chunked_meta(version: u64, len: u64, expire_ms: u64) -> Meta {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&len.to_be_bytes());
    Meta {
        kind: KeyType::String,
        expire_ms,
        body,
        chunked: true,
    }
}

/// The length of a string whose meta is `meta`.
pub fn string_len(meta: &Meta) -> StoreResult<u64> {
    if meta.chunked {
        Ok(chunked_header(meta)?.1)
    } else {
        Ok(meta.body.len() as u64)
    }
}

impl Storage {
    /// Bytes `[start, start + len)` of the string `meta` (clamped to its length).
    pub fn string_slice(
        &self,
        db: usize,
        key: &[u8],
        meta: &Meta,
        start: u64,
        len: u64,
    ) -> StoreResult<Vec<u8>> {
        if !meta.chunked {
            let body = &meta.body;
            let s = (start as usize).min(body.len());
            let e = (start.saturating_add(len) as usize).min(body.len());
            return Ok(body[s..e].to_vec());
        }
        let (version, total) = chunked_header(meta)?;
        let end = start.saturating_add(len).min(total);
        if start >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - start) as usize];
        let (first, last) = (start / CHUNK, (end - 1) / CHUNK);
        self.sub_scan(
            Cf::Data,
            db,
            key,
            version,
            &chunk_sub(first),
            |sub, bytes| {
                let Ok(index) = <[u8; 8]>::try_from(sub).map(u64::from_be_bytes) else {
                    return true;
                };
                if index > last {
                    return false;
                }
                let chunk_start = index * CHUNK;
                let from = start.max(chunk_start);
                let to = end.min(chunk_start + bytes.len() as u64);
                if from < to {
                    let src = &bytes[(from - chunk_start) as usize..(to - chunk_start) as usize];
                    out[(from - start) as usize..(to - start) as usize].copy_from_slice(src);
                }
                true
            },
        )?;
        Ok(out)
    }

    /// The whole value of the string `meta`.
    pub fn string_bytes(&self, db: usize, key: &[u8], meta: Meta) -> StoreResult<Vec<u8>> {
        if !meta.chunked {
            return Ok(meta.body);
        }
        let len = string_len(&meta)?;
        self.string_slice(db, key, &meta, 0, len)
    }

    /// Stages `value` as the string at `key` (replacing the physical record `old`), inline
    /// or chunked by its length; returns the meta written.
    pub fn stage_string(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        old: Option<&Meta>,
        expire_ms: u64,
        value: Vec<u8>,
    ) -> StoreResult<Meta> {
        let new = if value.len() <= INLINE_MAX {
            Meta {
                kind: KeyType::String,
                expire_ms,
                body: value,
                chunked: false,
            }
        } else {
            let version = self.next_version()?;
            for (i, chunk) in value.chunks(CHUNK as usize).enumerate() {
                if chunk.iter().any(|&b| b != 0) {
                    self.stage_sub_put(ws, Cf::Data, db, key, version, &chunk_sub(i as u64), chunk);
                }
            }
            chunked_meta(version, value.len() as u64, expire_ms)
        };
        self.stage_put(ws, db, key, old, &new);
        Ok(new)
    }

    /// Rewrites bytes `[offset, offset + len)` of the string at `key` (created empty if
    /// missing, zero-padded if short) with `edit`, which sees the current bytes of that
    /// range. The TTL is kept. A chunked string (or one growing past [`INLINE_MAX`]) only
    /// has the chunks under the range written. Returns the new length.
    pub fn patch_string(
        &self,
        db: usize,
        key: &[u8],
        offset: u64,
        len: u64,
        max_len: usize,
        edit: impl FnOnce(&mut [u8]),
    ) -> StoreResult<u64> {
        let raw = self.raw_meta(db, key)?;
        let live = raw.as_ref().filter(|m| !m.is_expired(now_ms()));
        if live.is_some_and(|m| m.kind != KeyType::String) {
            return Err(StoreError::WrongType);
        }
        let current_len = live.map_or(Ok(0), string_len)?;
        let end = offset.saturating_add(len);
        let new_len = current_len.max(end);
        if new_len > max_len as u64 {
            return Err(StoreError::StringTooLong);
        }
        let expire_ms = live.map_or(0, |m| m.expire_ms);
        let mut ws = WriteSet::default();
        let chunked_now = live.is_some_and(|m| m.chunked);
        if !chunked_now && new_len <= INLINE_MAX as u64 {
            let mut value = live.map(|m| m.body.clone()).unwrap_or_default();
            value.resize(new_len as usize, 0);
            edit(&mut value[offset as usize..end as usize]);
            self.stage_string(&mut ws, db, key, raw.as_ref(), expire_ms, value)?;
            self.commit(ws)?;
            return Ok(new_len);
        }
        let version = match live {
            Some(m) if m.chunked => chunked_header(m)?.0,
            _ => {
                // Growing past the inline limit: move the value into chunks once.
                let version = self.next_version()?;
                let inline = live.map(|m| m.body.as_slice()).unwrap_or_default();
                for (i, chunk) in inline.chunks(CHUNK as usize).enumerate() {
                    let index = i as u64;
                    let touched = index * CHUNK < end && offset < (index + 1) * CHUNK;
                    if !touched && chunk.iter().any(|&b| b != 0) {
                        self.stage_sub_put(
                            &mut ws,
                            Cf::Data,
                            db,
                            key,
                            version,
                            &chunk_sub(index),
                            chunk,
                        );
                    }
                }
                version
            }
        };
        // Current bytes of every chunk the range touches (inline values are read from the
        // record; chunked ones from the family).
        let (first, last) = (offset / CHUNK, (end.max(offset + 1) - 1) / CHUNK);
        let span_start = first * CHUNK;
        let span_end = ((last + 1) * CHUNK).min(new_len.max(end));
        let mut span = match live {
            Some(m) => self.string_slice(db, key, m, span_start, span_end - span_start)?,
            None => Vec::new(),
        };
        span.resize((span_end - span_start) as usize, 0);
        edit(&mut span[(offset - span_start) as usize..(end - span_start) as usize]);
        for index in first..=last {
            let from = (index * CHUNK - span_start) as usize;
            let to = (((index + 1) * CHUNK).min(span_end) - span_start) as usize;
            if from >= to {
                continue;
            }
            let bytes = &span[from..to];
            let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            if used == 0 {
                self.stage_sub_delete(&mut ws, Cf::Data, db, key, version, &chunk_sub(index));
            } else {
                self.stage_sub_put(
                    &mut ws,
                    Cf::Data,
                    db,
                    key,
                    version,
                    &chunk_sub(index),
                    &bytes[..used],
                );
            }
        }
        let meta = chunked_meta(version, new_len, expire_ms);
        self.stage_put(&mut ws, db, key, raw.as_ref(), &meta);
        self.commit(ws)?;
        Ok(new_len)
    }
}
