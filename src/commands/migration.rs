//! Moving keys between servers in Redis's own serialization: `DUMP`, `RESTORE` (and
//! `RESTORE-ASKING`, which cluster tools send) and `MIGRATE`. The payload is Redis's
//! (`crate::rdb::dump`): an RDB value, its RDB version and a CRC64, so payloads move
//! between Strata and `redis-server` in both directions.
//!
//! Replies, option parsing and the order of checks follow Redis 7.0's `cluster.c`
//! (`restoreCommand`, `migrateCommand`): `BUSYKEY` is decided before the TTL is parsed, a
//! TTL already in the past deletes the key instead of restoring it, and errors from a
//! MIGRATE target come back as `ERR Target instance replied with error: ...`.
//!
//! MIGRATE dials the target with a blocking socket: the table runs it off the runtime's
//! workers (`OFF_WORKER`) with the keys locked, as Redis blocks its event loop for it.
//! Depends on `rdb` for the format and on storage's whole-key values (`storage::portable`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;

use super::{is, Ctx};
use crate::error::{CmdError, CmdResult, StoreError};
use crate::notify::GENERIC;
use crate::num::parse_i64;
use crate::protocol::{encode_request, Reply};
use crate::rdb::{dump_payload, restore_payload};
use crate::storage::now_ms;
use crate::storage::portable::is_empty_collection;

/// `DUMP key`: the serialized value, or nil when the key does not exist.
pub fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    match ctx.storage().read_value(ctx.db(), &args[1])? {
        Some((value, _)) => Ok(Reply::bulk(dump_payload(&value))),
        None => Ok(Reply::Nil),
    }
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absolute_ttl: bool,
}

