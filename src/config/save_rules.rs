//! `save` rules as Redis 7 reads them: `save <seconds> <changes> [<seconds> <changes> ...]`,
//! `save ""` for none. A rule fires when at least `seconds` have passed since the last save
//! *and* at least `changes` writes were made since; Strata's "save" is a RocksDB checkpoint
//! (`BGSAVE`). Pure functions only: the timer that applies them lives with the persistence
//! commands. Depends on nothing.

/// One `<seconds> <changes>` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveRule {
    pub seconds: u64,
    pub changes: u64,
}

/// Redis's reply text for anything that is not pairs of non-negative integers.
pub const INVALID: &str = "Invalid save parameters";

/// Parses a canonical or user-written rule list (`""` is the empty list).
pub fn parse(text: &str) -> Result<Vec<SaveRule>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() % 2 != 0 {
        return Err(INVALID.into());
    }
    words
        .chunks_exact(2)
        .map(|pair| {
            let number = |w: &str| w.parse::<u64>().map_err(|_| INVALID.to_string());
            Ok(SaveRule {
                seconds: number(pair[0])?,
                changes: number(pair[1])?,
            })
        })
        .collect()
}

/// The text `CONFIG GET save` prints: the pairs separated by single spaces.
pub fn canonical(text: &str) -> Result<String, String> {
    Ok(to_text(&parse(text)?))
}

pub fn to_text(rules: &[SaveRule]) -> String {
    rules
        .iter()
        .map(|r| format!("{} {}", r.seconds, r.changes))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first rule that is due, given the whole seconds since the last save and the writes
/// since. As in Redis's `serverCron`, the time must be strictly past `seconds` and the
/// changes at least `changes` (so `save 60 0` saves every minute even when idle).
pub fn due(rules: &[SaveRule], seconds_since_save: u64, changes: u64) -> Option<SaveRule> {
    rules
        .iter()
        .copied()
        .find(|r| changes >= r.changes && seconds_since_save > r.seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_empty() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(
            parse("900 1  300 10").unwrap(),
            vec![
                SaveRule {
                    seconds: 900,
                    changes: 1
                },
                SaveRule {
                    seconds: 300,
                    changes: 10
                }
            ]
        );
        assert_eq!(canonical(" 60   10000 ").unwrap(), "60 10000");
        assert_eq!(parse("900").unwrap_err(), INVALID);
        assert_eq!(parse("900 x").unwrap_err(), INVALID);
        assert_eq!(parse("-1 5").unwrap_err(), INVALID);
    }

    #[test]
    fn a_rule_needs_both_time_and_changes() {
        let rules = parse("900 1 300 10 60 10000").unwrap();
        assert_eq!(due(&rules, 900, 5), None);
        assert_eq!(due(&rules, 901, 1).unwrap().seconds, 900);
        assert_eq!(due(&rules, 301, 10).unwrap().seconds, 300);
        assert_eq!(due(&rules, 61, 9999), None);
        assert_eq!(due(&rules, 61, 10000).unwrap().seconds, 60);
        assert_eq!(due(&[], 1_000_000, 1_000_000), None);
    }
}
