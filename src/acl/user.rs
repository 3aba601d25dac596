//! An ACL user: enabled or not, its passwords (SHA-256 hashes only, as Redis stores them),
//! its root selector and any further selectors (Redis 7's `user`).
//!
//! A [`User`] is shared by every connection authenticated as it, so a rule change applies
//! to them at once, as in Redis. `ACL SETUSER` applies its rules to a copy and swaps the
//! copy in only when every rule parsed: a failing line changes nothing.
//! Depends on `selector`, `catalog` and the `sha2` crate.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::catalog::Catalog;
use super::selector::{Denied, Request, Selector};
use super::RuleError;

pub type PasswordHash = [u8; 32];

pub fn hash_password(password: &[u8]) -> PasswordHash {
    Sha256::digest(password).into()
}

pub fn hex(hash: &PasswordHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `#`/`!` rule's hash: exactly 64 lowercase hex digits.
fn parse_hex_hash(text: &[u8]) -> Result<PasswordHash, RuleError> {
    if text.len() != 64 || !text.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    let mut hash = [0u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        let digit = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        hash[i] = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(hash)
}

#[derive(Clone, Debug)]
pub struct UserRules {
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` / `skip-sanitize-payload` when one was given (shown as flags).
    pub sanitize_payload: Option<bool>,
    pub passwords: Vec<PasswordHash>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

impl UserRules {
    /// A new user: off, no password, no commands, keys or channels (channels as
    /// `acl-pubsub-default` says).
    pub fn new(catalog: &Catalog, all_channels: bool) -> UserRules {
        UserRules {
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            root: Selector::new(catalog.len(), all_channels),
            selectors: Vec::new(),
        }
    }

    /// Applies one `ACL SETUSER` rule.
    pub fn apply(
        &mut self,
        catalog: &Catalog,
        all_channels_default: bool,
        op: &[u8],
    ) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize_payload = Some(false),
            b"sanitize-payload" => self.sanitize_payload = Some(true),
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                let fresh = UserRules::new(catalog, all_channels_default);
                *self = UserRules {
                    sanitize_payload: Some(true),
                    ..fresh
                };
            }
            _ => match op.first() {
                Some(b'>') => {
                    self.add_password(hash_password(&op[1..]));
                }
                Some(b'#') => {
                    self.add_password(parse_hex_hash(&op[1..])?);
                }
                Some(b'<') => self.remove_password(hash_password(&op[1..]))?,
                Some(b'!') => self.remove_password(parse_hex_hash(&op[1..])?)?,
                Some(b'(') if op.last() == Some(&b')') => {
                    let mut selector = Selector::new(catalog.len(), all_channels_default);
                    let inner = &op[1..op.len() - 1];
                    for rule in inner.split(|&c| c == b' ').filter(|r| !r.is_empty()) {
                        selector.apply(catalog, rule)?;
                    }
                    self.selectors.push(selector);
                }
                _ => self.root.apply(catalog, op)?,
            },
        }
        Ok(())
    }

    fn add_password(&mut self, hash: PasswordHash) {
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
        self.nopass = false;
    }

    fn remove_password(&mut self, hash: PasswordHash) -> Result<(), RuleError> {
        let at = self
            .passwords
            .iter()
            .position(|p| *p == hash)
            .ok_or(RuleError::NoSuchPassword)?;
        self.passwords.remove(at);
        self.nopass = false;
        Ok(())
    }

    /// The flags `ACL GETUSER` lists.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The user's rules as one `ACL LIST` line (without `user name`).
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().into_iter().map(String::from).collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{}", hex(p))));
        parts.push(self.root.describe());
        parts.extend(self.selectors.iter().map(|s| format!("({})", s.describe())));
        parts.join(" ")
    }

    pub fn password_ok(&self, password: &[u8]) -> bool {
        self.nopass || self.passwords.contains(&hash_password(password))
    }

    /// Checks a command against the root selector, then each further one; when none allows
    /// it, the most relevant denial (Redis's ranking).
    pub fn check(&self, catalog: &Catalog, request: &Request<'_>) -> Result<(), Denied> {
        let mut relevant = match self.root.check(catalog, request) {
            Ok(()) => return Ok(()),
            Err(denied) => denied,
        };
        for selector in &self.selectors {
            match selector.check(catalog, request) {
                Ok(()) => return Ok(()),
                Err(denied) => relevant = relevant.most_relevant(denied),
            }
        }
        Err(relevant)
    }

    fn allows_everything(&self, catalog: &Catalog) -> bool {
        self.root.allows_everything(catalog.len())
    }
}

/// A user as connections hold it.
pub struct User {
    pub name: String,
    /// Swapped whole on a change; read without a lock (every restricted command reads
    /// it, from every worker: a lock's shared counter would bounce between the cores).
    rules: ArcSwap<UserRules>,
    /// The root selector allows everything: the gate skips the check (the default user's
    /// usual case costs one atomic load per command).
    unrestricted: AtomicBool,
    /// Deleted (`ACL DELUSER`, or replaced by `ACL LOAD`): its connections are closed.
    removed: AtomicBool,
    /// Bumped after every change of the rules: connections keep their own copy of the
    /// rules and reload it only when this moved (a read of a line no one writes, where
    /// even a lock-free load of the shared pointer showed in profiles).
    generation: AtomicU64,
}

impl User {
    pub fn new(name: &str, rules: UserRules, catalog: &Catalog) -> User {
        let unrestricted = rules.allows_everything(catalog);
        User {
            name: name.to_string(),
            rules: ArcSwap::from_pointee(rules),
            unrestricted: AtomicBool::new(unrestricted),
            removed: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        }
    }

    pub fn rules(&self) -> arc_swap::Guard<std::sync::Arc<UserRules>> {
        self.rules.load()
    }

    pub fn replace_rules(&self, rules: UserRules, catalog: &Catalog) {
        let unrestricted = rules.allows_everything(catalog);
        self.rules.store(std::sync::Arc::new(rules));
        self.unrestricted.store(unrestricted, Ordering::Release);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The current rules with their generation (see [`User::generation`]).
    pub fn snapshot(&self) -> (u64, std::sync::Arc<UserRules>) {
        let generation = self.generation.load(Ordering::Acquire);
        (generation, self.rules.load_full())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Acquire)
    }

    pub fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        c.add(
            "get",
            super::super::categories::bit("read").unwrap(),
            false,
            [],
        );
        c
    }

    #[test]
    fn passwords_and_flags() {
        let c = catalog();
        let mut u = UserRules::new(&c, false);
        for op in ["on", ">p1", ">p2", "<p1"] {
            u.apply(&c, false, op.as_bytes()).unwrap();
        }
        assert!(u.password_ok(b"p2") && !u.password_ok(b"p1"));
        assert_eq!(u.apply(&c, false, b"<p1"), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(&c, false, b"#abc"), Err(RuleError::BadHash));
        let hash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
        u.apply(&c, false, format!("#{hash}").as_bytes()).unwrap();
        assert!(u.password_ok(b"password"));
        u.apply(&c, false, b"nopass").unwrap();
        assert!(u.passwords.is_empty() && u.password_ok(b"anything"));
        assert_eq!(u.describe(), "on nopass resetchannels -@all");
        u.apply(&c, false, b"reset").unwrap();
        assert_eq!(u.describe(), "off sanitize-payload resetchannels -@all");
    }

    #[test]
    fn selectors_are_described_in_parentheses() {
        let c = catalog();
        let mut u = UserRules::new(&c, false);
        for op in ["on", "nopass", "%R~r*", "+get", "(+get ~s*)"] {
            u.apply(&c, false, op.as_bytes()).unwrap();
        }
        assert_eq!(
            u.describe(),
            "on nopass %R~r* resetchannels -@all +get (~s* resetchannels -@all +get)"
        );
        assert_eq!(
            u.apply(&c, false, b"(+nosuch)"),
            Err(RuleError::UnknownCommand)
        );
    }
}
