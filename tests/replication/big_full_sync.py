#!/usr/bin/env python3
"""Issue 17's large full sync: a primary holding a dataset of --gb gigabytes on disk (random,
incompressible values), both servers with `maxmemory 64mb`; a replica is attached while
`redis-benchmark` writes to the primary, finishes its full copy, and — once the load stops
and the offsets meet — prints the same `DEBUG DIGEST` as the primary.

Run by `make repl-big-sync` (not part of the README's test command: it writes gigabytes).
Loopback only; every wait has a deadline. Prints one JSON report line and exits non-zero on
a mismatch.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import redis  # noqa: E402
from conftest import StrataServer  # noqa: E402
from sentinel_cluster import eventually  # noqa: E402

VALUE_BYTES = 16 * 1024


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--report")
    args = ap.parse_args()
    os.environ["STRATA_BIN"] = args.bin
    tmp = tempfile.mkdtemp(prefix="strata-bigsync-")
    limits = ["--maxmemory", "64mb"]
    primary = StrataServer(os.path.join(tmp, "primary"), limits, log_path=os.path.join(tmp, "primary.log"))
    replica = None
    bench = None
    try:
        p = redis.Redis(port=primary.port, socket_timeout=120)
        target = int(args.gb * (1 << 30))
        started = time.monotonic()
        written, i = 0, 0
        while written < target:
            pipe = p.pipeline(transaction=False)
            for _ in range(64):
                pipe.set(f"big:{i}", os.urandom(VALUE_BYTES))
                i += 1
                written += VALUE_BYTES
            pipe.execute()
        p.execute_command("DEBUG", "COMPACT")
        load_seconds = time.monotonic() - started
        primary_disk = du(os.path.join(tmp, "primary"))

        # A write load on the primary for the whole copy.
        bench = subprocess.Popen(
            ["redis-benchmark", "-p", str(primary.port), "-t", "set", "-n", "100000000", "-r", "1000000",
             "-d", "64", "-c", "20", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        sync_started = time.monotonic()
        replica = StrataServer(
            os.path.join(tmp, "replica"), limits + ["--replicaof", f"127.0.0.1 {primary.port}"],
            log_path=os.path.join(tmp, "replica.log"),
        )
        r = redis.Redis(port=replica.port, socket_timeout=120)
        peak = {"primary": 0, "replica": 0}

        def synced():
            peak["primary"] = max(peak["primary"], rss_kb(primary.proc.pid))
            peak["replica"] = max(peak["replica"], rss_kb(replica.proc.pid))
            info = r.info("replication")
            return info["master_link_status"] == "up" and info.get("master_sync_in_progress") == 0
        eventually("the replica finished its full copy", 3600, synced, interval=0.5)
        sync_seconds = time.monotonic() - sync_started
        load_alive_during_sync = bench.poll() is None
        bench.terminate()
        bench.wait(timeout=30)
        bench = None
        eventually(
            "offsets meet",
            600,
            lambda: p.info("replication")["master_repl_offset"] == r.info("replication")["master_repl_offset"],
        )
        digests = {
            "primary": p.execute_command("DEBUG", "DIGEST"),
            "replica": r.execute_command("DEBUG", "DIGEST"),
        }
        digests = {k: v.decode() if isinstance(v, bytes) else v for k, v in digests.items()}
        report = {
            "dataset_gb": args.gb,
            "keys_loaded": i,
            "primary_dbsize": p.dbsize(),
            "replica_dbsize": r.dbsize(),
            "primary_disk_bytes": primary_disk,
            "replica_disk_bytes": du(os.path.join(tmp, "replica")),
            "load_seconds": round(load_seconds, 1),
            "full_sync_seconds": round(sync_seconds, 1),
            "benchmark_ran_throughout": load_alive_during_sync,
            "peak_rss_mb": {k: round(v / 1024) for k, v in peak.items()},
            "sync_full": p.info("stats")["sync_full"],
            "digests": digests,
            "ok": digests["primary"] == digests["replica"] and p.dbsize() == r.dbsize(),
        }
        line = json.dumps(report)
        print(line)
        if args.report:
            with open(args.report, "w") as f:
                f.write(line + "\n")
        return 0 if report["ok"] else 1
    finally:
        if bench:
            bench.kill()
        if replica:
            replica.stop()
        primary.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
