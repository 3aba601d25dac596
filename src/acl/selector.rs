//! One ACL selector: which commands, keys and channels it allows (Redis 7's
//! `aclSelector`). A user's root permissions are a selector, and `(...)` rules add more;
//! a command runs when any one selector allows all of it.
//!
//! Commands are a bitmap over the catalog's dense ids, so a check is one bit test. The
//! command rules are also kept as text, the way Redis 7.2 keeps them: each `+x`/`-x` drops
//! an earlier rule about the same command or category (and its `x|sub` rules) and is
//! appended, so `ACL LIST` shows the user's rules in the order that gives their meaning,
//! and `+@all`/`-@all` start the text afresh. (Redis 7.0 instead re-derives a description
//! from the bitmap; redis-py's tests expect 7.2's text.)
//!
//! Key and channel patterns use `glob`, whose matching is linear in the pattern and key.
//! Depends on `catalog`, `categories` and `glob`.

use std::collections::HashMap;

use super::catalog::{Catalog, CommandId};
use super::categories;
use super::RuleError;
use crate::glob::glob_match;

/// A key may be read (its value reaches the client: Redis's `ACCESS` key flag).
pub const KEY_READ: u8 = 1;
/// A key may be written (`INSERT`, `DELETE` or `UPDATE`).
pub const KEY_WRITE: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    /// [`KEY_READ`] | [`KEY_WRITE`]: what keys matching the pattern may be used for.
    pub access: u8,
    pub pattern: Vec<u8>,
}

/// A channel named by a command: subscribing to a pattern (`PSUBSCRIBE`) needs a rule
/// equal to that pattern, a plain channel any rule matching it.
#[derive(Clone, Copy)]
pub struct ChannelArg<'a> {
    pub name: &'a [u8],
    pub is_pattern: bool,
}

/// A key named by a command, with what the command does with it.
#[derive(Clone, Copy, Debug)]
pub struct KeyArg<'a> {
    pub name: &'a [u8],
    /// [`KEY_READ`] | [`KEY_WRITE`]; 0 when the command neither reads the value nor writes
    /// (`EXISTS`, `TYPE`): any pattern matching the key will do.
    pub access: u8,
    /// The key's argument index (reported as the denied position).
    pub index: usize,
}

/// What one permission check looks at.
pub struct Request<'a> {
    pub id: CommandId,
    /// `args[first_arg]` is the argument a first-arg rule (`+select|0`) matches.
    pub first_arg: Option<&'a [u8]>,
    pub keys: &'a [KeyArg<'a>],
    pub channels: &'a [(usize, ChannelArg<'a>)],
}

