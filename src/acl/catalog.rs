//! What ACL rules know about commands: a dense id per command and subcommand, its full
//! name, its categories and its family (a container and its subcommands).
//!
//! Built once by the command table (`commands::table`), which owns the facts; ACL only
//! reads this copy, so the `acl` module never imports `commands` (no cycle). Rules name
//! commands by their original names, as Redis's do, whatever `rename-command` did.

use std::collections::HashMap;

/// A command's dense id, an index into every selector's permission bitmap.
pub type CommandId = u16;

pub struct CatalogEntry {
    /// `get`, or `client|list` for a subcommand.
    pub full_name: &'static str,
    /// Bit set of [`super::categories::CATEGORIES`].
    pub categories: u32,
    /// The container of a subcommand.
    pub parent: Option<CommandId>,
    /// A container's subcommands.
    pub subcommands: Vec<CommandId>,
    /// Allowed to everyone (`AUTH`, `HELLO`): Redis's `no-auth` commands skip ACL checks.
    pub no_auth: bool,
}

#[derive(Default)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
    /// Top-level commands by lowercase name.
    by_name: HashMap<&'static str, CommandId>,
}

impl Catalog {
    /// Adds a top-level command, then its subcommands; returns the command's id.
    pub fn add(
        &mut self,
        name: &'static str,
        categories: u32,
        no_auth: bool,
        subcommands: impl IntoIterator<Item = (&'static str, u32, bool)>,
    ) -> CommandId {
        let id = self.entries.len() as CommandId;
        self.entries.push(CatalogEntry {
            full_name: name,
            categories,
            parent: None,
            subcommands: Vec::new(),
            no_auth,
        });
        self.by_name.insert(name, id);
        for (full_name, categories, no_auth) in subcommands {
            let sub = self.entries.len() as CommandId;
            self.entries.push(CatalogEntry {
                full_name,
                categories,
                parent: Some(id),
                subcommands: Vec::new(),
                no_auth,
            });
            self.entries[id as usize].subcommands.push(sub);
        }
        id
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, id: CommandId) -> &CatalogEntry {
        &self.entries[id as usize]
    }

    pub fn entries(&self) -> impl Iterator<Item = (CommandId, &CatalogEntry)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i as CommandId, e))
    }

    /// A top-level command by name (any case).
    pub fn find(&self, name: &str) -> Option<CommandId> {
        self.by_name
            .get(name.to_ascii_lowercase().as_str())
            .copied()
    }

    /// A subcommand of `parent` by name (any case).
    pub fn find_sub(&self, parent: CommandId, name: &str) -> Option<CommandId> {
        self.entry(parent).subcommands.iter().copied().find(|&s| {
            let full = self.entry(s).full_name;
            full.split_once('|')
                .is_some_and(|(_, sub)| sub.eq_ignore_ascii_case(name))
        })
    }
}
