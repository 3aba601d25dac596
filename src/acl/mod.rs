//! Access control lists as Redis 7 has them (docs/acl.md): users with passwords, and for
//! each the commands, keys and channels it may use; the `default` user mirrors
//! `requirepass`; `aclfile` and `user` directives; the denial log.
//!
//! The dispatch gate is the one place permissions are checked (socket commands, `EXEC`,
//! Lua's `redis.call` alike); this module answers "may this user run this request" and
//! keeps the users. Invariant: the `default` user always exists and is never replaced, only
//! its rules are (connections hold `Arc<User>`). Depends on `glob` and leaf crates only:
//! what it knows about commands comes in as a [`Catalog`].

pub mod catalog;
pub mod categories;
pub mod log;
pub mod selector;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub use catalog::{Catalog, CommandId};
pub use selector::{ChannelArg, Denied, KeyArg, Request, KEY_READ, KEY_WRITE};
pub use user::{User, UserRules};

/// Why an `ACL SETUSER` rule was refused; the texts are Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Unknown command or category name in ACL")]
    UnknownCommand,
    #[error("Syntax error")]
    Syntax,
    #[error(
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does \
         not have any effect. Try 'resetkeys' to start with an empty list of patterns"
    )]
    KeysAfterAll,
    #[error(
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and \
         does not have any effect. Try 'resetchannels' to start with an empty list of channels"
    )]
    ChannelsAfterAll,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase \
         hexadecimal characters"
    )]
    BadHash,
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// A rejected `ACL SETUSER` (or a `user` line): the offending rule and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetUserError {
    Rule {
        op: String,
        error: RuleError,
    },
    /// A `(` selector with no closing `)`.
    UnmatchedParenthesis(String),
    /// Usernames may not contain spaces (they could not be written back to an ACL file).
    BadName,
}

impl std::fmt::Display for SetUserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetUserError::Rule { op, error } => {
                write!(f, "Error in ACL SETUSER modifier '{op}': {error}")
            }
            SetUserError::UnmatchedParenthesis(start) => {
                write!(
                    f,
                    "Unmatched parenthesis in acl selector starting at '{start}'."
                )
            }
            SetUserError::BadName => write!(f, "Usernames can't contain spaces or null characters"),
        }
    }
}

/// Denials and failed logins counted for `INFO stats`.
#[derive(Default)]
pub struct DenialCounters {
    pub auth: AtomicU64,
    pub command: AtomicU64,
    pub key: AtomicU64,
    pub channel: AtomicU64,
}

pub struct Acl {
    catalog: Catalog,
    users: RwLock<BTreeMap<String, Arc<User>>>,
    default_user: Arc<User>,
    /// `acl-pubsub-default allchannels`: new users and selectors start with every channel.
    pub all_channels_default: AtomicBool,
    pub log: log::AclLog,
    pub denied: DenialCounters,
}

/// The default user's rules when nothing configures them: everything, no password.
const DEFAULT_USER_RULES: &[&str] = &["on", "nopass", "~*", "&*", "+@all"];

