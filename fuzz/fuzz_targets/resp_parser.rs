//! The RESP request parser (multibulk and inline) and the inline splitter.
//!
//! Properties checked for every input (the first byte picks the limits and the read size):
//! * the connection's incremental `RequestParser`, fed the input in small pieces, yields
//!   the same commands and the same error as `parse_command` given everything at once;
//! * what the parser reserves stays proportional to what has arrived (a 20-byte
//!   `$536870912` header must not reserve 512 MiB);
//! * every parsed command, re-encoded as a multibulk, parses back to itself;
//! * no panic anywhere, `split_args` included.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use strata::protocol::{parse_command, split_args, Limits, Reply, RequestParser};

#[derive(Debug, PartialEq)]
struct Outcome {
    commands: Vec<Vec<Bytes>>,
    error: Option<String>,
}

/// Bytes the buffer may have reserved beyond what arrived: generous, but far below the
/// hundreds of MiB a trusted length header would ask for.
const RESERVE_SLACK: usize = 4 << 20;

fn incremental(input: &[u8], limits: Limits, piece: usize) -> Outcome {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut commands = Vec::new();
    loop {
        match parser.parse(&mut buf, limits) {
            Ok(Some(args)) => commands.push(args),
            Ok(None) => {
                assert!(
                    buf.capacity() <= 2 * fed + RESERVE_SLACK,
                    "parser reserved {} bytes after {} bytes arrived",
                    buf.capacity(),
                    fed
                );
                if fed == input.len() {
                    return Outcome {
                        commands,
                        error: None,
                    };
                }
                let end = (fed + piece).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Err(e) => {
                return Outcome {
                    commands,
                    error: Some(e.0),
                }
            }
        }
    }
}

fn whole(input: &[u8], limits: Limits) -> Outcome {
    let mut buf = BytesMut::from(input);
    let mut commands = Vec::new();
    loop {
        match parse_command(&mut buf, limits) {
            Ok(Some(args)) => commands.push(args),
            Ok(None) => {
                return Outcome {
                    commands,
                    error: None,
                }
            }
            Err(e) => {
                return Outcome {
                    commands,
                    error: Some(e.0),
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, input)) = data.split_first() else {
        return;
    };
    // Inputs stay under the 64 KiB inline limit, where how the bytes are split cannot
    // change the outcome (past it, "too big inline request" depends on the read sizes, in
    // Redis too).
    if input.len() >= 60 * 1024 {
        return;
    }
    let limits = Limits {
        max_bulk_len: if ctl & 1 == 0 { 512 << 20 } else { 1 << 20 },
        unauthenticated: ctl & 2 != 0,
    };
    let piece = 1 + (ctl >> 2) as usize % 23;
    let all_at_once = whole(input, limits);
    let in_pieces = incremental(input, limits, piece);
    assert_eq!(
        all_at_once, in_pieces,
        "parsing in {piece}-byte pieces differs from parsing the whole input"
    );
    for args in &all_at_once.commands {
        if args.is_empty() {
            continue;
        }
        let mut out = BytesMut::new();
        Reply::Array(args.iter().cloned().map(Reply::Bulk).collect()).encode(&mut out, false);
        let back = parse_command(&mut out, Limits::default())
            .expect("a re-encoded command parses")
            .expect("a re-encoded command is complete");
        assert_eq!(&back, args, "re-encoded command parses differently");
        assert!(out.is_empty(), "re-encoded command leaves bytes behind");
    }
    for line in input.split(|&b| b == b'\n') {
        let _ = split_args(line);
    }
});
