//! Redis's RDB serialization, as a format library: the value model ([`Value`]), `DUMP`
//! payloads ([`dump_payload`], [`restore_payload`]), and streaming whole-file reading and
//! writing ([`RdbReader`], [`RdbWriter`]) for `import-rdb`/`export-rdb`, `SYNC` and the
//! full sync from a real `redis-server`.
//!
//! Reading accepts every encoding Redis 6.x–7.2 writes (and 7.4's RDB version 12 where
//! it uses them); writing emits only what `redis-server` 7.0 (RDB version 10) reads, so
//! Strata's payloads and files load there. Written by hand because no crate implements
//! Redis's RDB with its ziplist/listpack/intset/stream encodings.
//!
//! Invariants: nothing here panics on hostile bytes (RESTORE payloads come from clients):
//! every read is bounds-checked, arithmetic is checked, and no allocation is sized by a
//! length read from the input before the bytes are there. Depends on nothing else in
//! Strata (no storage, no RESP).

mod blob;
mod crc;
pub mod dump;
pub mod error;
mod input;
mod lzf;
pub mod reader;
mod types;
pub mod value;
pub mod writer;

pub use dump::{dump_payload, restore_payload, DUMP_VERSION};
pub use error::RdbError;
pub use reader::{Item, RdbReader};
pub use value::{StreamConsumer, StreamGroup, StreamId, StreamPending, StreamValue, Value};
pub use writer::RdbWriter;
