#!/usr/bin/env python3
"""Issue 19's large import: a `redis-server` 7.0 builds a dataset of about --gb gigabytes
with every type and encoding (small listpack/intset collections and large
hashtable/skiplist/quicklist ones), TTLs and all 16 databases, and SAVEs it; `strata
import-rdb` loads the dump.rdb into a fresh data directory (its peak RSS is printed); a
Strata server with `maxmemory 64mb` is started on it and every key is compared with the
live Redis: type, `DEBUG DIGEST-VALUE` and TTL, plus the whole-dataset `DEBUG DIGEST`.

Run by `make rdb-big-import` (not part of the README's test command: it writes
gigabytes). Loopback only; every wait has a deadline. Prints one JSON report line and
exits non-zero on any difference.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import redis  # noqa: E402
from conftest import StrataServer  # noqa: E402

DATABASES = 16


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, deadline_s=120):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if check():
                return
        except (redis.ConnectionError, redis.BusyLoadingError):
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def populate(r, gb):
    """Strings carry most of the bytes (DEBUG POPULATE is fast); every database also gets
    collections in both encodings, TTLs and streams with consumer groups."""
    string_bytes = int(gb * (1 << 30) * 0.8)
    value_size = 512
    per_db = max(1, string_bytes // value_size // DATABASES)
    for db in range(DATABASES):
        r.select(db)
        r.execute_command("DEBUG", "POPULATE", per_db, f"s{db}", value_size)
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.hset(f"h{db}:small:{i}", mapping={"a": i, "b": "x" * 20})
            p.sadd(f"i{db}:intset:{i}", *range(i % 50 + 1))
            p.sadd(f"t{db}:set:{i}", *[f"m{j}" for j in range(i % 20 + 1)])
            p.zadd(f"z{db}:small:{i}", {f"m{j}": j / 7 for j in range(i % 20 + 1)})
            p.rpush(f"l{db}:small:{i}", *[f"e{j}" for j in range(i % 30 + 1)])
            if i % 3 == 0:
                p.pexpire(f"h{db}:small:{i}", 3_600_000 + i)
            if i % 500 == 0:
                p.execute()
        p.execute()
        for i in range(40):
            p.hset(f"h{db}:big:{i}", mapping={f"f{j}": f"v{j}" * 3 for j in range(2000)})
            p.sadd(f"t{db}:big:{i}", *[f"member-{j}" for j in range(2000)])
            p.zadd(f"z{db}:big:{i}", {f"member-{j}": j * 1.5 for j in range(2000)})
            p.rpush(f"l{db}:big:{i}", *[f"element-{j}" * 2 for j in range(3000)])
            p.execute()
        for i in range(20):
            key = f"x{db}:stream:{i}"
            for j in range(300):
                p.xadd(key, {"n": j, "text": "payload" * 3}, id=f"{j + 1}-{i}")
            p.execute()
            r.xgroup_create(key, "g1", id="0")
            r.xreadgroup("g1", "c1", {key: ">"}, count=50)
            r.xreadgroup("g1", "c2", {key: ">"}, count=20)
            r.xack(key, "g1", f"1-{i}", f"2-{i}")
            r.xdel(key, f"100-{i}")
        p.execute()
    r.select(0)


def keys_of(client, db):
    client.select(db)
    for key in client.scan_iter(count=5000):
        yield key


def compare(redis_client, strata_client):
    differences = []
    checked = 0
    for db in range(DATABASES):
        redis_client.select(db)
        strata_client.select(db)
        if redis_client.dbsize() != strata_client.dbsize():
            differences.append(f"db {db}: dbsize {redis_client.dbsize()} vs {strata_client.dbsize()}")
        batch = []
        for key in keys_of(redis_client, db):
            batch.append(key)
            if len(batch) >= 1000:
                differences += compare_batch(redis_client, strata_client, batch, db)
                checked += len(batch)
                batch = []
        if batch:
            differences += compare_batch(redis_client, strata_client, batch, db)
            checked += len(batch)
    return checked, differences


def facts(client, keys):
    p = client.pipeline(transaction=False)
    for k in keys:
        p.type(k)
        p.execute_command("DEBUG", "DIGEST-VALUE", k)
        p.pttl(k)
    out = p.execute()
    return [tuple(out[i:i + 3]) for i in range(0, len(out), 3)]


def compare_batch(redis_client, strata_client, keys, db):
    ours = facts(strata_client, keys)
    theirs = facts(redis_client, keys)
    bad = []
    for key, a, b in zip(keys, theirs, ours):
        ttl_a, ttl_b = a[2], b[2]
        same_ttl = (ttl_a < 0 and ttl_a == ttl_b) or (ttl_a >= 0 and ttl_b >= 0 and abs(ttl_a - ttl_b) < 120_000)
        if a[0] != b[0] or a[1] != b[1] or not same_ttl:
            bad.append(f"db {db} key {key!r}: redis {a} strata {b}")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--report")
    args = ap.parse_args()
    os.environ["STRATA_BIN"] = args.bin
    work = tempfile.mkdtemp(prefix="strata-rdb-import-")
    report = {"gb": args.gb}
    redis_proc = None
    strata = None
    try:
        port = free_port()
        redis_dir = os.path.join(work, "redis")
        os.makedirs(redis_dir)
        redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", redis_dir, "--enable-debug-command", "yes",
             # DEBUG POPULATE's values are zero-padded: uncompressed, the RDB has the
             # dataset's size (small RDB strings still use LZF in the integration tests).
             "--rdbcompression", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = redis.Redis(port=port)
        wait_for("redis-server", lambda: r.ping())
        started = time.monotonic()
        populate(r, args.gb)
        report["populate_s"] = round(time.monotonic() - started, 1)
        r.save()
        rdb = os.path.join(redis_dir, "dump.rdb")
        report["rdb_bytes"] = os.path.getsize(rdb)
        total = 0
        for db in range(DATABASES):
            r.select(db)
            total += r.dbsize()
        r.select(0)
        report["redis_keys"] = total

        data = os.path.join(work, "strata")
        started = time.monotonic()
        out = subprocess.run(["/usr/bin/time", "-v", args.bin, "import-rdb", rdb, "--dir", data, "--maxmemory", "64mb"],
                             capture_output=True, text=True, timeout=3600)
        report["import_s"] = round(time.monotonic() - started, 1)
        report["import_output"] = out.stdout.strip()
        for line in out.stderr.splitlines():
            if "Maximum resident set size" in line:
                report["import_peak_rss_bytes"] = int(line.split(":")[1]) * 1024
        if out.returncode != 0:
            raise SystemExit(f"import-rdb failed: {out.stderr}")

        strata = StrataServer(data, extra=["--maxmemory", "64mb"])
        s = strata.client()
        checked, differences = compare(r, s)
        r.select(0)
        s.select(0)
        report["keys_compared"] = checked
        report["differences"] = len(differences)
        report["digest_equal"] = r.execute_command("DEBUG", "DIGEST") == s.execute_command("DEBUG", "DIGEST")
        report["first_differences"] = differences[:10]
        print(json.dumps(report))
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f, indent=1)
        if differences or not report["digest_equal"]:
            sys.exit(1)
    finally:
        if strata:
            strata.stop()
        if redis_proc:
            redis_proc.kill()
            redis_proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
