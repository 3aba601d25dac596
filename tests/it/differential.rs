//! Differential tests: the same command sequences go to a real `redis-server` (installed by
//! the test set-up) and to Strata, and the replies must match exactly. This catches reply
//! shapes and error strings that hand-written expectations miss.
//!
//! Without `redis-server` on the machine the test is skipped, unless
//! `STRATA_REQUIRE_REDIS=1` (set by `scripts/test.sh`) makes its absence a failure.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

/// A `redis-server` on a Unix socket in a temporary directory (also used by
/// `notifications.rs`).
pub struct RealRedis {
    child: Child,
    pub socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl RealRedis {
    /// `None` (the test is skipped) when `redis-server` is not installed, unless
    /// `STRATA_REQUIRE_REDIS=1`.
    pub fn start() -> Option<RealRedis> {
        let dir = tempfile::tempdir().ok()?;
        let socket = dir.path().join("redis.sock");
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                // Strata allows DEBUG; the observability tests use DEBUG SLEEP on both.
                "--enable-debug-command",
                "yes",
                "--unixsocket",
            ])
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("STRATA_REQUIRE_REDIS").as_deref() == Ok("1") {
                    panic!("redis-server is required for differential tests: {e}");
                }
                eprintln!("redis-server not found; differential tests skipped");
                return None;
            }
        };
        let path = socket.clone();
        eventually("redis-server socket", Duration::from_secs(30), || {
            path.exists()
        });
        Some(RealRedis {
            child,
            socket,
            _dir: dir,
        })
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs each script (one command per line, split like redis-cli) on both servers after a
/// FLUSHALL and compares every reply.
fn compare(scripts: &[&str]) {
    compare_scripts(scripts, false);
}

/// Like [`compare`], but each script goes out as one pipeline, so Strata runs the commands
/// the table marks `BATCH` as runs sharing one engine write; replies must still match.
fn compare_pipelined(scripts: &[String]) {
    let scripts: Vec<&str> = scripts.iter().map(String::as_str).collect();
    compare_scripts(&scripts, true);
}

