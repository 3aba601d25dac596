//! The `numkeys key [key ...]` argument shape shared by every command that takes a key count
//! (`ZUNION`/`ZINTER`/`ZDIFF` and their `STORE` forms, `ZINTERCARD`, `SINTERCARD`, `LMPOP`,
//! `BLMPOP`, `ZMPOP`, `BZMPOP`, `EVAL`/`EVALSHA`/`FCALL`), for the handlers and for the
//! command table's key positions alike.
//!
//! Invariant: the count is a client-sent 64-bit integer; it is compared with the number of
//! arguments present before any index is formed, so no count can overflow an index or
//! reach past the arguments. Each caller maps [`NumkeysError`] to its command's Redis text.

use std::ops::Range;

use bytes::Bytes;

use crate::error::{CmdError, CmdResult};
use crate::num::parse_i64;

/// Why a key count was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumkeysError {
    NotInteger,
    Negative,
    Zero,
    /// More keys than arguments follow the count.
    TooMany,
}

/// The argument positions of the keys counted by `args[at]`.
pub fn key_span(args: &[Bytes], at: usize) -> Result<Range<usize>, NumkeysError> {
    let count = args
        .get(at)
        .and_then(|a| parse_i64(a))
        .ok_or(NumkeysError::NotInteger)?;
    let available = args.len().saturating_sub(at + 1);
    match u64::try_from(count) {
        Err(_) => Err(NumkeysError::Negative),
        Ok(0) => Err(NumkeysError::Zero),
        Ok(n) if n > available as u64 => Err(NumkeysError::TooMany),
        Ok(n) => Ok(at + 1..at + 1 + n as usize),
    }
}

const GREATER_THAN_ZERO: &str = "ERR numkeys should be greater than 0";
const MORE_THAN_ARGS: &str = "ERR Number of keys can't be greater than number of args";

/// `SINTERCARD`'s wording.
pub fn set_keys(args: &[Bytes], at: usize) -> CmdResult<Range<usize>> {
    key_span(args, at).map_err(|e| match e {
        NumkeysError::TooMany => CmdError::custom(MORE_THAN_ARGS),
        _ => CmdError::custom(GREATER_THAN_ZERO),
    })
}

/// `LMPOP`/`BLMPOP`/`ZMPOP`/`BZMPOP`'s wording: too many keys is a syntax error.
pub fn mpop_keys(args: &[Bytes], at: usize) -> CmdResult<Range<usize>> {
    key_span(args, at).map_err(|e| match e {
        NumkeysError::TooMany => CmdError::Syntax,
        _ => CmdError::custom(GREATER_THAN_ZERO),
    })
}

/// `ZUNION`/`ZINTER`/`ZDIFF`, their `STORE` forms and `ZINTERCARD`.
pub fn zset_keys(args: &[Bytes], at: usize) -> CmdResult<Range<usize>> {
    key_span(args, at).map_err(|e| match e {
        NumkeysError::NotInteger => CmdError::NotInteger,
        NumkeysError::TooMany => CmdError::Syntax,
        NumkeysError::Zero | NumkeysError::Negative => {
            let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
            CmdError::custom(format!(
                "ERR at least 1 input key is needed for '{name}' command"
            ))
        }
    })
}

/// `EVAL`/`EVALSHA`/`FCALL` and their `_RO` forms: zero keys is allowed. `bad_count` is the
/// error for a count that is not an integer (the commands word it differently).
pub fn script_keys(args: &[Bytes], at: usize, bad_count: CmdError) -> CmdResult<Range<usize>> {
    match key_span(args, at) {
        Ok(span) => Ok(span),
        Err(NumkeysError::Zero) => Ok(at + 1..at + 1),
        Err(NumkeysError::NotInteger) => Err(bad_count),
        Err(NumkeysError::Negative) => {
            Err(CmdError::custom("ERR Number of keys can't be negative"))
        }
        Err(NumkeysError::TooMany) => Err(CmdError::custom(MORE_THAN_ARGS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn counts_are_checked_before_indexing() {
        let a = args(&["zunion", "2", "a", "b", "WITHSCORES"]);
        assert_eq!(key_span(&a, 1), Ok(2..4));
        let a = args(&["zunion", "9223372036854775807", "k"]);
        assert_eq!(key_span(&a, 1), Err(NumkeysError::TooMany));
        let a = args(&["zunion", "-9223372036854775808", "k"]);
        assert_eq!(key_span(&a, 1), Err(NumkeysError::Negative));
        let a = args(&["zunion", "0", "k"]);
        assert_eq!(key_span(&a, 1), Err(NumkeysError::Zero));
        let a = args(&["zunion", "x", "k"]);
        assert_eq!(key_span(&a, 1), Err(NumkeysError::NotInteger));
        assert_eq!(key_span(&a, 7), Err(NumkeysError::NotInteger));
        let a = args(&["eval", "s", "1"]);
        assert_eq!(key_span(&a, 2), Err(NumkeysError::TooMany));
    }
}
