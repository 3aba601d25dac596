//! Redis's argument splitting (`sdssplitargs`): whitespace-separated words with double-quoted
//! strings (C escapes and `\xHH`) and single-quoted strings (only `\'` escaped).
//!
//! Used by the inline-command parser and by the config-file reader, so both accept exactly
//! what `redis-cli` and `redis.conf` accept.

/// Splits `line` into arguments; `None` when quotes are unbalanced or a closing quote is not
/// followed by whitespace (Redis rejects both).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && line[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        match line[pos] {
            b'"' => {
                pos += 1;
                loop {
                    let &c = line.get(pos)?;
                    if c == b'\\' && pos + 3 < line.len() && line[pos + 1] == b'x' {
                        if let (Some(h), Some(l)) = (hex(line[pos + 2]), hex(line[pos + 3])) {
                            current.push(h * 16 + l);
                            pos += 4;
                            continue;
                        }
                    }
                    if c == b'\\' && pos + 1 < line.len() {
                        current.push(match line[pos + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        pos += 2;
                    } else if c == b'"' {
                        pos += 1;
                        if pos < line.len() && !line[pos].is_ascii_whitespace() {
                            return None;
                        }
                        break;
                    } else {
                        current.push(c);
                        pos += 1;
                    }
                }
            }
            b'\'' => {
                pos += 1;
                loop {
                    let &c = line.get(pos)?;
                    if c == b'\\' && line.get(pos + 1) == Some(&b'\'') {
                        current.push(b'\'');
                        pos += 2;
                    } else if c == b'\'' {
                        pos += 1;
                        if pos < line.len() && !line[pos].is_ascii_whitespace() {
                            return None;
                        }
                        break;
                    } else {
                        current.push(c);
                        pos += 1;
                    }
                }
            }
            _ => {
                while pos < line.len() && !line[pos].is_ascii_whitespace() {
                    current.push(line[pos]);
                    pos += 1;
                }
            }
        }
        args.push(current);
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    #[test]
    fn plain_words_and_whitespace() {
        assert_eq!(
            split("  set  a   b "),
            Some(vec!["set".into(), "a".into(), "b".into()])
        );
        assert_eq!(split(""), Some(vec![]));
    }

    #[test]
    fn double_quotes_with_escapes() {
        assert_eq!(
            split(r#"set "a b" "\x41\n""#),
            Some(vec!["set".into(), "a b".into(), "A\n".into()])
        );
        assert_eq!(split(r#""unterminated"#), None);
        assert_eq!(split(r#""a"b"#), None);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'it\'s' x"), Some(vec!["it's".into(), "x".into()]));
        assert_eq!(split("'open"), None);
    }
}