/// The comparison itself: commands go one at a time (each reply read before the next is
/// sent), or each script as a single pipeline.
fn compare_scripts(scripts: &[&str], pipelined: bool) {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let strata = Server::start();
    let mut a = Raw::connect_unix(&redis.socket);
    let mut b = strata.raw();
    let mut mismatches = Vec::new();
    for script in scripts {
        a.cmd(&["FLUSHALL"]);
        b.cmd(&["FLUSHALL"]);
        a.cmd(&["SELECT", "0"]);
        b.cmd(&["SELECT", "0"]);
        let lines: Vec<&str> = script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // Arguments stay bytes: scripts may carry "\xHH" escapes.
        let frames: Vec<Vec<u8>> = lines
            .iter()
            .map(|line| {
                let args = strata::protocol::split_args(line.as_bytes()).expect("valid test line");
                let bytes: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                Raw::encode(&bytes)
            })
            .collect();
        let replies = |raw: &mut Raw, server: &str| -> Vec<V> {
            let read = |raw: &mut Raw, line: &str| {
                raw.try_read()
                    .unwrap_or_else(|| panic!("{server} closed the connection at {line}"))
            };
            if pipelined {
                raw.send_bytes(&frames.concat());
                lines.iter().map(|line| read(raw, line)).collect()
            } else {
                let mut out = Vec::new();
                for (frame, line) in frames.iter().zip(&lines) {
                    raw.send_bytes(frame);
                    out.push(read(raw, line));
                }
                out
            }
        };
        let expected = replies(&mut a, "redis");
        let got = replies(&mut b, "strata");
        for ((line, expected), got) in lines.iter().zip(&expected).zip(&got) {
            if normalize(expected) != normalize(got) {
                mismatches.push(format!("{line}\n  redis:  {expected:?}\n  strata: {got:?}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Sorts arrays whose order Redis leaves unspecified (KEYS); also used by `acl.rs`.
pub fn normalize(v: &V) -> V {
    match v {
        V::Array(items) => {
            let mut items: Vec<V> = items.iter().map(normalize).collect();
            if items.iter().all(|i| matches!(i, V::Bulk(_))) {
                items.sort_by_key(|i| i.text());
            }
            V::Array(items)
        }
        other => other.clone(),
    }
}

#[test]
fn strings_match_redis() {
    compare(&[
        "SET k v\nGET k\nSET k w NX\nSET k w XX\nGET k\nSET k x GET\nSET nk x NX GET\nSET k v EX 0\n\
         SET k v PX -1\nSET k v EX x\nSET k v EX\nSET k v NX XX\nSET k v KEEPTTL PX 5\nSET k v foo\n\
         SET k v GET GET\nSET k v EX 100 EX 100\nTTL k\nSET k v KEEPTTL\nTTL k\nSET k v\nTTL k",
        "SETNX a 1\nSETNX a 2\nGET a\nSETEX b 100 v\nTTL b\nSETEX b 0 v\nSETEX b -1 v\nSETEX b x v\n\
         PSETEX c 100000 v\nPSETEX c 0 v\nGETSET a 3\nGETSET none 1\nGETDEL a\nGETDEL a\nGETEX b\n\
         GETEX b PERSIST\nTTL b\nGETEX b EX 100\nTTL b\nGETEX b EX 0\nGETEX b PX 1 EX 1\nGETEX b FOO\n\
         GETEX b PERSIST PERSIST\nGETEX missing EX 10",
        "MSET a 1 b 2 a 3\nMGET a b c\nMSET a\nMSET a 1 b\nMSETNX a 1 x 2\nMSETNX x 1 y 2\nMGET x y\nDBSIZE",
        "APPEND k Hello\nAPPEND k \" World\"\nSTRLEN k\nSTRLEN nope\nGETRANGE k 0 4\nGETRANGE k -5 -1\n\
         GETRANGE k 5 3\nGETRANGE k -100 100\nGETRANGE k 0 -100\nGETRANGE k -100 -100\nGETRANGE k -1 -5\nGETRANGE k 20 30\nGETRANGE nope 0 -1\nGETRANGE k a 1\n\
         SUBSTR k 0 2\nSETRANGE k 6 Redis\nGET k\nSETRANGE pad 3 x\nGET pad\nSETRANGE e 0 \"\"\nEXISTS e\n\
         SETRANGE k -1 x\nSETRANGE k 536870912 x\nSETRANGE k 536870911 x",
        "INCR n\nINCRBY n 10\nDECR n\nDECRBY n 20\nINCRBY n x\nINCRBY n 1.5\nSET m 9223372036854775807\n\
         INCR m\nSET m -9223372036854775808\nDECR m\nDECRBY n -9223372036854775808\nSET s abc\nINCR s\n\
         SET e \"\"\nINCR e\nSET sp \" 1\"\nINCR sp\nSET z 007\nINCR z\nSET p +1\nINCR p\nOBJECT ENCODING n",
        "INCRBYFLOAT f 10.5\nINCRBYFLOAT f 0.1\nINCRBYFLOAT f -5\nSET g 5.0e3\nINCRBYFLOAT g 2.0e2\n\
         SET h 0.1\nINCRBYFLOAT h 0.2\nINCRBYFLOAT h abc\nINCRBYFLOAT h nan\nINCRBYFLOAT h inf\n\
         SET s abc\nINCRBYFLOAT s 1\nSET i 3\nINCRBYFLOAT i 1\nGET i",
        "MSET key1 ohmytext key2 mynewtext\nLCS key1 key2\nLCS key1 key2 LEN\nLCS key1 key2 IDX\n\
         LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN\nLCS key1 key2 IDX WITHMATCHLEN\nLCS key1 nope\n\
         LCS key1 key2 LEN IDX\nLCS key1 key2 FOO\nLCS key1 key2 MINMATCHLEN x",
        "GET\nGET a b\nSET a\nSETNX a\nGETSET a\nMGET\nAPPEND a\nSTRLEN\nINCR\nINCRBY a\nDECRBY a\n\
         INCRBYFLOAT a\nGETRANGE a 0\nSETRANGE a 0\nLCS a\nGETDEL\nGETEX",
    ]);
}

#[test]
fn pipelined_string_and_key_commands_match_redis() {
    // Random pipelines over a few keys: batchable commands (strings, DEL, EXISTS, EXPIRE,
    // TTL) interleaved with ones that end a run (lists, hashes, TYPE, DBSIZE, KEYS), so reads
    // see writes still pending in the same run, and runs end in every position.
    let keys = ["a", "b", "c", "n", "l"];
    let scripts = random_scripts(
        0x2545_f491_4f6c_dd1d,
        |next| {
            let k = keys[next(keys.len())];
            let k2 = keys[next(keys.len())];
            let v = next(50);
            let line = match next(22) {
                0 | 1 => format!("SET {k} {v}"),
                2 | 3 => format!("GET {k}"),
                4 | 5 => format!("INCR {k}"),
                6 => format!("INCRBY {k} {v}"),
                7 => format!("DEL {k} {k2}"),
                8 => format!("EXISTS {k} {k2} {k}"),
                9 => format!("APPEND {k} x{v}"),
                10 => format!("MSET {k} {v} {k2} m{v}"),
                11 => format!("MGET {k} {k2} missing"),
                12 => format!("GETSET {k} {v}"),
                13 => format!("SETNX {k} {v}"),
                14 => format!("GETDEL {k}"),
                15 => format!("STRLEN {k}"),
                16 => format!("EXPIRE {k} 100"),
                17 => format!("TTL {k}"),
                18 => format!("LPUSH {k} {v}"),
                19 => format!("HSET {k} f {v}"),
                20 => format!("TYPE {k}"),
                _ => ["DBSIZE", "KEYS *", "SET n 1 GET", "INCRBYFLOAT n 1.5"][next(4)].to_string(),
            };
            line
        },
        "",
    );
    compare_pipelined(&scripts);
}

/// 40 scripts of 120 lines, each line made by `line` from a seeded xorshift (`next(n)` is
/// below `n`), then `ending` appended to each script.
fn random_scripts(
    seed: u64,
    mut line: impl FnMut(&mut dyn FnMut(usize) -> usize) -> String,
    ending: &str,
) -> Vec<String> {
    let mut x = seed;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    (0..40)
        .map(|_| {
            let mut script = String::new();
            for _ in 0..120 {
                script.push_str(&line(&mut next));
                script.push('\n');
            }
            script.push_str(ending);
            script
        })
        .collect()
}

#[test]
fn pipelined_collection_writes_match_redis() {
    // Random pipelines over a few keys: the collection writes that join runs (pushes, pops,
    // HSET/HDEL/HINCRBY, SADD/SREM, ZADD/ZINCRBY/ZREM), so later commands of a run read
    // sub-keys and lengths still pending in it (a pop of what the same run pushed, a second
    // HSET of a field), mixed with string and key commands that batch too, and reads that
    // end a run (LRANGE, HGET, ZRANGE, SISMEMBER). Any key may hold any type: WRONGTYPE in
    // the middle of a run must match as well.
    let keys = ["a", "b", "c"];
    let scripts = random_scripts(
        0x9e37_79b9_7f4a_7c15,
        |next| {
            let k = keys[next(keys.len())];
            let (v, w) = (next(6), next(6));
            let line = match next(26) {
                0 | 1 => format!("LPUSH {k} {v} {w}"),
                2 | 3 => format!("RPUSH {k} {v}"),
                4 => format!("LPOP {k}"),
                5 => format!("RPOP {k} 2"),
                6 => format!("LPUSHX {k} {v}"),
                7 => format!("RPUSHX {k} {v}"),
                8 | 9 => format!("HSET {k} f{v} {w} f{w} {v}"),
                10 => format!("HSETNX {k} f{v} {w}"),
                11 => format!("HDEL {k} f{v} f{w}"),
                12 => format!("HINCRBY {k} n{v} {w}"),
                13 | 14 => format!("SADD {k} m{v} m{w}"),
                15 => format!("SREM {k} m{v}"),
                16 | 17 => format!("ZADD {k} {v} m{w}"),
                18 => format!("ZINCRBY {k} {v} m{w}"),
                19 => format!("ZREM {k} m{v} m{w}"),
                20 => format!("DEL {k}"),
                21 => format!("SET {k} {v}"),
                22 => format!("EXPIRE {k} 100"),
                23 => format!("EXISTS {k}"),
                24 => format!("LPOP {k} 3"),
                _ => [
                    format!("LRANGE {k} 0 -1"),
                    format!("HGET {k} f{v}"),
                    format!("ZRANGE {k} 0 -1 WITHSCORES"),
                    format!("SISMEMBER {k} m{v}"),
                    format!("TYPE {k}"),
                ][next(5)]
                .clone(),
            };
            line
        },
        // What the pipelines left must match too.
        &keys
            .iter()
            .map(|k| {
                format!(
                    "TYPE {k}\nLRANGE {k} 0 -1\nHLEN {k}\nSCARD {k}\nZRANGE {k} 0 -1 WITHSCORES\n"
                )
            })
            .collect::<String>(),
    );
    compare_pipelined(&scripts);
}

#[test]
fn keys_match_redis() {
    compare(&[
        "MSET a 1 b 2 c 3\nEXISTS a a nope\nTOUCH a nope\nTYPE a\nTYPE nope\nDEL a a nope\nUNLINK b c\nDBSIZE\n\
         DEL\nEXISTS\nTYPE a b",
        "SET k v\nEXPIRE nope 10\nTTL nope\nPTTL nope\nTTL k\nEXPIRETIME k\nPEXPIRETIME nope\n\
         EXPIRE k 100 XX\nEXPIRE k 100 NX\nEXPIRE k 200 NX\nEXPIRE k 50 GT\nEXPIRE k 200 GT\nEXPIRE k 300 LT\n\
         EXPIRE k 150 LT\nTTL k\nEXPIREAT k 4102444800\nEXPIRETIME k\nPEXPIREAT k 4102444800500\n\
         PEXPIRETIME k\nPERSIST k\nPERSIST k\nEXPIRE k 100 GT\nEXPIRE k 100 LT\nEXPIRE k -1\nEXISTS k\n\
         SET k v\nEXPIRE k abc\nEXPIRE k 10 NX XX\nEXPIRE k 10 GT LT\nEXPIRE k 10 FOO\nEXPIRE k 10 nx nx\n\
         EXPIRE k 9223372036854775807\nPEXPIRE k 9223372036854775807\nEXPIREAT k 9223372036854775807\n\
         EXPIRE k\nPERSIST",
        "SET a 1\nRENAME a b\nGET b\nRENAME b b\nRENAME nope x\nSET c 3\nRENAMENX b c\nRENAMENX b d\n\
         RENAMENX nope x\nRENAMENX d d\nRENAME d c\nGET c\nCOPY c e\nCOPY c e\nCOPY c e REPLACE\nCOPY c e DB 5\n\
         COPY nope e\nCOPY c c\nCOPY c e DB 99\nCOPY c e DB x\nCOPY c e FOO\nMOVE c 1\nMOVE nope 1\nSET c x\n\
         MOVE e 0\nMOVE c 16\nMOVE c x\nSELECT 1\nGET c\nSELECT 5\nGET e\nDBSIZE",
        "MSET hello 1 hallo 1 hxllo 1 hllo 1 heeeello 1 h*llo 1 other 1\nKEYS h?llo\nKEYS h*llo\nKEYS h[ae]llo\n\
         KEYS h[^e]llo\nKEYS h[a-b]llo\nKEYS h\\\\*llo\nKEYS *\nKEYS\nKEYS nomatch*",
        "MSET a 1 b 2\nSELECT 2\nSET x 1\nSWAPDB 0 2\nDBSIZE\nGET a\nSWAPDB 0 x\nSWAPDB x 0\nSWAPDB 0 16\n\
         SWAPDB 0 -1\nFLUSHDB\nDBSIZE\nFLUSHDB ASYNC\nFLUSHALL SYNC\nFLUSHALL FOO\nFLUSHDB ASYNC X\nDBSIZE",
        "SET i 12345\nSET e short\nOBJECT ENCODING i\nOBJECT ENCODING e\nOBJECT ENCODING nope\nOBJECT REFCOUNT i\n\
         OBJECT FOO i\nOBJECT ENCODING\nOBJECT",
        "SCAN abc\nSCAN 0 COUNT 0\nSCAN 0 COUNT x\nSCAN 0 FOO 1\nSCAN 0 MATCH\nSET a 1\nSCAN 0\nSCAN 0 TYPE string\n\
         SCAN 0 TYPE hash\nSCAN 0 MATCH b*\nRANDOMKEY\nDEL a\nRANDOMKEY",
    ]);
}

#[test]
fn connection_and_server_match_redis() {
    compare(&[
        "PING\nPING hi\nPING a b\nECHO x\nECHO\nSELECT 15\nSELECT 16\nSELECT -1\nSELECT x\nSELECT 0\n\
         FOO a b\nFOO\nCLIENT FOO\nCLIENT\nCLIENT SETNAME\nCLIENT SETNAME \"a b\"\nCLIENT SETNAME ok\n\
         CLIENT GETNAME\nCLIENT NO-EVICT maybe\nCLIENT REPLY MAYBE\nCLIENT KILL ID 0\nCLIENT KILL 1.2.3.4:5\n\
         CLIENT KILL ID 999999\nCLIENT KILL FOO bar\nAUTH x\nAUTH a b c\nHELLO 4\nHELLO x\nHELLO 3 FOO\n\
         HELLO 3 AUTH a",
        "CONFIG GET databases\nCONFIG GET nosuchthing\nCONFIG SET nosuch 1\nCONFIG SET hz abc\n\
         CONFIG SET appendfsync sometimes\nCONFIG SET hz\nCONFIG SET hz 1 timeout\nCONFIG SET timeout 100 hz 20\n\
         CONFIG GET hz\nCONFIG GET timeout\nCONFIG SET appendonly maybe\nCONFIG\nCONFIG FOO",
        "COMMAND GETKEYS MSET a 1 b 2\nCOMMAND GETKEYS PING x\nCOMMAND GETKEYS NOSUCH x\nCOMMAND GETKEYS GET\n\
         COMMAND GETKEYS GET a b\nCOMMAND GETKEYS DEL a b c\nCOMMAND INFO nosuch\nTIME x\nLASTSAVE x\n\
         SHUTDOWN BOGUS\nSHUTDOWN ABORT\nDBSIZE x\nRANDOMKEY x",
    ]);
}

#[test]
fn hashes_match_redis() {
    compare(&[
        "HSET h f1 v1 f2 v2 f1 v3\nHGET h f1\nHGET h nope\nHGET nokey f\nHLEN h\nHLEN nokey\nHSETNX h f1 x\n\
         HSETNX h f3 x\nHMGET h f1 nope f3\nHMGET nokey a\nHMSET h a 1 b 2\nHGETALL nokey\nHEXISTS h a\n\
         HEXISTS h zz\nHSTRLEN h f1\nHSTRLEN h zz\nHDEL h a zz a\nHDEL nokey a\nHINCRBY h n 5\nHINCRBY h n -10\n\
         HINCRBY h f1 1\nHINCRBY h n x\nHSET h big 9223372036854775807\nHINCRBY h big 1\nHINCRBYFLOAT h fl 1.5\n\
         HINCRBYFLOAT h fl 0.25\nHINCRBYFLOAT h f1 1\nHINCRBYFLOAT h fl x\nHSET h\nHSET h a\nHSET h a 1 b\n\
         HMSET h a\nHRANDFIELD nokey\nHRANDFIELD nokey 5\nHRANDFIELD h 0\nHRANDFIELD h 1 FOO\nHRANDFIELD h x",
        "HSET h a 1\nHDEL h a\nEXISTS h\nTYPE h\nHSET h a 1\nTYPE h\nOBJECT ENCODING h\nSET s v\nHSET s a 1\n\
         HGET s a\nHGETALL s\nHLEN s\nHDEL s a\nHINCRBY s a 1\nGET h\nINCR h\nAPPEND h x",
        "HSET h b 2 a 1 c 3\nHKEYS h\nHVALS h\nHSCAN h 0\nHSCAN h 0 MATCH a*\nHSCAN h x\nHSCAN nokey 0",
    ]);
}

#[test]
fn sets_match_redis() {
    compare(&[
        "SADD s a b c a\nSADD s c d\nSCARD s\nSCARD nokey\nSISMEMBER s a\nSISMEMBER s z\nSISMEMBER nokey a\n\
         SMISMEMBER s a z b\nSREM s a z a\nSREM nokey a\nSMEMBERS nokey\nSPOP nokey\nSPOP nokey 3\nSPOP s -1\n\
         SRANDMEMBER nokey\nSRANDMEMBER nokey 3\nSRANDMEMBER s 0\nSRANDMEMBER s x\nSADD s\nSREM s",
        "SADD a 1 2 3 4\nSADD b 3 4 5\nSADD c 4 5 6\nSINTER a b\nSINTER a b c\nSINTER a nokey\nSUNION a b\n\
         SDIFF a b\nSDIFF a b c\nSDIFF nokey a\nSINTERSTORE d a b\nSMEMBERS d\nSUNIONSTORE d a c\nSCARD d\n\
         SDIFFSTORE d a b c\nSMEMBERS d\nSINTERSTORE d a nokey\nEXISTS d\nSINTERCARD 2 a b\n\
         SINTERCARD 2 a b LIMIT 1\nSINTERCARD 2 a b LIMIT 1 LIMIT 0\nSINTERCARD 2 a b LIMIT\nSINTERCARD 0 a\nSINTERCARD 3 a b\nSINTERCARD 2 a b LIMIT -1\n\
         SINTERCARD x a\nSINTERCARD 1 a FOO\nSMOVE a b 1\nSMOVE a b 9\nSMOVE nokey b 1\nSMEMBERS b\nSMOVE a a 2\n\
         SET str v\nSINTER a str\nSUNION str\nSADD str x\nSMOVE a str 2\nSMOVE str a 2\nSINTERSTORE str a\nTYPE str",
        "SADD s b a c\nSSCAN s 0\nSSCAN s 0 MATCH a\nSSCAN s 0 COUNT 0\nSPOP s 3\nEXISTS s\nSADD s x\nSPOP s\nEXISTS s",
    ]);
}

#[test]
fn lists_match_redis() {
    compare(&[
        "RPUSH l a b c\nLPUSH l z y\nLLEN l\nLRANGE l 0 -1\nLRANGE l 1 2\nLRANGE l -2 -1\nLRANGE l 5 10\n\
         LRANGE l -100 100\nLRANGE l 2 1\nLRANGE l -100 -100\nLRANGE l 0 -100\nLRANGE nokey 0 -1\nLINDEX l 0\nLINDEX l -1\nLINDEX l 99\nLINDEX nokey 0\n\
         LSET l 1 Y\nLSET l 99 x\nLSET nokey 0 x\nLRANGE l 0 -1\nLPUSHX nokey a\nRPUSHX nokey a\nEXISTS nokey\n\
         LPUSHX l first\nRPUSHX l last\nLPOP l\nRPOP l\nLPOP l 2\nRPOP l 0\nLPOP nokey\nLPOP nokey 2\nLPOP l -1\n\
         LPOP l x\nLRANGE l 0 -1\nRPOP l 10\nEXISTS l\nLPOP l 0",
        "RPUSH l a b a c a\nLINSERT l BEFORE b X\nLINSERT l AFTER c Y\nLINSERT l BEFORE nope Z\nLINSERT nokey BEFORE a b\n\
         LINSERT l MIDDLE a b\nLRANGE l 0 -1\nLREM l 2 a\nLRANGE l 0 -1\nLREM l -1 a\nLREM l 0 zz\nLREM nokey 0 a\n\
         RPUSH m 1 2 3 4 5 6\nLTRIM m 1 -2\nLRANGE m 0 -1\nLTRIM m 10 20\nEXISTS m\nLTRIM nokey 0 1",
        "RPUSH l a b c 1 2 3 c c\nLPOS l c\nLPOS l c RANK 2\nLPOS l c RANK -1\nLPOS l c COUNT 2\nLPOS l c COUNT 0\n\
         LPOS l c RANK -1 COUNT 2\nLPOS l c MAXLEN 2\nLPOS l c COUNT 0 MAXLEN 3\nLPOS l zz\nLPOS l zz COUNT 1\n\
         LPOS l c RANK 0\nLPOS l c COUNT -1\nLPOS l c MAXLEN -1\nLPOS l c FOO 1\nLPOS nokey a",
        "RPUSH a 1 2 3\nLMOVE a b LEFT RIGHT\nLMOVE a b RIGHT LEFT\nLRANGE a 0 -1\nLRANGE b 0 -1\nRPOPLPUSH a a\n\
         LRANGE a 0 -1\nRPOPLPUSH nokey b\nLMOVE a b UP DOWN\nSET s v\nLMOVE a s LEFT LEFT\nLMOVE s a LEFT LEFT\n\
         LRANGE a 0 -1\nLPUSH s x\nLLEN s\nLMPOP 2 nokey a LEFT\nLMPOP 2 nokey b RIGHT COUNT 5\nLMPOP 1 nokey LEFT\n\
         LMPOP 0 a LEFT\nLMPOP 2 a LEFT\nLMPOP 1 a MIDDLE\nLMPOP 1 a LEFT COUNT 0\nEXISTS a b",
        "RPUSH l a\nBLPOP l 0\nBRPOP l nokey 0.01\nBLPOP nokey -1\nBLPOP nokey x\nRPUSH l b\nBLMOVE l m LEFT RIGHT 0\n\
         BRPOPLPUSH nokey m 0.01\nBLMPOP 0.01 1 nokey LEFT\nRPUSH l c\nBLMPOP 0 2 nokey l RIGHT COUNT 3\nLRANGE m 0 -1",
    ]);
}

#[test]
fn sorted_sets_match_redis() {
    compare(&[
        "ZADD z 1 a 2 b 3 c\nZADD z 1 a\nZADD z CH 5 a 2 b\nZADD z NX 10 a 4 d\nZADD z XX 11 a 12 zz\nZSCORE z a\n\
         ZSCORE z zz\nZADD z GT 1 a\nZADD z GT CH 20 a\nZADD z LT 30 a\nZADD z LT CH 0 a\nZADD z INCR 5 a\n\
         ZADD z NX INCR 5 a\nZADD z XX INCR 1 nope\nZADD z INCR 1 a 2 b\nZADD z NX XX 1 a\nZADD z GT LT 1 a\n\
         ZADD z NX GT 1 a\nZADD z x a\nZADD z 1\nZADD z nan a\nZADD z 1 a 2\nZADD z inf top -inf bottom\n\
         ZRANGE z 0 -1 WITHSCORES\nZCARD z\nZCARD nokey\nZINCRBY z 2.5 b\nZINCRBY z 1 newm\nZINCRBY z x b\n\
         ZADD z INCR inf top\nZINCRBY z -inf top\nZMSCORE z a nope b\nZMSCORE nokey a\nZREM z a nope\nZREM nokey a",
        "ZADD z 1 a 1 b 1 c 2 d 3 e\nZRANK z c\nZREVRANK z c\nZRANK z nope\nZRANGE z 0 2\nZRANGE z -2 -1 WITHSCORES\nZRANGE z 2 1\nZRANGE z 0 -1 REV\nZREVRANGE z 0 1\n\
         ZRANGE z 1 2 BYSCORE\nZRANGE z (1 3 BYSCORE WITHSCORES\nZRANGE z -inf +inf BYSCORE LIMIT 1 2\n\
         ZRANGE z 3 1 BYSCORE REV\nZRANGE z +inf -inf BYSCORE REV LIMIT 0 2\nZRANGEBYSCORE z 1 (2\n\
         ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 2 10\nZREVRANGEBYSCORE z 3 1\nZRANGEBYSCORE z x 1\n\
         ZRANGE z 0 1 LIMIT 0 1\nZRANGE z 0 -1 BYLEX\nZRANGE z [a [c BYLEX\nZRANGE z - + BYLEX WITHSCORES\n\
         ZCOUNT z 1 2\nZCOUNT z (1 +inf\nZCOUNT z x 1\nZRANGE z 0 -1 FOO",
        "ZADD l 0 a 0 b 0 c 0 d 0 e\nZRANGEBYLEX l - +\nZRANGEBYLEX l [b (d\nZRANGEBYLEX l (b +\nZREVRANGEBYLEX l + -\n\
         ZREVRANGEBYLEX l [d [b\nZRANGEBYLEX l - + LIMIT 1 2\nZLEXCOUNT l - +\nZLEXCOUNT l [b [c\nZRANGEBYLEX l a c\n\
         ZREMRANGEBYLEX l [a [b\nZRANGE l 0 -1\nZREMRANGEBYRANK l 0 0\nZREMRANGEBYRANK l -1 -1\nZRANGE l 0 -1\n\
         ZADD s 1 a 2 b 3 c\nZREMRANGEBYSCORE s (1 2\nZRANGE s 0 -1\nZREMRANGEBYSCORE s -inf +inf\nEXISTS s",
        "ZADD z 1 a 2 b 3 c 4 d\nZPOPMIN z\nZPOPMAX z\nZPOPMIN z 5\nEXISTS z\nZPOPMIN nokey\nZPOPMIN nokey 2\n\
         ZADD z 1 a 2 b\nZPOPMIN z -1\nZPOPMAX z 0\nZMPOP 1 z MIN\nZMPOP 2 nokey z MAX COUNT 5\nZMPOP 1 z MIN\n\
         ZMPOP 0 z MIN\nZMPOP 1 z FOO\nZADD z 1 a\nBZPOPMIN nokey z 0\nBZPOPMAX nokey 0.01\nBZMPOP 0.01 1 nokey MIN",
        "ZADD a 1 x 2 y 3 z\nZADD b 10 y 20 z 30 w\nSADD c x w\nZUNION 2 a b\nZUNION 2 a b WITHSCORES\n\
         ZUNION 2 a b WEIGHTS 2 1 WITHSCORES\nZUNION 2 a b AGGREGATE MAX WITHSCORES\nZUNION 3 a b c WITHSCORES\n\
         ZINTER 2 a b WITHSCORES\nZINTER 2 a b AGGREGATE MIN WITHSCORES\nZINTER 2 a c WITHSCORES\nZDIFF 2 a b WITHSCORES\n\
         ZDIFF 3 a b c\nZUNIONSTORE d 2 a b\nZRANGE d 0 -1 WITHSCORES\nZINTERSTORE d 2 a b WEIGHTS 1 0.5\n\
         ZRANGE d 0 -1 WITHSCORES\nZDIFFSTORE d 2 a b\nZRANGE d 0 -1 WITHSCORES\nZINTERSTORE d 2 a nokey\nEXISTS d\n\
         ZINTERCARD 2 a b\nZINTERCARD 2 a b LIMIT 1\nZUNION 0 a\nZUNION 3 a b\nZUNION 2 a b WEIGHTS 1\n\
         ZUNION 2 a b AGGREGATE FOO\nZUNION 2 a b WEIGHTS x y\nSET s v\nZUNION 2 a s\nZRANGESTORE e a 0 1\n\
         ZRANGE e 0 -1 WITHSCORES\nZRANGESTORE e a 2 3 BYSCORE LIMIT 0 1\nZRANGE e 0 -1",
        "ZADD z 1 a 2 b\nZSCAN z 0\nZRANDMEMBER nokey\nZRANDMEMBER nokey 2\nZRANDMEMBER z 0\nZRANDMEMBER z 1 FOO\n\
         SET s v\nZADD s 1 a\nZSCORE s a\nZRANGE s 0 -1\nZCARD s\nZRANK s a\nTYPE z\nOBJECT ENCODING z",
    ]);
}

#[test]
fn collections_in_keyspace_commands_match_redis() {
    compare(&[
        "HSET h a 1\nSADD s x\nRPUSH l 1 2\nZADD z 1 m\nTYPE h\nTYPE s\nTYPE l\nTYPE z\nEXISTS h s l z\nDBSIZE\n\
         RENAME h h2\nHGETALL h2\nCOPY s s2\nSMEMBERS s2\nSADD s2 y\nSCARD s\nMOVE l 3\nEXISTS l\nSELECT 3\nLRANGE l 0 -1\n\
         SELECT 0\nEXPIRE z 100\nTTL z\nZRANGE z 0 -1\nDEL h2 s s2 z\nDBSIZE\nSCAN 0 TYPE list\nKEYS *",
        "RPUSH l a\nSET l v\nGET l\nTYPE l\nRPUSH l a\nHSET l f v\nSADD k a\nRENAME k l\nTYPE l\nSMEMBERS l",
    ]);
}

#[test]
fn sort_matches_redis() {
    compare(&[
        "RPUSH l 3 1 2 10\nSORT l\nSORT l DESC\nSORT l ALPHA\nSORT l LIMIT 1 2\nSORT l LIMIT 0 -1 DESC\n\
         SORT_RO l\nSORT nokey\nRPUSH bad a 1\nSORT bad\nSORT bad ALPHA\nSET str x\nSORT str\nSORT l FOO\n\
         SORT_RO l STORE x",
        "SADD s 1 2 3\nMSET w_1 30 w_2 10 w_3 20 n_1 one n_2 two n_3 three\nSORT s BY w_*\nSORT s BY w_* DESC\n\
         SORT s BY w_* GET n_*\nSORT s BY w_* GET # GET n_*\nSORT s BY nosort GET n_*\nSORT s GET missing_*\n\
         HSET h_1 f c\nHSET h_2 f a\nHSET h_3 f b\nSORT s BY h_*->f ALPHA\nSORT s BY h_*->f ALPHA GET h_*->f\n\
         SORT s BY w_* STORE dst\nLRANGE dst 0 -1\nSORT nokey STORE dst\nEXISTS dst",
        "ZADD z 3 c 1 a 2 b\nSORT z ALPHA\nSORT z BY nosort\nSORT z BY nosort DESC LIMIT 0 2\nRPUSH ties 2 1 1 2\nSORT ties",
    ]);
}

#[test]
fn transactions_match_redis() {
    compare(&[
        "MULTI\nSET a 1\nINCR a\nGET a\nEXEC\nGET a",
        "MULTI\nSET a 1\nNOSUCHCMD\nGET a\nEXEC\nGET a",
        "MULTI\nSET a x\nINCR a\nLPUSH a 1\nGET a\nEXEC",
        "MULTI\nGET\nEXEC",
        "EXEC\nDISCARD\nMULTI\nMULTI\nDISCARD\nMULTI\nWATCH a\nDISCARD",
        "WATCH a\nSET a 1\nMULTI\nGET a\nEXEC\nWATCH a\nMULTI\nGET a\nEXEC\nUNWATCH\nSET b 2\nMULTI\nPING\nEXEC",
        "MULTI\nBLPOP nokey 0\nLPUSH l x\nBRPOP l 0\nEXEC",
        "WATCH k\nFLUSHALL\nMULTI\nPING\nEXEC\nSET k 1\nWATCH k\nFLUSHDB\nMULTI\nPING\nEXEC",
        "SELECT 1\nSET k 1\nSELECT 0\nWATCH k\nSWAPDB 0 1\nMULTI\nPING\nEXEC\nWATCH zz\nSWAPDB 0 1\nMULTI\nPING\nEXEC",
    ]);
}

#[test]
fn bitmaps_match_redis() {
    compare(&[
        "SETBIT b 7 1\nGET b\nSETBIT b 7 0\nSETBIT b 100 1\nSTRLEN b\nGETBIT b 100\nGETBIT b 99\nGETBIT b 100000\n\
         GETBIT nokey 3\nSETBIT b -1 1\nSETBIT b 4294967296 1\nSETBIT b x 1\nSETBIT b 1 2\nSETBIT b 1 x\n\
         SET s foobar\nSETBIT s 7 1\nGET s\nBITCOUNT s\nBITCOUNT s 0 0\nBITCOUNT s 1 1\nBITCOUNT s -2 -1\n\
         BITCOUNT s 5 30 BIT\nBITCOUNT s 0 -1 BIT\nBITCOUNT s 3 1\nBITCOUNT s -100 -100\nBITCOUNT s -1 -3\nBITCOUNT s 0 -100\nBITCOUNT s 0\nBITCOUNT s 0 1 FOO\nBITCOUNT nokey\n\
         RPUSH l a\nSETBIT l 0 1\nGETBIT l 0\nBITCOUNT l",
        "SET z \"\\xff\\xf0\\x00\"\nBITPOS z 0\nBITPOS z 1\nBITPOS z 1 2\nBITPOS z 0 0 0\nBITPOS z 0 0 -1\n\
         SET ones \"\\xff\\xff\"\nBITPOS ones 0\nBITPOS ones 0 0 -1\nBITPOS ones 0 1\nBITPOS nokey 0\nBITPOS nokey 1\n\
         SET mid \"\\x00\\x0f\\x00\"\nBITPOS mid 1 0 -1\nBITPOS mid 1 7 15 BIT\nBITPOS mid 0 8 11 BIT\nBITPOS mid 1 2\n\
         BITPOS mid 2\nBITPOS mid 1 0 1 FOO",
        "SET a \"\\x0f\\xf0\"\nSET b \"\\xff\"\nBITOP AND d a b\nGET d\nBITOP OR d a b\nGET d\nBITOP XOR d a b nokey\nGET d\n\
         BITOP NOT d a\nGET d\nBITOP NOT d a b\nBITOP FOO d a\nBITOP AND d nokey\nEXISTS d\nRPUSH l x\nBITOP AND d a l",
    ]);
}

#[test]
fn bitfield_matches_redis() {
    compare(&[
        "BITFIELD bf SET u8 0 200 GET u8 0 GET i8 0 INCRBY u8 0 100 GET u4 4\nGET bf\n\
         BITFIELD bf INCRBY i5 100 1 GET u4 0\nBITFIELD bf OVERFLOW SAT INCRBY u2 102 5 INCRBY i8 0 -300\n\
         BITFIELD bf OVERFLOW FAIL INCRBY u2 102 5 SET i4 200 100 GET i4 200\nBITFIELD bf OVERFLOW WRAP INCRBY i8 #3 250\n\
         BITFIELD bf SET u63 #0 9223372036854775807 GET u63 0 GET i64 0\nBITFIELD bf SET i64 0 -1 INCRBY i64 0 1\n\
         BITFIELD bf GET u64 0\nBITFIELD bf GET i65 0\nBITFIELD bf GET u8 -1\nBITFIELD bf GET u8 x\nBITFIELD bf SET u8 0 x\n\
         BITFIELD bf FOO u8 0\nBITFIELD bf OVERFLOW FOO\nBITFIELD bf GET u8\nGET bf\nBITFIELD_RO bf GET u8 0 GET i16 #1\n\
         BITFIELD_RO bf SET u8 0 1\nBITFIELD nokey GET u8 0\nEXISTS nokey\nBITFIELD fail OVERFLOW FAIL SET u2 0 9\nGET fail\n\
         SET s hello\nBITFIELD s GET u8 0 SET u8 8 65\nGET s\nRPUSH l x\nBITFIELD l GET u8 0",
    ]);
}

#[test]
fn geo_matches_redis() {
    compare(&[
        "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania\n\
         ZRANGE Sicily 0 -1 WITHSCORES\n\
         GEOADD Sicily NX 13.361389 38.115556 Palermo 13.5 38.1 Other\n\
         GEOADD Sicily XX CH 13.4 38.1 Other 13.361389 38.115556 Palermo\n\
         GEOADD Sicily XX CH 13.3 38.1 Palermo\n\
         GEOADD Sicily NX XX 1 1 a\n\
         GEOADD Sicily 1 1\n\
         GEOADD Sicily 200 1 a\n\
         GEOADD Sicily 1 86 a\n\
         GEOADD Sicily x 1 a\n\
         GEOADD Sicily GT 1 1 a\n\
         GEODIST Sicily Palermo Catania\n\
         GEODIST Sicily Palermo Catania km\n\
         GEODIST Sicily Palermo Catania MI\n\
         GEODIST Sicily Palermo Catania ft\n\
         GEODIST Sicily Palermo Catania parsec\n\
         GEODIST Sicily Palermo nope\n\
         GEODIST nokey a b\n\
         GEODIST Sicily a b km extra\n\
         GEOHASH Sicily Palermo Catania nope\n\
         GEOHASH nokey a\n\
         GEOHASH Sicily\n\
         GEOPOS Sicily Palermo Catania nope\n\
         GEOPOS nokey a\n\
         GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2\n\
         GEORADIUS Sicily 15 37 200 km\n\
         GEORADIUS Sicily 15 37 200 km ASC\n\
         GEORADIUS Sicily 15 37 200 km DESC WITHDIST\n\
         GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH\n\
         GEORADIUS Sicily 15 37 200 km COUNT 1",
        "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.4 38.1 Other 12.758489 38.788135 edge1 17.241510 38.788135 edge2\n\
         GEORADIUS Sicily 15 37 200 km COUNT 2 DESC\n\
         GEORADIUS Sicily 15 37 200 km COUNT 1 ANY\n\
         GEORADIUS Sicily 15 37 200 km ANY\n\
         GEORADIUS Sicily 15 37 200 km COUNT 0\n\
         GEORADIUS Sicily 15 37 200 km COUNT -3\n\
         GEORADIUS Sicily 15 37 200 km COUNT x\n\
         GEORADIUS Sicily 15 37 -1 km\n\
         GEORADIUS Sicily 15 37 abc km\n\
         GEORADIUS Sicily 15 37 200 lightyears\n\
         GEORADIUS Sicily 200 37 200 km\n\
         GEORADIUS Sicily 15 37 200 km FOO\n\
         GEORADIUS Sicily 15 37 200 km STORE dst\n\
         ZRANGE dst 0 -1 WITHSCORES\n\
         GEORADIUS Sicily 15 37 200 km STOREDIST dst2\n\
         ZRANGE dst2 0 -1\n\
         GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST\n\
         GEORADIUS Sicily 15 37 1 m STORE dst\n\
         EXISTS dst\n\
         GEORADIUS nokey 15 37 200 km\n\
         GEORADIUS nokey 15 37 200 km STORE dst2\n\
         EXISTS dst2\n\
         GEORADIUS_RO Sicily 15 37 200 km STORE dst\n\
         GEORADIUS_RO Sicily 15 37 200 km WITHDIST ASC\n\
         GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST ASC\n\
         GEORADIUSBYMEMBER Sicily nope 200 km\n\
         GEORADIUSBYMEMBER nokey nope abc km\n\
         GEORADIUSBYMEMBER_RO Sicily Palermo 100 km ASC\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC\n\
         GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km ASC WITHCOORD WITHDIST\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km DESC WITHHASH",
        "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.4 38.1 Other 12.758489 38.788135 edge1 17.241510 38.788135 edge2\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 -1 km\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 1 km\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 x km\n\
         GEOSEARCH Sicily FROMLONLAT 15 37\n\
         GEOSEARCH Sicily BYRADIUS 10 km\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 10 km\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 10 km BYBOX 1 1 km\n\
         GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 10 km\n\
         GEOSEARCH nokey FROMMEMBER nope BYRADIUS 10 km\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STORE x\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST\n\
         GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ANY\n\
         GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 2\n\
         ZRANGE dst 0 -1 WITHSCORES\n\
         GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST\n\
         ZRANGE dst 0 -1\n\
         GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST\n\
         GEOSEARCHSTORE dst nokey FROMLONLAT 15 37 BYRADIUS 200 km\n\
         EXISTS dst\n\
         SET str x\n\
         GEOADD str 1 1 a\n\
         GEOPOS str a\n\
         GEOSEARCH str FROMLONLAT 15 37 BYRADIUS 200 km\n\
         GEORADIUS str 15 37 200 km\n\
         GEODIST str a b\n\
         GEOHASH str a\n\
         GEOADD world 0 0 origin 179.9 0 east 0 85 north -179.9 -85 southwest 100 50 asia\n\
         GEOSEARCH world FROMLONLAT 0 0 BYRADIUS 20000 km ASC\n\
         GEOSEARCH world FROMLONLAT 0 0 BYRADIUS 0 km\n\
         GEOSEARCH world FROMLONLAT 0 0 BYBOX 40000 40000 km DESC",
        "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.4 38.1 Other 12.758489 38.788135 edge1 17.241510 38.788135 edge2\n\
         GEORADIUS world 179 0 500 km WITHDIST\n\
         GEOPOS world origin east north southwest\n\
         GEOHASH world origin east north southwest asia",
    ]);
}

/// Random points and random searches (radius and box, every size from metres to half the
/// planet, near the poles and the antimeridian): the same members in the same order with
/// the same distances as redis-server, which exercises the cell selection, not just parsing.
#[test]
fn geo_searches_over_random_points_match_redis() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let strata = Server::start();
    let mut a = Raw::connect_unix(&redis.socket);
    let mut b = strata.raw();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |lo: f64, hi: f64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + (seed % 1_000_000) as f64 / 1_000_000.0 * (hi - lo)
    };
    let mut points = Vec::new();
    for i in 0..3000 {
        // Half the points cluster around Rome so small searches find something.
        let (lon, lat) = if i % 2 == 0 {
            (next(-180.0, 180.0), next(-85.0, 85.0))
        } else {
            (next(12.0, 13.0), next(41.5, 42.3))
        };
        points.push((format!("{lon:.6}"), format!("{lat:.6}"), format!("p{i}")));
    }
    for chunk in points.chunks(500) {
        let mut args = vec!["GEOADD".to_string(), "pts".to_string()];
        for (lon, lat, name) in chunk {
            args.extend([lon.clone(), lat.clone(), name.clone()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(a.cmd(&refs), b.cmd(&refs));
    }
    let mut mismatches = Vec::new();
    let mut nonempty = 0;
    for q in 0..120 {
        let (lon, lat) = match q % 4 {
            0 => (next(12.0, 13.0), next(41.5, 42.3)),
            1 => (next(-180.0, 180.0), next(-85.0, 85.0)),
            2 => (next(170.0, 180.0), next(-10.0, 10.0)),
            _ => (next(-180.0, 180.0), next(75.0, 85.0)),
        };
        let size = [0.05, 0.5, 3.0, 25.0, 300.0, 2500.0, 9000.0][q % 7];
        let (lon, lat, size) = (format!("{lon:.5}"), format!("{lat:.5}"), format!("{size}"));
        let query: Vec<&str> = if q % 3 == 0 {
            vec![
                "GEOSEARCH",
                "pts",
                "FROMLONLAT",
                &lon,
                &lat,
                "BYBOX",
                &size,
                &size,
                "km",
                "ASC",
                "WITHDIST",
            ]
        } else {
            vec![
                "GEOSEARCH",
                "pts",
                "FROMLONLAT",
                &lon,
                &lat,
                "BYRADIUS",
                &size,
                "km",
                "ASC",
                "WITHDIST",
                "WITHHASH",
            ]
        };
        let (expected, got) = (a.cmd(&query), b.cmd(&query));
        if matches!(&expected, V::Array(items) if items.len() > 1) {
            nonempty += 1;
        }
        if expected != got {
            mismatches.push(format!(
                "{}\n  redis:  {expected:?}\n  strata: {got:?}",
                query.join(" ")
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        nonempty > 40,
        "only {nonempty} searches found several points"
    );
}

#[test]
fn streams_match_redis() {
    // Time-dependent replies (auto ids, idle times) are left to `tests/it/streams.rs`.
    compare(&[
        "XADD s 1-1 a 1\n\
         XADD s 1-1 a 1\n\
         XADD s 1-* b 2\n\
         XADD s 2 c 3\n\
         XADD s 0-0 x y\n\
         XADD s + x y\n\
         XADD s 9-x x y\n\
         XADD s 3-1 f\n\
         XADD s 3-1\n\
         XADD s NOMKSTREAM 3-1 f v\n\
         XADD nokey NOMKSTREAM * f v\n\
         EXISTS nokey\n\
         XADD s MAXLEN -1 4-1 a b\n\
         XADD s MAXLEN x 4-1 a b\n\
         XADD s MAXLEN = 10 LIMIT 5 4-1 a b\n\
         XADD s MINID 1 MAXLEN 1 4-1 a b\n\
         XADD s LIMIT -1 4-1 a b\n\
         XLEN s\n\
         XLEN nokey\n\
         XRANGE s - +\n\
         XRANGE s - + COUNT 2\n\
         XRANGE s - + COUNT 0\n\
         XRANGE s - + COUNT -1\n\
         XRANGE s - + COUNT x\n\
         XRANGE s - + FOO\n\
         XRANGE s (1-1 +\n\
         XRANGE s - (2-0\n\
         XRANGE s 1 1\n\
         XRANGE s (- +\n\
         XRANGE s - (+\n\
         XRANGE s (18446744073709551615-18446744073709551615 +\n\
         XRANGE s - (0-0\n\
         XRANGE s 5 1\n\
         XRANGE nokey - +\n\
         XREVRANGE s + -\n\
         XREVRANGE s + - COUNT 1\n\
         XREVRANGE s (2-0 -\n\
         XADD s 5-0 e 5\n\
         XDEL s 1-2 99-0 1-2\n\
         XDEL s bad\n\
         XRANGE s - +\n\
         XTRIM s\n\
         XTRIM s MAXLEN\n\
         XTRIM s MAXLEN 2 FOO\n\
         XTRIM s MAXLEN = 2\n\
         XRANGE s - +\n\
         XTRIM s MINID 5\n\
         XRANGE s - +\n\
         XTRIM nokey MAXLEN 0\n\
         XSETID s 1-1\n\
         XSETID s 9-0\n\
         XSETID nokey 1-1\n\
         XSETID s 99-0 ENTRIESADDED -1\n\
         XSETID s 99-0 ENTRIESADDED 0\n\
         XSETID s 99-0 MAXDELETEDID 100-0\n\
         XSETID s 100-0 ENTRIESADDED 50 MAXDELETEDID 60-0\n\
         XSETID s 100-0 FOO 1\n\
         XADD t 1-1 a 1\n\
         XADD t 2-1 b 2\n\
         XADD t 3-1 c 3\n\
         XGROUP CREATE t g $\n\
         XGROUP CREATE t g0 0\n\
         XGROUP CREATE t g2 2-1\n\
         XGROUP CREATE t g0 0\n\
         XGROUP CREATE t g3 0 ENTRIESREAD -2\n\
         XGROUP CREATE t g3 0 ENTRIESREAD 1\n\
         XGROUP CREATE t g4 0 FOO\n\
         XGROUP CREATE nokey g 0\n\
         XGROUP CREATE nokey g 0 MKSTREAM\n\
         XLEN nokey\n\
         XINFO GROUPS t\n\
         XINFO GROUPS nokey\n\
         XINFO GROUPS nothere\n\
         XDEL t 2-1\n\
         XINFO GROUPS t\n\
         XGROUP SETID t g0 1-1\n\
         XGROUP SETID t nog 0\n\
         XGROUP SETID nothere g 0\n\
         XGROUP SETID t g0 0 ENTRIESREAD 0\n\
         XGROUP CREATECONSUMER t g0 alice\n\
         XGROUP CREATECONSUMER t g0 alice\n\
         XGROUP CREATECONSUMER t nog alice\n\
         XREADGROUP GROUP g0 bob COUNT 1 STREAMS t >\n\
         XREADGROUP GROUP g0 bob STREAMS t >\n\
         XREADGROUP GROUP g0 bob STREAMS t >\n\
         XREADGROUP GROUP g0 bob STREAMS t 0\n\
         XREADGROUP GROUP g0 alice STREAMS t 0\n\
         XREADGROUP GROUP nog bob STREAMS t >\n\
         XREADGROUP GROUP g0 bob STREAMS t $\n\
         XREADGROUP GROUP g0 bob STREAMS t\n\
         XREADGROUP GROUP g0 bob STREAMS t nokey > >\n\
         XREADGROUP STREAMS t >\n\
         XREAD GROUP g0 bob STREAMS t >\n\
         XREAD STREAMS t >\n\
         XREAD STREAMS t 0\n\
         XREAD COUNT 1 STREAMS t t 0 2\n\
         XREAD STREAMS t nokey 0 0\n\
         XREAD STREAMS t $\n\
         XREAD BLOCK -1 STREAMS t 0\n\
         XREAD BLOCK x STREAMS t 0\n\
         XREAD COUNT 1 STREAMS t\n\
         XINFO GROUPS t\n\
         XPENDING t g0\n\
         XPENDING t nog\n\
         XPENDING nokey g\n\
         XPENDING t g0 - + 0\n\
         XPENDING t g0 -\n\
         XPENDING t g0 - + x\n\
         XACK t g0 1-1 x\n\
         XACK t g0 1-1 1-1 9-9\n\
         XACK t nog 1-1\n\
         XACK nothere g 1-1\n\
         XPENDING t g0\n\
         XDEL t 3-1\n\
         XREADGROUP GROUP g0 bob STREAMS t 0\n\
         XCLAIM t g0 carol 0 3-1\n\
         XPENDING t g0\n\
         XCLAIM t nog carol 0 3-1\n\
         XCLAIM t g0 carol x 3-1\n\
         XCLAIM t g0 carol 0 3-1 FOO\n\
         XCLAIM t g0 carol 0 3-1 IDLE x\n\
         XADD t 4-1 d 4\n\
         XCLAIM t g0 carol 0 4-1 FORCE JUSTID\n\
         XPENDING t g0\n\
         XCLAIM t g0 dave 0 4-1 JUSTID RETRYCOUNT 7\n\
         XCLAIM t g0 dave 0 4-1 LASTID 10-0\n\
         XINFO GROUPS t\n\
         XAUTOCLAIM t g0 erin 0 0\n\
         XAUTOCLAIM t g0 erin 0 0 COUNT 0\n\
         XAUTOCLAIM t g0 erin 0 0 COUNT x\n\
         XAUTOCLAIM t g0 erin 0 0 FOO\n\
         XAUTOCLAIM t g0 erin x 0\n\
         XAUTOCLAIM t nog erin 0 0\n\
         XAUTOCLAIM t g0 erin 0 0 JUSTID COUNT 1\n\
         XAUTOCLAIM t g0 erin 0 (4-1\n\
         XGROUP DELCONSUMER t g0 erin\n\
         XGROUP DELCONSUMER t g0 nobody\n\
         XGROUP DELCONSUMER t nog nobody\n\
         XPENDING t g0\n\
         XGROUP DESTROY t g0\n\
         XGROUP DESTROY t g0\n\
         XGROUP DESTROY nothere g0\n\
         XINFO GROUPS t\n\
         XGROUP FOO\n\
         XGROUP HELP\n\
         XINFO FOO\n\
         XINFO STREAM nothere\n\
         XINFO CONSUMERS t nog\n\
         SET str x\n\
         XADD str * a b\n\
         XRANGE str - +\n\
         XREAD STREAMS str 0\n\
         XLEN str\n\
         XGROUP CREATE str g 0\n\
         TYPE t\n\
         XADD e MAXLEN 0 1-0 a b\n\
         XLEN e\n\
         EXISTS e\n\
         XINFO GROUPS e\n\
         XADD e MINID 5-0 2-0 a b\n\
         XLEN e",
        "XADD big 1-0 a 1\n\
         XADD big 2-0 a 1\n\
         XADD big 3-0 a 1\n\
         XTRIM big MAXLEN ~ 1\n\
         XLEN big\n\
         XTRIM big MAXLEN ~ 1 LIMIT 0\n\
         XLEN big\n\
         XADD r 1-0 a 1\n\
         XADD r 2-0 b 2\n\
         XADD r 3-0 c 3\n\
         XADD r 4-0 d 4\n\
         XGROUP CREATE r g 0\n\
         XGROUP CREATE r late 3-0\n\
         XGROUP CREATE r er 0 ENTRIESREAD 2\n\
         XREADGROUP GROUP g c1 COUNT 2 STREAMS r >\n\
         XINFO GROUPS r\n\
         XREADGROUP GROUP g c2 NOACK STREAMS r >\n\
         XPENDING r g\n\
         XINFO GROUPS r\n\
         XREADGROUP GROUP late c1 STREAMS r >\n\
         XREADGROUP GROUP er c1 COUNT 1 STREAMS r >\n\
         XINFO GROUPS r\n\
         XADD r 5-0 e 5\n\
         XDEL r 1-0\n\
         XINFO GROUPS r\n\
         XDEL r 5-0\n\
         XINFO GROUPS r\n\
         XADD r 6-0 f 6\n\
         XINFO GROUPS r\n\
         XREADGROUP GROUP g c1 STREAMS r >\n\
         XINFO GROUPS r\n\
         XPENDING r g IDLE 999999 - + 10\n\
         XPENDING r g - + 10 nobody\n\
         XGROUP SETID r g $\n\
         XINFO GROUPS r\n\
         XGROUP SETID r g 0 ENTRIESREAD 3\n\
         XINFO GROUPS r\n\
         XTRIM r MINID ~ 100\n\
         XLEN r\n\
         XGROUP CREATE fresh g $ MKSTREAM\n\
         XINFO GROUPS fresh\n\
         XADD fresh 1-0 a 1\n\
         XINFO GROUPS fresh\n\
         XREADGROUP GROUP g c STREAMS fresh >\n\
         XINFO GROUPS fresh\n\
         XREAD COUNT 0 STREAMS r 0\n\
         XREAD STREAMS r 99-0\n\
         XLEN w\n\
         XADD x 5-5 a b\n\
         XADD x 5-* a b\n\
         XADD x 4-* a b\n\
         XADD x 18446744073709551615-18446744073709551615 a b\n\
         XADD x 18446744073709551615-* a b\n\
         XCLAIM r g c9 0 6-0 2-0 IDLE 500 RETRYCOUNT 3 JUSTID\n\
         XAUTOCLAIM r g c9 0 - COUNT 1\n\
         XGROUP CREATECONSUMER r g c1\n\
         XINFO GROUPS nokey",
    ]);
}

#[test]
fn hyperloglog_matches_redis() {
    compare(&[
        // The stored bytes must be Redis's own: GET after every step.
        "PFADD h a b c\nGET h\nPFADD h a\nPFADD h\nPFADD fresh\nGET fresh\nPFCOUNT h\nGET h\nPFCOUNT h\n\
         PFDEBUG DECODE h\nPFDEBUG ENCODING h\nPFDEBUG TODENSE h\nPFDEBUG TODENSE h\nPFDEBUG ENCODING h\n\
         PFDEBUG DECODE h\nPFCOUNT h\nPFADD h d e f\nPFCOUNT h\nPFCOUNT h fresh nokey\nPFCOUNT nokey\n\
         PFDEBUG GETREG nokey\nPFDEBUG FOO h\nPFDEBUG GETREG h x\nPFDEBUG",
        "PFADD a 1 2 3 4 5\nPFADD b 4 5 6 7\nPFMERGE m a b\nPFCOUNT m\nGET m\nPFMERGE a b\nGET a\nPFMERGE e\nGET e\n\
         PFMERGE m nokey\nPFCOUNT m\nPFDEBUG TODENSE b\nPFMERGE m2 a b\nPFDEBUG ENCODING m2\nGET m2\nPFMERGE",
        "SET s foo\nPFADD s x\nPFCOUNT s\nPFCOUNT s nokey\nPFMERGE s a\nPFMERGE d s\nRPUSH l x\nPFADD l x\n\
         PFCOUNT l\nPFMERGE l\nSET short HYLL\nPFCOUNT short\nSET baddense \"HYLL\\x00\\x00\\x00\\x00\"\nPFADD baddense x\n\
         SET badsparse \"HYLL\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x80\\x7f\"\nPFCOUNT badsparse\n\
         PFADD badsparse x\nPFCOUNT badsparse a\nPFMERGE d badsparse\nSET overrun \"HYLL\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x80\\x7f\\xff\\xff\"\n\
         PFCOUNT overrun\nPFADD",
        "SET k v EX 100\nDEL k\nPFADD k a\nEXPIRE k 100\nPFADD k b c\nTTL k\nPFMERGE k a\nTTL k\nTYPE k",
    ]);
}

/// A value Redis built (sparse, promoted to dense, large) read with GET and written into
/// Strata with SET counts the same, and the other way round; merges agree byte for byte.
#[test]
fn hyperloglog_values_move_between_redis_and_strata() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let strata = Server::start();
    let mut a = Raw::connect_unix(&redis.socket);
    let mut b = strata.raw();
    for n in [10usize, 800, 5_000, 60_000] {
        for i in (0..n).step_by(1000) {
            let elements: Vec<String> = (i..n.min(i + 1000)).map(|j| format!("e{n}-{j}")).collect();
            let mut args = vec!["PFADD", "x"];
            args.extend(elements.iter().map(String::as_str));
            a.cmd(&args);
        }
        let V::Bulk(value) = a.cmd(&["GET", "x"]) else {
            panic!("GET of an HLL is a bulk string");
        };
        b.send_bytes(&Raw::encode(&[b"SET", b"x", &value]));
        assert_eq!(b.read(), V::Status("OK".into()));
        let expected = a.cmd(&["PFCOUNT", "x"]);
        assert_eq!(b.cmd(&["PFCOUNT", "x"]), expected, "{n} elements");
        // And back: Strata's value (with its refreshed cache) in Redis.
        b.cmd(&["PFADD", "x", "one-more"]);
        let V::Bulk(ours) = b.cmd(&["GET", "x"]) else {
            panic!("GET of an HLL is a bulk string");
        };
        a.send_bytes(&Raw::encode(&[b"SET", b"y", &ours]));
        a.read();
        a.cmd(&["PFADD", "x", "one-more"]);
        assert_eq!(a.cmd(&["PFCOUNT", "y"]), b.cmd(&["PFCOUNT", "x"]), "{n}");
        a.cmd(&["PFCOUNT", "x"]);
        assert_eq!(
            a.cmd(&["GET", "y"]),
            a.cmd(&["GET", "x"]),
            "{n}: same bytes"
        );
        a.cmd(&["DEL", "x", "y"]);
    }
}

#[test]
fn lua_scripting_matches_redis() {
    compare(&[
        // Lua -> RESP conversion.
        r#"EVAL "return {err='plain'}" 0
           EVAL "return redis.error_reply('MYERR y')" 0
           EVAL "return redis.error_reply('noprefix')" 0
           EVAL "return {ok='fine x'}" 0
           EVAL "return redis.status_reply('yo')" 0
           EVAL "return 3.99" 0
           EVAL "return -3.99" 0
           EVAL "return {1,{2,{3}},'a',1}" 0
           EVAL "return {1,2,nil,3}" 0
           EVAL "return {1.5, true, false}" 0
           EVAL "return nil" 0
           EVAL "return {double=3.5}" 0"#,
        // RESP -> Lua conversion, RESP2 and RESP3.
        r#"EVAL "return type(redis.call('get','nokey'))" 0
           EVAL "local t = redis.call('ping'); return t.ok" 0
           EVAL "return redis.call('type', 'nokey').ok" 0
           EVAL "return redis.call('set', 'k', 1.5)" 0
           EVAL "return redis.call('get', 'k')" 0
           EVAL "return redis.call('incr', KEYS[1])" 1 counter
           EVAL "return redis.call('hgetall', 'nokey')" 0
           EVAL "redis.setresp(3); return type(redis.call('get', 'nokey'))" 0
           EVAL "redis.call('hset', 'h', 'f', 'v'); redis.setresp(3); return redis.call('hgetall', 'h').map.f" 0
           EVAL "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}" 2 a b x y"#,
        // Errors, as the caller sees them.
        r#"EVAL "error({err='MYERR bad'})" 0
           EVAL "error('MYERR x')" 0
           EVAL "local x = 1\nreturn redis.call('nosuch')" 0
           EVAL "local ok, e = pcall(redis.call, 'nosuch'); return e" 0
           EVAL "return redis.pcall('nosuch')" 0
           EVAL "local e = redis.pcall('nosuch'); return e.err" 0
           EVAL "local t = redis.call('get'); return 1" 0
           EVAL "return redis.call()" 0
           EVAL "return redis.call('set', 'k', {})" 0
           SET str abc
           EVAL "return redis.call('incr', KEYS[1])" 1 str
           EVAL "return redis.setresp(4)" 0
           EVAL "return redis.call('eval', 'return 1', 0)" 0
           EVAL_RO "return redis.call('set', 'a', 'b')" 0
           EVAL_RO "return redis.call('get', 'str')" 0
           EVAL "return (" 0
           EVAL "return 1" -1
           EVAL "return 1" 5 a
           EVAL "return 1" notanumber
           EVAL "local function f() error('deep') end\nlocal x = 2\nf()" 0"#,
        // The sandbox.
        r#"EVAL "x = 1" 0
           EVAL "_G.x = 1" 0
           EVAL "return os.time()" 0
           EVAL "print('x')" 0
           EVAL "return type(dofile)" 0
           EVAL "return type(loadfile)" 0
           EVAL "return type(loadstring)" 0
           EVAL "local a = {}; a.x = 1; return a.x" 0"#,
        // Script cache.
        r#"SCRIPT LOAD "return 1"
           SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0000
           EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
           EVALSHA ffffffffffffffffffffffffffffffffffffffff 0
           SCRIPT FLUSH bad
           SCRIPT FLUSH
           SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db
           SCRIPT KILL
           SCRIPT LOAD "return redis.call('get', KEYS[1])"
           EVALSHA_RO 4e6d8fc8bb01276962cce5371fa795a7763657ae 1 nokey
           EVAL "redis.log(redis.LOG_WARNING, 'from a test'); return redis.LOG_NOTICE" 0
           EVAL "return redis.set_repl(redis.REPL_ALL)" 0
           EVAL "return redis.sha1hex('')" 0"#,
        // Libraries.
        r#"EVAL "return cjson.decode('[1,2,{\"a\":null,\"b\":[true,false]}]')[3].b[1]" 0
           EVAL "return cjson.encode({a={1,2},b='x'})" 0
           EVAL "return cjson.encode(cjson.decode('{\"a\":1.5,\"n\":null}'))" 0
           EVAL "return cjson.encode({})" 0
           EVAL "return cjson.encode('he\"l\\nlo/')" 0
           EVAL "return cjson.decode('bad')" 0
           EVAL "return cjson.encode(3.14)" 0
           EVAL "return cjson.encode({[1]=1,[3]=3})" 0
           EVAL "return cjson.encode(cjson.null)" 0
           EVAL "return cmsgpack.pack({1,2,'abc'})" 0
           EVAL "return cmsgpack.unpack(cmsgpack.pack({1,2,'abc',{x=1}}))" 0
           EVAL "return {cmsgpack.unpack(cmsgpack.pack(1,2,3))}" 0
           EVAL "return cmsgpack.pack(1.5, -1, 300, 70000, 'x', true, false, nil, -200, 2^40, 0.1)" 0
           EVAL "return bit.band(0xff, 0x0f)" 0
           EVAL "return {bit.bor(1,2), bit.bxor(3,1), bit.bnot(0), bit.lshift(1,4), bit.rshift(-1, 28), bit.arshift(-16, 2), bit.rol(1, 33), bit.ror(1,1), bit.tobit(2^32+5), bit.tohex(255), bit.tohex(-1, -4), bit.bswap(0x01020304)}" 0
           EVAL "return struct.pack('>i4 <H B s c3 x', 1, 2, 3, 'ab', 'xyz')" 0
           EVAL "return {struct.unpack('>i4H', struct.pack('>i4H', -5, 7))}" 0
           EVAL "return struct.size('>i4Hd')" 0
           EVAL "return tostring(struct.unpack('<d', struct.pack('<d', 1.5)))" 0"#,
        // Functions.
        r##"FUNCTION FLUSH
           FUNCTION LOAD "#!lua name=mylib\nredis.register_function('myget', function(keys, args) return redis.call('get', keys[1]) end)\nredis.register_function{function_name='ro', callback=function(keys, args) return args[1] end, flags={'no-writes'}}"
           SET fk hello
           FCALL myget 1 fk
           FCALL_RO ro 0 x
           FCALL_RO myget 1 fk
           FCALL nosuch 0
           FUNCTION LOAD "#!lua name=mylib\nredis.register_function('x', function() return 1 end)"
           FUNCTION LOAD "no header"
           FUNCTION LOAD "#!lua name=empty\nlocal x = 1"
           FUNCTION DELETE nosuch
           FUNCTION DELETE mylib
           FCALL myget 1 fk
           FUNCTION FLUSH
           FUNCTION STATS
           FUNCTION LIST
           FUNCTION FLUSH bad
           FUNCTION LIST bad
           FUNCTION LIST LIBRARYNAME
           FUNCTION RESTORE x BAD
           FUNCTION RESTORE x
           FUNCTION LOAD X Y
           FUNCTION LOAD "#!lua\nredis.register_function('a', function() return 1 end)"
           FUNCTION LOAD "#!js name=x\nfoo"
           FUNCTION LOAD "#!lua name=x foo=bar\nredis.register_function('a', function() return 1 end)"
           FUNCTION LOAD "#!lua name=a-b\nredis.register_function('a', function() return 1 end)"
           FUNCTION LOAD "#!lua name=x\nredis.register_function('a-b', function() return 1 end)"
           FUNCTION LOAD "#!lua name=x\nredis.register_function('a', function() return 1 end)\nredis.register_function('a', function() return 1 end)"
           FUNCTION LOAD "#!lua name=x\nreturn ("
           FUNCTION LOAD "#!lua name=x\nredis.register_function('a')"
           FUNCTION LOAD "#!lua name=x\nredis.register_function{function_name='a'}"
           FUNCTION LOAD "#!lua name=y\nredis.register_function('f1', function(k, a) return redis.call('set', k[1], a[1]) end)"
           FUNCTION LOAD "#!lua name=z\nredis.register_function('f1', function() return 1 end)"
           FCALL f1 1 k v
           FCALL_RO f1 1 k v
           FCALL f1 x
           FCALL f1 -1
           FUNCTION FLUSH
           CONFIG SET maxmemory-policy bad
           CONFIG SET maxmemory-samples 0"##,
    ]);
}

/// `DEBUG DIGEST` and `DEBUG DIGEST-VALUE` print the same hex digits on both servers for
/// every type, small and large collections, TTLs and several databases — so a digest can
/// compare a Strata replica with its primary, or Strata with the Redis it was fed from.
#[test]
fn debug_digest_matches_redis() {
    let mut big = String::new();
    for i in 0..300 {
        big.push_str(&format!(
            "HSET bighash f{i} v{i}\nSADD bigset m{i}\nSADD intset {i}\n"
        ));
        big.push_str(&format!(
            "ZADD bigzset {}.25 z{i}\nRPUSH biglist e{i}\n",
            i % 17
        ));
    }
    let mut all_types = String::from(
        "DEBUG DIGEST\n\
         SET s hello\nSET n 12345\nSET neg -7\nSET empty \"\"\n\
         RPUSH l a b c 1 2\nLPUSH l z\n\
         SADD st x y 1 2 3\n\
         ZADD z 1 a 2.5 b -3 c 1e20 d 0.1 e inf f -inf g\n\
         HSET h f1 v1 f2 2 f3 \"\"\n\
         XADD x 1-1 a 1 b 2\nXADD x 2-5 c 3\n\
         SET ttl v EX 1000\nHSET ttlh a b\nEXPIRE ttlh 500\n\
         PFADD hll a b c\nSETBIT bits 77 1\n\
         GEOADD geo 13.361389 38.115556 Palermo\n\
         SELECT 3\nSET s hello\nRPUSH l a\nSELECT 0\n\
         DEBUG DIGEST-VALUE s n neg empty l st z h x ttl ttlh hll bits geo missing\n",
    );
    all_types.push_str(&big);
    all_types.push_str("DEBUG DIGEST-VALUE bighash bigset intset bigzset biglist\nDEBUG DIGEST\n");
    compare_pipelined(&[
        all_types,
        // Same content in another database, and order of insertion: different and equal.
        "SELECT 1\nSET a 1\nDEBUG DIGEST\nSELECT 0\nSET a 1\nDEBUG DIGEST\nDEL a\nDEBUG DIGEST".into(),
        "SADD s a b c\nDEBUG DIGEST\nDEL s\nSADD s c b a\nDEBUG DIGEST\nRPUSH l a b\nDEBUG DIGEST-VALUE l".into(),
    ]);
}
