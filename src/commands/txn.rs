//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queued commands were validated (lookup, arity, auth) by the dispatch gate; one that fails
//! validation makes `EXEC` abort with `EXECABORT`. `EXEC` runs the queue under the exclusive
//! global lock, so no other client's command interleaves; each command still commits its own
//! batch, and a runtime error in one does not stop the others (no rollback, as Redis).
//! Blocking commands inside a transaction never block: they answer as if timed out.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{ok, Ctx};
use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::keyspace::Ttl;

pub fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.client.multi.is_some() {
        return Err(CmdError::custom("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ok()
}

/// Forgets every watched key of `client`.
pub fn unwatch_all(state: &ServerState, client: &mut ClientState) {
    let keys: Vec<(usize, Vec<u8>)> = client.watched.drain(..).map(|(db, k, _)| (db, k)).collect();
    state.watches.unwatch(&client.info, &keys);
    client.info.watch_dirty.store(false, Ordering::SeqCst);
}

pub fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::custom("ERR DISCARD without MULTI"));
    }
    ctx.client.multi_error = false;
    unwatch_all(ctx.state, ctx.client);
    ok()
}

pub fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.client.multi.is_some() {
        return Err(CmdError::custom("ERR WATCH inside MULTI is not allowed"));
    }
    for key in &args[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|(db, k, _)| *db == ctx.client.db && k[..] == key[..])
        {
            continue;
        }
        let deadline = match ctx.storage().ttl(ctx.db(), key)? {
            Ttl::At(ms) => ms,
            _ => 0,
        };
        ctx.state.watches.watch(ctx.db(), key, &ctx.client.info);
        let db = ctx.db();
        ctx.client.watched.push((db, key.to_vec(), deadline));
    }
    ok()
}

pub fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    unwatch_all(ctx.state, ctx.client);
    ok()
}

pub fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(CmdError::custom("ERR EXEC without MULTI"));
    };
    let aborted = std::mem::take(&mut ctx.client.multi_error);
    let state = ctx.state;
    // The gate holds the exclusive lock (the table's EXCLUSIVE flag, which also keeps the
    // -BUSY path of a running script working): watches are checked under it, so a write that
    // committed before it was taken has marked its watchers by then (writers mark them while
    // holding their key locks), and none can commit after it until the transaction is done.
    let now = crate::storage::now_ms();
    // A watched key that expired since WATCH counts as modified, as in Redis.
    let expired = ctx
        .client
        .watched
        .iter()
        .any(|(_, _, deadline)| *deadline != 0 && *deadline <= now);
    let dirty = ctx.client.info.watch_dirty.load(Ordering::SeqCst) || expired;
    unwatch_all(ctx.state, ctx.client);
    if aborted {
        return Err(CmdError::custom(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if dirty {
        return Ok(Reply::NilArray);
    }
    let mut replies = Vec::with_capacity(queue.len());
    // Blocking commands run non-blocking inside a transaction, as in Redis. (A queued
    // command's panic is answered by the gate, so the loop always reaches the reset.)
    ctx.client.deny_blocking = true;
    ctx.client.in_exec = true;
    for args in &queue {
        replies.push(super::dispatch::execute_queued(state, ctx.client, args));
    }
    ctx.client.in_exec = false;
    ctx.client.deny_blocking = false;
    Ok(Reply::Array(replies))
}
