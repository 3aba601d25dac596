//! Reply values and their RESP2/RESP3 encoding.
//!
//! Commands return a [`Reply`]; the connection encodes it once, straight into its output
//! buffer, in the protocol the client negotiated with `HELLO`. RESP3-only shapes (maps, sets,
//! doubles, booleans, null) degrade to their RESP2 equivalents exactly as Redis does.

use bytes::{BufMut, Bytes, BytesMut};

use crate::num::format_double;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A status line such as `+PONG` or `+QUEUED`.
    Status(String),
    /// An error line; the text carries its prefix (`ERR ...`, `WRONGTYPE ...`).
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// Flattened to an array of alternating keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// An array in RESP2.
    Set(Vec<Reply>),
    /// A bulk string in RESP2.
    Double(f64),
    /// A double already formatted by the command (GEOPOS's 17-decimal coordinates): a
    /// bulk string in RESP2, `,` in RESP3.
    HumanDouble(String),
    /// `:1`/`:0` in RESP2.
    Bool(bool),
    /// Verbatim text (`=`) in RESP3, a bulk string in RESP2.
    Verbatim(String),
    /// Out-of-band push (`>`) in RESP3, an array in RESP2.
    Push(Vec<Reply>),
    /// Several replies to one command, sent back to back (SUBSCRIBE to many channels).
    Multi(Vec<Reply>),
}

impl Reply {
    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn status(text: impl Into<String>) -> Reply {
        Reply::Status(text.into())
    }

    pub fn bulk_opt(data: Option<impl Into<Bytes>>) -> Reply {
        data.map_or(Reply::Nil, |d| Reply::Bulk(d.into()))
    }

    pub fn bulks<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Reply::Array(items.into_iter().map(|b| Reply::Bulk(b.into())).collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// A RESP3 push frame, or several (`Multi` of pushes: a SUBSCRIBE of many channels).
    pub fn is_push(&self) -> bool {
        match self {
            Reply::Push(_) => true,
            Reply::Multi(items) => !items.is_empty() && items.iter().all(Reply::is_push),
            _ => false,
        }
    }

    /// Appends the encoding of `self` to `out`.
    pub fn encode(&self, out: &mut BytesMut, resp3: bool) {
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', e.as_bytes()),
            Reply::Int(n) => {
                let mut fmt = itoa::Buffer::new();
                line(out, b':', fmt.format(*n).as_bytes());
            }
            Reply::Bulk(b) => bulk(out, b'$', b),
            Reply::Nil if resp3 => out.put_slice(b"_\r\n"),
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len());
                items.iter().for_each(|i| i.encode(out, resp3));
            }
            Reply::Set(items) => {
                header(out, if resp3 { b'~' } else { b'*' }, items.len());
                items.iter().for_each(|i| i.encode(out, resp3));
            }
            Reply::Push(items) => {
                header(out, if resp3 { b'>' } else { b'*' }, items.len());
                items.iter().for_each(|i| i.encode(out, resp3));
            }
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(out, resp3);
                    v.encode(out, resp3);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, b'$', text.as_bytes());
                }
            }
            Reply::HumanDouble(text) if resp3 => line(out, b',', text.as_bytes()),
            Reply::HumanDouble(text) => bulk(out, b'$', text.as_bytes()),
            Reply::Bool(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Bool(b) => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Reply::Verbatim(text) if resp3 => {
                let mut body = Vec::with_capacity(text.len() + 4);
                body.extend_from_slice(b"txt:");
                body.extend_from_slice(text.as_bytes());
                bulk(out, b'=', &body);
            }
            Reply::Verbatim(text) => bulk(out, b'$', text.as_bytes()),
            Reply::Multi(replies) => replies.iter().for_each(|r| r.encode(out, resp3)),
        }
    }
}

fn line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, prefix: u8, len: usize) {
    let mut fmt = itoa::Buffer::new();
    line(out, prefix, fmt.format(len).as_bytes());
}

fn bulk(out: &mut BytesMut, prefix: u8, data: &[u8]) {
    header(out, prefix, data.len());
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp3: bool) -> String {
        let mut out = BytesMut::new();
        r.encode(&mut out, resp3);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        assert_eq!(enc(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, true), "_\r\n");
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(enc(&map, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), false), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), true), ",1.5\r\n");
        assert_eq!(enc(&Reply::Bool(true), false), ":1\r\n");
        assert_eq!(enc(&Reply::Error("ERR x".into()), true), "-ERR x\r\n");
    }
}
