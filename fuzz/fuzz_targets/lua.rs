//! Lua <-> RESP conversion and the script libraries, through EVAL at the dispatch gate.
//! The first byte picks what the rest of the input is: a whole script, a JSON or msgpack
//! document to decode (and re-encode), a command for `redis.pcall` (arguments split on
//! NUL), a `struct.unpack` format and data, or a chunk for `loadstring`.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const SCRIPTS: &[&str] = &[
    "",
    "return cjson.decode(ARGV[1])",
    "return cmsgpack.unpack(ARGV[1])",
    "return redis.pcall(unpack(ARGV))",
    "return {struct.unpack(ARGV[1], ARGV[2] or '')}",
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return cmsgpack.pack(cmsgpack.unpack(ARGV[1]))",
    "local f = loadstring(ARGV[1]) if not f then return 'syntax' end return f()",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mode = mode as usize % SCRIPTS.len();
    let mut args: Vec<Bytes> = vec![Bytes::from_static(b"EVAL")];
    match mode {
        0 => {
            args.push(Bytes::copy_from_slice(rest));
            args.push(Bytes::from_static(b"1"));
            args.push(Bytes::from_static(b"k"));
        }
        3 | 4 => {
            args.push(Bytes::from_static(SCRIPTS[mode].as_bytes()));
            args.push(Bytes::from_static(b"0"));
            args.extend(rest.split(|&b| b == 0).take(32).map(Bytes::copy_from_slice));
        }
        _ => {
            args.push(Bytes::from_static(SCRIPTS[mode].as_bytes()));
            args.push(Bytes::from_static(b"0"));
            args.push(Bytes::copy_from_slice(rest));
        }
    }
    // A second command on the same client: the first may not have left it unusable.
    let ping = vec![Bytes::from_static(b"PING")];
    common::run_commands(&[args, ping]);
});
