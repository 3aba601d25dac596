//! Streaming RDB file reader: the header, then one [`Item`] at a time (auxiliary fields,
//! database switches, keys with their expiry, function libraries), then the end marker
//! and the CRC-64 footer. Never reads past the footer, so the same socket can go on with a
//! replication stream: [`RdbReader::into_inner`] hands back bytes buffered beyond it.

use std::io::Read;

use super::crc;
use super::error::{RdbError, RdbResult};
use super::input::{self, Source};
use super::types;
use super::value::Value;

const OP_SLOT_INFO: u8 = 244;
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION_PRE_GA: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

/// Bytes read from the inner reader at a time.
const BUFFER: usize = 64 * 1024;

/// One thing an RDB file holds.
#[derive(Debug)]
pub enum Item {
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    SelectDb(u64),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    Key {
        db: u64,
        key: Vec<u8>,
        /// Absolute unix time in milliseconds.
        expire_ms: Option<u64>,
        idle_secs: Option<u64>,
        freq: Option<u8>,
        value: Value,
    },
    /// A function library's code (`FUNCTION LOAD` source).
    Function(Vec<u8>),
    ModuleAux,
}

/// The buffered input with the running checksum of every byte consumed.
struct Buffered<R: Read> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    consumed: u64,
    digest: ::crc::Digest<'static, u64>,
}

impl<R: Read> Buffered<R> {
    fn fill(&mut self) -> RdbResult<()> {
        if self.pos == self.buf.len() {
            self.buf.resize(BUFFER, 0);
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.clear();
                        self.pos = 0;
                        return Err(e.into());
                    }
                }
            };
            self.buf.truncate(n);
            self.pos = 0;
            if n == 0 {
                return Err(RdbError::corrupt("RDB ends early"));
            }
        }
        Ok(())
    }

    fn copy_into(&mut self, out: &mut [u8]) -> RdbResult<()> {
        let mut done = 0;
        while done < out.len() {
            self.fill()?;
            let n = (self.buf.len() - self.pos).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.digest.update(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
        }
        self.consumed += out.len() as u64;
        Ok(())
    }
}

impl<R: Read> Source for Buffered<R> {
    fn bytes(&mut self, n: usize) -> RdbResult<Vec<u8>> {
        input::read_exact_stepwise(&mut |chunk| self.copy_into(chunk), n)
    }
}

pub struct RdbReader<R: Read> {
    input: Buffered<R>,
    version: u32,
    db: u64,
    finished: bool,
}

impl<R: Read> RdbReader<R> {
    pub fn new(inner: R) -> RdbResult<Self> {
        let mut input = Buffered {
            inner,
            buf: Vec::new(),
            pos: 0,
            consumed: 0,
            digest: crc::digest(),
        };
        let header = input.bytes(9)?;
        if &header[..5] != b"REDIS" {
            return Err(RdbError::corrupt("not an RDB file (no REDIS header)"));
        }
        let version = std::str::from_utf8(&header[5..])
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| RdbError::corrupt("RDB version"))?;
        if !(1..=12).contains(&version) {
            return Err(RdbError::BadVersion(version));
        }
        Ok(RdbReader {
            input,
            version,
            db: 0,
            finished: false,
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn bytes_read(&self) -> u64 {
        self.input.consumed
    }

    /// The inner reader and the bytes read from it beyond what was consumed.
    pub fn into_inner(self) -> (R, Vec<u8>) {
        let leftover = self.input.buf[self.input.pos..].to_vec();
        (self.input.inner, leftover)
    }

    fn finish(&mut self) -> RdbResult<()> {
        self.finished = true;
        if self.version < 5 {
            return Ok(());
        }
        let expected = self.input.digest.clone().finalize();
        let footer = self.input.bytes(8)?;
        let mut stored = [0u8; 8];
        stored.copy_from_slice(&footer);
        let stored = u64::from_le_bytes(stored);
        // A zero footer means the writer had `rdbchecksum no`.
        if stored != 0 && stored != expected {
            return Err(RdbError::FileChecksum);
        }
        Ok(())
    }

    /// The next item; `None` after the end marker (and a verified checksum).
    pub fn next_item(&mut self) -> RdbResult<Option<Item>> {
        if self.finished {
            return Ok(None);
        }
        let mut expire_ms = None;
        let mut idle_secs = None;
        let mut freq = None;
        loop {
            let src: &mut dyn Source = &mut self.input;
            let op = src.byte()?;
            match op {
                OP_EOF => {
                    self.finish()?;
                    return Ok(None);
                }
                OP_SELECTDB => {
                    self.db = input::length(src)?;
                    return Ok(Some(Item::SelectDb(self.db)));
                }
                OP_RESIZEDB => {
                    let keys = input::length(src)?;
                    let expires = input::length(src)?;
                    return Ok(Some(Item::ResizeDb { keys, expires }));
                }
                OP_AUX => {
                    let key = input::string(src)?;
                    let value = input::string(src)?;
                    return Ok(Some(Item::Aux { key, value }));
                }
                OP_EXPIRETIME_MS => expire_ms = Some(input::u64_le(src)?),
                OP_EXPIRETIME => {
                    expire_ms = Some(u64::from(input::u32_le(src)?).saturating_mul(1000));
                }
                OP_IDLE => idle_secs = Some(input::length(src)?),
                OP_FREQ => freq = Some(src.byte()?),
                OP_SLOT_INFO => {
                    for _ in 0..3 {
                        input::length(src)?;
                    }
                }
                OP_FUNCTION2 => return Ok(Some(Item::Function(input::string(src)?))),
                OP_FUNCTION_PRE_GA => return Err(RdbError::UnsupportedType(op)),
                OP_MODULE_AUX => {
                    skip_module_aux(src)?;
                    return Ok(Some(Item::ModuleAux));
                }
                kind => {
                    let key = input::string(src)?;
                    let value = types::decode(kind, src)?;
                    return Ok(Some(Item::Key {
                        db: self.db,
                        key,
                        expire_ms,
                        idle_secs,
                        freq,
                        value,
                    }));
                }
            }
        }
    }
}

/// Skips a module's auxiliary data: its id, when-opcode and when, then opcode-framed
/// values until the module EOF opcode.
fn skip_module_aux(src: &mut dyn Source) -> RdbResult<()> {
    input::length(src)?;
    input::length(src)?;
    input::length(src)?;
    loop {
        match input::length(src)? {
            0 => return Ok(()),
            1 | 2 => {
                input::length(src)?;
            }
            3 => {
                src.bytes(4)?;
            }
            4 => {
                src.bytes(8)?;
            }
            5 => {
                input::string(src)?;
            }
            other => return Err(RdbError::corrupt(format!("module value opcode {other}"))),
        }
    }
}
