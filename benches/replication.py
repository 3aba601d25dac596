#!/usr/bin/env python3
"""Replication cost and lag (issue 17): `redis-benchmark -t set -P 16` against a Strata
primary alone, then against a fresh primary with one replica, alternating, median of the
repeats; then the same pair with redis-server (AOF everysec, as Strata's WAL) for reference. While the replica follows, the offsets of both are sampled every 50 ms; the lag of a
replica sample is how long ago the primary first reached the offset the replica reports.

Usage: python3 benches/replication.py [--repeats 3] [--requests 300000]
Writes benches/results/replication.md. Loopback only; every server stops at the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, free_port, strata_binary, wait_ping  # noqa: E402


def start_strata(tmp, name, extra=()):
    port = free_port()
    d = os.path.join(tmp, name)
    proc = subprocess.Popen(
        [strata_binary(), "server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ping(port)
    return proc, port


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=30).stdout


def offset(port):
    for line in cli(port, "INFO", "replication").splitlines():
        if line.startswith("master_repl_offset:"):
            return int(line.split(":")[1])
    return -1


def bench(port, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-P", "16", "-c", "50", "-n", str(requests),
         "-r", "1000000", "-d", "64", "--csv", "-q"],
        capture_output=True, text=True, timeout=600,
    ).stdout
    for line in out.splitlines():
        if line.startswith('"SET"'):
            return float(line.split(",")[1].strip('"'))
    raise RuntimeError(f"no SET row in {out!r}")


def start_redis(tmp, name, extra=()):
    port = free_port()
    d = os.path.join(tmp, name)
    os.makedirs(d)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ping(port)
    return proc, port


SERVERS = {"strata": start_strata, "redis": start_redis}


def run_with_replica(tmp, requests, i, server="strata"):
    start = SERVERS[server]
    p, pport = start(tmp, f"{server}-p{i}")
    replicaof = ["--replicaof", f"127.0.0.1 {pport}"] if server == "strata" else ["--replicaof", "127.0.0.1", str(pport)]
    r, rport = start(tmp, f"{server}-r{i}", replicaof)
    try:
        end = time.monotonic() + 60
        while "master_link_status:up" not in cli(rport, "INFO", "replication"):
            if time.monotonic() > end:
                raise RuntimeError("replica did not connect")
            time.sleep(0.05)
        samples_p, samples_r = [], []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                t = time.monotonic()
                samples_p.append((t, offset(pport)))
                samples_r.append((time.monotonic(), offset(rport)))
                time.sleep(0.05)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        ops = bench(pport, requests)
        # Let the replica finish, still sampling, so the tail's lag is counted too.
        end = time.monotonic() + 60
        while offset(rport) < offset(pport) and time.monotonic() < end:
            time.sleep(0.05)
        stop.set()
        th.join()
        worst = 0.0
        for t_r, off_r in samples_r:
            # When did the primary first report an offset beyond what the replica has?
            later = [t for t, off_p in samples_p if off_p > off_r and t <= t_r]
            if later:
                worst = max(worst, t_r - min(later))
        caught_up = offset(rport) == offset(pport)
        return ops, worst, caught_up
    finally:
        for proc in (p, r):
            proc.kill()
            proc.wait()


def run_alone(tmp, requests, i, server="strata"):
    p, pport = SERVERS[server](tmp, f"{server}-a{i}")
    try:
        return bench(pport, requests)
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300000)
    args = ap.parse_args()
    if not shutil.which("redis-benchmark"):
        sys.exit("redis-benchmark missing (scripts/setup.sh installs it)")
    alone, replicated, lags, caught = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="strata-repl-bench-") as tmp:
        for i in range(args.repeats):
            alone.append(run_alone(tmp, args.requests, i))
            ops, lag, ok = run_with_replica(tmp, args.requests, i)
            replicated.append(ops)
            lags.append(lag)
            caught.append(ok)
            print(f"round {i + 1}: alone {alone[-1]:.0f} ops/s, with replica {ops:.0f} ops/s, "
                  f"worst lag {lag:.2f} s, caught up {ok}", flush=True)
        redis_alone, redis_replicated = [], []
        for i in range(args.repeats):
            redis_alone.append(run_alone(tmp, args.requests, i, "redis"))
            ops, lag, ok = run_with_replica(tmp, args.requests, i, "redis")
            redis_replicated.append(ops)
            print(f"redis round {i + 1}: alone {redis_alone[-1]:.0f} ops/s, with replica {ops:.0f} ops/s, "
                  f"worst lag {lag:.2f} s, caught up {ok}", flush=True)
    a, w = statistics.median(alone), statistics.median(replicated)
    ra, rw = statistics.median(redis_alone), statistics.median(redis_replicated)
    table = (
        "# Replication cost (benches/replication.py)\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M')}; redis-benchmark -t set -P 16 -c 50 -d 64 -r 1000000 "
        f"-n {args.requests}; median of {args.repeats} alternating rounds; appendfsync everysec.\n\n"
        "| | Strata SET ops/s | redis-server 7 SET ops/s |\n|---|---:|---:|\n"
        f"| primary alone | {a:.0f} | {ra:.0f} |\n| primary with one replica | {w:.0f} | {rw:.0f} |\n"
        f"| ratio | {w / a:.2f}x | {rw / ra:.2f}x |\n\n"
        "Every process (primary, replica, redis-benchmark) shares the machine's cores, so a "
        "replica's apply work is taken from the primary's CPU.\n\n"
        f"Worst replica lag per round (s): {', '.join(f'{x:.2f}' for x in lags)}; "
        f"replica caught up at the end of every round: {all(caught)}.\n"
    )
    print(table)
    out = os.path.join(ROOT, "benches", "results", "replication.md")
    with open(out, "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
