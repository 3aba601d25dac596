//! Scripting commands: `EVAL`/`EVALSHA` (and `_RO`), `SCRIPT`, `FUNCTION`, `FCALL` (and
//! `_RO`). Argument parsing lives here; running scripts is `scripting::Scripting`'s job.

use bytes::Bytes;

use super::numkeys::script_keys;
use super::{is, text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::scripting::Invocation;

/// Splits `numkeys key ... arg ...` (starting at `args[2]`) into keys and arguments.
/// `bad_count` is the error for a non-integer count (EVAL and FCALL word it differently).
fn keys_and_args(args: &[Bytes], bad_count: CmdError) -> CmdResult<(&[Bytes], &[Bytes])> {
    let span = script_keys(args, 2, bad_count)?;
    Ok((&args[span.clone()], &args[span.end..]))
}

fn run_eval(ctx: &mut Ctx<'_>, args: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult<Reply> {
    let (keys, argv) = keys_and_args(args, CmdError::NotInteger)?;
    let call = Invocation {
        keys,
        args: argv,
        read_only,
    };
    let scripting = &ctx.state.scripting;
    Ok(if by_sha {
        scripting.eval_sha(ctx.state, ctx.client, &text(&args[1]), call)
    } else {
        scripting.eval(ctx.state, ctx.client, &args[1], call)
    })
}

pub fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run_eval(ctx, args, false, false)
}

pub fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run_eval(ctx, args, true, false)
}

pub fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run_eval(ctx, args, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run_eval(ctx, args, true, true)
}

pub fn script_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    match ctx.state.scripting.load_script(ctx.state, &args[2]) {
        Ok(sha) => Ok(Reply::bulk(sha)),
        Err(e) => Err(CmdError::custom(e)),
    }
}

pub fn script_exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|sha| Reply::Int(i64::from(ctx.state.scripting.script_exists(sha))))
            .collect(),
    ))
}

/// Checks the optional `ASYNC|SYNC` of `SCRIPT FLUSH`/`FUNCTION FLUSH`; `error` is the
/// command's own wording of the complaint.
fn flush_mode(args: &[Bytes], error: &'static str) -> CmdResult<()> {
    match args.get(2) {
        None => Ok(()),
        Some(a) if args.len() == 3 && (is(a, "ASYNC") || is(a, "SYNC")) => Ok(()),
        Some(_) => Err(CmdError::custom(error)),
    }
}

pub fn script_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    flush_mode(args, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    ctx.state
        .scripting
        .flush_scripts(ctx.state)
        .map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

pub fn script_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    ctx.state.scripting.kill(false).map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

pub fn function_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    ctx.state.scripting.kill(true).map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

pub fn function_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (replace, code) = match args.len() {
        3 => (false, &args[2]),
        4 if is(&args[2], "REPLACE") => (true, &args[3]),
        _ => {
            return Err(CmdError::custom(format!(
                "ERR Unknown option given: {}",
                text(&args[2])
            )))
        }
    };
    let name = ctx
        .state
        .scripting
        .load_library(ctx.state, &String::from_utf8_lossy(code), replace, true)
        .map_err(CmdError::custom)?;
    Ok(Reply::bulk(name))
}

pub fn function_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut pattern = None;
    let mut with_code = false;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "WITHCODE") && !with_code {
            with_code = true;
        } else if is(&args[i], "LIBRARYNAME") && pattern.is_none() {
            i += 1;
            let name = args
                .get(i)
                .ok_or_else(|| CmdError::custom("ERR library name argument was not given"))?;
            pattern = Some(&name[..]);
        } else {
            return Err(CmdError::custom(format!(
                "ERR Unknown argument {}",
                text(&args[i])
            )));
        }
        i += 1;
    }
    Ok(ctx.state.scripting.list_libraries(pattern, with_code))
}

pub fn function_delete(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ctx.state
        .scripting
        .delete_library(ctx.state, &text(&args[2]))
        .map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

pub fn function_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    flush_mode(args, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    ctx.state
        .scripting
        .flush_libraries(ctx.state)
        .map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

pub fn function_dump(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Bulk(Bytes::from(
        ctx.state.scripting.dump_libraries(),
    )))
}

pub fn function_restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let policy = match args.get(3) {
        None => "APPEND".to_string(),
        Some(p) if args.len() == 4 => text(p).to_ascii_uppercase(),
        Some(_) => return Err(CmdError::Syntax),
    };
    if !matches!(policy.as_str(), "FLUSH" | "APPEND" | "REPLACE") {
        return Err(CmdError::custom(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
        ));
    }
    ctx.state
        .scripting
        .restore_libraries(ctx.state, &args[2], &policy)
        .map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

pub fn function_stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(ctx.state.scripting.function_stats())
}

fn run_fcall(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult<Reply> {
    let (keys, argv) = keys_and_args(args, CmdError::custom("ERR Bad number of keys provided"))?;
    let call = Invocation {
        keys,
        args: argv,
        read_only,
    };
    Ok(ctx
        .state
        .scripting
        .fcall(ctx.state, ctx.client, &text(&args[1]), call))
}

pub fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run_fcall(ctx, args, false)
}

pub fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    run_fcall(ctx, args, true)
}
