//! Redis glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\` escapes.
//! Used by `KEYS`, `SCAN`/`HSCAN`/`SSCAN`/`ZSCAN MATCH`, `PSUBSCRIBE`/`PUBSUB CHANNELS`,
//! `CONFIG GET`, `COMMAND LIST FILTERBY PATTERN` and `FUNCTION LIST`. A leaf module.
//!
//! Invariant: matching takes O(pattern × text) time and constant space for any input. A
//! recursive matcher that tries every split at every `*` is exponential in the number of
//! stars (Redis's CVE-2022-36021: `KEYS a*a*a*...b` against a long key pinned the CPU).
//! Every token other than `*` matches exactly one byte, so a greedy scan that remembers only
//! the most recent `*` and, on a mismatch, lets that star swallow one more byte is complete:
//! an earlier star can never need to take more, because whatever it would take the later
//! star can take instead.

/// True when `text` matches `pattern`.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    // Pattern position just after the last `*` seen, and the text position it was tried at.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            backtrack = Some((p, s));
            continue;
        }
        if s == text.len() {
            // Only stars (handled above) can match nothing.
            return p == pattern.len();
        }
        if let Some(next) = (p < pattern.len())
            .then(|| match_token(pattern, p, text[s]))
            .flatten()
        {
            p = next;
            s += 1;
            continue;
        }
        match backtrack {
            Some((star_p, star_s)) => {
                backtrack = Some((star_p, star_s + 1));
                p = star_p;
                s = star_s + 1;
            }
            None => return false,
        }
    }
}

/// Matches the single-byte token at `pattern[p]` (not `*`) against `c`: the position after
/// the token when it matches.
fn match_token(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, c),
        b'\\' if p + 1 < pattern.len() => (pattern[p + 1] == c).then_some(p + 2),
        literal => (literal == c).then_some(p + 1),
    }
}

/// A `[...]` class whose body starts at `pattern[p]`. As in Redis, `\x` is a literal `x`,
/// `a-z` a range in either order, and a class left open runs to the end of the pattern.
fn match_class(pattern: &[u8], mut p: usize, c: u8) -> Option<usize> {
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(p..).unwrap_or(&[]) {
            [] => break,
            [b']', ..] => {
                p += 1;
                break;
            }
            [b'\\', escaped, ..] => {
                matched |= *escaped == c;
                p += 2;
            }
            [lo, b'-', hi, ..] => {
                let (a, b) = if lo <= hi { (*lo, *hi) } else { (*hi, *lo) };
                matched |= (a..=b).contains(&c);
                p += 3;
            }
            [member, ..] => {
                matched |= *member == c;
                p += 1;
            }
        }
    }
    (matched != negate).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn redis_documented_examples() {
        assert!(m("h?llo", "hello") && m("h?llo", "hallo") && !m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo") && m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hello") && m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hallo") && m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("h\\*llo", "h*llo") && !m("h\\*llo", "hello"));
        assert!(m("*", "") && m("**", "abc") && m("a*", "a") && !m("a*b", "ac"));
        assert!(m("[z-a]", "m"));
    }

    #[test]
    fn classes_escapes_and_open_ends() {
        assert!(m("[\\]]x", "]x") && m("a[b", "ab") && !m("a[b", "abc"));
        assert!(m("[^]", "z") && !m("[]a]", "a") && m("x\\", "x\\"));
        assert!(m("*[0-9]", "key7") && !m("*[0-9]", "key") && m("?*?", "ab"));
        assert!(m("a*b*c", "aXbYbZc") && !m("a*b*c", "aXbYbZ") && m("*a*", "bab"));
        assert!(m("\\*", "*") && !m("\\*", "x"));
    }

    #[test]
    fn many_stars_are_linear() {
        // CVE-2022-36021's shape: exponential for a backtracking matcher.
        let text = "a".repeat(60);
        let pattern = format!("{}b", "a*".repeat(30));
        assert!(!m(&pattern, &text));
        assert!(m(&format!("{}a", "a*".repeat(30)), &text));
        let long = "*".repeat(10_000) + "x" + &"*?".repeat(5_000);
        assert!(!m(&long, &"y".repeat(20_000)));
    }
}
