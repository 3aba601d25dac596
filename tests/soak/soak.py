#!/usr/bin/env python3
"""Soak: many connections of mixed, verified traffic against the real `strata` binary.

Roles over --conns connections (default 1000):
  * mixed workers: every data type (string, counter, hash, list, set, zset, stream, HLL,
    geo, bitmap, expiry, MULTI/EXEC, EVAL, pipelines) on their own keys, each reply checked
    against a local model; plus contended shared keys;
  * pub/sub: channel and pattern subscribers, publishers whose PUBLISH receiver counts and
    per-publisher message sequences are verified, and every message accounted for at the end;
  * blocking pops: BLPOP / BZPOPMIN consumers fed by RPUSH / ZADD producers; produced =
    consumed + left over at the end.

Reports errors, the server's RSS over time (VmRSS from /proc/<pid>/status), p50/p99/p999
latency (client-measured, plus a separate PING probe process), and FAILS on any error, on a
dropped connection, on RSS at the end > --rss-ratio x RSS at 20% of the run, on a panic in
the server log, or when `connected_clients` is not back to its starting value.

    python3 tests/soak/soak.py --duration 600 --conns 1000

Standard library only. Exit code 0 = pass, 1 = fail.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import respkit  # noqa: E402
from respkit import RespError, encode, read_non_push  # noqa: E402


class Hist:
    """Log-bucketed latency histogram (2% buckets), microseconds."""

    BASE = math.log(1.02)

    def __init__(self):
        self.b = collections.Counter()
        self.n = 0
        self.max = 0.0

    def add(self, seconds: float):
        us = max(seconds * 1e6, 1.0)
        self.b[int(math.log(us) / self.BASE)] += 1
        self.n += 1
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: "Hist"):
        self.b.update(other.b)
        self.n += other.n
        self.max = max(self.max, other.max)

    def pct(self, p: float) -> float:
        """Milliseconds at percentile p (0..100)."""
        if not self.n:
            return 0.0
        want = self.n * p / 100
        seen = 0
        for k in sorted(self.b):
            seen += self.b[k]
            if seen >= want:
                return math.exp((k + 1) * self.BASE) / 1000
        return self.max * 1000

    def summary(self) -> str:
        return (f"p50 {self.pct(50):.2f} ms, p99 {self.pct(99):.2f} ms, "
                f"p99.9 {self.pct(99.9):.2f} ms, max {self.max * 1000:.1f} ms")


class Failure(Exception):
    pass


class Conn:
    """One connection whose every reply is awaited with a deadline."""

    def __init__(self, soak, reader, writer):
        self.s = soak
        self.reader = reader
        self.writer = writer

    async def call(self, *args, hist: Hist | None = None):
        t0 = time.monotonic()
        self.writer.write(encode(args))
        await self.writer.drain()
        r = await asyncio.wait_for(read_non_push(self.reader), self.s.o.reply_timeout)
        (hist or self.s.lat).add(time.monotonic() - t0)
        self.s.ops += 1
        return r

    async def pipeline(self, cmds):
        t0 = time.monotonic()
        self.writer.write(b"".join(encode(c) for c in cmds))
        await self.writer.drain()
        out = []
        for _ in cmds:
            out.append(await asyncio.wait_for(read_non_push(self.reader),
                                              self.s.o.reply_timeout))
        self.s.lat.add(time.monotonic() - t0)
        self.s.ops += len(cmds)
        return out

    async def close(self):
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except Exception:  # noqa: BLE001
            pass


def b(x) -> bytes:
    return x if isinstance(x, bytes) else str(x).encode()


def ping_probe(host, port, stop, out_q):
    """PING every 100 ms from its own process: the server's responsiveness without the
    client's event-loop delay."""
    h = Hist()
    fails = 0
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = respkit.SyncConn(host, port, timeout=30)
            t0 = time.monotonic()
            conn.call("PING")
            h.add(time.monotonic() - t0)
        except Exception:  # noqa: BLE001
            fails += 1
            conn = None
            time.sleep(0.5)
        time.sleep(0.1)
    out_q.put({"b": dict(h.b), "n": h.n, "max": h.max, "fails": fails})