/// Why a check failed, ordered as Redis ranks them when no selector allows a command: a
/// key or channel denial says more than "not this command".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    /// The argument index of the denied key.
    Key(usize),
    /// The argument index of the denied channel.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The more relevant of two denials (Redis: higher kind, then later argument).
    pub fn most_relevant(self, other: Denied) -> Denied {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

#[derive(Clone, Debug)]
pub struct Selector {
    allowed: Vec<u64>,
    /// Set by `+@all`: the user may also run commands added later (and the description
    /// starts from `+@all`).
    all_commands: bool,
    /// `+select|0`: first arguments allowed for a command whose bit is clear.
    first_args: HashMap<CommandId, Vec<Vec<u8>>>,
    /// The command rules as text (see the module doc), without the leading `±@all`.
    rules: String,
    pub keys: Vec<KeyPattern>,
    pub all_keys: bool,
    pub channels: Vec<Vec<u8>>,
    pub all_channels: bool,
}

impl Selector {
    /// A selector allowing nothing; `all_channels` follows `acl-pubsub-default`.
    pub fn new(commands: usize, all_channels: bool) -> Selector {
        Selector {
            allowed: vec![0; commands.div_ceil(64)],
            all_commands: false,
            first_args: HashMap::new(),
            rules: String::new(),
            keys: Vec::new(),
            all_keys: false,
            channels: Vec::new(),
            all_channels,
        }
    }

    fn bit(&self, id: CommandId) -> bool {
        self.allowed[id as usize / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: CommandId, on: bool) {
        let word = &mut self.allowed[id as usize / 64];
        if on {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
        }
    }

    /// Allows or forbids a command and, for a container, every subcommand.
    fn change(&mut self, catalog: &Catalog, id: CommandId, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.remove(&id);
        for &sub in &catalog.entry(id).subcommands {
            self.set_bit(sub, allow);
        }
    }

    /// Whether everything is allowed: then no check needs to run.
    pub fn allows_everything(&self, commands: usize) -> bool {
        self.all_keys && self.all_channels && (0..commands).all(|id| self.bit(id as CommandId))
    }

    /// Applies one rule (`+get`, `~k*`, `&ch`, `allkeys`, ...).
    pub fn apply(&mut self, catalog: &Catalog, op: &[u8]) -> Result<(), RuleError> {
        let text = std::str::from_utf8(op).map_err(|_| RuleError::Syntax)?;
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
                return Ok(());
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.allowed.iter_mut().for_each(|w| *w = u64::MAX);
                self.all_commands = true;
                self.first_args.clear();
                self.rules.clear();
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.allowed.iter_mut().for_each(|w| *w = 0);
                self.all_commands = false;
                self.first_args.clear();
                self.rules.clear();
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~' | b'%') => self.add_key_pattern(op),
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelsAfterAll);
                }
                let pattern = op[1..].to_vec();
                if !self.channels.contains(&pattern) {
                    self.channels.push(pattern);
                }
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => {
                self.apply_command_rule(catalog, sign == b'+', &lower[1..])
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let (access, start) = if op[0] == b'~' {
            (KEY_READ | KEY_WRITE, 1)
        } else {
            let mut access = 0;
            let mut at = 1;
            loop {
                match op.get(at).map(u8::to_ascii_uppercase) {
                    Some(b'R') if access & KEY_READ == 0 => access |= KEY_READ,
                    Some(b'W') if access & KEY_WRITE == 0 => access |= KEY_WRITE,
                    Some(b'~') => break,
                    _ => return Err(RuleError::Syntax),
                }
                at += 1;
            }
            if access == 0 || at + 1 >= op.len() {
                return Err(RuleError::Syntax);
            }
            (access, at + 1)
        };
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let pattern = &op[start..];
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => existing.access |= access,
            None => self.keys.push(KeyPattern {
                access,
                pattern: pattern.to_vec(),
            }),
        }
        Ok(())
    }

    /// `+name`, `-name`, `+@category`, `+name|sub` (a subcommand, or a first argument of a
    /// command without subcommands). `rule` is lowercase, without the sign.
    fn apply_command_rule(
        &mut self,
        catalog: &Catalog,
        allow: bool,
        rule: &str,
    ) -> Result<(), RuleError> {
        if let Some(category) = rule.strip_prefix('@') {
            let bit = categories::bit(category).ok_or(RuleError::UnknownCommand)?;
            let ids: Vec<CommandId> = catalog
                .entries()
                .filter(|(_, e)| e.categories & bit != 0)
                .map(|(id, _)| id)
                .collect();
            for id in ids {
                self.change(catalog, id, allow);
            }
        } else if let Some((name, sub)) = rule.split_once('|') {
            let id = catalog.find(name).ok_or(RuleError::UnknownCommand)?;
            if sub.is_empty() {
                return Err(RuleError::Syntax);
            }
            if !catalog.entry(id).subcommands.is_empty() {
                if sub.contains('|') {
                    return Err(RuleError::FirstArgOfSubcommand);
                }
                let sub_id = catalog.find_sub(id, sub).ok_or(RuleError::UnknownCommand)?;
                self.set_bit(sub_id, allow);
            } else if !allow || sub.contains('|') {
                return Err(RuleError::UnknownCommand);
            } else {
                let args = self.first_args.entry(id).or_default();
                if !args.iter().any(|a| a == sub.as_bytes()) {
                    args.push(sub.as_bytes().to_vec());
                }
            }
        } else {
            let id = catalog.find(rule).ok_or(RuleError::UnknownCommand)?;
            self.change(catalog, id, allow);
        }
        self.record_rule(rule, allow);
        Ok(())
    }

    /// Drops earlier rules about `rule` (and its `rule|...` ones), then appends it.
    fn record_rule(&mut self, rule: &str, allow: bool) {
        let kept: Vec<&str> = self
            .rules
            .split(' ')
            .filter(|r| {
                let body = &r[1.min(r.len())..];
                !(body == rule
                    || body
                        .strip_prefix(rule)
                        .is_some_and(|rest| rest.starts_with('|')))
            })
            .filter(|r| !r.is_empty())
            .collect();
        let mut text = kept.join(" ");
        if !text.is_empty() {
            text.push(' ');
        }
        text.push(if allow { '+' } else { '-' });
        text.push_str(rule);
        self.rules = text;
    }

    /// The command rules: `-@all +get ...` (`commands` in `ACL GETUSER`).
    pub fn describe_commands(&self) -> String {
        let start = if self.all_commands { "+@all" } else { "-@all" };
        if self.rules.is_empty() {
            start.to_string()
        } else {
            format!("{start} {}", self.rules)
        }
    }

    /// The key patterns as rules (`~a* %R~b*`), `~*` for all keys.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        self.keys
            .iter()
            .map(|k| {
                let prefix = match k.access {
                    KEY_READ => "%R~",
                    KEY_WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The channel patterns as rules (`&a &b`), `&*` for all channels.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        self.channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The whole selector as rules, as `ACL LIST` prints it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let channels = self.describe_channels();
            if !channels.is_empty() {
                parts.push(channels);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// Checks a command against this selector: the command (or its first argument), then
    /// every key, then every channel, as Redis orders them.
    pub fn check(&self, catalog: &Catalog, request: &Request<'_>) -> Result<(), Denied> {
        if !catalog.entry(request.id).no_auth && !self.bit(request.id) {
            let first_arg_ok = request.first_arg.is_some_and(|arg| {
                self.first_args
                    .get(&request.id)
                    .is_some_and(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(arg)))
            });
            if !first_arg_ok {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys {
            for key in request.keys {
                if !self.key_allowed(key.name, key.access) {
                    return Err(Denied::Key(key.index));
                }
            }
        }
        if !self.all_channels {
            for (index, channel) in request.channels {
                if !self.channel_allowed(*channel) {
                    return Err(Denied::Channel(*index));
                }
            }
        }
        Ok(())
    }

    /// Whether some pattern granting at least `access` matches `key`.
    pub fn key_allowed(&self, key: &[u8], access: u8) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|k| k.access & access == access && glob_match(&k.pattern, key))
    }

    pub fn channel_allowed(&self, channel: ChannelArg<'_>) -> bool {
        self.all_channels
            || self.channels.iter().any(|pattern| {
                if channel.is_pattern {
                    pattern.as_slice() == channel.name
                } else {
                    glob_match(pattern, channel.name)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        let read = categories::bit("read").unwrap();
        let write = categories::bit("write").unwrap();
        c.add("get", read, false, []);
        c.add("set", write, false, []);
        c.add("select", 0, false, []);
        c.add(
            "client",
            0,
            false,
            [("client|id", 0, false), ("client|kill", 0, false)],
        );
        c.add("auth", 0, true, []);
        c
    }

    fn request(c: &Catalog, name: &str, first_arg: Option<&'static [u8]>) -> Request<'static> {
        let id = match name.split_once('|') {
            Some((cmd, sub)) => c.find_sub(c.find(cmd).unwrap(), sub).unwrap(),
            None => c.find(name).unwrap(),
        };
        Request {
            id,
            first_arg,
            keys: &[],
            channels: &[],
        }
    }

    #[test]
    fn command_rules_keep_their_last_word_in_order() {
        let c = catalog();
        let mut s = Selector::new(c.len(), false);
        for op in ["+get", "+@write", "-get", "+client|id"] {
            s.apply(&c, op.as_bytes()).unwrap();
        }
        assert_eq!(s.describe_commands(), "-@all +@write -get +client|id");
        assert!(s.check(&c, &request(&c, "set", None)).is_ok());
        assert_eq!(s.check(&c, &request(&c, "get", None)), Err(Denied::Command));
        assert!(s.check(&c, &request(&c, "client|id", None)).is_ok());
        assert!(s.check(&c, &request(&c, "client|kill", None)).is_err());
        // `+client` replaces the subcommand rule and allows the whole family.
        s.apply(&c, b"+client").unwrap();
        assert_eq!(s.describe_commands(), "-@all +@write -get +client");
        assert!(s.check(&c, &request(&c, "client|kill", None)).is_ok());
        s.apply(&c, b"+@all").unwrap();
        assert_eq!(s.describe_commands(), "+@all");
        // No-auth commands need no permission.
        s.apply(&c, b"-@all").unwrap();
        assert!(s.check(&c, &request(&c, "auth", None)).is_ok());
    }

    #[test]
    fn first_args_and_errors() {
        let c = catalog();
        let mut s = Selector::new(c.len(), false);
        s.apply(&c, b"+select|0").unwrap();
        assert!(s.check(&c, &request(&c, "select", Some(b"0"))).is_ok());
        assert!(s.check(&c, &request(&c, "select", Some(b"1"))).is_err());
        assert_eq!(s.apply(&c, b"-select|0"), Err(RuleError::UnknownCommand));
        assert_eq!(s.apply(&c, b"+nosuch"), Err(RuleError::UnknownCommand));
        assert_eq!(s.apply(&c, b"+@nosuch"), Err(RuleError::UnknownCommand));
        assert_eq!(
            s.apply(&c, b"+client|nosuch"),
            Err(RuleError::UnknownCommand)
        );
        assert_eq!(s.apply(&c, b"get"), Err(RuleError::Syntax));
    }

    #[test]
    fn key_patterns_merge_and_check_access() {
        let c = catalog();
        let mut s = Selector::new(c.len(), false);
        for op in ["%R~a", "%W~a", "~b", "%R~b", "%W~w*"] {
            s.apply(&c, op.as_bytes()).unwrap();
        }
        assert_eq!(s.describe_keys(), "~a ~b %W~w*");
        assert!(s.key_allowed(b"wx", KEY_WRITE));
        assert!(!s.key_allowed(b"wx", KEY_READ));
        assert!(s.key_allowed(b"wx", 0));
        assert!(!s.key_allowed(b"zz", 0));
        for bad in ["%RX~a", "%~a", "%R~", "%RR~a"] {
            assert_eq!(s.apply(&c, bad.as_bytes()), Err(RuleError::Syntax), "{bad}");
        }
        s.apply(&c, b"allkeys").unwrap();
        assert_eq!(s.apply(&c, b"~x"), Err(RuleError::KeysAfterAll));
    }

    #[test]
    fn channel_patterns_match_channels_and_equal_patterns() {
        let c = catalog();
        let mut s = Selector::new(c.len(), false);
        s.apply(&c, b"&news.*").unwrap();
        let plain = |name: &'static [u8]| ChannelArg {
            name,
            is_pattern: false,
        };
        assert!(s.channel_allowed(plain(b"news.a")));
        assert!(!s.channel_allowed(plain(b"other")));
        assert!(s.channel_allowed(ChannelArg {
            name: b"news.*",
            is_pattern: true
        }));
        assert!(!s.channel_allowed(ChannelArg {
            name: b"news.a*",
            is_pattern: true
        }));
        assert_eq!(s.describe(), "resetchannels &news.* -@all");
        s.apply(&c, b"allchannels").unwrap();
        assert_eq!(s.apply(&c, b"&x"), Err(RuleError::ChannelsAfterAll));
    }

    #[test]
    fn the_most_relevant_denial_wins() {
        assert_eq!(
            Denied::Command.most_relevant(Denied::Key(1)),
            Denied::Key(1)
        );
        assert_eq!(Denied::Key(2).most_relevant(Denied::Key(1)), Denied::Key(2));
        assert_eq!(
            Denied::Channel(1).most_relevant(Denied::Key(3)),
            Denied::Channel(1)
        );
    }
}
