//! What each command does with its keys, for ACL key permissions (`%R~`, `%W~`): the facts
//! of Redis 7's key specs reduced to what ACL asks (Redis's `ACCESS` flag means the value
//! is read; `INSERT`, `DELETE` and `UPDATE` mean it is written), written by us. A
//! command's first key and the rest may differ (`LMOVE`'s source and destination,
//! `SINTERSTORE`'s destination and sources); `SET ... GET` and `BITFIELD` depend on their
//! arguments as in Redis. The differential test `key_access_matches_redis_key_specs`
//! compares this table with `COMMAND INFO` of a real `redis-server`.
//! Depends only on `acl`'s access bits.

use bytes::Bytes;

use crate::acl::{KEY_READ, KEY_WRITE};

/// Neither read nor written (`EXISTS`, `TYPE`): any pattern matching the key allows it.
pub const NONE: u8 = 0;
pub const READ: u8 = KEY_READ;
pub const WRITE: u8 = KEY_WRITE;
pub const READ_WRITE: u8 = KEY_READ | KEY_WRITE;

/// Access to the first key and to every later one.
pub fn key_access(full_name: &str) -> (u8, u8) {
    match full_name {
        "exists" | "hexists" | "hlen" | "hstrlen" | "llen" | "memory|usage" | "object|encoding"
        | "object|freq" | "object|idletime" | "object|refcount" | "scard" | "sismember"
        | "strlen" | "touch" | "type" | "watch" | "xlen" | "zcard" => (NONE, NONE),
        "bitcount"
        | "bitfield_ro"
        | "bitpos"
        | "eval_ro"
        | "evalsha_ro"
        | "expiretime"
        | "fcall_ro"
        | "geodist"
        | "geohash"
        | "geopos"
        | "georadius_ro"
        | "georadiusbymember_ro"
        | "geosearch"
        | "get"
        | "getbit"
        | "getrange"
        | "hget"
        | "hgetall"
        | "hkeys"
        | "hmget"
        | "hrandfield"
        | "hscan"
        | "hvals"
        | "lcs"
        | "lindex"
        | "lpos"
        | "lrange"
        | "mget"
        | "pexpiretime"
        | "pfcount"
        | "pfdebug"
        | "pttl"
        | "sdiff"
        | "sinter"
        | "sintercard"
        | "smembers"
        | "smismember"
        | "sort_ro"
        | "srandmember"
        | "sscan"
        | "substr"
        | "sunion"
        | "ttl"
        | "xinfo|consumers"
        | "xinfo|groups"
        | "xinfo|stream"
        | "xpending"
        | "xrange"
        | "xread"
        | "xreadgroup"
        | "xrevrange"
        | "zcount"
        | "zdiff"
        | "zinter"
        | "zintercard"
        | "zlexcount"
        | "zmscore"
        | "zrandmember"
        | "zrange"
        | "zrangebylex"
        | "zrangebyscore"
        | "zrank"
        | "zrevrange"
        | "zrevrangebylex"
        | "zrevrangebyscore"
        | "zrevrank"
        | "zscan"
        | "zscore"
        | "zunion" => (READ, READ),
        "dump" => (READ, READ),
        "migrate" => (READ_WRITE, READ_WRITE),
        "restore" | "restore-asking" => (WRITE, WRITE),
        "copy" | "georadius" | "georadiusbymember" | "sort" => (READ, WRITE),
        "pfmerge" => (READ_WRITE, READ),
        "bitfield" | "blmpop" | "blpop" | "brpop" | "bzmpop" | "bzpopmax" | "bzpopmin" | "decr"
        | "decrby" | "eval" | "evalsha" | "fcall" | "getdel" | "getex" | "getset" | "hincrby"
        | "hincrbyfloat" | "incr" | "incrby" | "incrbyfloat" | "lmpop" | "lpop" | "move"
        | "rpop" | "set" | "setbit" | "spop" | "zincrby" | "zmpop" | "zpopmax" | "zpopmin" => {
            (READ_WRITE, READ_WRITE)
        }
        "blmove" | "brpoplpush" | "lmove" | "rename" | "renamenx" | "rpoplpush" | "smove" => {
            (READ_WRITE, WRITE)
        }
        "bitop" | "geosearchstore" | "sdiffstore" | "sinterstore" | "sunionstore"
        | "zdiffstore" | "zinterstore" | "zrangestore" | "zunionstore" => (WRITE, READ),
        "append"
        | "del"
        | "expire"
        | "expireat"
        | "geoadd"
        | "hdel"
        | "hmset"
        | "hset"
        | "hsetnx"
        | "linsert"
        | "lpush"
        | "lpushx"
        | "lrem"
        | "lset"
        | "ltrim"
        | "mset"
        | "msetnx"
        | "persist"
        | "pexpire"
        | "pexpireat"
        | "pfadd"
        | "psetex"
        | "rpush"
        | "rpushx"
        | "sadd"
        | "setex"
        | "setnx"
        | "setrange"
        | "srem"
        | "unlink"
        | "xack"
        | "xadd"
        | "xautoclaim"
        | "xclaim"
        | "xdel"
        | "xgroup|create"
        | "xgroup|createconsumer"
        | "xgroup|delconsumer"
        | "xgroup|destroy"
        | "xgroup|setid"
        | "xsetid"
        | "xtrim"
        | "zadd"
        | "zrem"
        | "zremrangebylex"
        | "zremrangebyrank"
        | "zremrangebyscore" => (WRITE, WRITE), // Hash-field expiry (Redis 7.4's specs).
        "hexpire" | "hpexpire" | "hexpireat" | "hpexpireat" | "hpersist" | "hsetex" => {
            (WRITE, WRITE)
        }
        "httl" | "hpttl" | "hexpiretime" | "hpexpiretime" => (READ, READ),
        "hgetdel" | "hgetex" => (READ_WRITE, READ_WRITE),
        // Keyless commands, and commands whose keys are checked only by name.
        _ => (NONE, NONE),
    }
}

/// The access to the key at `nth` (0-based among the command's keys), with the commands
/// whose access depends on their arguments resolved as Redis's key functions do.
pub fn access_of(full_name: &str, first_and_rest: (u8, u8), nth: usize, args: &[Bytes]) -> u8 {
    match full_name {
        // `SET k v ... GET` returns the old value.
        "set" => {
            if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
                READ_WRITE
            } else {
                WRITE
            }
        }
        "bitfield" => {
            if bitfield_read_only(args) {
                READ
            } else {
                READ_WRITE
            }
        }
        _ if nth == 0 => first_and_rest.0,
        _ => first_and_rest.1,
    }
}

/// Whether a `BITFIELD` only reads (GET and OVERFLOW operations, well formed).
fn bitfield_read_only(args: &[Bytes]) -> bool {
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let op = &args[i];
        if op.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn variable_commands_follow_their_arguments() {
        let set = key_access("set");
        assert_eq!(access_of("set", set, 0, &args(&["set", "k", "v"])), WRITE);
        assert_eq!(
            access_of("set", set, 0, &args(&["set", "k", "v", "GET"])),
            READ_WRITE
        );
        let bf = key_access("bitfield");
        let get = args(&["bitfield", "k", "GET", "u8", "0"]);
        assert_eq!(access_of("bitfield", bf, 0, &get), READ);
        let set = args(&["bitfield", "k", "SET", "u8", "0", "1"]);
        assert_eq!(access_of("bitfield", bf, 0, &set), READ_WRITE);
        let lmove = key_access("lmove");
        assert_eq!(
            access_of("lmove", lmove, 1, &args(&["lmove", "a", "b"])),
            WRITE
        );
    }
}