class Soak:
    def __init__(self, o, host, port, server):
        self.o = o
        self.host, self.port = host, port
        self.server = server
        self.rng = random.Random(o.seed)
        self.prefix = f"soak:{o.seed}"
        self.lat = Hist()
        self.lat_by = collections.defaultdict(Hist)
        self.ops = 0
        self.errors: list[str] = []
        self.error_count = 0
        self.stop_at = 0.0
        self.stopping = False
        self.producers_done = asyncio.Event()
        self.rss: list[tuple[float, int]] = []
        self.lag = Hist()
        # pub/sub bookkeeping
        self.channels = [f"{self.prefix}:ch:{i}" for i in range(o.channels)]
        self.sub_counts: dict[str, int] = collections.Counter()   # channel -> subscribers
        self.pattern_subs = 0
        self.published: dict[tuple, int] = collections.Counter()  # (pub, ch) -> messages
        self.subs_ready = asyncio.Event()
        self.subs_pending = 0
        self.received: list[dict] = []
        # blocking pops
        self.queues = [f"{self.prefix}:q:{i}" for i in range(o.queues)]
        self.zqueues = [f"{self.prefix}:zq:{i}" for i in range(max(1, o.queues // 2))]
        self.produced = 0
        self.consumed = 0
        self.zproduced = 0
        self.zconsumed = 0

    # ------------------------------------------------------------------ plumbing
    def error(self, text: str):
        self.error_count += 1
        if len(self.errors) < 200:
            self.errors.append(f"{time.monotonic() - self.t0:7.1f}s {text[:300]}")

    async def connect(self) -> Conn:
        async with self.connect_sem:
            r, w = await asyncio.wait_for(respkit.open_conn(self.host, self.port), 30)
            return Conn(self, r, w)

    def running(self) -> bool:
        return not self.stopping and time.monotonic() < self.stop_at

    async def think(self, rng):
        if self.o.think_ms > 0:
            await asyncio.sleep(rng.uniform(0, 2 * self.o.think_ms) / 1000)

    # ------------------------------------------------------------------ mixed workers
    async def worker(self, wid: int):
        rng = random.Random(f"{self.o.seed}:w{wid}")
        k = f"{self.prefix}:w{wid}"
        try:
            c = await self.connect()
        except Exception as e:  # noqa: BLE001
            self.error(f"worker {wid}: connect failed: {e!r}")
            return
        model = {"str": None, "cnt": 0, "hash": {}, "list": [], "set": set(), "zset": {},
                 "bits": set(), "xlen": 0}
        ops = [
            (12, self.op_string), (10, self.op_counter), (10, self.op_hash), (10, self.op_list),
            (8, self.op_set), (10, self.op_zset), (6, self.op_stream), (4, self.op_hll),
            (3, self.op_geo), (4, self.op_bitmap), (4, self.op_expire), (4, self.op_multi),
            (3, self.op_eval), (4, self.op_pipeline), (8, self.op_shared), (2, self.op_scan),
        ]
        weights = [w for w, _ in ops]
        fns = [f for _, f in ops]
        try:
            while self.running():
                fn = rng.choices(fns, weights)[0]
                try:
                    await fn(c, rng, k, model)
                except Failure as f:
                    self.error(f"worker {wid} {fn.__name__}: {f}")
                await self.think(rng)
        except asyncio.TimeoutError:
            self.error(f"worker {wid}: no reply within {self.o.reply_timeout}s")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            if not self.stopping:
                self.error(f"worker {wid}: connection lost: {e!r}")
        except Exception as e:  # noqa: BLE001  (a bug in the soak itself, or a bad reply)
            self.error(f"worker {wid}: {e!r}")
        finally:
            await c.close()

    def expect(self, got, want, what):
        if isinstance(got, RespError):
            raise Failure(f"{what}: error reply {got.text}")
        if got != want:
            raise Failure(f"{what}: got {got!r}, expected {want!r}")

    def ok(self, got, what):
        if isinstance(got, RespError):
            raise Failure(f"{what}: error reply {got.text}")
        return got

    async def op_string(self, c, rng, k, m):
        key = f"{k}:str"
        if m["str"] is None or rng.random() < 0.4:
            v = f"v{rng.getrandbits(32)}" * rng.choice([1, 1, 4, 64])
            self.expect(await c.call("SET", key, v), "OK", "SET")
            m["str"] = v
        elif rng.random() < 0.2:
            v = "x" * rng.randint(1, 20)
            n = await c.call("APPEND", key, v)
            m["str"] += v
            self.expect(n, len(m["str"]), "APPEND")
            if len(m["str"]) > 4096:
                self.expect(await c.call("SET", key, "reset"), "OK", "SET")
                m["str"] = "reset"
        else:
            self.expect(await c.call("GET", key), b(m["str"]), "GET")
            self.expect(await c.call("STRLEN", key), len(m["str"]), "STRLEN")

    async def op_counter(self, c, rng, k, m):
        key = f"{k}:cnt"
        d = rng.randint(-100, 100)
        m["cnt"] += d
        self.expect(await c.call("INCRBY", key, d), m["cnt"], "INCRBY")
        if rng.random() < 0.2:
            self.expect(await c.call("GET", key), b(m["cnt"]), "GET counter")

    async def op_hash(self, c, rng, k, m):
        key = f"{k}:hash"
        h = m["hash"]
        r = rng.random()
        f = f"f{rng.randint(0, 19)}"
        if r < 0.4:
            v = f"{rng.getrandbits(24)}"
            self.expect(await c.call("HSET", key, f, v), 0 if f in h else 1, "HSET")
            h[f] = v
        elif r < 0.55:
            self.expect(await c.call("HDEL", key, f), 1 if f in h else 0, "HDEL")
            h.pop(f, None)
        elif r < 0.8:
            self.expect(await c.call("HGET", key, f), b(h[f]) if f in h else None, "HGET")
        elif r < 0.9:
            self.expect(await c.call("HLEN", key), len(h), "HLEN")
        else:
            got = self.ok(await c.call("HGETALL", key), "HGETALL")
            pairs = dict(zip(got[::2], got[1::2])) if isinstance(got, list) else {}
            self.expect(pairs, {b(a): b(v) for a, v in h.items()}, "HGETALL")

    async def op_list(self, c, rng, k, m):
        key = f"{k}:list"
        lst = m["list"]
        r = rng.random()
        if r < 0.4:
            vals = [f"e{rng.getrandbits(20)}" for _ in range(rng.randint(1, 4))]
            lst.extend(vals)
            self.expect(await c.call("RPUSH", key, *vals), len(lst), "RPUSH")
            if len(lst) > 60:
                self.expect(await c.call("LTRIM", key, -30, -1), "OK", "LTRIM")
                del lst[:-30]
        elif r < 0.6:
            want = b(lst.pop(0)) if lst else None
            self.expect(await c.call("LPOP", key), want, "LPOP")
        elif r < 0.85:
            self.expect(await c.call("LRANGE", key, 0, 9), [b(x) for x in lst[:10]], "LRANGE")
        else:
            self.expect(await c.call("LLEN", key), len(lst), "LLEN")

    async def op_set(self, c, rng, k, m):
        key = f"{k}:set"
        s = m["set"]
        mem = f"s{rng.randint(0, 29)}"
        r = rng.random()
        if r < 0.45:
            self.expect(await c.call("SADD", key, mem), 0 if mem in s else 1, "SADD")
            s.add(mem)
        elif r < 0.65:
            self.expect(await c.call("SREM", key, mem), 1 if mem in s else 0, "SREM")
            s.discard(mem)
        elif r < 0.85:
            self.expect(await c.call("SISMEMBER", key, mem), 1 if mem in s else 0, "SISMEMBER")
        else:
            got = self.ok(await c.call("SMEMBERS", key), "SMEMBERS")
            self.expect(set(got or []), {b(x) for x in s}, "SMEMBERS")

    async def op_zset(self, c, rng, k, m):
        key = f"{k}:zset"
        z = m["zset"]
        mem = f"z{rng.randint(0, 29)}"
        r = rng.random()
        if r < 0.4:
            sc = rng.randint(-1000, 1000)
            self.expect(await c.call("ZADD", key, sc, mem), 0 if mem in z else 1, "ZADD")
            z[mem] = sc
        elif r < 0.55:
            self.expect(await c.call("ZREM", key, mem), 1 if mem in z else 0, "ZREM")
            z.pop(mem, None)
        elif r < 0.75:
            got = await c.call("ZSCORE", key, mem)
            want = None if mem not in z else z[mem]
            if want is None:
                self.expect(got, None, "ZSCORE")
            elif isinstance(got, RespError) or got is None or float(got) != want:
                raise Failure(f"ZSCORE {mem}: got {got!r}, expected {want}")
        else:
            got = self.ok(await c.call("ZRANGE", key, 0, 4), "ZRANGE")
            want = [b(x) for x, _ in sorted(z.items(), key=lambda t: (t[1], t[0]))[:5]]
            self.expect(got, want, "ZRANGE")

    async def op_stream(self, c, rng, k, m):
        key = f"{k}:stream"
        if rng.random() < 0.6:
            self.ok(await c.call("XADD", key, "MAXLEN", "100", "*", "f", rng.getrandbits(16)),
                    "XADD")
            m["xlen"] = min(100, m["xlen"] + 1)
            self.expect(await c.call("XLEN", key), m["xlen"], "XLEN")
        else:
            got = self.ok(await c.call("XRANGE", key, "-", "+", "COUNT", 5), "XRANGE")
            if len(got) != min(5, m["xlen"]):
                raise Failure(f"XRANGE COUNT 5 gave {len(got)} of {m['xlen']} entries")

    async def op_hll(self, c, rng, k, m):
        key = f"{k}:hll"
        self.ok(await c.call("PFADD", key, *[f"u{rng.randint(0, 5000)}" for _ in range(5)]),
                "PFADD")
        n = self.ok(await c.call("PFCOUNT", key), "PFCOUNT")
        if not isinstance(n, int) or n < 1 or n > 6000:
            raise Failure(f"PFCOUNT {n!r}")

    async def op_geo(self, c, rng, k, m):
        key = f"{k}:geo"
        self.ok(await c.call("GEOADD", key, rng.uniform(-179, 179), rng.uniform(-80, 80),
                             f"p{rng.randint(0, 20)}", "13.36", "38.11", "palermo"), "GEOADD")
        self.ok(await c.call("GEOSEARCH", key, "FROMMEMBER", "palermo", "BYRADIUS", "500", "km",
                             "COUNT", "5", "ASC"), "GEOSEARCH")

    async def op_bitmap(self, c, rng, k, m):
        key = f"{k}:bits"
        off = rng.randint(0, 999)
        bit = rng.randint(0, 1)
        old = 1 if off in m["bits"] else 0
        self.expect(await c.call("SETBIT", key, off, bit), old, "SETBIT")
        (m["bits"].add if bit else m["bits"].discard)(off)
        if rng.random() < 0.3:
            self.expect(await c.call("BITCOUNT", key), len(m["bits"]), "BITCOUNT")

    async def op_expire(self, c, rng, k, m):
        key = f"{k}:tmp"
        self.expect(await c.call("SET", key, "t", "PX", rng.randint(50, 5000)), "OK", "SET PX")
        ttl = self.ok(await c.call("PTTL", key), "PTTL")
        if not isinstance(ttl, int) or ttl > 5000 or ttl < -2:
            raise Failure(f"PTTL {ttl!r}")
        if rng.random() < 0.3:
            self.ok(await c.call("DEL", key), "DEL")

    async def op_multi(self, c, rng, k, m):
        key = f"{k}:cnt"
        d = rng.randint(1, 9)
        m["cnt"] += d
        got = await c.pipeline([["MULTI"], ["INCRBY", key, d], ["GET", key], ["EXEC"]])
        self.expect(got[:3], ["OK", "QUEUED", "QUEUED"], "MULTI")
        self.expect(got[3], [m["cnt"], b(m["cnt"])], "EXEC")

    async def op_eval(self, c, rng, k, m):
        key = f"{k}:cnt"
        d = rng.randint(1, 9)
        m["cnt"] += d
        got = await c.call("EVAL", "return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, key, d)
        self.expect(got, m["cnt"], "EVAL INCRBY")

    async def op_pipeline(self, c, rng, k, m):
        key = f"{k}:cnt"
        n = rng.randint(2, 20)
        got = await c.pipeline([["INCR", key] for _ in range(n)])
        want = list(range(m["cnt"] + 1, m["cnt"] + n + 1))
        m["cnt"] += n
        self.expect(got, want, f"pipelined INCR x{n}")

    async def op_shared(self, c, rng, k, m):
        i = rng.randint(0, 9)
        r = rng.random()
        p = self.prefix
        if r < 0.3:
            self.ok(await c.call("INCR", f"{p}:shared:cnt:{i}"), "INCR shared")
        elif r < 0.5:
            self.ok(await c.call("HINCRBY", f"{p}:shared:hash", f"f{i}", 1), "HINCRBY shared")
        elif r < 0.7:
            self.ok(await c.call("ZINCRBY", f"{p}:shared:zset", 1, f"m{i}"), "ZINCRBY shared")
        elif r < 0.85:
            got = await c.pipeline([["LPUSH", f"{p}:shared:list", rng.getrandbits(30)],
                                    ["LTRIM", f"{p}:shared:list", 0, 199]])
            for g in got:
                self.ok(g, "LPUSH/LTRIM shared")
        else:
            self.ok(await c.call("MGET", *[f"{p}:shared:cnt:{j}" for j in range(10)]), "MGET")

    async def op_scan(self, c, rng, k, m):
        got = self.ok(await c.call("SCAN", rng.choice([0, 0, 1234]), "MATCH", f"{k}:*",
                                   "COUNT", 100), "SCAN")
        if not isinstance(got, list) or len(got) != 2:
            raise Failure(f"SCAN reply {got!r}")

    # ------------------------------------------------------------------ pub/sub
    async def subscriber(self, sid: int, pattern: bool):
        rng = random.Random(f"{self.o.seed}:s{sid}")
        try:
            c = await self.connect()
        except Exception as e:  # noqa: BLE001
            self.error(f"subscriber {sid}: connect failed: {e!r}")
            self.subs_pending -= 1
            return
        got: dict[tuple, int] = collections.Counter()
        last: dict[tuple, int] = {}
        record = {"pattern": pattern, "channels": [], "got": got}
        self.received.append(record)
        try:
            if pattern:
                chans = self.channels
                c.writer.write(encode(["PSUBSCRIBE", f"{self.prefix}:ch:*"]))
            else:
                chans = rng.sample(self.channels, min(2, len(self.channels)))
                c.writer.write(encode(["SUBSCRIBE", *chans]))
            await c.writer.drain()
            for _ in range(1 if pattern else len(chans)):
                r = await asyncio.wait_for(respkit.read_reply(c.reader), self.o.reply_timeout)
                if not isinstance(r, list) or b(r[0]) not in (b"subscribe", b"psubscribe"):
                    self.error(f"subscriber {sid}: bad subscribe reply {r!r}")
            record["channels"] = chans
            if pattern:
                self.pattern_subs += 1
            else:
                for ch in chans:
                    self.sub_counts[ch] += 1
            self.subs_pending -= 1
            if self.subs_pending == 0:
                self.subs_ready.set()
            while True:
                if self.producers_done.is_set() and time.monotonic() > self.drain_until:
                    break
                try:
                    r = await asyncio.wait_for(respkit.read_reply(c.reader), 0.5)
                except asyncio.TimeoutError:
                    continue
                if not isinstance(r, list) or len(r) < 3:
                    self.error(f"subscriber {sid}: unexpected push {r!r}")
                    continue
                kind = b(r[0])
                payload = r[-1]
                ch = respkit.text(r[-2])
                if kind not in (b"message", b"pmessage"):
                    self.error(f"subscriber {sid}: unexpected push {r[:2]!r}")
                    continue
                try:
                    pub, seq = payload.decode().split(":")
                    seq = int(seq)
                except Exception:  # noqa: BLE001
                    self.error(f"subscriber {sid}: malformed message {payload[:60]!r}")
                    continue
                key = (pub, ch)
                if seq != last.get(key, 0) + 1:
                    self.error(f"subscriber {sid}: {ch} from {pub}: message {seq} after "
                               f"{last.get(key, 0)}")
                last[key] = seq
                got[key] += 1
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            self.error(f"subscriber {sid}: connection lost: {e!r}")
        except asyncio.TimeoutError:
            self.error(f"subscriber {sid}: no subscribe confirmation")
        finally:
            await c.close()

    async def publisher(self, pid: int):
        rng = random.Random(f"{self.o.seed}:p{pid}")
        try:
            c = await self.connect()
        except Exception as e:  # noqa: BLE001
            self.error(f"publisher {pid}: connect failed: {e!r}")
            return
        name = f"p{pid}"
        seqs = collections.Counter()
        try:
            await asyncio.wait_for(self.subs_ready.wait(), 120)
            while self.running():
                ch = rng.choice(self.channels)
                seqs[ch] += 1
                n = await c.call("PUBLISH", ch, f"{name}:{seqs[ch]}", hist=self.lat_by["PUBLISH"])
                self.published[(name, ch)] += 1
                want = self.sub_counts[ch] + self.pattern_subs
                if n != want:
                    self.error(f"PUBLISH {ch} reached {n!r} subscribers, expected {want}")
                await self.think(rng)
        except asyncio.TimeoutError:
            self.error(f"publisher {pid}: timeout")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            self.error(f"publisher {pid}: connection lost: {e!r}")
        finally:
            await c.close()

    # ------------------------------------------------------------------ blocking pops
    async def producer(self, pid: int, zset: bool):
        rng = random.Random(f"{self.o.seed}:prod{pid}{zset}")
        try:
            c = await self.connect()
        except Exception as e:  # noqa: BLE001
            self.error(f"producer {pid}: connect failed: {e!r}")
            return
        try:
            seq = 0
            while self.running():
                seq += 1
                if zset:
                    q = rng.choice(self.zqueues)
                    self.expect(await c.call("ZADD", q, rng.randint(0, 1000), f"P{pid}:{seq}"),
                                1, "ZADD queue")
                    self.zproduced += 1
                else:
                    q = rng.choice(self.queues)
                    self.ok(await c.call("RPUSH", q, f"P{pid}:{seq}"), "RPUSH queue")
                    self.produced += 1
                await self.think(rng)
        except Failure as f:
            self.error(f"producer {pid}: {f}")
        except asyncio.TimeoutError:
            self.error(f"producer {pid}: timeout")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            self.error(f"producer {pid}: connection lost: {e!r}")
        finally:
            await c.close()

    async def consumer(self, cid: int, zset: bool):
        rng = random.Random(f"{self.o.seed}:cons{cid}{zset}")
        try:
            c = await self.connect()
        except Exception as e:  # noqa: BLE001
            self.error(f"consumer {cid}: connect failed: {e!r}")
            return
        qs = self.zqueues if zset else self.queues
        try:
            while True:
                if self.producers_done.is_set() and time.monotonic() > self.drain_until:
                    break
                keys = rng.sample(qs, min(2, len(qs)))
                cmd = "BZPOPMIN" if zset else "BLPOP"
                t0 = time.monotonic()
                c.writer.write(encode([cmd, *keys, "0.5"]))
                await c.writer.drain()
                r = await asyncio.wait_for(read_non_push(c.reader), self.o.reply_timeout + 1)
                self.ops += 1
                if isinstance(r, RespError):
                    self.error(f"{cmd}: {r.text}")
                elif r is not None:
                    self.lat_by[cmd].add(time.monotonic() - t0)
                    if zset:
                        self.zconsumed += 1
                    else:
                        self.consumed += 1
        except asyncio.TimeoutError:
            self.error(f"consumer {cid}: blocking pop not answered")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            self.error(f"consumer {cid}: connection lost: {e!r}")
        finally:
            await c.close()

    # ------------------------------------------------------------------ monitoring
    async def sampler(self):
        pid = self.pid
        next_report = self.t0 + self.o.report_interval
        last_ops = 0
        last_t = self.t0
        while self.running():
            await asyncio.sleep(min(self.o.rss_interval, max(0.1, self.stop_at - time.monotonic())))
            now = time.monotonic()
            if pid:
                kib = respkit.rss_kib(pid)
                if kib is None:
                    self.error("server process is gone")
                    self.stopping = True
                    return
                self.rss.append((now - self.t0, kib))
            if now >= next_report:
                rate = (self.ops - last_ops) / max(now - last_t, 1e-9)
                last_ops, last_t = self.ops, now
                rss = f"{self.rss[-1][1] / 1024:.0f} MB" if self.rss else "?"
                print(f"  t={now - self.t0:5.0f}s ops={self.ops} ({rate:.0f}/s) "
                      f"errors={self.error_count} rss={rss} latency {self.lat.summary()}",
                      flush=True)
                next_report += self.o.report_interval

    async def loop_lag(self):
        """How late the client's own event loop runs (it inflates client-side latency)."""
        self.lag = Hist()
        while self.running():
            t0 = time.monotonic()
            await asyncio.sleep(0.1)
            self.lag.add(max(0.0, time.monotonic() - t0 - 0.1))

    # ------------------------------------------------------------------ the run
    async def run(self) -> int:
        o = self.o
        self.connect_sem = asyncio.Semaphore(64)
        admin = Conn(self, *await respkit.open_conn(self.host, self.port))
        self.pid = o.pid or (self.server.pid if self.server else None)
        mc = await admin.call("CONFIG", "GET", "maxclients")
        maxclients = int(respkit.pairs_to_dict(mc).get("maxclients", b"0")) if \
            isinstance(mc, list) else 0
        print(f"server maxclients {maxclients}")
        if maxclients and maxclients < o.conns + 64:
            r = await admin.call("CONFIG", "SET", "maxclients", str(o.conns + 1024))
            print(f"raised maxclients to {o.conns + 1024}: {r!r}")
        baseline = int(respkit.parse_info(await admin.call("INFO", "clients"))
                       .get("connected_clients", -1))

        n_sub = max(1, o.conns * 4 // 100)
        n_psub = max(1, o.conns // 100)
        n_pub = max(1, o.conns // 100)
        n_cons = max(1, o.conns * 5 // 100)
        n_zcons = max(1, o.conns // 100)
        n_prod = max(1, o.conns * 2 // 100)
        n_zprod = max(1, o.conns // 200)
        n_work = o.conns - (n_sub + n_psub + n_pub + n_cons + n_zcons + n_prod + n_zprod)
        if n_work < 1:
            raise SystemExit("--conns too small")
        print(f"{o.conns} connections: {n_work} mixed workers, {n_sub} subscribers + {n_psub} "
              f"pattern subscribers, {n_pub} publishers, {n_cons} BLPOP + {n_zcons} BZPOPMIN "
              f"consumers, {n_prod} RPUSH + {n_zprod} ZADD producers; {o.duration:.0f}s, "
              f"think {o.think_ms} ms")

        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        out_q = ctx.Queue()
        probe = ctx.Process(target=ping_probe, args=(self.host, self.port, stop, out_q),
                            daemon=True)
        probe.start()

        self.t0 = time.monotonic()
        self.stop_at = self.t0 + o.duration
        self.drain_until = float("inf")
        self.subs_pending = n_sub + n_psub
        subs = [asyncio.create_task(self.subscriber(i, False)) for i in range(n_sub)]
        subs += [asyncio.create_task(self.subscriber(n_sub + i, True)) for i in range(n_psub)]
        cons = [asyncio.create_task(self.consumer(i, False)) for i in range(n_cons)]
        cons += [asyncio.create_task(self.consumer(i, True)) for i in range(n_zcons)]
        prods = [asyncio.create_task(self.producer(i, False)) for i in range(n_prod)]
        prods += [asyncio.create_task(self.producer(i, True)) for i in range(n_zprod)]
        pubs = [asyncio.create_task(self.publisher(i)) for i in range(n_pub)]
        workers = [asyncio.create_task(self.worker(i)) for i in range(n_work)]
        mon = asyncio.create_task(self.sampler())
        lag = asyncio.create_task(self.loop_lag())

        for r in await asyncio.gather(*workers, *pubs, *prods, return_exceptions=True):
            if isinstance(r, BaseException):
                self.error(f"task failed: {r!r}")
        # Producers and publishers are done: let consumers and subscribers drain.
        self.drain_until = time.monotonic() + 3
        self.producers_done.set()
        for r in await asyncio.gather(*cons, *subs, return_exceptions=True):
            if isinstance(r, BaseException):
                self.error(f"task failed: {r!r}")
        self.stopping = True
        mon.cancel()
        lag.cancel()
        elapsed = time.monotonic() - self.t0
        stop.set()
        probe.join(10)
        try:
            pr = out_q.get(timeout=5)
            ping = Hist()
            ping.b.update({int(k): v for k, v in pr["b"].items()})
            ping.n, ping.max = pr["n"], pr["max"]
        except Exception:  # noqa: BLE001
            ping, pr = Hist(), {"fails": -1}

        # ---- accounting
        left = 0
        for q in self.queues:
            left += self.ok(await admin.call("LLEN", q), "LLEN")
        zleft = 0
        for q in self.zqueues:
            zleft += self.ok(await admin.call("ZCARD", q), "ZCARD")
        if self.produced != self.consumed + left:
            self.error(f"lists: produced {self.produced}, consumed {self.consumed}, left {left}")
        if self.zproduced != self.zconsumed + zleft:
            self.error(f"zsets: produced {self.zproduced}, consumed {self.zconsumed}, "
                       f"left {zleft}")
        lost = 0
        for rec in self.received:
            for ch in rec["channels"]:
                for (pub, pch), n in list(self.published.items()):
                    if pch == ch and rec["got"][(pub, ch)] != n:
                        lost += 1
                        if lost <= 5:
                            self.error(f"subscriber got {rec['got'][(pub, ch)]} of {n} "
                                       f"messages from {pub} on {ch}")
        if lost > 5:
            self.error(f"... {lost} (subscriber, publisher, channel) counts differ in all")

        clients_end = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            clients_end = int(respkit.parse_info(await admin.call("INFO", "clients"))
                              .get("connected_clients", -1))
            if clients_end == baseline:
                break
            await asyncio.sleep(0.25)
        await admin.close()

        # ---- report
        print("\n" + "=" * 78)
        print(f"soak: {o.conns} connections, {elapsed:.0f}s, {self.ops} operations "
              f"({self.ops / max(elapsed, 1):.0f}/s)")
        print(f"latency (client-measured, all commands): {self.lat.summary()}")
        for name, h in sorted(self.lat_by.items()):
            print(f"  {name:<9} {h.n:>8} ops  {h.summary()}")
        print(f"PING probe (own process, every 100 ms): {ping.n} pings, {ping.summary()}, "
              f"failed {pr['fails']}")
        print(f"client event-loop lag: {self.lag.summary()} (inflates the client-side numbers)")
        print(f"pub/sub: {sum(self.published.values())} messages published to "
              f"{len(self.channels)} channels, {len(self.received)} subscribers, "
              f"{sum(sum(r['got'].values()) for r in self.received)} deliveries")
        print(f"blocking pops: lists produced {self.produced} consumed {self.consumed} left "
              f"{left}; zsets produced {self.zproduced} consumed {self.zconsumed} left {zleft}")
        print(f"connected_clients: start {baseline}, end {clients_end}")
        failures = []
        rss_growth = None
        if self.rss:
            mark = next((kib for t, kib in self.rss if t >= 0.2 * elapsed), self.rss[0][1])
            end = self.rss[-1][1]
            rss_growth = end / max(mark, 1)
            step = max(1, len(self.rss) // 20)
            curve = ", ".join(f"{t:.0f}s {kib / 1024:.0f}" for t, kib in self.rss[::step])
            print(f"RSS (MB) over time: {curve}, end {end / 1024:.0f}")
            print(f"RSS at 20% of the run {mark / 1024:.0f} MB, at the end {end / 1024:.0f} MB: "
                  f"x{rss_growth:.2f} (bound x{o.rss_ratio})")
            if rss_growth > o.rss_ratio:
                failures.append(f"RSS grew x{rss_growth:.2f} after the first 20% of the run")
        if self.error_count:
            failures.append(f"{self.error_count} error(s)")
            print(f"\nerrors ({self.error_count}, first {len(self.errors[:40])}):")
            for e in self.errors[:40]:
                print(f"  {e}")
        if clients_end != baseline:
            failures.append(f"connected_clients {clients_end} at the end, {baseline} at start")
        if self.server:
            if not self.server.alive():
                failures.append("the server died")
            panics = self.server.panics()
            if panics:
                failures.append(f"{len(panics)} panic(s) in the server log")
                for p in panics[:10]:
                    print(f"  {p}")
        print()
        if failures:
            print("SOAK FAILED: " + "; ".join(failures))
        else:
            print("SOAK PASSED")
        return 1 if failures else 0


async def main_async(o) -> int:
    server = None
    if o.addr:
        host, port = o.addr.rsplit(":", 1)
        port = int(port)
    else:
        extra = list(o.server_arg)
        if not any(a == "--maxclients" for a in extra):
            extra += ["--maxclients", str(max(10000, o.conns + 1024))]
        server = respkit.ServerProcess(Path(o.bin), extra, o.log)
        server.start()
        host, port = server.host, server.port
        print(f"server pid {server.pid} on {host}:{port}, log {server.log_path}")
    code = 1
    try:
        code = await Soak(o, host, port, server).run()
        return code
    finally:
        if server:
            server.cleanup(keep_log=code != 0)
            if code != 0:
                print(f"server log kept at {server.log_path}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--addr", help="host:port of a running server (default: start the binary)")
    p.add_argument("--pid", type=int, help="with --addr: the server's pid, for RSS")
    p.add_argument("--bin", default=str(respkit.default_binary()))
    p.add_argument("--server-arg", action="append", default=[])
    p.add_argument("--log")
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--queues", type=int, default=10)
    p.add_argument("--think-ms", type=float, default=200,
                   help="mean pause between a connection's operations (0: flat out)")
    p.add_argument("--reply-timeout", type=float, default=10)
    p.add_argument("--rss-interval", type=float, default=5)
    p.add_argument("--rss-ratio", type=float, default=1.5,
                   help="fail when RSS at the end > this x RSS at 20%% of the run")
    p.add_argument("--report-interval", type=float, default=30)
    p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    o = p.parse_args()
    # 1,000 sockets here and in the server (which inherits the limit when started here).
    soft = respkit.raise_nofile(max(4096, o.conns * 2 + 1024))
    if soft < o.conns + 100:
        print(f"warning: open-file limit {soft} is below --conns {o.conns}")
    print(f"soak seed {o.seed}, open-file limit {soft}")
    sys.exit(asyncio.run(main_async(o)))


if __name__ == "__main__":
    main()
