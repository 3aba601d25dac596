//! The glob matcher used by KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET and COMMAND LIST:
//! pattern and text split at the first NUL. Exponential backtracking shows up as a
//! libFuzzer timeout (run with a short -timeout).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pattern, text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (
            data,
            &b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..],
        ),
    };
    let _ = strata::glob::glob_match(pattern, text);
    let _ = strata::glob::glob_match(text, pattern);
});
