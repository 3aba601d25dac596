//! Command layer: the command table, the single dispatch gate, and one file of handlers per
//! command family.
//!
//! Handlers receive a [`Ctx`] (shared server state + this client's state) and the full
//! argument vector (`args[0]` is the command name). They never re-check arity — the gate did —
//! and never touch RocksDB: they parse arguments, call `storage`, and build a [`Reply`].

pub mod acl;
pub mod bitmap;
pub mod connection;
pub mod dispatch;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod info;
pub mod key;
pub mod key_access;
pub mod latency;
pub mod list;
pub mod memory;
pub mod migration;
pub mod numkeys;
pub mod permissions;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod txn;
pub mod zset;

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::notify;
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

    /// Whether anything can observe a command's side effects right now: keyspace events,
    /// a `WATCH`, a blocked client, or a client-side caching (tracking) client. When nothing can, reports cost nothing and handlers
    /// skip reads they would make only to report precisely (a `DEL` of a missing key).
    /// A watcher or waiter of a key registers under that key's lock, so one that matters to
    /// the running command is already visible here.
    pub fn observed(&self) -> bool {
        self.state.notify_flags.load(Ordering::Relaxed) != 0
            || self.state.replication.has_replicas()
            || self.state.watches.any()
            || self.state.blocking.any()
            || self.state.tracking.active()
    }

    /// Whether keyspace events of `class` are published here or relayed to replicas (which
    /// filter them by their own setting): handlers check this before reads that only
    /// decide an event (did this pop empty the key?).
    pub fn notifying(&self, class: u32) -> bool {
        let flags = self.state.notify_flags.load(Ordering::Relaxed);
        (flags & class != 0 && flags & (notify::KEYSPACE | notify::KEYEVENT) != 0)
            || (class != notify::KEY_MISS && self.state.replication.has_replicas())
    }

    /// The `new` events of every key created so far and not reported yet (the gate calls
    /// it after the handler, for keys created without an event of their own).
    pub fn report_created(&mut self) {
        for (db, key) in crate::storage::created::drain() {
            if self.notifying(notify::NEW) {
                self.push_new(db, Bytes::from(key));
            }
        }
    }

    /// Redis's `new` event for `key` of `db`, which the command re-created whether or not a
    /// key of that name existed: `RENAME`, `MOVE` and `COPY` delete the destination and add
    /// it again (`dbDelete` + `dbAdd`).
    pub fn recreated_in(&mut self, db: usize, key: &Bytes) {
        crate::storage::created::take(db, key);
        if self.notifying(notify::NEW) {
            self.push_new(db, key.clone());
        }
    }

    /// Queues Redis's `new` event for `key` of `db` (a notification, not a modification).
    fn push_new(&mut self, db: usize, key: Bytes) {
        self.client.effects.push(notify::Effect {
            db,
            key,
            modified: false,
            event: Some((notify::NEW, "new")),
        });
    }

    /// `key` (of the client's database) was modified and fires `event` of `class`: the
    /// usual report of a write (Redis's `signalModifiedKey` + `notifyKeyspaceEvent`).
    pub fn changed(&mut self, class: u32, event: &'static str, key: &Bytes) {
        self.report(self.client.db, key, true, Some((class, event)));
    }

    /// [`Ctx::changed`] for a key of database `db` (`MOVE`, `COPY ... DB`).
    pub fn changed_in(&mut self, db: usize, class: u32, event: &'static str, key: &Bytes) {
        self.report(db, key, true, Some((class, event)));
    }

    /// `key` fires `event` without invalidating `WATCH`es: Redis 7's consumer-group
    /// commands (`XGROUP`, `XREADGROUP`, `XACK`, ...) notify but do not signal the key.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &Bytes) {
        self.report(self.client.db, key, false, Some((class, event)));
    }

    /// `key` of database `db` was modified without a keyspace event (`FLUSHDB`, `SWAPDB`).
    pub fn modified_in(&mut self, db: usize, key: &Bytes) {
        self.report(db, key, true, None);
    }

    /// After removing from the collection at `key`: the `del` event if that emptied it
    /// (and so deleted it). Reads the key only when `del` events are published.
    pub fn deleted_if_gone(&mut self, key: &Bytes) -> CmdResult<()> {
        if self.notifying(notify::GENERIC) && !self.storage().exists(self.db(), key)? {
            self.changed(notify::GENERIC, "del", key);
        }
        Ok(())
    }

    /// Before a `*STORE` command writes `dst`: whether its empty result deletes an existing
    /// `dst` (read only when someone can observe it).
    pub fn empty_store_deletes(&self, dst: &Bytes, empty: bool) -> CmdResult<bool> {
        Ok(empty && self.observed() && self.storage().exists(self.db(), dst)?)
    }

    /// Reports a `*STORE` command's write to `dst`: `event` when it stored something, `del`
    /// when an empty result deleted an existing `dst`, nothing otherwise. Its source keys
    /// were only read and report nothing.
    pub fn stored(
        &mut self,
        class: u32,
        event: &'static str,
        dst: &Bytes,
        any: bool,
        deleted: bool,
    ) {
        if any {
            self.changed(class, event, dst);
        } else if deleted {
            self.changed(notify::GENERIC, "del", dst);
        }
    }

    fn report(
        &mut self,
        db: usize,
        key: &Bytes,
        modified: bool,
        event: Option<(u32, &'static str)>,
    ) {
        if self.observed() {
            // Redis's `new` event comes right before the first event of the key created.
            if event.is_some() && crate::storage::created::take(db, key) {
                self.push_new(db, key.clone());
            }
            self.client.effects.push(notify::Effect {
                db,
                key: key.clone(),
                modified,
                event,
            });
        }
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
