//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The representation
//! and its checks live in `storage::types::hll`.

use bytes::Bytes;

use super::{is, text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::notify::STRING;
use crate::protocol::Reply;
use crate::storage::types::hll;

fn sparse_max(ctx: &Ctx<'_>) -> usize {
    ctx.state.config.get_int("hll-sparse-max-bytes").max(0) as usize
}

fn refs(args: &[Bytes]) -> Vec<&[u8]> {
    args.iter().map(|a| &a[..]).collect()
}

pub fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let elements = refs(&args[2..]);
    let changed = ctx
        .storage()
        .pfadd(ctx.db(), &args[1], &elements, sparse_max(ctx))?;
    if changed {
        ctx.changed(STRING, "pfadd", &args[1]);
    }
    Ok(Reply::Int(i64::from(changed)))
}

pub fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let keys = refs(&args[1..]);
    let card = ctx.storage().pfcount(ctx.db(), &keys)?;
    Ok(Reply::Int(card as i64))
}

pub fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let sources = refs(&args[2..]);
    ctx.storage()
        .pfmerge(ctx.db(), &args[1], &sources, sparse_max(ctx))?;
    // Always written, even when the sources are missing (as in Redis).
    ctx.changed(STRING, "pfadd", &args[1]);
    Ok(Reply::Ok)
}

pub fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let storage = ctx.storage();
    let (db, key, sub) = (ctx.db(), &args[2], &args[1]);
    let missing = || CmdError::custom("ERR The specified key does not exist");
    if is(sub, "GETREG") {
        let (dense, _) = storage.pf_to_dense(db, key)?.ok_or_else(missing)?;
        let registers = hll::registers(&dense)?;
        Ok(Reply::Array(
            registers
                .iter()
                .map(|&r| Reply::Int(i64::from(r)))
                .collect(),
        ))
    } else if is(sub, "DECODE") {
        let value = storage.pf_value(db, key)?.ok_or_else(missing)?;
        if !hll::is_sparse(&value) {
            return Err(CmdError::custom("ERR HLL encoding is not sparse"));
        }
        Ok(Reply::bulk(hll::describe_sparse(&value)?))
    } else if is(sub, "ENCODING") {
        let value = storage.pf_value(db, key)?.ok_or_else(missing)?;
        let name = if hll::is_sparse(&value) {
            "sparse"
        } else {
            "dense"
        };
        Ok(Reply::Status(name.into()))
    } else if is(sub, "TODENSE") {
        let (_, converted) = storage.pf_to_dense(db, key)?.ok_or_else(missing)?;
        Ok(Reply::Int(i64::from(converted)))
    } else {
        Err(CmdError::custom(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            text(sub)
        )))
    }
}

/// Checks the register encoding and the estimator against known data, as Redis's
/// PFSELFTEST does: every register value round-trips through both encodings, and the
/// estimate of growing sets stays within 5 standard errors.
pub fn pfselftest(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let failed = |what: String| Err(CmdError::custom(format!("ERR TESTFAILED {what}")));
    let mut sparse = hll::empty();
    let mut dense = hll::empty();
    if hll::store_registers(&mut dense, &[0u8; hll::REGISTERS], true, 0).is_err() {
        return failed("dense conversion".into());
    }
    let relative_error = 1.04 / (hll::REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    for i in 1..=1_000_000u64 {
        let element = i.to_le_bytes();
        let added = hll::add_all(&mut sparse, &[&element], 3000)
            .and_then(|_| hll::add_all(&mut dense, &[&element], 3000));
        if added.is_err() {
            return failed("register update".into());
        }
        if i == checkpoint {
            checkpoint *= 10;
            let (Ok(a), Ok(b)) = (hll::registers(&sparse), hll::registers(&dense)) else {
                return failed("register decode".into());
            };
            if a != b {
                return failed(format!("sparse and dense registers differ at {i}"));
            }
            let estimate = hll::estimate(&a) as f64;
            let allowed = (relative_error * 5.0 * i as f64).max(5.0);
            if (estimate - i as f64).abs() > allowed {
                return failed(format!("estimate {estimate} for {i} elements"));
            }
        }
    }
    Ok(Reply::Ok)
}