impl Acl {
    pub fn new(catalog: Catalog) -> Acl {
        let rules = default_rules(&catalog);
        let default_user = Arc::new(User::new("default", rules, &catalog));
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), default_user.clone());
        Acl {
            catalog,
            users: RwLock::new(users),
            default_user,
            all_channels_default: AtomicBool::new(false),
            log: log::AclLog::default(),
            denied: DenialCounters::default(),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn default_user(&self) -> Arc<User> {
        self.default_user.clone()
    }

    /// The user of a replication link applying its primary's commands: allowed
    /// everything, like Redis's master client, whatever the default user may do.
    pub fn primary_link_user(&self) -> Arc<User> {
        Arc::new(User::new(
            "default",
            default_rules(&self.catalog),
            &self.catalog,
        ))
    }

    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        self.users.read().get(name).cloned()
    }

    /// Whether a new connection starts authenticated (the default user needs no password).
    pub fn anonymous_allowed(&self) -> bool {
        let rules = self.default_user.rules();
        rules.enabled && rules.nopass
    }

    fn all_channels(&self) -> bool {
        self.all_channels_default.load(Ordering::Relaxed)
    }

    /// `ACL SETUSER name rules...`: creates the user if needed; all rules or none apply.
    pub fn set_user(&self, name: &[u8], ops: &[&[u8]]) -> Result<(), SetUserError> {
        if name.is_empty() || name.iter().any(|&c| c == b' ' || c == 0) {
            return Err(SetUserError::BadName);
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let ops = merge_selector_args(ops)?;
        let existing = self.users.read().get(&name).cloned();
        let mut rules = match &existing {
            Some(user) => UserRules::clone(&user.rules()),
            None => UserRules::new(&self.catalog, self.all_channels()),
        };
        for op in &ops {
            rules
                .apply(&self.catalog, self.all_channels(), op)
                .map_err(|error| SetUserError::Rule {
                    op: String::from_utf8_lossy(op).into_owned(),
                    error,
                })?;
        }
        match existing {
            Some(user) => user.replace_rules(rules, &self.catalog),
            None => {
                let user = Arc::new(User::new(&name, rules, &self.catalog));
                self.users.write().insert(name, user);
            }
        }
        Ok(())
    }

    /// Removes a user; the caller disconnects its clients. `None` when there is none.
    pub fn delete_user(&self, name: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        let user = self.users.write().remove(name)?;
        user.mark_removed();
        Some(user)
    }

    pub fn usernames(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    /// `ACL LIST` lines.
    pub fn list(&self) -> Vec<String> {
        self.users
            .read()
            .values()
            .map(|u| format!("user {} {}", u.name, u.rules().describe()))
            .collect()
    }

    /// The user `name` when it is enabled and `password` is one of its passwords.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let user = self.user(name)?;
        let ok = {
            let rules = user.rules();
            rules.enabled && rules.password_ok(password)
        };
        ok.then_some(user)
    }

    /// `requirepass`: the default user's only password (none: `nopass`).
    pub fn set_requirepass(&self, password: &str) {
        let op = if password.is_empty() {
            "nopass".to_string()
        } else {
            format!(">{password}")
        };
        let ops: [&[u8]; 2] = [b"resetpass", op.as_bytes()];
        self.set_user(b"default", &ops)
            .expect("resetpass and a password always apply");
    }

    /// Replaces every user with those of `lines` (an ACL file's). Nothing changes when any
    /// line is wrong. Returns the users that were replaced: their clients are closed, as
    /// Redis closes them (the default user stays the same object, with the new rules, or
    /// with the built-in ones when the file does not define it).
    pub fn load(&self, path: &str, text: &str) -> Result<Vec<Arc<User>>, String> {
        let mut errors = String::new();
        let mut loaded: BTreeMap<String, UserRules> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let Some(args) = split_line(line) else {
                errors.push_str(&format!(
                    "{path}:{line_no}: unbalanced quotes in acl line. "
                ));
                continue;
            };
            if args.is_empty() {
                continue;
            }
            if args[0] != b"user" || args.len() < 2 {
                errors.push_str(&format!(
                    "{path}:{line_no} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = String::from_utf8_lossy(&args[1]).into_owned();
            if name.contains(' ') {
                errors.push_str(&format!(
                    "'{path}:{line_no}: username '{name}' contains invalid characters. "
                ));
                continue;
            }
            if loaded.contains_key(&name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{name}' found on line {line_no}. "
                ));
                continue;
            }
            let ops: Vec<&[u8]> = args[2..].iter().map(Vec::as_slice).collect();
            let ops = match merge_selector_args(&ops) {
                Ok(ops) => ops,
                Err(_) => {
                    errors.push_str(&format!(
                        "{path}:{line_no}: Unmatched parenthesis in selector definition."
                    ));
                    continue;
                }
            };
            let mut rules = UserRules::new(&self.catalog, self.all_channels());
            // As Redis: an unknown command or category is named (it is no secret), every
            // other error only once per line, without the rule (it may hold a password).
            let mut failed = false;
            for op in &ops {
                match rules.apply(&self.catalog, self.all_channels(), op) {
                    Ok(()) => {}
                    Err(RuleError::UnknownCommand) => {
                        errors.push_str(&format!(
                            "{path}:{line_no}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(op),
                            RuleError::UnknownCommand
                        ));
                        failed = true;
                    }
                    Err(e) => {
                        if !failed {
                            errors.push_str(&format!("{path}:{line_no}: {e}. "));
                        }
                        failed = true;
                    }
                }
            }
            if !failed {
                loaded.insert(name, rules);
            }
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was \
                 performed",
            );
            return Err(errors);
        }
        let default_rules = loaded
            .remove("default")
            .unwrap_or_else(|| default_rules(&self.catalog));
        self.default_user
            .replace_rules(default_rules, &self.catalog);
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), self.default_user.clone());
        for (name, rules) in loaded {
            let user = Arc::new(User::new(&name, rules, &self.catalog));
            users.insert(name, user);
        }
        let old = std::mem::replace(&mut *self.users.write(), users);
        let replaced: Vec<Arc<User>> = old
            .into_values()
            .filter(|u| !Arc::ptr_eq(u, &self.default_user))
            .collect();
        for user in &replaced {
            user.mark_removed();
        }
        Ok(replaced)
    }

    /// The ACL file text `ACL SAVE` writes: one `user` line per user.
    pub fn file_text(&self) -> String {
        let mut text = self.list().join("\n");
        text.push('\n');
        text
    }

    /// Checks a request against a user.
    pub fn check(&self, user: &User, request: &Request<'_>) -> Result<(), Denied> {
        user.rules().check(&self.catalog, request)
    }

    pub fn count_denial(&self, reason: log::Reason) {
        let counter = match reason {
            log::Reason::Auth => &self.denied.auth,
            log::Reason::Command => &self.denied.command,
            log::Reason::Key => &self.denied.key,
            log::Reason::Channel => &self.denied.channel,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn default_rules(catalog: &Catalog) -> UserRules {
    let mut rules = UserRules::new(catalog, true);
    for op in DEFAULT_USER_RULES {
        rules
            .apply(catalog, true, op.as_bytes())
            .expect("the default user's rules are valid");
    }
    rules
}

/// Joins a selector split over several arguments (`(+get`, `~k*)`) into one, as Redis
/// accepts both forms.
fn merge_selector_args(ops: &[&[u8]]) -> Result<Vec<Vec<u8>>, SetUserError> {
    let mut merged = Vec::with_capacity(ops.len());
    let mut open: Option<Vec<u8>> = None;
    for op in ops {
        match open.as_mut() {
            Some(acc) => {
                acc.push(b' ');
                acc.extend_from_slice(op);
                if op.last() == Some(&b')') {
                    merged.push(open.take().unwrap_or_default());
                }
            }
            None if op.first() == Some(&b'(') && op.last() != Some(&b')') => {
                open = Some(op.to_vec())
            }
            None => merged.push(op.to_vec()),
        }
    }
    if let Some(start) = open {
        // Redis names the first argument of the unclosed selector.
        let first = ops
            .iter()
            .find(|op| start.starts_with(op) && op.first() == Some(&b'('))
            .map_or(&start[..], |op| &op[..]);
        return Err(SetUserError::UnmatchedParenthesis(
            String::from_utf8_lossy(first).into_owned(),
        ));
    }
    Ok(merged)
}

/// Splits an ACL file line into arguments: spaces separate, double or single quotes group
/// (a `>pass word` password), as Redis's `sdssplitargs`. `None` for unbalanced quotes.
fn split_line(line: &str) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut chars = line.trim().bytes().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_whitespace() {
            chars.next();
            continue;
        }
        let mut arg = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            match (chars.next(), quote) {
                (None, None) => break,
                (None, Some(_)) => return None,
                (Some(q), Some(open)) if q == open => {
                    quote = None;
                }
                (Some(b'\\'), Some(b'"')) => arg.push(chars.next()?),
                (Some(ch), Some(_)) => arg.push(ch),
                (Some(q @ (b'"' | b'\'')), None) => quote = Some(q),
                (Some(ch), None) if ch.is_ascii_whitespace() => break,
                (Some(ch), None) => arg.push(ch),
            }
        }
        args.push(arg);
    }
    Some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl() -> Acl {
        let mut c = Catalog::default();
        c.add("get", categories::bit("read").unwrap(), false, []);
        c.add("set", categories::bit("write").unwrap(), false, []);
        Acl::new(c)
    }

    #[test]
    fn default_user_and_requirepass() {
        let acl = acl();
        assert!(acl.anonymous_allowed());
        assert!(acl.default_user().is_unrestricted());
        assert_eq!(acl.list(), vec!["user default on nopass ~* &* +@all"]);
        acl.set_requirepass("s3");
        assert!(!acl.anonymous_allowed());
        assert!(acl.authenticate(b"default", b"s3").is_some());
        assert!(acl.authenticate(b"default", b"x").is_none());
        acl.set_requirepass("");
        assert!(acl.anonymous_allowed());
    }

    #[test]
    fn set_user_is_all_or_nothing() {
        let acl = acl();
        acl.set_user(b"u", &[b"on", b">p", b"+get"]).unwrap();
        let err = acl.set_user(b"u", &[b"-get", b"+nosuch"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
        );
        let u = acl.user(b"u").unwrap();
        assert_eq!(u.rules().root.describe_commands(), "-@all +get");
        assert!(!u.is_unrestricted());
        acl.set_user(b"u", &[b"(+set", b"~s*)"]).unwrap();
        assert_eq!(u.rules().selectors.len(), 1);
        assert!(matches!(
            acl.set_user(b"u", &[b"(+set"]),
            Err(SetUserError::UnmatchedParenthesis(_))
        ));
        let removed = acl.delete_user(b"u").unwrap();
        assert!(removed.is_removed() && acl.user(b"u").is_none());
    }

    #[test]
    fn acl_files_load_whole_or_not_at_all() {
        let acl = acl();
        acl.set_user(b"old", &[b"on"]).unwrap();
        let old = acl.user(b"old").unwrap();
        let Err(err) = acl.load("users.acl", "user a on >p +get\nuser b +nosuch\n") else {
            panic!("a bad line must fail the load");
        };
        assert!(err.contains("users.acl:2"), "{err}");
        assert!(acl.user(b"a").is_none() && acl.user(b"old").is_some());
        let replaced = acl
            .load(
                "users.acl",
                "user a on \">p w\" +get ~*\n\nuser default on >x +@all ~*\n",
            )
            .unwrap();
        assert_eq!(replaced.len(), 1);
        assert!(old.is_removed());
        assert!(acl.authenticate(b"a", b"p w").is_some());
        assert!(!acl.anonymous_allowed());
        assert!(acl.file_text().starts_with("user a on #"));
    }
}
