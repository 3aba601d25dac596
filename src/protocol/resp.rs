//! Incremental request parser: RESP multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! Invariants: a frame is consumed from the buffer only when it is complete; arguments are
//! zero-copy slices of the consumed frame; every limit violation is a [`ProtocolError`] whose
//! text is Redis's, after which the connection must be closed (Redis does the same, because
//! the stream position is lost).

use bytes::{Buf, Bytes, BytesMut};

use super::split::split_args;
use crate::num::parse_i64 as parse_i64_strict;

/// Longest inline command or length line Redis accepts without a newline.
pub const MAX_INLINE: usize = 64 * 1024;
/// Largest multibulk count Redis accepts.
pub const MAX_MULTIBULK: i64 = 1024 * 1024;

/// Size limits from the configuration (`proto-max-bulk-len`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
        }
    }
}

/// A fatal protocol violation; the text is sent as `-ERR <text>` before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: impl Into<String>) -> Self {
        ProtocolError(format!("Protocol error: {}", text.into()))
    }
}

/// Parses one command from the front of `buf`.
///
/// `Ok(None)` means more bytes are needed (nothing consumed). `Ok(Some(args))` consumed a
/// frame; `args` may be empty for blank inline lines or `*0`, which callers skip.
pub fn parse_command(
    buf: &mut BytesMut,
    limits: Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits)
    } else {
        parse_inline(buf)
    }
}

/// Finds the CRLF-terminated line starting at `start`; returns the index of `\r`.
fn find_crlf(buf: &[u8], start: usize) -> Option<usize> {
    let hay = buf.get(start..)?;
    let mut from = 0;
    while let Some(off) = hay[from..].iter().position(|&b| b == b'\r') {
        let at = from + off;
        if hay.get(at + 1) == Some(&b'\n') {
            return Some(start + at);
        }
        if at + 1 >= hay.len() {
            return None;
        }
        from = at + 1;
    }
    None
}

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(line_end) = find_crlf(buf, 1) else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError::new("too big mbulk count string"));
        }
        return Ok(None);
    };
    let count = match parse_i64_strict(&buf[1..line_end]) {
        Some(n) if n <= MAX_MULTIBULK => n,
        _ => return Err(ProtocolError::new("invalid multibulk length")),
    };
    let mut pos = line_end + 2;
    if count <= 0 {
        buf.advance(pos);
        return Ok(Some(Vec::new()));
    }
    let mut ranges = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let Some(&marker) = buf.get(pos) else {
            return Ok(None);
        };
        if marker != b'$' {
            return Err(ProtocolError::new(format!(
                "expected '$', got '{}'",
                marker as char
            )));
        }
        let Some(len_end) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > MAX_INLINE {
                return Err(ProtocolError::new("too big bulk count string"));
            }
            return Ok(None);
        };
        let len = match parse_i64_strict(&buf[pos + 1..len_end]) {
            Some(n) if (0..=limits.max_bulk_len).contains(&n) => n as usize,
            _ => return Err(ProtocolError::new("invalid bulk length")),
        };
        let start = len_end + 2;
        let end = start + len;
        if buf.len() < end + 2 {
            // Reserve for the whole argument at once so a large value is not re-copied.
            buf.reserve(end + 2 - buf.len());
            return Ok(None);
        }
        ranges.push(start..end);
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(ranges.into_iter().map(|r| frame.slice(r)).collect()))
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(newline + 1);
    let mut text = &line[..newline];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    match split_args(text) {
        Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
        None => Err(ProtocolError::new("unbalanced quotes in request")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        parse_command(&mut buf, Limits::default())
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let args = parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap().unwrap();
        assert_eq!(args, vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\n").unwrap(), None);
        assert_eq!(parse(b"*2\r\n$3\r\nGE").unwrap(), None);
    }

    #[test]
    fn pipelined_frames_consume_one_at_a_time() {
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"[..]);
        assert!(parse_command(&mut buf, Limits::default())
            .unwrap()
            .is_some());
        assert_eq!(buf.len(), 14);
        assert!(parse_command(&mut buf, Limits::default())
            .unwrap()
            .is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed_lengths_are_redis_errors() {
        assert_eq!(
            parse(b"*abc\r\n").unwrap_err().0,
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            parse(b"*1\r\n$-5\r\n").unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse(b"*1\r\n+foo\r\n").unwrap_err().0,
            "Protocol error: expected '$', got '+'"
        );
        let mut buf = BytesMut::from(&b"*1\r\n$100\r\n"[..]);
        let small = Limits { max_bulk_len: 10 };
        assert_eq!(
            parse_command(&mut buf, small).unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn inline_commands() {
        let args = parse(b"SET k \"a b\"\r\n").unwrap().unwrap();
        assert_eq!(
            args,
            vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("a b")]
        );
        assert_eq!(parse(b"\r\n").unwrap().unwrap().len(), 0);
        assert_eq!(
            parse(b"SET \"k\r\n").unwrap_err().0,
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(parse(b"PING").unwrap(), None);
    }
}
