#!/usr/bin/env python3
"""Network fuzzer: random commands with hostile arguments over many connections to the real
`strata` binary.

It starts the server itself (or takes --addr), reads `COMMAND LIST` / `COMMAND INFO` /
`COMMAND DOCS` for names, arities, key positions, subcommands and option keywords, seeds keys
of every type, and then for --duration seconds sends random commands over --conns connections
(plus pipelines, MULTI blocks, ephemeral pub/sub connections and malformed RESP probes).

The run FAILS when:
  * a PING from a separate watchdog process takes longer than --ping-deadline-ms,
  * the server process dies, or its log contains `panicked`,
  * a connection drops without replying, a reply is not RESP, or a command gets no reply
    within --reply-timeout (reported with the command and its truncated arguments),
  * `connected_clients` is not back to its starting value after every fuzz connection closed.

Standard library only. Exit code 0 = pass, 1 = fail, 2 = could not run.

    python3 tests/fuzz/netfuzz.py --duration 60 --conns 100 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import respkit  # noqa: E402
from respkit import (Push, RespError, ProtocolViolation, encode, fmt_args,  # noqa: E402
                     read_non_push)

# --------------------------------------------------------------------------- what not to send

# Commands that would stop the test, change who may connect, or talk to other machines.
EXCLUDED = {
    "shutdown", "debug", "monitor", "sync", "psync", "replicaof", "slaveof", "failover",
    "quit", "reset", "migrate", "replconf", "module", "save-shutdown", "restore-asking",
    "cluster|failover", "cluster|reset", "cluster|meet", "cluster|replicate", "cluster|forget",
    "client|kill", "client|pause", "client|reply", "acl|setuser", "acl|deluser", "acl|load",
    "acl|save", "config|rewrite", "sentinel",
    # A Lua debugging session takes the connection over (and SYNC mode blocks the server).
    "script|debug",
    # A self-test that runs for seconds by design (for ever after a large
    # hll-sparse-max-bytes).
    "pfselftest",
}
# Subscribe-family commands switch the connection's protocol state: they run on a throwaway
# connection that reads pushes.
SUBSCRIBE_FAMILY = {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
                    "sunsubscribe"}
# Expensive or global commands: at most one every RATE_LIMIT_SECONDS across all connections.
RATE_LIMITED = {
    "save", "bgsave", "bgrewriteaof", "flushall", "flushdb", "swapdb", "strata.checkpoint",
    "script|flush", "function|flush", "config|resetstat", "memory|purge", "function|restore",
}
RATE_LIMIT_SECONDS = 3.0
# CONFIG SET only on parameters that cannot cut the fuzzer off (timeout, maxclients,
# requirepass, dir, port, loglevel, query-buffer limits ... are left alone), plus unknown names.
CONFIG_SET_SAFE = [
    # (not hll-sparse-max-bytes: a huge value makes sparse HyperLogLogs legitimately quadratic)
    "hz", "notify-keyspace-events", "maxmemory-policy",
    "maxmemory-samples", "lfu-log-factor", "lfu-decay-time", "hot-tier", "checkpoint-retain",
    "slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold",
    "no-such-parameter", "", "*", "hash-max-listpack-entries", "zset-max-listpack-entries",
]
# Templates that are always used, never the generic generator: these commands accept values
# that are legal but make the server legitimately allocate gigabytes or run for minutes
# (SETBIT at offset 2^32-1, SRANDMEMBER with count -2^62, LCS of two 1 MB strings).
GUARDED = {"setbit", "setrange", "bitfield", "srandmember", "zrandmember", "hrandfield", "lcs"}
# Where blocking commands take their timeout: argv index (negative from the end) and unit.
BLOCK_TIMEOUT = {
    "blpop": (-1, "s"), "brpop": (-1, "s"), "bzpopmin": (-1, "s"), "bzpopmax": (-1, "s"),
    "brpoplpush": (-1, "s"), "blmove": (-1, "s"), "blmpop": (1, "s"), "bzmpop": (1, "s"),
    "wait": (-1, "ms"), "waitaof": (-1, "ms"),
}

# --------------------------------------------------------------------------- hostile values

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
HOSTILE_INTS = [
    "0", "-1", "1", "2", "-2", "3", "7", "100",
    str(I64_MAX), str(I64_MIN), str(2**63), str(-(2**63) - 1), str(2**64), str(2**64 - 1),
    str(2**32), str(2**32 - 1), str(2**31), str(2**31 - 1), str(-(2**31)), str(2**53 + 1),
    str(I64_MAX - 1), str(I64_MIN + 1), str(2**62), str(-(2**62)),
    "99999999999999999999999999", "-0", "+1", "01", " 1", "1 ", "0x10", "1e3", "1.5", "",
    "9223372036854775807", "-9223372036854775808",
]
HOSTILE_FLOATS = [
    "nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "1e400", "-1e400",
    "1e-400", "0.0", "-0.0", "1.7976931348623157e308", "-1.7976931348623157e308", "4.9e-324",
    "1e308", "0.1", "-2.5", "3.14159", ".5", "5.", "1e", "e1", "--1", "1,5", "(1", "(-inf",
    "(+inf", "(nan", "(", "[a", "(a", "[", "+", "-", "[\xff", "1.0e+10", "0x1p3",
]
STREAM_IDS = [
    "0", "0-0", "0-1", "1-0", "$", ">", "*", "+", "-", "1-*", "18446744073709551615-18446744073709551615",
    "18446744073709551615", "18446744073709551616-0", "0-18446744073709551616", "-1-0", "1-",
    "-0", "(0", "(1-1", "9999999999999-0", "abc", "", "1-2-3", "0-*",
]
GLOBAL_KEYWORDS = [
    "NX", "XX", "GT", "LT", "CH", "INCR", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET",
    "PERSIST", "WITHSCORES", "WITHSCORE", "LIMIT", "BYSCORE", "BYLEX", "REV", "MATCH", "COUNT",
    "TYPE", "STORE", "STOREDIST", "BLOCK", "STREAMS", "GROUP", "NOACK", "MAXLEN", "MINID",
    "LEFT", "RIGHT", "BEFORE", "AFTER", "RANK", "MAXLEN", "WEIGHTS", "AGGREGATE", "SUM", "MIN",
    "MAX", "ALPHA", "ASC", "DESC", "BY", "WITHCOORD", "WITHDIST", "WITHHASH", "ANY", "FROMMEMBER",
    "FROMLONLAT", "BYRADIUS", "BYBOX", "M", "KM", "FT", "MI", "REPLACE", "ABSTTL", "IDLETIME",
    "FREQ", "DB", "COPY", "AUTH", "AUTH2", "KEYS", "SCHEDULE", "ASYNC", "SYNC", "NOSAVE", "SAVE",
    "FLUSH", "APPEND", "WITHVALUES", "FIELDS", "FNX", "FXX", "JUSTID", "IDLE", "TIME",
    "RETRYCOUNT", "FORCE", "LASTID", "ENTRIESREAD", "MKSTREAM", "ENTRIESADDED", "MAXDELETEDID",
    "FULL", "CONSUMERS", "GROUPS", "STREAM", "OVERFLOW", "WRAP", "SAT", "FAIL", "BIT", "BYTE",
    "AND", "OR", "XOR", "NOT", "DIFF", "DIFF1", "ANDOR", "ONE", "LEN", "IDX", "MINMATCHLEN",
    "WITHMATCHLEN", "SETNAME", "ID", "LIBRARYNAME", "WITHCODE", "NOVALUES", "LOAD", "EXISTS",
    "HELP", "ON", "OFF", "YES", "NO", "DEFAULT", "~", "=", "*", "-", "+", "$", "#0", "i64",
    "u63", "u64", "i1", "i0", "u8", "i65",
]
# Option keywords per command, used when COMMAND DOCS has no `arguments` (Strata's does not).
KEYWORDS = {
    "set": ["NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "IFEQ"],
    "getex": ["EX", "PX", "EXAT", "PXAT", "PERSIST"],
    "expire": ["NX", "XX", "GT", "LT"], "pexpire": ["NX", "XX", "GT", "LT"],
    "expireat": ["NX", "XX", "GT", "LT"], "pexpireat": ["NX", "XX", "GT", "LT"],
    "zadd": ["NX", "XX", "GT", "LT", "CH", "INCR"],
    "zrange": ["BYSCORE", "BYLEX", "REV", "LIMIT", "WITHSCORES"],
    "zrangestore": ["BYSCORE", "BYLEX", "REV", "LIMIT"],
    "zrangebyscore": ["WITHSCORES", "LIMIT"], "zrevrangebyscore": ["WITHSCORES", "LIMIT"],
    "zrangebylex": ["LIMIT"], "zrevrangebylex": ["LIMIT"],
    "zunion": ["WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX", "WITHSCORES"],
    "zinter": ["WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX", "WITHSCORES"],
    "zunionstore": ["WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX"],
    "zinterstore": ["WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX"],
    "zdiff": ["WITHSCORES"], "zintercard": ["LIMIT"], "sintercard": ["LIMIT"],
    "zmpop": ["MIN", "MAX", "COUNT"], "bzmpop": ["MIN", "MAX", "COUNT"],
    "lmpop": ["LEFT", "RIGHT", "COUNT"], "blmpop": ["LEFT", "RIGHT", "COUNT"],
    "lmove": ["LEFT", "RIGHT"], "blmove": ["LEFT", "RIGHT"],
    "linsert": ["BEFORE", "AFTER"], "lpos": ["RANK", "COUNT", "MAXLEN"],
    "zrank": ["WITHSCORE"], "zrevrank": ["WITHSCORE"],
    "zrandmember": ["WITHSCORES"], "hrandfield": ["WITHVALUES"],
    "scan": ["MATCH", "COUNT", "TYPE"], "hscan": ["MATCH", "COUNT", "NOVALUES"],
    "sscan": ["MATCH", "COUNT"], "zscan": ["MATCH", "COUNT"],
    "sort": ["BY", "LIMIT", "GET", "ASC", "DESC", "ALPHA", "STORE", "nosort", "#"],
    "sort_ro": ["BY", "LIMIT", "GET", "ASC", "DESC", "ALPHA"],
    "bitcount": ["BYTE", "BIT"], "bitpos": ["BYTE", "BIT"],
    "bitop": ["AND", "OR", "XOR", "NOT", "DIFF", "DIFF1", "ANDOR", "ONE"],
    "bitfield": ["GET", "SET", "INCRBY", "OVERFLOW", "WRAP", "SAT", "FAIL", "i8", "u8", "i64",
                 "u63", "u64", "i0", "#1", "#-1"],
    "bitfield_ro": ["GET", "i8", "u8", "i64", "u63", "u64", "#0"],
    "lcs": ["LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN"],
    "copy": ["DB", "REPLACE"], "restore": ["REPLACE", "ABSTTL", "IDLETIME", "FREQ"],
    "georadius": ["m", "km", "ft", "mi", "WITHCOORD", "WITHDIST", "WITHHASH", "COUNT", "ANY",
                  "ASC", "DESC", "STORE", "STOREDIST"],
    "georadius_ro": ["m", "km", "WITHCOORD", "WITHDIST", "WITHHASH", "COUNT", "ANY", "ASC"],
    "georadiusbymember": ["m", "km", "WITHCOORD", "WITHDIST", "COUNT", "ANY", "STORE"],
    "georadiusbymember_ro": ["m", "km", "WITHCOORD", "WITHDIST", "COUNT", "ANY"],
    "geosearch": ["FROMMEMBER", "FROMLONLAT", "BYRADIUS", "BYBOX", "m", "km", "ASC", "DESC",
                  "COUNT", "ANY", "WITHCOORD", "WITHDIST", "WITHHASH"],
    "geosearchstore": ["FROMMEMBER", "FROMLONLAT", "BYRADIUS", "BYBOX", "m", "km", "ASC",
                       "COUNT", "ANY", "STOREDIST"],
    "geoadd": ["NX", "XX", "CH"],
    "xadd": ["NOMKSTREAM", "MAXLEN", "MINID", "=", "~", "LIMIT", "*"],
    "xtrim": ["MAXLEN", "MINID", "=", "~", "LIMIT"],
    "xread": ["COUNT", "BLOCK", "STREAMS"], "xreadgroup": ["GROUP", "COUNT", "BLOCK", "NOACK",
                                                           "STREAMS"],
    "xrange": ["COUNT"], "xrevrange": ["COUNT"], "xpending": ["IDLE"],
    "xclaim": ["IDLE", "TIME", "RETRYCOUNT", "FORCE", "JUSTID", "LASTID"],
    "xautoclaim": ["COUNT", "JUSTID"], "xsetid": ["ENTRIESADDED", "MAXDELETEDID"],
    "xgroup|create": ["MKSTREAM", "ENTRIESREAD", "$"], "xgroup|setid": ["ENTRIESREAD", "$"],
    "xinfo|stream": ["FULL", "COUNT"],
    "hexpire": ["NX", "XX", "GT", "LT", "FIELDS"], "hpexpire": ["NX", "XX", "GT", "LT", "FIELDS"],
    "hexpireat": ["NX", "XX", "GT", "LT", "FIELDS"],
    "hpexpireat": ["NX", "XX", "GT", "LT", "FIELDS"],
    "httl": ["FIELDS"], "hpttl": ["FIELDS"], "hexpiretime": ["FIELDS"],
    "hpexpiretime": ["FIELDS"], "hpersist": ["FIELDS"], "hgetdel": ["FIELDS"],
    "hgetex": ["FIELDS", "EX", "PX", "EXAT", "PXAT", "PERSIST"],
    "hsetex": ["FIELDS", "FNX", "FXX", "EX", "PX", "EXAT", "PXAT", "KEEPTTL"],
    "client|list": ["TYPE", "ID", "normal", "pubsub", "master", "replica"],
    "client|tracking": ["ON", "OFF", "REDIRECT", "PREFIX", "BCAST", "OPTIN", "OPTOUT", "NOLOOP"],
    "client|no-evict": ["ON", "OFF"], "client|no-touch": ["ON", "OFF"],
    "client|unblock": ["TIMEOUT", "ERROR"], "client|setinfo": ["LIB-NAME", "LIB-VER"],
    "hello": ["AUTH", "SETNAME", "2", "3", "default"],
    "flushall": ["ASYNC", "SYNC"], "flushdb": ["ASYNC", "SYNC"],
    "bgsave": ["SCHEDULE"], "script|flush": ["ASYNC", "SYNC"],
    "function|load": ["REPLACE"], "function|restore": ["FLUSH", "APPEND", "REPLACE"],
    "function|list": ["LIBRARYNAME", "WITHCODE"], "function|flush": ["ASYNC", "SYNC"],
    "memory|usage": ["SAMPLES"], "command|list": ["FILTERBY", "MODULE", "ACLCAT", "PATTERN"],
    "command|getkeys": [], "latency|histogram": [], "info": ["all", "everything", "default",
                                                             "server", "clients", "memory",
                                                             "keyspace", "stats"],
    "object|encoding": [], "shutdown": [], "georadius_ro_": [],
    "lolwut": ["VERSION"], "failover": [], "pubsub|channels": [], "pubsub|numsub": [],
    "acl|log": ["RESET"], "acl|getuser": ["default"], "acl|dryrun": ["default"],
}
# Lua scripts: (tag, source, argv maker). Cheap on purpose: the PING bound must stay
# meaningful, so nothing here runs long by design. `--heavy` adds the memory hogs.
DEEP = 5000


def _argv_none(g):
    return []


def _argv_hostile(g):
    return [g.value(None) for _ in range(g.rng.randint(0, 4))]


SCRIPTS = [
    ("return-int", "return 1", _argv_none),
    ("return-nested", "return {1,2,{3,'x',{4,{5}}},redis.status_reply('OK')}", _argv_none),
    ("self-ref-table", "local t={} t[1]=t return t", _argv_none),
    ("deep-table", "local t={} local c=t for i=1,%d do c[1]={} c=c[1] end return t" % DEEP,
     _argv_none),
    ("deep-table-arg", "local t={} local c=t for i=1,%d do c[1]={} c=c[1] end "
     "return redis.call('ECHO', t)" % DEEP, _argv_none),
    ("call-get", "return redis.call('GET', KEYS[1])", _argv_none),
    ("pcall-incr", "return redis.pcall('INCR', KEYS[1])", _argv_none),
    ("call-argv", "return redis.call(unpack(ARGV))", None),   # ARGV is a random command
    ("pcall-argv", "return redis.pcall(unpack(ARGV))", None),
    ("pcall-argv-table", "local r = redis.pcall(unpack(ARGV)) return {r, type(r)}", None),
    ("err-table", "return {err='x'}", _argv_none),
    ("ok-table", "return {ok='fine'}", _argv_none),
    ("error-reply", "return redis.error_reply(ARGV[1] or 'x')", _argv_hostile),
    ("status-reply", "return redis.status_reply(ARGV[1] or 'x')", _argv_hostile),
    ("floats", "return {1.5, -0.0, 1/0, -1/0, 0/0}", _argv_none),
    ("bools", "return {true, false, nil, 3}", _argv_none),
    ("argcount", "return #ARGV + #KEYS", _argv_hostile),
    ("tonumber", "return tonumber(ARGV[1])", _argv_hostile),
    ("string-rep-small", "return string.rep('x', tonumber(ARGV[1]) or 3)", None),
    ("global-write", "x = 1 return x", _argv_none),
    ("global-read", "return undeclared_global", _argv_none),
    ("setmetatable-G", "setmetatable(_G, nil) return 1", _argv_none),
    ("rawset-G", "rawset(_G, 'x', 1) return x", _argv_none),
    ("string-meta", "getmetatable('').__index.upper = function() return 'p' end "
     "return string.upper('a')", _argv_none),
    ("redis-replace", "redis.call = function() return 1 end return redis.call('PING')",
     _argv_none),
    ("loadfile", "return loadfile('/etc/passwd')", _argv_none),
    ("dofile", "return dofile('/etc/passwd')", _argv_none),
    ("print", "print('hi') return 1", _argv_none),
    ("loadstring", "local f = loadstring(ARGV[1] or 'return 1') return f and f()", _argv_hostile),
    ("os", "return {os.time(), os.clock()}", _argv_none),
    ("os-exit", "os.exit(1)", _argv_none),
    ("bit", "return {bit.band(ARGV[1] or 1, 3), bit.tohex(-1), bit.lshift(1, 40)}",
     _argv_hostile),
    ("struct-pack", "return struct.pack(ARGV[1] or '>I', ARGV[2] or 1)", _argv_hostile),
    ("struct-unpack", "return {struct.unpack(ARGV[1] or '>I', ARGV[2] or '')}", _argv_hostile),
    ("sha1hex", "return redis.sha1hex(ARGV[1] or '')", _argv_hostile),
    ("log", "redis.log(redis.LOG_WARNING, ARGV[1] or 'x') return 1", _argv_hostile),
    ("setresp", "redis.setresp(tonumber(ARGV[1]) or 3) return redis.call('HGETALL', KEYS[1])",
     _argv_hostile),
    ("breakpoint", "return redis.breakpoint()", _argv_none),
    ("coroutine", "local co = coroutine.wrap(function() coroutine.yield(1) end) return co()",
     _argv_none),
    ("error-string", "error('boom')", _argv_none),
    ("error-table", "error({err='custom'})", _argv_none),
    ("error-nil", "error(nil)", _argv_none),
    ("format", "return string.format(ARGV[1] or '%d', ARGV[2] or 1)", _argv_hostile),
    ("cjson-decode", "return cjson.decode(ARGV[1])", None),
    ("cjson-encode-deep", "local t={} local c=t for i=1,%d do c.a={} c=c.a end "
     "return cjson.encode(t)" % DEEP, _argv_none),
    ("cjson-encode-self", "local t={} t.a=t return cjson.encode(t)", _argv_none),
    ("cmsgpack-unpack", "return cmsgpack.unpack(ARGV[1])", None),
    ("cmsgpack-pack-deep", "local t={} local c=t for i=1,%d do c[1]={} c=c[1] end "
     "return cmsgpack.pack(t)" % DEEP, _argv_none),
    ("cmsgpack-pack-self", "local t={} t[1]=t return cmsgpack.pack(t)", _argv_none),
    ("shebang", "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1] or 'k', 1)",
     _argv_none),
    ("shebang-bad", "#!lua flags=bogus\nreturn 1", _argv_none),
    ("shebang-engine", "#!python\nreturn 1", _argv_none),
    ("syntax-error", "return +", _argv_none),
    ("big-array", "local t = {} for i=1,20000 do t[i]=i end return t", _argv_none),
    ("unpack-many", "return redis.call('DEL', unpack({1,2,3,4,5,6,7,8,9}))", _argv_none),
    ("select", "redis.call('SELECT', ARGV[1] or 1) return redis.call('DBSIZE')", _argv_hostile),
    ("blocking-in-script", "return redis.call('BLPOP', KEYS[1] or 'q', 0)", _argv_none),
    ("blmpop-in-script", "return redis.call('BLMPOP', 0, 1, KEYS[1] or 'q', 'LEFT')",
     _argv_none),
    ("xread-block-in-script", "return redis.call('XREAD', 'BLOCK', 0, 'STREAMS', "
     "KEYS[1] or 's', '$')", _argv_none),
]
HEAVY_SCRIPTS = [
    ("string-rep-2^31", "return string.rep('x', 2^31)", _argv_none),
    ("table-grow", "local t = {} for i=1,1e8 do t[i]=i end return #t", _argv_none),
]
FUNCTION_LIBS = [
    "#!lua name=fzlib\n"
    "redis.register_function('fz_get', function(keys, args) return redis.call('GET', keys[1]) end)\n"
    "redis.register_function('fz_call', function(keys, args) return redis.pcall(unpack(args)) end)\n"
    "redis.register_function('fz_nest', function(keys, args) local t={} t[1]=t return t end)\n"
    "redis.register_function{function_name='fz_ro', callback=function(keys, args) return #keys end,"
    " flags={'no-writes'}}\n",
    "#!lua name=fzlib2\nredis.register_function('fz2', function(keys, args) return args end)\n",
    "#!lua name=fzbad\nredis.register_function('fz_bad')\n",
    "#!lua name=fzbad2\nreturn 1\n",
    "#!lua\nredis.register_function('x', function() end)\n",
    "#!lua name=\nredis.register_function('x', function() end)\n",
    "#!lua name=fz3 extra=1\n",
    "#!lua name=fzloop\nredis.register_function('fzl', function() end) redis.call('PING')\n",
    "#!lua name=fzflags\nredis.register_function{function_name='fzf', callback=function() "
    "return 1 end, flags={'bogus-flag'}}\n",
    "not a library",
    "",
]
FUNCTION_NAMES = ["fz_get", "fz_call", "fz_nest", "fz_ro", "fz2", "nope", ""]

# --------------------------------------------------------------------------- seeded keys

SEED_KEYS = {
    "string": ["fz:str:0", "fz:str:1"],
    "int": ["fz:int:0"],
    "float": ["fz:float:0"],
    "hash": ["fz:hash:0", "fz:hash:1"],
    "bighash": ["fz:bighash:0"],
    "list": ["fz:list:0", "fz:list:1"],
    "biglist": ["fz:biglist:0"],
    "set": ["fz:set:0", "fz:set:1"],
    "intset": ["fz:intset:0"],
    "zset": ["fz:zset:0", "fz:zset:1"],
    "bigzset": ["fz:bigzset:0"],
    "stream": ["fz:stream:0", "fz:stream:1"],
    "hll": ["fz:hll:0", "fz:hll:1"],
    "geo": ["fz:geo:0"],
    "bitmap": ["fz:bitmap:0"],
    "ttl": ["fz:ttl:0"],
    "glob": ["a" * 60],
}
ALL_SEED_KEYS = [k for ks in SEED_KEYS.values() for k in ks]
MEMBERS = ["m0", "m1", "m2", "m3", "f0", "f1", "f2", "a", "b", "c", "1", "2", "3", "g0",
           "g1", "e0", "e5", "-1"]
EXPECTED_TYPE = {"string": "string", "int": "string", "float": "string", "hash": "hash",
                 "bighash": "hash", "list": "list", "biglist": "list", "set": "set",
                 "intset": "set", "zset": "zset", "bigzset": "zset", "stream": "stream",
                 "hll": "string", "geo": "zset", "bitmap": "string", "ttl": "string",
                 "glob": "string"}


def seed_commands(kind: str, key: str) -> list[list]:
    c: list[list] = [["DEL", key]]
    if kind == "string":
        c.append(["SET", key, "hello world"])
    elif kind == "int":
        c.append(["SET", key, "42"])
    elif kind == "float":
        c.append(["SET", key, "3.25"])
    elif kind == "hash":
        c.append(["HSET", key] + [x for i in range(8) for x in (f"f{i}", str(i))])
    elif kind == "bighash":
        c.append(["HSET", key] + [x for i in range(300) for x in (f"f{i}", "v" * (i % 70))])
    elif kind == "list":
        c.append(["RPUSH", key] + [f"m{i}" for i in range(10)] + ["1", "2", "a"])
    elif kind == "biglist":
        c.append(["RPUSH", key] + [f"e{i}" for i in range(1000)])
    elif kind == "set":
        c.append(["SADD", key] + [f"m{i}" for i in range(10)] + ["a", "b"])
    elif kind == "intset":
        c.append(["SADD", key] + [str(i) for i in range(-3, 20)])
    elif kind == "zset":
        c.append(["ZADD", key] + [x for i in range(10) for x in (str(i * 1.5), f"m{i}")])
        c.append(["ZADD", key, "0", "a", "0", "b", "0", "c"])
    elif kind == "bigzset":
        c.append(["ZADD", key] + [x for i in range(300) for x in (str(i), f"e{i}")])
    elif kind == "stream":
        for i in range(8):
            c.append(["XADD", key, "*", "f", str(i), "g", "x" * i])
        c.append(["XGROUP", "CREATE", key, "g1", "0"])
        c.append(["XREADGROUP", "GROUP", "g1", "c1", "COUNT", "3", "STREAMS", key, ">"])
    elif kind == "hll":
        c.append(["PFADD", key] + [f"m{i}" for i in range(50)])
    elif kind == "geo":
        c.append(["GEOADD", key, "13.361389", "38.115556", "g0", "15.087269", "37.502669",
                  "g1", "-122.4", "37.7", "m0", "179.99", "85.05", "m1"])
    elif kind == "bitmap":
        c.append(["SETBIT", key, "7", "1"])
        c.append(["SETBIT", key, "1000", "1"])
    elif kind == "ttl":
        c.append(["SET", key, "v", "PX", "600000"])
    elif kind == "glob":
        c.append(["SET", key, "v"])
    return c


# --------------------------------------------------------------------------- command specs

class Spec:
    def __init__(self, name, arity, flags, first, last, step):
        self.name = name          # lower-case, "container|sub" for subcommands
        self.arity = arity
        self.flags = flags
        self.first, self.last, self.step = first, last, step
        self.subs: dict[str, Spec] = {}
        self.tokens: list[str] = []

    def is_key(self, i: int, argc: int) -> bool:
        if self.first <= 0 or i < self.first:
            return False
        last = self.last if self.last >= 0 else argc + self.last
        step = self.step or 1
        return i <= last and (i - self.first) % step == 0


def parse_spec(entry) -> Spec | None:
    if not isinstance(entry, list) or len(entry) < 6:
        return None
    name = respkit.text(entry[0]).lower()
    flags = {respkit.text(f).lower() for f in (entry[2] or [])}
    spec = Spec(name, int(entry[1]), flags, int(entry[3]), int(entry[4]), int(entry[5]))
    if len(entry) > 9 and isinstance(entry[9], list):
        for sub in entry[9]:
            s = parse_spec(sub)
            if s:
                spec.subs[s.name.split("|", 1)[-1]] = s
    return spec


def doc_tokens(doc) -> list[str]:
    """Every `token` (and pure-token name) in a COMMAND DOCS `arguments` tree."""
    out: list[str] = []

    def walk(args):
        for a in args or []:
            d = respkit.pairs_to_dict(a)
            tok = d.get("token")
            if tok:
                out.append(respkit.text(tok))
            if isinstance(d.get("arguments"), list):
                walk(d["arguments"])
    walk(respkit.pairs_to_dict(doc).get("arguments"))
    return sorted(set(out))


# --------------------------------------------------------------------------- the generator

class Gen:
    def __init__(self, rng: random.Random, specs: dict[str, Spec], heavy: bool,
                 exclude: set[str]):
        self.rng = rng
        self.specs = specs
        self.exclude = exclude
        self.heavy = heavy
        self.names = sorted(n for n in specs if n not in EXCLUDED and n not in exclude)
        self.scripts = [s for s in SCRIPTS + (HEAVY_SCRIPTS if heavy else [])
                        if f"script:{s[0]}" not in exclude]
        self.templates = {
            "eval": self.t_eval, "eval_ro": self.t_eval, "evalsha": self.t_evalsha,
            "evalsha_ro": self.t_evalsha, "fcall": self.t_fcall, "fcall_ro": self.t_fcall,
            "function|load": self.t_function_load, "function|restore": self.t_function_restore,
            "zunion": self.t_numkeys(1, False), "zinter": self.t_numkeys(1, False),
            "zdiff": self.t_numkeys(1, False), "zintercard": self.t_numkeys(1, False),
            "sintercard": self.t_numkeys(1, False), "zunionstore": self.t_numkeys(2, True),
            "zinterstore": self.t_numkeys(2, True), "zdiffstore": self.t_numkeys(2, True),
            "lmpop": self.t_numkeys(1, False), "zmpop": self.t_numkeys(1, False),
            "blmpop": self.t_numkeys(2, False), "bzmpop": self.t_numkeys(2, False),
            "xread": self.t_xread, "xreadgroup": self.t_xread,
            "config|set": self.t_config_set, "keys": self.t_glob_cmd,
            "scan": self.t_scan, "hscan": self.t_scan, "sscan": self.t_scan,
            "zscan": self.t_scan, "setbit": self.t_offset_cmd, "getbit": self.t_offset_cmd,
            "setrange": self.t_offset_cmd, "bitfield": self.t_bitfield,
            "srandmember": self.t_randcount, "zrandmember": self.t_randcount,
            "hrandfield": self.t_randcount, "lcs": self.t_lcs, "publish": self.t_publish,
            "spublish": self.t_publish, "set": self.t_set, "select": self.t_select,
        }

    # -- atoms
    def key(self):
        r = self.rng.random()
        if r < 0.72:
            return self.rng.choice(ALL_SEED_KEYS)
        if r < 0.92:
            return f"fz:new:{self.rng.randint(0, 40)}"
        return self.rng.choice(["", "\x00\xff", "k" * 1024, "*", "fz:*", "{tag}x", "fz:str:0\x00"])

    def integer(self):
        if self.rng.random() < 0.3:
            return str(self.rng.randint(-5, 20))
        return self.rng.choice(HOSTILE_INTS)

    def string(self):
        r = self.rng.random()
        if r < 0.25:
            return ""
        if r < 0.55:
            return self.rng.choice(["x", "hello", " ", "\r\n", "\x00", "\"'", "\\", "%s%n",
                                    "é", "\xff\xfe", "NULL", "true", "[]", "{}", "-", "$"])
        if r < 0.85:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 48)))
        if r < 0.97:
            return "y" * self.rng.choice([100, 1024, 4096])
        return "z" * 65536

    def glob(self):
        r = self.rng.random()
        if r < 0.35:
            n = self.rng.randint(5, 40)
            return "a*" * n + self.rng.choice(["b", "", "a", "?"])
        if r < 0.5:
            return "*" * self.rng.randint(1, 2000)
        parts = ["*", "?", "a", "fz", ":", "[a-z]", "[^a]", "[", "]", "\\", "\\*", "[\\",
                 "[a-", "[]", "[!a]", "[z-a]", "^", "**", "\x00"]
        return "".join(self.rng.choice(parts) for _ in range(self.rng.randint(0, 30)))

    def big(self):
        return self.rng.choice(["B" * (64 * 1024), "C" * (1024 * 1024)])

    def value(self, spec: Spec | None):
        r = self.rng.random()
        tokens = (spec.tokens if spec and spec.tokens else None) or \
            (KEYWORDS.get(spec.name) if spec else None)
        if r < 0.003:
            return self.big()
        if r < 0.28:
            if tokens and self.rng.random() < 0.85:
                kw = self.rng.choice(tokens)
            else:
                kw = self.rng.choice(GLOBAL_KEYWORDS)
            return kw.lower() if self.rng.random() < 0.2 else kw
        if r < 0.52:
            return self.integer()
        if r < 0.62:
            return self.rng.choice(HOSTILE_FLOATS)
        if r < 0.75:
            return self.rng.choice(MEMBERS)
        if r < 0.85:
            return self.string()
        if r < 0.89:
            return self.glob()
        if r < 0.94:
            return self.rng.choice(STREAM_IDS)
        return self.key()

    def timeout(self, unit: str):
        if self.rng.random() < 0.75:
            return self.rng.choice(["0.01", "0.05", "0.1", "0.2"] if unit == "s"
                                   else ["1", "10", "50", "100"])
        # Values Redis rejects: none of them may block.
        return self.rng.choice(["-1", "nan", "inf", "-inf", "1e400", "abc", "",
                                str(2**64), "1e30", "-0.5" if unit == "s" else "1.5"] +
                               # Redis blocks (for ever) on i64::MAX milliseconds.
                               ([str(I64_MAX)] if unit == "s" else []))

    # -- choosing commands
    def pick(self) -> tuple[Spec, list]:
        name = self.rng.choice(self.names)
        spec = self.specs[name]
        prefix = [name.upper() if self.rng.random() < 0.7 else name]
        if spec.subs and (spec.arity != 1 or self.rng.random() < 0.9):
            subs = [s for s in spec.subs if f"{name}|{s}" not in EXCLUDED
                    and f"{name}|{s}" not in self.exclude]
            if subs and self.rng.random() < 0.93:
                sub = self.rng.choice(subs)
                spec = spec.subs[sub]
                prefix.append(sub.upper())
            else:
                prefix.append(self.rng.choice(["NOSUCH", "", "HELP", "help", "\x00"]))
        return spec, prefix

    def command(self) -> tuple[str, list]:
        """(label, argv): the label is the command's full name, with the script tag or
        function name for EVAL/FCALL (`eval[self-ref-table]`)."""
        spec, prefix = self.pick()
        t = self.templates.get(spec.name)
        self.tag = None
        if t is not None and (spec.name in GUARDED or self.rng.random() < 0.85):
            args = t(spec, prefix)
        else:
            args = self.generic(spec, prefix)
        if self.tag:
            return f"{spec.name}[{self.tag}]", args
        return spec.name, args

    def argc_for(self, spec: Spec) -> int:
        a = spec.arity
        if self.rng.random() < 0.06:
            return max(1, abs(a) + self.rng.choice([-2, -1, 1, 2]))
        if a > 0:
            return a
        extra = min(int(self.rng.expovariate(0.35)), 12)
        return -a + extra

    def generic(self, spec: Spec, prefix: list) -> list:
        argc = self.argc_for(spec)
        args = list(prefix)
        for i in range(len(prefix), argc):
            args.append(self.key() if spec.is_key(i, argc) else self.value(spec))
        bt = BLOCK_TIMEOUT.get(spec.name)
        if bt is None and "blocking" in spec.flags and len(args) > 1:
            bt = (-1, "s")
        if bt is not None and len(args) > abs(bt[0]):
            args[bt[0]] = self.timeout(bt[1])
        return args

    # -- templates
    def numkeys_value(self, n: int):
        if self.rng.random() < 0.65:
            return str(n)
        return self.rng.choice([str(I64_MAX), str(I64_MIN), str(2**63), str(2**64), "-1", "0",
                                str(n + 1), str(n + 1000), str(2**31), str(2**32 + n), "abc",
                                "", "1e3", str(I64_MAX - 1)])

    def t_numkeys(self, pos: int, dest: bool):
        def gen(spec: Spec, prefix: list) -> list:
            args = list(prefix)
            if dest:
                args.append(self.key())
            if spec.name in ("blmpop", "bzmpop"):
                args.append(self.timeout("s"))
            n = self.rng.choice([0, 1, 1, 2, 2, 3, 5])
            args.append(self.numkeys_value(n))
            args += [self.key() for _ in range(n)]
            for _ in range(min(int(self.rng.expovariate(0.5)), 8)):
                args.append(self.value(spec))
            return args
        return gen

    def script_call(self):
        tag, src, argv_fn = self.rng.choice(self.scripts)
        if argv_fn is not None:
            argv = argv_fn(self)
        elif tag.endswith("argv") or tag == "pcall-argv-table":
            # A whole random command, run from Lua through the same gate.
            _, argv = self.command_no_scripts()
        elif tag == "cjson-decode":
            argv = [self.rng.choice([
                "[" * 100000 + "]" * 100000, "{\"a\":" * 20000 + "1" + "}" * 20000,
                "[1,2,3]", "{\"a\":[1,{\"b\":null}]}", "1e400", "\"\\ud800\"", "[", "nan",
                "-", "{\"a\"}", "[1,]", "\"" + "\\u0000" * 10 + "\"", "",
            ])]
        elif tag == "cmsgpack-unpack":
            argv = [self.rng.choice([
                b"\x91" * 200000 + b"\xc0", b"\x81" * 100000 + b"\xc0", b"\x93\x01\x02\x03",
                b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff",
                b"\xc1", b"", b"\xcb" + b"\x7f\xf0" + b"\x00" * 6, b"\xd9",
                bytes(self.rng.getrandbits(8) for _ in range(64)),
            ])]
        elif tag == "string-rep-small":
            # (2^31 or 1e400 -> inf would legitimately eat the machine's RAM in Redis: --heavy)
            argv = [self.rng.choice(["3", "1000", "-1", "nan", "x", "65536", "-1e400"] +
                                    (["1e400", "2147483648"] if self.heavy else []))]
        else:
            argv = []
        return tag, src, argv

    def command_no_scripts(self):
        for _ in range(20):
            name, args = self.command()
            if not name.startswith(("eval", "fcall", "function", "script")) and \
                    name not in RATE_LIMITED:
                return name, args
        return "ping", ["PING"]

    def t_eval(self, spec: Spec, prefix: list) -> list:
        tag, src, argv = self.script_call()
        self.tag = tag
        nk = self.rng.choice([0, 0, 1, 1, 2])
        keys = [self.key() for _ in range(nk)]
        return list(prefix) + [src, self.numkeys_value(nk)] + keys + argv

    def t_evalsha(self, spec: Spec, prefix: list) -> list:
        tag, src, argv = self.script_call()
        self.tag = tag
        sha = hashlib.sha1(src.encode()).hexdigest() if self.rng.random() < 0.8 else \
            self.rng.choice(["0" * 40, "x", "", "F" * 40, "a" * 41])
        nk = self.rng.choice([0, 1])
        return list(prefix) + [sha, self.numkeys_value(nk)] + \
            [self.key() for _ in range(nk)] + argv

    def t_fcall(self, spec: Spec, prefix: list) -> list:
        fn = self.rng.choice([f for f in FUNCTION_NAMES if f"fcall:{f}" not in self.exclude]
                             or [""])
        self.tag = fn or "''"
        nk = self.rng.choice([0, 1, 2])
        args = list(prefix) + [fn, self.numkeys_value(nk)] + [self.key() for _ in range(nk)]
        if fn == "fz_call":
            args += self.command_no_scripts()[1]
        else:
            args += [self.value(spec) for _ in range(self.rng.randint(0, 3))]
        return args

    def t_function_load(self, spec: Spec, prefix: list) -> list:
        args = list(prefix)
        if self.rng.random() < 0.7:
            args.append("REPLACE")
        code = self.rng.choice(FUNCTION_LIBS)
        if self.rng.random() < 0.1 and code:
            i = self.rng.randrange(len(code))
            code = code[:i] + self.rng.choice(["\x00", "(", "end", "'", "\n"]) + code[i + 1:]
        args.append(code)
        return args

    def t_function_restore(self, spec: Spec, prefix: list) -> list:
        payload = bytearray(FUNCTION_DUMP[0] or b"\x00")
        for _ in range(self.rng.randint(0, 3)):
            if payload:
                payload[self.rng.randrange(len(payload))] = self.rng.getrandbits(8)
        if self.rng.random() < 0.2:
            payload = payload[: self.rng.randint(0, len(payload))]
        args = list(prefix) + [bytes(payload)]
        if self.rng.random() < 0.6:
            args.append(self.rng.choice(["APPEND", "REPLACE", "FLUSH", "bogus"]))
        return args

    def t_xread(self, spec: Spec, prefix: list) -> list:
        args = list(prefix)
        if spec.name == "xreadgroup":
            args += ["GROUP", self.rng.choice(["g1", "nogroup", ""]),
                     self.rng.choice(["c1", "c2", ""])]
        if self.rng.random() < 0.5:
            args += ["COUNT", self.integer()]
        if self.rng.random() < 0.5:
            args += ["BLOCK", self.timeout("ms")]
        if spec.name == "xreadgroup" and self.rng.random() < 0.2:
            args.append("NOACK")
        args.append("STREAMS")
        n = self.rng.choice([1, 1, 2, 3])
        keys = [self.key() for _ in range(n)]
        ids = [self.rng.choice(STREAM_IDS) for _ in range(n + self.rng.choice([0, 0, 0, -1, 1]))]
        return args + keys + ids

    def t_config_set(self, spec: Spec, prefix: list) -> list:
        args = list(prefix)
        for _ in range(self.rng.choice([1, 1, 2])):
            args += [self.rng.choice(CONFIG_SET_SAFE), self.value(spec)]
        return args

    def t_glob_cmd(self, spec: Spec, prefix: list) -> list:
        return list(prefix) + [self.glob()]

    def t_scan(self, spec: Spec, prefix: list) -> list:
        args = list(prefix)
        if spec.name != "scan":
            args.append(self.key())
        args.append(self.rng.choice(["0", "0", "1", "17", str(2**64 - 1), str(2**64), "-1", "x"]))
        for _ in range(self.rng.randint(0, 3)):
            opt = self.rng.choice(["MATCH", "COUNT", "TYPE", "NOVALUES", "BOGUS"])
            args.append(opt)
            if opt == "MATCH":
                args.append(self.glob())
            elif opt == "COUNT":
                args.append(self.integer())
            elif opt == "TYPE":
                args.append(self.rng.choice(["string", "hash", "zset", "stream", "x", ""]))
        return args

    def offset(self):
        # Valid offsets stay small (a legal 2^32-bit offset makes a 512 MB string, which is
        # legitimately slow); the others are all out of range for Redis.
        if self.rng.random() < 0.6:
            return str(self.rng.randint(0, 5000))
        return self.rng.choice(["-1", str(2**32), str(2**32 + 7), str(I64_MAX), str(I64_MIN),
                                str(2**64), "536870912", "4294967296", "1.5", "abc", "",
                                str(512 * 1024 * 1024 * 8)])

    def t_offset_cmd(self, spec: Spec, prefix: list) -> list:
        args = list(prefix) + [self.key(), self.offset()]
        if spec.name == "setbit":
            args.append(self.rng.choice(["0", "1", "2", "-1", ""]))
        elif spec.name == "setrange":
            args.append(self.rng.choice(["x", "", "hello", "\x00" * 10]))
        return args

    def t_bitfield(self, spec: Spec, prefix: list) -> list:
        args = list(prefix) + [self.key()]
        for _ in range(self.rng.randint(0, 4)):
            op = self.rng.choice(["GET", "SET", "INCRBY", "OVERFLOW", "BOGUS"])
            args.append(op)
            if op == "OVERFLOW":
                args.append(self.rng.choice(["WRAP", "SAT", "FAIL", "x"]))
                continue
            ty = self.rng.choice(["i1", "u1", "i8", "u8", "i63", "u63", "i64", "u64", "i0",
                                  "u0", "i65", "x8", "", "i9223372036854775807"])
            off = self.offset() if self.rng.random() < 0.8 else \
                self.rng.choice(["#0", "#1", "#-1", "#" + str(I64_MAX), "#", "#x"])
            args += [ty, off]
            if op in ("SET", "INCRBY"):
                args.append(self.integer())
        return args

    def t_randcount(self, spec: Spec, prefix: list) -> list:
        args = list(prefix) + [self.key()]
        if self.rng.random() < 0.8:
            # A negative count legitimately asks for that many replies (Redis 7.0 answers
            # -9223372036854775807 by building the reply until it runs out of memory): use
            # only the ones Redis refuses (i64::MIN and beyond) or small ones.
            args.append(self.rng.choice([str(I64_MIN), str(I64_MIN - 1), str(I64_MAX), "0",
                                         "-3", "5", "-1", str(2**64), "x", "", "-0", "1.5"]))
            if self.rng.random() < 0.4:
                args.append(self.rng.choice(["WITHSCORES", "WITHVALUES", "BOGUS"]))
        return args

    def t_lcs(self, spec: Spec, prefix: list) -> list:
        # Only the small lcs:* keys: LCS of two 1 MB strings is legitimately quadratic.
        args = list(prefix) + [self.rng.choice(["lcs:a", "lcs:b", "fz:hash:0", "lcs:none"]),
                               self.rng.choice(["lcs:a", "lcs:b", "fz:list:0"])]
        for _ in range(self.rng.randint(0, 3)):
            args.append(self.rng.choice(["LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN",
                                         self.integer()]))
        return args

    def t_publish(self, spec: Spec, prefix: list) -> list:
        ch = self.rng.choice(["fz:ch:0", "fz:ch:1", "a" * 60, "", self.glob(), "fz:ch:" +
                              str(self.rng.randint(0, 9))])
        return list(prefix) + [ch, self.rng.choice(["msg", "", self.string()])]

    def t_set(self, spec: Spec, prefix: list) -> list:
        args = list(prefix) + [self.key(), self.rng.choice(["v", "", self.string(), "42"])]
        for _ in range(self.rng.randint(0, 3)):
            opt = self.rng.choice(KEYWORDS["set"])
            args.append(opt)
            if opt in ("EX", "PX", "EXAT", "PXAT", "IFEQ"):
                args.append(self.integer())
        return args

    def t_select(self, spec: Spec, prefix: list) -> list:
        return list(prefix) + [self.rng.choice(["0", "1", "15", "16", "-1", str(I64_MAX),
                                                str(2**32), "x", ""])]

    def subscribe(self, spec: Spec, prefix: list) -> list:
        args = list(prefix)
        for _ in range(self.rng.randint(0, 4)):
            if spec.name.startswith("p") or spec.name.startswith("pun"):
                args.append(self.glob())
            else:
                args.append(self.rng.choice(["fz:ch:0", "fz:ch:1", "", self.string()]))
        return args

    def garbage_frame(self) -> bytes:
        """A malformed or unusual request, for a throwaway connection."""
        r = self.rng.randrange(16)
        if r == 0:
            return self.rng.choice([b"*-1\r\n", b"*0\r\n", b"*1048577\r\n", b"*abc\r\n",
                                    b"*9223372036854775808\r\n", b"*-9223372036854775809\r\n",
                                    b"*1\r\n$-1\r\n", b"*1\r\n$abc\r\n", b"*1\r\n:1\r\n",
                                    b"*2\r\n$3\r\nGET\r\n+x\r\n", b"*1\r\n$4\r\nPING\n\n",
                                    b"*1\r\n$4\r\nPINGXX", b"*\r\n", b"$4\r\nPING\r\n"])
        if r == 1:
            n = self.rng.choice([536870912, 536870913, 2**31, 2**63 - 1, 2**63, 1048576])
            return b"*1\r\n$%d\r\nabc" % n
        if r == 2:
            return b"*1024\r\n" + b"$536870000\r\n" + b"x" * 10
        if r == 3:
            return b"x" * (70 * 1024)
        if r == 4:
            return b"*1\r\n" + b"9" * (70 * 1024)
        if r == 5:
            return self.rng.choice([b'SET "abc\r\n', b"GET 'x\r\n", b'SET "a"b c\r\n',
                                    b'ECHO "\\x4"\r\n', b'ECHO "\\xzz\\n\\t\\\\"\r\n',
                                    b"  \r\n", b"\r\n", b"\n", b"PING\n", b"PING\r\r\n",
                                    b"\x00\x00\x00\r\n", b'"\r\n'])
        if r == 6:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 300)))
        if r == 7:
            return b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + str(2**20).encode() + b"\r\n" + \
                b"v" * 1000
        # A valid command, pipelined many times, to be sent in small chunks.
        _, args = self.command_no_scripts()
        return encode(args) * self.rng.randint(1, 5) + encode(["PING"])


FUNCTION_DUMP = [b""]


class Stopped(Exception):
    """The run is over (or the server is gone for good)."""


# --------------------------------------------------------------------------- PING watchdog

def watchdog_main(host, port_value, interval, stop, out_q, deadline_ms):
    """Runs in its own process so the fuzzer's event loop cannot add to the latency."""
    lat_max = 0.0
    pings = 0
    slow = []          # (monotonic start, latency ms)
    failures = []      # text
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = respkit.SyncConn(host, port_value.value, timeout=5)
                conn.settimeout(30)
            t0 = time.monotonic()
            r = conn.call("PING")
            lat = (time.monotonic() - t0) * 1000
            pings += 1
            if r != "PONG":
                failures.append(f"PING answered {r!r}")
            lat_max = max(lat_max, lat)
            if lat > deadline_ms:
                slow.append((t0, lat))
        except Exception as e:  # noqa: BLE001
            failures.append(f"{time.monotonic():.3f} PING failed: {type(e).__name__}: {e}")
            if conn:
                conn.close()
            conn = None
            time.sleep(0.2)
            continue
        time.sleep(interval)
    if conn:
        conn.close()
    out_q.put({"max_ms": lat_max, "pings": pings, "slow": slow[-200:], "slow_count": len(slow),
               "failures": failures[-50:]})