fn restore_options(args: &[Bytes]) -> CmdResult<RestoreOptions> {
    let mut options = RestoreOptions::default();
    let (mut idle, mut freq) = (false, false);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(&args[i], "REPLACE") {
            options.replace = true;
        } else if is(&args[i], "ABSTTL") {
            options.absolute_ttl = true;
        } else if is(&args[i], "IDLETIME") && more && !freq {
            match parse_i64(&args[i + 1]) {
                Some(v) if v >= 0 => {}
                Some(_) => {
                    return Err(CmdError::custom("ERR Invalid IDLETIME value, must be >= 0"))
                }
                None => return Err(CmdError::NotInteger),
            }
            idle = true;
            i += 1;
        } else if is(&args[i], "FREQ") && more && !idle {
            match parse_i64(&args[i + 1]) {
                Some(v) if (0..=255).contains(&v) => {}
                Some(_) => {
                    return Err(CmdError::custom(
                        "ERR Invalid FREQ value, must be >= 0 and <= 255",
                    ))
                }
                None => return Err(CmdError::NotInteger),
            }
            freq = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(options)
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]` (and
/// `RESTORE-ASKING`). Access-time hints are accepted and not kept: Strata's hot tier
/// tracks recency itself.
pub fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let options = restore_options(args)?;
    let (db, key) = (ctx.db(), &args[1]);
    let exists = ctx.storage().exists(db, key)?;
    if exists && !options.replace {
        return Err(CmdError::BusyKey);
    }
    let ttl = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    if ttl < 0 {
        return Err(CmdError::custom("ERR Invalid TTL value, must be >= 0"));
    }
    let value = restore_payload(&args[3])?;
    if is_empty_collection(&value) {
        return Err(CmdError::BadDataFormat);
    }
    let expire_ms = match (ttl, options.absolute_ttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now_ms().saturating_add(t as u64),
    };
    if expire_ms != 0 && expire_ms <= now_ms() {
        // Already expired: the key is gone rather than restored, as in Redis.
        if exists && ctx.storage().delete_keys(db, &[key])? > 0 {
            ctx.changed(GENERIC, "del", key);
        }
        return Ok(Reply::Ok);
    }
    match ctx.storage().restore_value(db, key, expire_ms, &value) {
        Ok(()) => {}
        Err(StoreError::Corrupt(_)) | Err(StoreError::ScoreNan) => {
            return Err(CmdError::BadDataFormat)
        }
        Err(other) => return Err(other.into()),
    }
    ctx.recreated_in(db, key);
    ctx.changed(GENERIC, "restore", key);
    Ok(Reply::Ok)
}

/// MIGRATE's arguments after the fixed five.
struct MigrateRequest {
    copy: bool,
    replace: bool,
    /// `AUTH pw` or `AUTH2 user pw`, as the target's `AUTH` takes them.
    auth: Vec<Bytes>,
    keys: Vec<Bytes>,
}

fn migrate_request(args: &[Bytes]) -> CmdResult<MigrateRequest> {
    let mut request = MigrateRequest {
        copy: false,
        replace: false,
        auth: Vec::new(),
        keys: Vec::new(),
    };
    let mut keys_at = None;
    let mut i = 6;
    while i < args.len() {
        let left = args.len() - i - 1;
        if is(&args[i], "COPY") {
            request.copy = true;
        } else if is(&args[i], "REPLACE") {
            request.replace = true;
        } else if is(&args[i], "AUTH") && left >= 1 {
            request.auth = vec![args[i + 1].clone()];
            i += 1;
        } else if is(&args[i], "AUTH2") && left >= 2 {
            request.auth = vec![args[i + 1].clone(), args[i + 2].clone()];
            i += 2;
        } else if is(&args[i], "KEYS") {
            if !args[3].is_empty() {
                return Err(CmdError::custom(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the \
                     empty string",
                ));
            }
            keys_at = Some(i + 1);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    request.keys = match keys_at {
        Some(at) => args[at..].to_vec(),
        None => vec![args[3].clone()],
    };
    Ok(request)
}

/// Key positions of MIGRATE for the command table: the key argument, or everything after
/// `KEYS` when it is empty (skipping AUTH/AUTH2 values, which may read "KEYS").
pub fn migrate_key_positions(args: &[Bytes]) -> Vec<usize> {
    if args.len() < 6 {
        return Vec::new();
    }
    if !args[3].is_empty() {
        return vec![3];
    }
    let mut i = 6;
    while i < args.len() {
        if is(&args[i], "AUTH") {
            i += 2;
        } else if is(&args[i], "AUTH2") {
            i += 3;
        } else if is(&args[i], "KEYS") {
            return (i + 1..args.len()).collect();
        } else {
            i += 1;
        }
    }
    Vec::new()
}

/// Longest reply line read from a target: replies to AUTH/SELECT/RESTORE are short.
const MAX_REPLY_LINE: u64 = 64 * 1024;

/// Reads one status or error reply line; `Ok(Err(text))` for an error reply.
fn read_status(reader: &mut impl BufRead) -> std::io::Result<Result<(), String>> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_REPLY_LINE)
        .read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let text = String::from_utf8_lossy(&line).trim_end().to_string();
    match text.strip_prefix('-') {
        Some(error) => Ok(Err(error.to_string())),
        None => Ok(Ok(())),
    }
}

/// Redis's words for a failed exchange with the target ("writing" or "reading").
fn io_error(doing: &str) -> CmdError {
    CmdError::custom(format!("IOERR error or timeout {doing} to target instance"))
}

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH pw]
/// [AUTH2 user pw] [KEYS key ...]`.
pub fn migrate(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let request = migrate_request(args)?;
    let target_db = parse_i64(&args[4]).ok_or(CmdError::NotInteger)?;
    let timeout_ms = parse_i64(&args[5]).ok_or(CmdError::NotInteger)?;
    let timeout = Duration::from_millis(if timeout_ms <= 0 {
        1000
    } else {
        timeout_ms as u64
    });
    let db = ctx.db();
    let mut found = Vec::new();
    for key in &request.keys {
        if let Some((value, expire_ms)) = ctx.storage().read_value(db, key)? {
            found.push((key.clone(), value, expire_ms));
        }
    }
    if found.is_empty() {
        return Ok(Reply::Status("NOKEY".into()));
    }
    let host = String::from_utf8_lossy(&args[1]).to_string();
    let port = String::from_utf8_lossy(&args[2]).to_string();
    let connect_error = || CmdError::custom("IOERR error or timeout connecting to the client");
    let address = format!("{host}:{port}")
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(connect_error)?;
    let stream = TcpStream::connect_timeout(&address, timeout).map_err(|_| connect_error())?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_nodelay(true);

    let mut out = Vec::new();
    if !request.auth.is_empty() {
        let mut parts: Vec<&[u8]> = vec![b"AUTH"];
        parts.extend(request.auth.iter().map(|a| a.as_ref()));
        encode_request(&mut out, &parts);
    }
    let db_text = target_db.to_string();
    encode_request(&mut out, &[b"SELECT", db_text.as_bytes()]);
    let now = now_ms();
    for (key, value, expire_ms) in &found {
        let ttl = match expire_ms {
            0 => 0,
            at => at.saturating_sub(now).max(1),
        };
        let ttl_text = ttl.to_string();
        let payload = dump_payload(value);
        let mut parts: Vec<&[u8]> = vec![b"RESTORE", key, ttl_text.as_bytes(), &payload];
        if request.replace {
            parts.push(b"REPLACE");
        }
        encode_request(&mut out, &parts);
    }
    let mut writer = stream.try_clone().map_err(|_| io_error("writing"))?;
    writer.write_all(&out).map_err(|_| io_error("writing"))?;

    let mut reader = BufReader::new(stream);
    let target_error =
        |text: String| CmdError::custom(format!("ERR Target instance replied with error: {text}"));
    let reading = |_| io_error("reading");
    if !request.auth.is_empty() {
        read_status(&mut reader)
            .map_err(reading)?
            .map_err(target_error)?;
    }
    read_status(&mut reader)
        .map_err(reading)?
        .map_err(target_error)?;
    let mut first_error = None;
    let mut moved = Vec::new();
    for (key, _, _) in &found {
        match read_status(&mut reader).map_err(reading)? {
            Ok(()) => moved.push(key.clone()),
            Err(text) => {
                first_error.get_or_insert(text);
            }
        }
    }
    if !request.copy && !moved.is_empty() {
        let keys: Vec<&[u8]> = moved.iter().map(|k| k.as_ref()).collect();
        ctx.storage().delete_keys(db, &keys)?;
        for key in &moved {
            ctx.changed(GENERIC, "del", key);
        }
    }
    match first_error {
        Some(text) => Err(target_error(text)),
        None => Ok(Reply::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::from(p.to_string())).collect()
    }

    #[test]
    fn migrate_keys_skip_auth_values() {
        let a = args(&[
            "MIGRATE", "h", "1", "", "0", "5", "AUTH", "KEYS", "KEYS", "a", "b",
        ]);
        assert_eq!(migrate_key_positions(&a), vec![9, 10]);
        let a = args(&["MIGRATE", "h", "1", "k", "0", "5"]);
        assert_eq!(migrate_key_positions(&a), vec![3]);
        let a = args(&[
            "MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "KEYS", "KEYS", "x",
        ]);
        assert_eq!(migrate_key_positions(&a), vec![10]);
    }
}
