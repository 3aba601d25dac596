//! Redis 7's ACL command categories (`ACL CAT`), in Redis's order. A leaf module.

pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category name (without the `@`, any case).
pub fn bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The bit set of a command's category list as the table writes it (`["@read", "@fast"]`).
pub fn mask_of(names: &[&str]) -> u32 {
    names
        .iter()
        .filter_map(|n| bit(n.trim_start_matches('@')))
        .fold(0, |mask, b| mask | b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_fit_a_mask() {
        assert!(CATEGORIES.len() <= 32);
        assert_eq!(bit("READ"), Some(2));
        assert_eq!(mask_of(&["@keyspace", "@write"]), 0b101);
        assert_eq!(bit("nosuch"), None);
    }
}
