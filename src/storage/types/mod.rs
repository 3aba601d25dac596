//! Typed value semantics (one file per Redis type). Pure storage: no RESP, no argument
//! parsing. Each operation reads the key's meta record, enforces its type (`WRONGTYPE`), and
//! stages one write set.

pub mod bitmap;
pub mod chunked;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod list;
pub mod set;
pub mod stream;
pub mod string;
pub mod zset;