# --------------------------------------------------------------------------- the run

class ReadFailed:
    """What ended a connection's frame reader (EOF, a reset, bytes that are not RESP)."""

    def __init__(self, error):
        self.error = error


class Stats:
    def __init__(self):
        self.ok = collections.Counter()
        self.err = collections.Counter()
        self.err_texts: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter)
        self.sent = 0
        self.reconnects = 0
        self.proto_closes = 0
        self.drops: list[dict] = []      # connection closed with no reply
        self.hangs: list[dict] = []      # no reply within the reply timeout
        self.bad_replies: list[dict] = []
        self.slow: list[tuple] = []      # (start, end, name, args) of commands over 50 ms
        self.recent = collections.deque(maxlen=3000)   # (end, name, args) of the last replies
        self.proto_probes = 0
        self.sub_conns = 0
        self.deaths: list[dict] = []
        self.memory: list[dict] = []     # RSS over --rss-limit-mb
        self.internal: list[dict] = []   # "-ERR internal error": a caught panic
        self.rss_max_kib = 0

    def record(self, name, reply, args=None):
        if isinstance(reply, RespError):
            if "internal error" in reply.text and len(self.internal) < 500:
                # A handler panicked and the gate answered for it: still a bug.
                self.internal.append({"cmd": name, "args": fmt_args(args or []),
                                      "raw": [args] if args else [], "error": reply.text[:200]})
            self.err[name] += 1
            c = self.err_texts[name]
            key = reply.text[:90]
            if key in c or len(c) < 6:
                c[key] += 1
        else:
            self.ok[name] += 1


