//! The ACL key-access facts (`commands::key_access`) against a real `redis-server`'s key
//! specs: for every command both know, the first key's and the later keys' access must be
//! what `COMMAND INFO` says (Redis's `ACCESS` flag = read, `INSERT`/`DELETE`/`UPDATE` =
//! write). A mistake here would let a `%R~` user write, or refuse a `%W~` user's write.

use crate::differential::RealRedis;
use crate::harness::{Raw, V};
use strata::commands::key_access::{key_access, READ, WRITE};

fn text(v: &V) -> String {
    match v {
        V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        V::Status(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// The access bits of one Redis key spec (its `flags` list).
fn spec_access(spec: &V) -> Option<u8> {
    let V::Array(fields) = spec else { return None };
    let at = fields.iter().position(|f| text(f) == "flags")?;
    let V::Array(flags) = &fields[at + 1] else {
        return None;
    };
    let flags: Vec<String> = flags.iter().map(text).collect();
    if flags.iter().any(|f| f == "not_key") {
        return None;
    }
    let mut access = 0;
    if flags.iter().any(|f| f == "access") {
        access |= READ;
    }
    if flags
        .iter()
        .any(|f| matches!(f.as_str(), "insert" | "delete" | "update"))
    {
        access |= WRITE;
    }
    Some(access)
}

/// (full name, access of each key spec) for every command and subcommand.
fn redis_specs(info: &V, out: &mut Vec<(String, Vec<u8>)>) {
    let V::Array(fields) = info else { return };
    let name = text(&fields[0]);
    let specs = match fields.get(8) {
        Some(V::Array(specs)) => specs.iter().filter_map(spec_access).collect(),
        _ => Vec::new(),
    };
    out.push((name, specs));
    if let Some(V::Array(subs)) = fields.get(9) {
        for sub in subs {
            redis_specs(sub, out);
        }
    }
}

#[test]
fn key_access_matches_redis_key_specs() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let mut raw = Raw::connect_unix(&redis.socket);
    let V::Array(commands) = raw.cmd(&["COMMAND"]) else {
        panic!("COMMAND did not answer an array");
    };
    let mut specs = Vec::new();
    for info in &commands {
        redis_specs(info, &mut specs);
    }
    assert!(specs.len() > 300, "only {} commands", specs.len());
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (name, access) in specs {
        let Some(&first) = access.first() else {
            continue;
        };
        let last = *access.last().unwrap_or(&first);
        // SET and BITFIELD's access depends on their arguments (`access_of`); their
        // table entry is the widest, as Redis's spec is.
        let ours = key_access(&name);
        checked += 1;
        if ours != (first, last) {
            mismatches.push(format!(
                "{name}: redis {:?}, strata {ours:?}",
                (first, last)
            ));
        }
    }
    assert!(checked > 150, "only {checked} commands with keys");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
