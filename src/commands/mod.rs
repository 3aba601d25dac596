//! Command layer: the command table, the single dispatch gate, and one file of handlers per
//! command family.
//!
//! Handlers receive a [`Ctx`] (shared server state + this client's state) and the full
//! argument vector (`args[0]` is the command name). They never re-check arity — the gate did —
//! and never touch RocksDB: they parse arguments, call `storage`, and build a [`Reply`].

pub mod bitmap;
pub mod connection;
pub mod dispatch;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod info;
pub mod key;
pub mod list;
pub mod memory;
pub mod persistence;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod txn;
pub mod zset;

use bytes::Bytes;

use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::num::{parse_f64, parse_i64};
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::Storage;

/// What a handler may see and change.
pub struct Ctx<'a> {
    pub state: &'a ServerState,
    pub client: &'a mut ClientState,
}

impl Ctx<'_> {
    pub fn storage(&self) -> &Storage {
        &self.state.storage
    }

    pub fn db(&self) -> usize {
        self.client.db
    }
}

/// A handler: full argument vector in, reply out.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult<Reply>;

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

pub fn arg_i64(arg: &[u8]) -> CmdResult<i64> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

pub fn arg_f64(arg: &[u8]) -> CmdResult<f64> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// Parses a logical database index and checks it against `databases`.
pub fn arg_db(ctx: &Ctx<'_>, arg: &[u8]) -> CmdResult<usize> {
    let n = arg_i64(arg)?;
    if n < 0 || n as usize >= ctx.storage().databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(n as usize)
}

/// Arguments as lossy UTF-8, for error messages.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

pub fn ok() -> CmdResult<Reply> {
    Ok(Reply::Ok)
}
