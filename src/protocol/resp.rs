//! Incremental request parser: RESP multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! Invariants: a frame is consumed from the buffer only when it is complete; arguments are
//! zero-copy slices of the consumed frame; every limit violation is a [`ProtocolError`] whose
//! text is Redis's, after which the connection must be closed (Redis does the same, because
//! the stream position is lost).
//!
//! Hostile input: no allocation is sized by a client-sent length alone. The argument list
//! grows as arguments arrive (a `*1048576` header reserves a few KiB, not 24 MiB), and a bulk
//! still arriving reserves at most as much again as the buffer holds, so a 20-byte
//! `$536870912` header cannot make the server reserve 512 MiB. A [`RequestParser`] keeps its
//! place in a frame across reads, so a large pipelined request is parsed once, in linear
//! time, however it is split. Before a client authenticates (when a password is set) a
//! request may carry at most 10 arguments of at most 16 KiB, as in Redis.

use bytes::{Buf, Bytes, BytesMut};

use super::split::split_args;
use crate::num::parse_i64 as parse_i64_strict;

/// Longest inline command or length line Redis accepts without a newline.
pub const MAX_INLINE: usize = 64 * 1024;
/// Largest multibulk count Redis accepts.
pub const MAX_MULTIBULK: i64 = 1024 * 1024;

/// Arguments a request may carry before the client has authenticated (Redis's limit).
pub const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
/// Bytes an argument may have before the client has authenticated (Redis's limit).
pub const UNAUTHENTICATED_MAX_BULK: i64 = 16 * 1024;
/// Arguments reserved up front for a frame, whatever its header claims.
const INITIAL_ARGS: usize = 64;
/// Smallest step by which the buffer grows for a bulk still arriving.
const MIN_BULK_RESERVE: usize = 64 * 1024;

/// Size limits from the configuration (`proto-max-bulk-len`) and the client's state.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
    /// A password is required and the client has not given it yet.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// Where a multibulk frame still arriving was left: its argument count, the arguments
/// found so far (ranges into the buffer) and the offset of the next one.
#[derive(Debug, Default)]
struct Partial {
    count: usize,
    ranges: Vec<std::ops::Range<usize>>,
    next: usize,
}

/// A per-connection parser that remembers its place in a frame between reads. The buffer
/// handed to [`RequestParser::parse`] must only grow at its end between calls that return
/// `Ok(None)` (the connection appends what it reads, and only the parser consumes).
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<Partial>,
}

impl RequestParser {
    /// Parses one command from the front of `buf`, as [`parse_command`], resuming where the
    /// previous call stopped.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != b'*' {
            return parse_inline(buf);
        }
        let mut partial = match self.partial.take() {
            Some(partial) => partial,
            None => match multibulk_header(buf, limits)? {
                Some(partial) if partial.count == 0 => {
                    buf.advance(partial.next);
                    return Ok(Some(Vec::new()));
                }
                Some(partial) => partial,
                None => return Ok(None),
            },
        };
        if !multibulk_args(buf, limits, &mut partial)? {
            self.partial = Some(partial);
            return Ok(None);
        }
        let frame = buf.split_to(partial.next).freeze();
        Ok(Some(
            partial.ranges.into_iter().map(|r| frame.slice(r)).collect(),
        ))
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
/// A partial frame is parsed again from its start on the next call; connections use a
/// [`RequestParser`], which resumes instead.
pub fn parse_command(
    buf: &mut BytesMut,
    limits: Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestParser::default().parse(buf, limits)
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

/// Reads a frame's `*<count>` line: `None` until the line is complete.
fn multibulk_header(buf: &[u8], limits: Limits) -> Result<Option<Partial>, ProtocolError> {
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
    if limits.unauthenticated && count > UNAUTHENTICATED_MAX_ARGS {
        return Err(ProtocolError::new("unauthenticated multibulk length"));
    }
    let count = count.max(0) as usize;
    Ok(Some(Partial {
        count,
        ranges: Vec::with_capacity(count.min(INITIAL_ARGS)),
        next: line_end + 2,
    }))
}

/// Reads the frame's arguments from `partial.next` on; true when all of them are there.
fn multibulk_args(
    buf: &mut BytesMut,
    limits: Limits,
    partial: &mut Partial,
) -> Result<bool, ProtocolError> {
    let max_bulk = if limits.unauthenticated {
        limits.max_bulk_len.min(UNAUTHENTICATED_MAX_BULK)
    } else {
        limits.max_bulk_len
    };
    while partial.ranges.len() < partial.count {
        let pos = partial.next;
        let Some(&marker) = buf.get(pos) else {
            return Ok(false);
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
            return Ok(false);
        };
        let len = match parse_i64_strict(&buf[pos + 1..len_end]) {
            Some(n) if n > max_bulk && limits.unauthenticated && n <= limits.max_bulk_len => {
                return Err(ProtocolError::new("unauthenticated bulk length"))
            }
            Some(n) if (0..=max_bulk).contains(&n) => n as usize,
            _ => return Err(ProtocolError::new("invalid bulk length")),
        };
        let start = len_end + 2;
        let end = start + len;
        if buf.len() < end + 2 {
            // Grow geometrically with what has arrived, not by what the header claims:
            // copying stays linear overall and a lying header reserves little.
            let missing = end + 2 - buf.len();
            buf.reserve(missing.min(buf.len().max(MIN_BULK_RESERVE)));
            return Ok(false);
        }
        partial.ranges.push(start..end);
        partial.next = end + 2;
    }
    Ok(true)
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

/// Appends `parts` as one RESP multibulk request, as a client sends it (MIGRATE to its
/// target, a replica to its primary, the admin CLI to a server).
pub fn encode_request(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
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
        let small = Limits {
            max_bulk_len: 10,
            ..Limits::default()
        };
        assert_eq!(
            parse_command(&mut buf, small).unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn lying_headers_reserve_little() {
        let mut buf = BytesMut::from(&b"*1048576\r\n$536870912\r\nabc"[..]);
        assert_eq!(parse_command(&mut buf, Limits::default()).unwrap(), None);
        assert!(buf.capacity() < 1024 * 1024, "reserved {}", buf.capacity());
    }

    #[test]
    fn a_frame_split_across_reads_resumes() {
        let frame = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n";
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in frame.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(args) = parser.parse(&mut buf, Limits::default()).unwrap() {
                got.push(args);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("value")]
        );
        assert_eq!(got[1], vec![Bytes::from("PING")]);
        assert!(buf.is_empty());
    }

    #[test]
    fn unauthenticated_requests_are_small() {
        let locked = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parse_command(&mut buf, locked).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$16385\r\n"[..]);
        assert_eq!(
            parse_command(&mut buf, locked).unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"[..]);
        assert!(parse_command(&mut buf, locked).unwrap().is_some());
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
