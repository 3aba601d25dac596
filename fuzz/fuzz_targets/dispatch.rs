//! Every command's argument parsing through the real dispatch gate: the input is a few
//! command lines (inline grammar, or a RESP stream when it starts with `*`) run by one
//! client on a temporary database. A panic (even one the gate turns into `-ERR`), a
//! malformed reply, a hang (libFuzzer's -timeout) or runaway memory (-rss_limit_mb) is a
//! finding.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let commands = common::commands_from(data);
    common::run_commands(&commands);
});