class Fuzzer:
    def __init__(self, opts, server: respkit.ServerProcess | None, host, port, specs):
        self.o = opts
        self.server = server
        self.host, self.port = host, port
        self.specs = specs
        self.stats = Stats()
        self.stop_at = 0.0
        self.stopping = False
        self.rate_last: dict[str, float] = {}
        self.inflight: dict[int, tuple] = {}
        self.last_args: dict = {}
        self.exclude = set(x.strip().lower() for x in opts.exclude.split(",") if x.strip())
        self.restarting = asyncio.Event()
        self.port_value = None

    def gen(self, wid):
        return Gen(random.Random(f"{self.o.seed}:{wid}"), self.specs, self.o.heavy, self.exclude)

    def rate_ok(self, name):
        if name not in RATE_LIMITED:
            return True
        now = time.monotonic()
        if now - self.rate_last.get(name, -1e9) < RATE_LIMIT_SECONDS:
            return False
        self.rate_last[name] = now
        return True

    async def connect(self):
        """Opens a connection, waiting out a server restart; raises Stopped when the run ends."""
        while True:
            if self.stopping or time.monotonic() > self.stop_at + self.o.reply_timeout:
                raise Stopped()
            if self.restarting.is_set():
                await asyncio.sleep(0.1)
                continue
            try:
                return await respkit.open_conn(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.1)

    @staticmethod
    async def close(writer):
        try:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 2)
        except Exception:
            pass

    # -- a fuzz connection
    async def worker(self, wid):
        try:
            await self._worker(wid)
        except Stopped:
            pass

    async def _worker(self, wid):
        g = self.gen(wid)
        reader, writer = await self.connect()
        in_multi = 0
        while time.monotonic() < self.stop_at and not self.stopping:
            batch = []
            if in_multi and (in_multi > g.rng.randint(1, 6)):
                batch.append(("exec", [g.rng.choice(["EXEC", "EXEC", "DISCARD"])]))
                in_multi = 0
            n = 1 if g.rng.random() < 0.8 else g.rng.randint(2, 16)
            while len(batch) < n:
                name, args = g.command()
                if name in SUBSCRIBE_FAMILY:
                    if not batch:
                        await self.subscribe_probe(g, name, args)
                    continue
                if not self.rate_ok(name):
                    continue
                batch.append((name, args))
            if not batch:
                continue
            if g.rng.random() < 0.03:
                batch.append(("select", ["SELECT", "0"]))
            ok, proto = await self.run_batch(wid, g, reader, writer, batch)
            for name, _ in batch:
                if name == "multi":
                    in_multi = 1
                elif name in ("exec", "discard"):
                    in_multi = 0
                elif in_multi:
                    in_multi += 1
            if not ok:
                await self.close(writer)
                self.stats.reconnects += 1
                if proto:
                    self.stats.proto_closes += 1
                if self.stopping or time.monotonic() >= self.stop_at:
                    return
                reader, writer = await self.connect()
                in_multi = 0
        await self.close(writer)

    async def run_batch(self, wid, g, reader, writer, batch):
        """Sends a pipeline and reads one reply per command. Returns (connection_ok,
        closed_after_protocol_error)."""
        data = b"".join(encode(a) for _, a in batch)
        t0 = time.monotonic()
        self.inflight[wid] = (t0, batch)
        try:
            if len(data) > 64 and g.rng.random() < 0.05:
                cut = sorted(g.rng.sample(range(1, len(data)), 2))
                for part in (data[:cut[0]], data[cut[0]:cut[1]], data[cut[1]:]):
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.002)
            else:
                writer.write(data)
                await writer.drain()
            self.stats.sent += len(batch)
        except (ConnectionError, OSError):
            if not self.server_down():
                self.inflight.pop(wid, None)
                self.stats.drops.append({"cmd": batch[0][0], "args": fmt_args(batch[0][1]),
                                         "when": "write", "t": round(t0, 3),
                                         "raw": [a for _, a in batch]})
            return False, False
        last_err = None
        for i, (name, args) in enumerate(batch):
            try:
                reply = await asyncio.wait_for(read_non_push(reader), self.o.reply_timeout)
            except asyncio.TimeoutError:
                self.inflight.pop(wid, None)
                if not self.server_down():
                    self.stats.hangs.append({"cmd": name, "args": fmt_args(args),
                                             "pipeline_len": len(batch), "t": round(t0, 3),
                                             "raw": [a for _, a in batch[:i + 1]],
                                             "prev": [fmt_args(a, 80) for _, a in batch[:i]][-3:]})
                return False, False
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                died = await self.died_meanwhile()
                if not died:
                    self.inflight.pop(wid, None)
                proto = last_err is not None and "Protocol error" in last_err
                if not proto and not died:
                    self.stats.drops.append({"cmd": name, "args": fmt_args(args),
                                             "pipeline_len": len(batch), "t": round(t0, 3),
                                             "raw": [a for _, a in batch[:i + 1]],
                                             "prev": [fmt_args(a, 80) for _, a in batch[:i]][-3:]})
                return False, proto
            except (ProtocolViolation, ValueError) as e:
                self.inflight.pop(wid, None)
                # The reply before this one may be the culprit (an error text with a CRLF in
                # it leaves the rest of its line to be read as the next reply).
                before = ([a for _, a in batch[:i]] or [self.last_args.get(wid)])[-1:]
                self.stats.bad_replies.append({
                    "cmd": name, "args": fmt_args(args), "error": str(e)[:200],
                    "prev": [fmt_args(a, 120) for a in before if a],
                    "raw": [a for a in before if a] + [args]})
                return False, False
            self.stats.record(name, reply, args)
            if isinstance(reply, RespError):
                last_err = reply.text
        t1 = time.monotonic()
        self.inflight.pop(wid, None)
        self.stats.recent.append((t1, batch))
        self.last_args[wid] = batch[-1][1]
        if t1 - t0 > 0.05:
            self.stats.slow.append((t0, t1, batch[0][0] if len(batch) == 1 else
                                    f"pipeline[{len(batch)}]", fmt_args(batch[0][1], 120)))
            if len(self.stats.slow) > 5000:
                del self.stats.slow[:1000]
        return True, False

    def server_down(self):
        return self.server is not None and not self.server.alive()

    async def died_meanwhile(self):
        """After an EOF: did the server die? (A process that aborts closes its sockets a
        moment before it can be seen to have exited.)"""
        if self.server is None:
            return False
        for _ in range(5):
            if not self.server.alive() or self.restarting.is_set():
                return True
            await asyncio.sleep(0.05)
        return False

    async def subscribe_probe(self, g, name, args):
        """SUBSCRIBE-family commands on a throwaway connection that reads pushes: the command
        alone first, then PING, a random command and an unsubscribe in subscribed mode."""
        self.stats.sub_conns += 1
        try:
            reader, writer = await respkit.open_conn(self.host, self.port)
        except OSError:
            return

        # One task reads whole frames: a timeout that cancelled a read half-way through a
        # frame (a large pmessage arriving through a match-everything pattern) would leave
        # the next read starting mid-frame and report valid RESP as garbage.
        arrived: asyncio.Queue = asyncio.Queue()

        async def pump():
            try:
                while True:
                    arrived.put_nowait(await respkit.read_reply(reader))
            except Exception as e:  # noqa: BLE001 - handed to the reader below
                # Wrapped: an error reply (RespError) is an Exception too, but a frame.
                arrived.put_nowait(ReadFailed(e))

        pump_task = asyncio.create_task(pump())

        async def frames(minimum, idle):
            """Reads frames until `idle` seconds pass without one (after `minimum` frames);
            returns (frames read, closed)."""
            n = 0
            while True:
                timeout = self.o.reply_timeout if n < minimum else idle
                try:
                    r = await asyncio.wait_for(arrived.get(), timeout)
                except asyncio.TimeoutError:
                    return n, False
                if isinstance(r, ReadFailed):
                    if isinstance(r.error, (asyncio.IncompleteReadError, ConnectionError, OSError)):
                        return n, True
                    raise r.error
                if n == 0 and minimum == 1:
                    self.stats.record(name, r, args)
                n += 1

        try:
            writer.write(encode(args))
            await writer.drain()
            self.stats.sent += 1
            n, closed = await frames(1, 0.1)
            if n == 0 and not (await self.died_meanwhile() if closed else self.server_down()):
                (self.stats.drops if closed else self.stats.hangs).append(
                    {"cmd": name, "args": fmt_args(args), "pipeline_len": 1, "raw": [args],
                     "t": time.monotonic()})
            if closed or n == 0:
                return
            other_name, other = g.command_no_scripts()
            follow = [["PING"], other,
                      [g.rng.choice(["UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"])]]
            writer.write(b"".join(encode(c) for c in follow))
            await writer.drain()
            self.stats.sent += len(follow)
            n, closed = await frames(3, 0.2)
            if closed and n < 3 and not await self.died_meanwhile():
                self.stats.drops.append({"cmd": other_name, "args": fmt_args(other),
                                         "pipeline_len": 3, "raw": [args] + follow,
                                         "prev": [fmt_args(args, 80), "PING"],
                                         "t": time.monotonic(), "subscribed": True})
        except (ProtocolViolation, ValueError) as e:
            self.stats.bad_replies.append({"cmd": name, "args": fmt_args(args), "error": str(e)})
        except (ConnectionError, OSError):
            pass
        finally:
            pump_task.cancel()
            await self.close(writer)

    # -- long-lived subscribers (PUBLISH fan-out through hostile patterns)
    async def subscriber(self, sid):
        g = self.gen(f"sub{sid}")
        while time.monotonic() < self.stop_at and not self.stopping:
            writer = None
            try:
                reader, writer = await self.connect()
                pats = [g.glob() for _ in range(3)] + ["fz:*", "a*"]
                writer.write(encode(["PSUBSCRIBE"] + pats))
                writer.write(encode(["SUBSCRIBE", "fz:ch:0", "fz:ch:1", "a" * 60]))
                await writer.drain()
                self.stats.sent += 2
                until = min(self.stop_at, time.monotonic() + g.rng.uniform(2, 8))
                while time.monotonic() < until and not self.stopping:
                    try:
                        await asyncio.wait_for(respkit.read_reply(reader),
                                               max(0.05, until - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
            except (asyncio.IncompleteReadError, ConnectionError, OSError, ProtocolViolation):
                pass
            except Stopped:
                return
            finally:
                if writer is not None:
                    await self.close(writer)

    # -- malformed RESP on throwaway connections
    async def prober(self, pid):
        g = self.gen(f"probe{pid}")
        while time.monotonic() < self.stop_at and not self.stopping:
            if self.restarting.is_set():
                await asyncio.sleep(0.1)
                continue
            try:
                reader, writer = await respkit.open_conn(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            try:
                frame = g.garbage_frame()
                if g.rng.random() < 0.3:
                    step = g.rng.choice([1, 3, 7, 64])
                    for i in range(0, min(len(frame), 4096), step):
                        writer.write(frame[i:i + step])
                        await writer.drain()
                    writer.write(frame[4096:])
                else:
                    writer.write(frame)
                await writer.drain()
                self.stats.proto_probes += 1
                end = time.monotonic() + 0.5
                while time.monotonic() < end:
                    try:
                        data = await asyncio.wait_for(reader.read(1 << 16),
                                                      max(0.01, end - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    if not data:
                        break
            except (ConnectionError, OSError):
                pass
            finally:
                await self.close(writer)
            await asyncio.sleep(0.02)

    # -- seeding and monitoring
    async def seed(self, conn: respkit.AsyncConn, full=True):
        cmds = []
        for kind, keys in SEED_KEYS.items():
            for k in keys:
                cmds += seed_commands(kind, k)
        cmds += [["SET", "lcs:a", "ohmytext" * 4], ["SET", "lcs:b", "mynewtext" * 4]]
        conn.writer.write(b"".join(encode(c) for c in [["SELECT", "0"]] + cmds))
        await conn.writer.drain()
        for _ in range(len(cmds) + 1):
            await asyncio.wait_for(read_non_push(conn.reader), 30)

    async def reseeder(self):
        """Puts back seed keys the fuzz deleted, renamed, expired or changed the type of."""
        conn = None
        rounds = 0
        while time.monotonic() < self.stop_at and not self.stopping:
            await asyncio.sleep(2)
            rounds += 1
            try:
                if conn is None:
                    try:
                        conn = respkit.AsyncConn(*await self.connect())
                    except Stopped:
                        return
                    await conn.call("SELECT", "0")
                fix = []
                full = rounds % 5 == 0
                for kind, keys in SEED_KEYS.items():
                    for k in keys:
                        t = "" if full else respkit.text(await conn.call("TYPE", k))
                        if t != EXPECTED_TYPE[kind]:
                            fix += seed_commands(kind, k)
                if full:
                    # Every 10 s everything is put back, so values the fuzz grew (1 MB
                    # appends, pushes) do not accumulate over a long run.
                    fix.append(["DEL"] + [f"fz:new:{i}" for i in range(41)])
                if fix:
                    conn.writer.write(b"".join(encode(c) for c in fix))
                    await conn.writer.drain()
                    for _ in fix:
                        await asyncio.wait_for(read_non_push(conn.reader), 30)
            except (asyncio.TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError,
                    ProtocolViolation):
                if conn:
                    await conn.close()
                conn = None
        if conn:
            await conn.close()

    async def monitor(self):
        while time.monotonic() < self.stop_at and not self.stopping:
            await asyncio.sleep(0.25)
            if self.server is None:
                if self.o.pid:
                    rss = respkit.rss_kib(self.o.pid) or 0
                    self.stats.rss_max_kib = max(self.stats.rss_max_kib, rss)
                    if rss > self.o.rss_limit_mb * 1024:
                        print(f"!! server RSS {rss // 1024} MB; killing pid {self.o.pid}")
                        self.stats.memory.append({"rss_mb": rss // 1024, "in_flight": [
                            f"{n}: {fmt_args(a, 160)}" for (_, b) in
                            list(self.inflight.values()) for n, a in b[:4]][:40]})
                        os.kill(self.o.pid, 9)
                        self.stopping = True
                continue
            rss = respkit.rss_kib(self.server.pid) or 0
            self.stats.rss_max_kib = max(self.stats.rss_max_kib, rss)
            if rss > self.o.rss_limit_mb * 1024 and self.server.alive():
                # Protect the machine: a command made the server balloon. Name the suspects
                # and kill it (it is then handled as a death).
                now = time.monotonic()
                suspects = [f"{n}: {fmt_args(a, 160)}" for (_, b) in list(self.inflight.values())
                            for n, a in b[:4]]
                suspects += ["(answered in the last second) " + f"{n}: {fmt_args(a, 160)}"
                             for (t1, b) in list(self.stats.recent) if now - t1 < 1.0
                             for n, a in b[:4]]
                self.stats.memory.append({"rss_mb": rss // 1024, "in_flight": suspects[:40]})
                print(f"!! server RSS {rss // 1024} MB over --rss-limit-mb; killing it", flush=True)
                self.server.proc.kill()
                self.server.proc.wait()
            if not self.server.alive():
                rc = self.server.proc.returncode
                now = time.monotonic()
                suspects = []
                raw = []
                for wid, (t0, batch) in list(self.inflight.items()):
                    for name, args in batch[:4]:
                        suspects.append(f"{name}: {fmt_args(args, 160)}")
                    raw += [a for _, a in batch]
                self.inflight.clear()
                self.stats.deaths.append({"returncode": rc, "t": round(now, 3),
                                          "in_flight": suspects[:40], "raw": raw,
                                          "log_tail": self.server.log_tail(15)})
                print(f"!! server died (exit {rc}); {len(suspects)} commands in flight",
                      flush=True)
                if not self.o.keep_going:
                    self.stopping = True
                    return
                self.restarting.set()
                self.server.start()
                self.port = self.server.port
                self.port_value.value = self.port
                try:
                    conn = await respkit.AsyncConn.connect(self.host, self.port)
                    await self.seed(conn)
                    await self.load_functions(conn)
                    await conn.close()
                except Exception as e:  # noqa: BLE001
                    print(f"reseeding after restart failed: {e}")
                self.restarting.clear()

    async def load_functions(self, conn):
        await conn.call("FUNCTION", "LOAD", "REPLACE", FUNCTION_LIBS[0])
        dump = await conn.call("FUNCTION", "DUMP")
        if isinstance(dump, bytes):
            FUNCTION_DUMP[0] = dump


# --------------------------------------------------------------------------- triage

async def triage(opts, binary, cands, budget=None):
    """Replays each suspect command alone, on its own connection, against a fresh seeded
    server, and keeps those that kill the server, drop the connection without a reply, get
    no reply, log a panic or answer '-ERR internal error'."""
    budget = opts.triage_seconds if budget is None else budget
    deadline = time.monotonic() + budget
    srv = respkit.ServerProcess(binary, opts.server_arg)
    found = []
    seen = set()
    # Drops, hangs and internal errors name their command; of the commands in flight when
    # the server died, those whose kind (name, script tag) was in flight at the most deaths
    # go first.
    def kind_of(args):
        name = respkit.text(args[0]).lower() if args else ""
        if name.startswith(("eval", "fcall")) and len(args) > 1:
            return name + ":" + respkit.text(args[1])[:60]
        return name
    deaths_with = collections.defaultdict(set)
    for k, a in cands:
        if k.startswith("death"):
            deaths_with[kind_of(a)].add(k)
    order = {"drop": 0, "hang": 1, "internal": 2, "bad-reply": 0}
    cands = sorted(cands, key=lambda c: (order.get(c[0], 3), -len(deaths_with[kind_of(c[1])])))

    async def fresh():
        srv.stop()
        srv.start()
        conn = await respkit.AsyncConn.connect(srv.host, srv.port)
        fz = Fuzzer.__new__(Fuzzer)
        await Fuzzer.seed(fz, conn)
        try:
            await conn.call("FUNCTION", "LOAD", "REPLACE", FUNCTION_LIBS[0])
        except Exception:  # noqa: BLE001
            pass
        await conn.close()

    print(f"\ntriage: replaying up to {len(cands)} suspect commands one at a time "
          f"(at most {budget:.0f}s) ...", flush=True)
    try:
        await fresh()
        confirmed = collections.Counter()
        for kind, args in cands:
            key = fmt_args(args, 1000)
            if key in seen or confirmed[kind_of(args)] >= 3:
                continue
            seen.add(key)
            if time.monotonic() > deadline:
                print("triage: out of time")
                break
            before = len(srv.panics())
            outcome = None
            try:
                reader, writer = await respkit.open_conn(srv.host, srv.port)
                writer.write(encode(args) + encode(["PING"]))
                await writer.drain()
                r = await asyncio.wait_for(read_non_push(reader), 2.0)
                if isinstance(r, RespError) and "internal error" in r.text:
                    outcome = "internal"
                else:
                    await asyncio.wait_for(read_non_push(reader), 2.0)
                writer.close()
            except asyncio.TimeoutError:
                outcome = "hung"
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                outcome = "dropped"
            except (ProtocolViolation, ValueError):
                outcome = "bad-reply"
            await asyncio.sleep(0.05)
            if not srv.alive():
                outcome = "killed"
            elif len(srv.panics()) > before and outcome is None:
                outcome = "panicked"
            if outcome:
                confirmed[kind_of(args)] += 1
                found.append({"outcome": outcome, "seen_as": kind, "args": fmt_args(args, 300),
                              "kind": kind_of(args),
                              "log": srv.panics()[before:before + 1] or srv.log_tail(3)})
                if outcome in ("killed", "hung", "dropped"):
                    await fresh()
    finally:
        srv.cleanup()
    return found


# --------------------------------------------------------------------------- setup

async def fetch_specs(conn: respkit.AsyncConn) -> dict[str, Spec]:
    names = await conn.call("COMMAND", "LIST")
    if isinstance(names, RespError) or not names:
        raise SystemExit(f"COMMAND LIST failed: {names!r}")
    # Redis lists subcommands too (`config|get`); they are reached through their container.
    names = sorted(n for n in (respkit.text(x).lower() for x in names) if "|" not in n)
    specs: dict[str, Spec] = {}
    for i in range(0, len(names), 50):
        infos = await conn.call("COMMAND", "INFO", *names[i:i + 50])
        for entry in infos or []:
            s = parse_spec(entry)
            if s:
                specs[s.name] = s
    docs = await conn.call("COMMAND", "DOCS", *names, timeout=30)
    with_tokens = 0
    if isinstance(docs, list):
        d = respkit.pairs_to_dict(docs)
        for name, doc in d.items():
            name = name.lower()
            if name in specs:
                specs[name].tokens = doc_tokens(doc)
                with_tokens += bool(specs[name].tokens)
                subdocs = respkit.pairs_to_dict(respkit.pairs_to_dict(doc).get("subcommands"))
                for full, sd in subdocs.items():
                    sub = full.lower().split("|", 1)[-1]
                    if sub in specs[name].subs:
                        specs[name].subs[sub].tokens = doc_tokens(sd)
    missing = [n for n in names if n not in specs]
    if missing:
        print(f"note: COMMAND INFO gave nothing for {', '.join(missing[:10])}")
    print(f"commands: {len(names)} in COMMAND LIST, {len(specs)} with COMMAND INFO, "
          f"{with_tokens} with argument tokens from COMMAND DOCS "
          f"(built-in keyword table for the rest)")
    return specs


async def info_clients(conn) -> int:
    r = await conn.call("INFO", "clients")
    return int(respkit.parse_info(r).get("connected_clients", "-1"))


async def main_async(opts) -> int:
    server = None
    if opts.addr:
        host, port = opts.addr.rsplit(":", 1)
        port = int(port)
    else:
        server = respkit.ServerProcess(Path(opts.bin), opts.server_arg, opts.log)
        server.start()
        host, port = server.host, server.port
        print(f"server pid {server.pid} on {host}:{port}, log {server.log_path}")
    respkit.raise_nofile(opts.conns * 2 + 256)
    admin = await respkit.AsyncConn.connect(host, port)
    specs = await fetch_specs(admin)
    fz = Fuzzer(opts, server, host, port, specs)
    await fz.seed(admin)
    try:
        await fz.load_functions(admin)
    except Exception as e:  # noqa: BLE001
        print(f"note: FUNCTION LOAD/DUMP unavailable ({e})")
    gen = fz.gen("main")
    print(f"fuzzing {len(gen.names)} commands ({len(EXCLUDED | fz.exclude)} names excluded: "
          f"{', '.join(sorted(EXCLUDED | fz.exclude))})")
    baseline = await info_clients(admin)
    print(f"connected_clients at start: {baseline}")

    ctx = mp.get_context("spawn")
    fz.port_value = ctx.Value("i", port)
    stop = ctx.Event()
    out_q = ctx.Queue()
    wd = ctx.Process(target=watchdog_main, args=(host, fz.port_value, opts.ping_interval_ms / 1000,
                                                 stop, out_q, opts.ping_deadline_ms), daemon=True)
    wd.start()

    t_start = time.monotonic()
    fz.stop_at = t_start + opts.duration
    tasks = [asyncio.create_task(fz.worker(i)) for i in range(opts.conns)]
    tasks += [asyncio.create_task(fz.subscriber(i)) for i in range(opts.subscribers)]
    tasks += [asyncio.create_task(fz.prober(i)) for i in range(opts.probers)]
    tasks += [asyncio.create_task(fz.reseeder())]
    mon = asyncio.create_task(fz.monitor())

    async def progress():
        while time.monotonic() < fz.stop_at and not fz.stopping:
            await asyncio.sleep(min(10, max(0.1, fz.stop_at - time.monotonic())))
            print(f"  t={time.monotonic() - t_start:5.0f}s sent={fz.stats.sent} "
                  f"reconnects={fz.stats.reconnects} drops={len(fz.stats.drops)} "
                  f"hangs={len(fz.stats.hangs)} rss_max={fz.stats.rss_max_kib // 1024}MB",
                  flush=True)
    prog = asyncio.create_task(progress())
    grace = opts.reply_timeout + 10
    done, pending = await asyncio.wait(tasks, timeout=opts.duration + grace)
    fz.stopping = True
    for t in pending:
        t.cancel()
    stuck_tasks = len(pending)
    await asyncio.gather(*pending, return_exceptions=True)
    for t in done:
        if t.exception():
            print(f"fuzzer task failed: {t.exception()!r}")
    mon.cancel()
    prog.cancel()
    elapsed = time.monotonic() - t_start

    stop.set()
    wd.join(15)
    try:
        wdres = out_q.get(timeout=5)
    except Exception:  # noqa: BLE001
        wdres = {"max_ms": -1, "pings": 0, "slow": [], "slow_count": 0,
                 "failures": ["watchdog gave no result"]}

    # connected_clients back to where it started?
    clients_end = None
    clients_ok = False
    alive = server is None or server.alive()
    if alive:
        try:
            await admin.close()
            admin = await respkit.AsyncConn.connect(host, fz.port)
            deadline = time.monotonic() + opts.clients_deadline
            while True:
                clients_end = await info_clients(admin)
                if clients_end == baseline or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            clients_ok = clients_end == baseline
            await admin.close()
        except Exception as e:  # noqa: BLE001
            print(f"INFO clients at the end failed: {e!r}")
    panics = server.panics() if server else []

    # ---- report
    s = fz.stats
    failures = []
    if s.memory:
        failures.append(f"server RSS went over {opts.rss_limit_mb} MB")
    if not alive or s.deaths:
        failures.append(f"server died {len(s.deaths) or 1} time(s)")
    if panics:
        failures.append(f"{len(panics)} panic(s) in the server log")
    if s.drops:
        failures.append(f"{len(s.drops)} connection(s) dropped without a reply")
    if s.hangs:
        failures.append(f"{len(s.hangs)} command(s) without a reply within {opts.reply_timeout}s")
    if s.internal:
        failures.append(f"{len(s.internal)} '-ERR internal error' replies (panics the gate caught)")
    if s.bad_replies:
        failures.append(f"{len(s.bad_replies)} reply(ies) that are not valid RESP")
    if wdres["slow_count"]:
        failures.append(f"{wdres['slow_count']} PING(s) over {opts.ping_deadline_ms} ms "
                        f"(max {wdres['max_ms']:.1f} ms)")
    wd_fail = [f for f in wdres["failures"] if not s.deaths]
    if wd_fail:
        failures.append(f"watchdog: {wd_fail[0]}")
    if not clients_ok:
        failures.append(f"connected_clients {clients_end} at the end, {baseline} at the start")
    if stuck_tasks:
        failures.append(f"{stuck_tasks} fuzz connection(s) still stuck after the grace period")

    print()
    print("=" * 78)
    print(f"netfuzz: seed {opts.seed}, {opts.conns} connections, {elapsed:.0f}s")
    total_ok, total_err = sum(s.ok.values()), sum(s.err.values())
    print(f"commands sent: {s.sent} ({s.sent / max(elapsed, 1):.0f}/s); replies ok {total_ok}, "
          f"error {total_err}; reconnects {s.reconnects} (after a protocol error: "
          f"{s.proto_closes}); subscribe connections {s.sub_conns}; malformed-RESP probes "
          f"{s.proto_probes}")
    print(f"PING watchdog: {wdres['pings']} pings, max {wdres['max_ms']:.1f} ms, over "
          f"{opts.ping_deadline_ms} ms: {wdres['slow_count']}")
    if server:
        print(f"server RSS max {s.rss_max_kib / 1024:.0f} MB")
    print(f"connected_clients: start {baseline}, end {clients_end}")
    names = sorted(set(s.ok) | set(s.err))
    if opts.verbose or len(names) <= 400:
        print("\nper command (ok / error):")
        cols = []
        for n in names:
            cols.append(f"{n:<24} {s.ok[n]:>6} / {s.err[n]:<6}")
        for i in range(0, len(cols), 2):
            print("  " + "   ".join(cols[i:i + 2]))
    never = sorted(set(gen.names) - {n.split("[")[0].split("|")[0] for n in names})
    if never:
        print(f"\nnever answered (not sent or no reply): {', '.join(never)}")

    def show(title, items, limit=25):
        if not items:
            return
        print(f"\n{title} ({len(items)}):")
        seen = collections.Counter()
        for it in items:
            key = it["cmd"]
            seen[key] += 1
            if seen[key] <= 3 and sum(seen.values()) <= limit * 3:
                extra = f" [pipeline of {it.get('pipeline_len')}]" if \
                    it.get("pipeline_len", 1) > 1 else ""
                print(f"  {it['cmd']}: {it['args']}{extra}")
                if it.get("error"):
                    print(f"      error: {it['error'][:200]}")
                if it.get("prev"):
                    print(f"      after: {' ; '.join(it['prev'])}")
        print(f"  by command: {dict(seen.most_common())}")
    show("DROPPED THE CONNECTION WITHOUT A REPLY", s.drops)
    show("NO REPLY WITHIN THE REPLY TIMEOUT", s.hangs)
    show("INVALID REPLY", s.bad_replies)
    show("ANSWERED '-ERR internal error' (A HANDLER PANICKED)", s.internal)
    for m in s.memory:
        print(f"\nSERVER RSS {m['rss_mb']} MB (over --rss-limit-mb); in flight:")
        for line in m["in_flight"][:20]:
            print(f"  {line}")
    for d in s.deaths:
        print(f"\nSERVER DIED (exit {d['returncode']}); in flight:")
        for line in d["in_flight"][:20]:
            print(f"  {line}")
        print("  log tail:\n    " + "\n    ".join(d["log_tail"].splitlines()[-8:]))
    if panics:
        print(f"\nPANICS in the server log ({len(panics)}):")
        for p in collections.Counter(p.split("panicked", 1)[-1][:200] for p in panics) \
                .most_common(15):
            print(f"  x{p[1]} panicked{p[0]}")
    if wdres["slow"]:
        print(f"\nslow PINGs (first {min(10, len(wdres['slow']))}), with the non-blocking "
              "commands in flight then:")
        blocking = {n for n, sp in specs.items() if "blocking" in sp.flags}
        for t0, lat in wdres["slow"][:10]:
            near = [f"{n}: {a}" for (a0, a1, n, a) in s.slow
                    if a0 <= t0 + lat / 1000 and a1 >= t0 and n not in blocking][:5]
            print(f"  {lat:8.1f} ms  " + ("; ".join(near) if near else "(none recorded)"))
    if wd_fail:
        print("\nwatchdog failures: " + "; ".join(wd_fail[:5]))
    if opts.show_errors:
        print("\nerror texts per command:")
        for n in names:
            if s.err_texts.get(n):
                print(f"  {n}: " + " | ".join(f"{t} (x{c})" for t, c in
                                              s.err_texts[n].most_common(4)))
    if opts.report:
        Path(opts.report).write_text(json.dumps({
            "seed": opts.seed, "conns": opts.conns, "duration": elapsed, "sent": s.sent,
            "ok": s.ok, "err": s.err, "err_texts": {k: dict(v) for k, v in s.err_texts.items()},
            "reconnects": s.reconnects, "proto_closes": s.proto_closes, "drops": s.drops,
            "hangs": s.hangs, "bad_replies": s.bad_replies, "deaths": s.deaths, "memory": s.memory,
            "panics": panics, "watchdog": wdres, "clients": [baseline, clients_end],
            "failures": failures, "rss_max_kib": s.rss_max_kib,
        }, indent=1, default=str))
    if failures and server and not opts.no_triage:
        cands = []
        for i, d in enumerate(s.deaths):
            cands += [(f"death{i}", a) for a in d.get("raw", [])]
        for kind, items in (("drop", s.drops), ("hang", s.hangs), ("internal", s.internal),
                            ("bad-reply", s.bad_replies)):
            for it in items:
                raw = it.get("raw") or []
                for a in (raw if kind == "bad-reply" else raw[-1:]):
                    cands.append((kind, a))
        if cands or panics:
            found = await triage(opts, server.binary, cands)
            if found:
                print(f"\nTRIAGE: single commands that reproduce on a fresh, seeded server "
                      f"({len(found)}):")
                for f in found:
                    print(f"  {f['outcome']:<10} {f['args']}")
                print("  (at most 3 per command / script; outcomes: killed = the process died, "
                      "internal = '-ERR internal error', panicked = 'panicked' logged, dropped, "
                      "hung = no reply in 2 s)")
            else:
                print("\nTRIAGE: no single command reproduced the failures alone "
                      "(they need other commands' state, or concurrency)")
            if opts.report:
                rep = json.loads(Path(opts.report).read_text())
                rep["triage"] = found
                Path(opts.report).write_text(json.dumps(rep, indent=1, default=str))
    print()
    if failures:
        print("NETFUZZ FAILED: " + "; ".join(failures))
    else:
        print("NETFUZZ PASSED")
    if server:
        server.cleanup(keep_log=bool(failures))
        if failures:
            print(f"server log kept at {server.log_path}")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--addr", help="host:port of a running server (default: start the binary)")
    p.add_argument("--pid", type=int, help="with --addr: the server's pid, for RSS checks")
    p.add_argument("--bin", default=str(respkit.default_binary()), help="strata binary")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra server directive, e.g. --server-arg=--maxclients "
                        "--server-arg=2000 (repeatable)")
    p.add_argument("--log", help="server log file (default: in the temporary directory)")
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--subscribers", type=int, default=2)
    p.add_argument("--probers", type=int, default=2, help="malformed-RESP connections")
    p.add_argument("--seed", default=str(int(time.time())))
    p.add_argument("--ping-deadline-ms", type=float, default=100)
    p.add_argument("--ping-interval-ms", type=float, default=100)
    p.add_argument("--reply-timeout", type=float, default=5.0)
    p.add_argument("--clients-deadline", type=float, default=10.0)
    p.add_argument("--exclude", default="", help="comma-separated command names (`keys`, "
                   "`config|set`), script tags (`script:self-ref-table`) or functions "
                   "(`fcall:fz_nest`) to leave out")
    p.add_argument("--rss-limit-mb", type=float, default=4096,
                   help="kill the server (a failure) when its RSS passes this")
    p.add_argument("--heavy", action="store_true", help="add memory-hog Lua scripts")
    p.add_argument("--keep-going", action="store_true",
                   help="restart the server when it dies and go on (to collect more findings)")
    p.add_argument("--report", help="write a JSON report here")
    p.add_argument("--no-triage", action="store_true",
                   help="do not replay suspect commands one by one after a failed run")
    p.add_argument("--triage-seconds", type=float, default=90)
    p.add_argument("--show-errors", action="store_true", help="print error texts per command")
    p.add_argument("-v", "--verbose", action="store_true")
    opts = p.parse_args()
    print(f"netfuzz seed {opts.seed}")
    try:
        code = asyncio.run(main_async(opts))
    except KeyboardInterrupt:
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
