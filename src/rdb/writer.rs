//! Streaming RDB file writer: `REDIS0010`, auxiliary fields, function libraries, then per
//! database a `SELECTDB`/`RESIZEDB` header and its keys, then the end marker and the
//! CRC-64 of everything before it. What it writes loads in `redis-server` 7.0.

use std::io::Write;

use super::crc;
use super::error::RdbResult;
use super::types;
use super::value::Value;

pub struct RdbWriter<W: Write> {
    inner: W,
    digest: ::crc::Digest<'static, u64>,
    written: u64,
    scratch: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    pub fn new(inner: W) -> RdbResult<Self> {
        let mut writer = RdbWriter {
            inner,
            digest: crc::digest(),
            written: 0,
            scratch: Vec::new(),
        };
        let header = format!("REDIS{:04}", super::dump::DUMP_VERSION);
        writer.emit(header.as_bytes())?;
        Ok(writer)
    }

    fn emit(&mut self, bytes: &[u8]) -> RdbResult<()> {
        self.inner.write_all(bytes)?;
        self.digest.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn emit_scratch(&mut self) -> RdbResult<()> {
        let bytes = std::mem::take(&mut self.scratch);
        let done = self.emit(&bytes);
        self.scratch = bytes;
        self.scratch.clear();
        done
    }

    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> RdbResult<()> {
        self.scratch.push(250);
        types::put_string(&mut self.scratch, key);
        types::put_string(&mut self.scratch, value);
        self.emit_scratch()
    }

    pub fn select_db(&mut self, db: u64) -> RdbResult<()> {
        self.scratch.push(254);
        types::put_length(&mut self.scratch, db);
        self.emit_scratch()
    }

    pub fn resize_db(&mut self, keys: u64, expires: u64) -> RdbResult<()> {
        self.scratch.push(251);
        types::put_length(&mut self.scratch, keys);
        types::put_length(&mut self.scratch, expires);
        self.emit_scratch()
    }

    pub fn function(&mut self, code: &[u8]) -> RdbResult<()> {
        self.scratch.push(245);
        types::put_string(&mut self.scratch, code);
        self.emit_scratch()
    }

    pub fn key(&mut self, key: &[u8], expire_ms: Option<u64>, value: &Value) -> RdbResult<()> {
        if let Some(at) = expire_ms {
            self.scratch.push(252);
            self.scratch.extend(at.to_le_bytes());
        }
        self.scratch.push(types::type_byte(value));
        types::put_string(&mut self.scratch, key);
        types::encode(&mut self.scratch, value);
        self.emit_scratch()
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    pub fn finish(mut self) -> RdbResult<W> {
        self.emit(&[255])?;
        let sum = self.digest.clone().finalize();
        self.inner.write_all(&sum.to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::reader::{Item, RdbReader};

    #[test]
    fn files_round_trip_with_databases_expiry_and_functions() {
        let mut w = RdbWriter::new(Vec::new()).unwrap();
        w.aux(b"redis-ver", b"7.0.15").unwrap();
        w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            .unwrap();
        w.select_db(0).unwrap();
        w.resize_db(2, 1).unwrap();
        w.key(b"a", None, &Value::String(b"1".to_vec())).unwrap();
        w.key(b"b", Some(1234), &Value::List(vec![b"x".to_vec()]))
            .unwrap();
        w.select_db(15).unwrap();
        w.key(b"c", None, &Value::Set(vec![b"m".to_vec()])).unwrap();
        let mut bytes = w.finish().unwrap();
        bytes.extend_from_slice(b"TRAILER");
        let mut r = RdbReader::new(&bytes[..]).unwrap();
        let mut keys = Vec::new();
        let mut functions = 0;
        while let Some(item) = r.next_item().unwrap() {
            match item {
                Item::Key {
                    db, key, expire_ms, ..
                } => keys.push((db, key, expire_ms)),
                Item::Function(_) => functions += 1,
                _ => {}
            }
        }
        assert_eq!(functions, 1);
        assert_eq!(
            keys,
            vec![
                (0, b"a".to_vec(), None),
                (0, b"b".to_vec(), Some(1234)),
                (15, b"c".to_vec(), None)
            ]
        );
        let (_, leftover) = r.into_inner();
        assert_eq!(leftover, b"TRAILER");

        let mut corrupt = bytes.clone();
        let at = corrupt.len() - 12;
        corrupt[at] ^= 1;
        let mut r = RdbReader::new(&corrupt[..]).unwrap();
        let mut outcome = Ok(None);
        for _ in 0..20 {
            outcome = r.next_item();
            if !matches!(outcome, Ok(Some(_))) {
                break;
            }
        }
        assert!(outcome.is_err());
    }
}
