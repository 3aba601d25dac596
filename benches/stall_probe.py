#!/usr/bin/env python3
"""PING latency while other clients run commands over large values, Strata beside Redis.

One or more "heavy" client processes loop over commands that take tens to hundreds of
milliseconds each (GETRANGE of a 64 MiB string, BITCOUNT of it, BITOP NOT of an 8 MiB one),
while a separate pinger process sends PING every 2 ms and records each round trip. Redis
runs every command on one thread, so one heavy client delays every PING by a whole command;
Strata should answer PING at once while fewer heavy clients run than it has cores
(docs/ping-stalls.md explains the runtime watchdog that makes this so).

Usage: python3 benches/stall_probe.py [--seconds 15] [--heavy 1] [--servers strata,redis]
Writes nothing; prints one line per server. Fails (exit 1) when Strata's slowest PING
exceeds --strata-max-ms (default 50) with fewer heavy clients than cores.
"""

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz"))
import respkit  # noqa: E402
from harness import free_port, strata_binary, wait_ping  # noqa: E402

HEAVY_LOOPS = [
    [("GETRANGE", "big", "0", "-1")],
    [("BITCOUNT", "big"), ("BITOP", "NOT", "dst", "big2")],
]


def heavy(port, commands, stop_at):
    conn = respkit.SyncConn("127.0.0.1", port, timeout=60)
    while time.time() < stop_at:
        for cmd in commands:
            conn.call(*cmd)


def pinger(port, stop_at, out):
    conn = respkit.SyncConn("127.0.0.1", port)
    rtts = []
    while time.time() < stop_at:
        started = time.perf_counter()
        conn.call("PING")
        rtts.append((time.perf_counter() - started) * 1000)
        time.sleep(0.002)
    out.put(rtts)


def start(kind, port, data_dir):
    if kind == "strata":
        argv = [strata_binary(), "server", "--port", str(port), "--dir", data_dir]
    else:
        argv = ["redis-server", "--port", str(port), "--dir", data_dir, "--save", ""]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def probe(kind, seconds, heavy_clients):
    data_dir = tempfile.mkdtemp(prefix=f"stall-{kind}-")
    port = free_port()
    server = start(kind, port, data_dir)
    try:
        wait_ping(port)
        setup = respkit.SyncConn("127.0.0.1", port, timeout=60)
        setup.call("SETRANGE", "big", str(64 * 1024 * 1024 - 1), "x")
        setup.call("SETRANGE", "big2", str(8 * 1024 * 1024 - 1), "x")
        stop_at = time.time() + seconds
        workers = [
            mp.Process(target=heavy, args=(port, HEAVY_LOOPS[i % len(HEAVY_LOOPS)], stop_at))
            for i in range(heavy_clients)
        ]
        for w in workers:
            w.start()
        out = mp.Queue()
        ping = mp.Process(target=pinger, args=(port, stop_at, out))
        ping.start()
        rtts = sorted(out.get(timeout=seconds + 120))
        ping.join()
        for w in workers:
            w.join(timeout=120)
        return rtts
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--heavy", type=int, default=1, help="heavy client processes")
    p.add_argument("--servers", default="strata,redis")
    p.add_argument("--strata-max-ms", type=float, default=50)
    opts = p.parse_args()
    failed = False
    for kind in opts.servers.split(","):
        rtts = probe(kind, opts.seconds, opts.heavy)
        n = len(rtts)
        print(
            f"{kind}: {opts.heavy} heavy client(s), {n} PINGs, p50 {rtts[n // 2]:.2f} ms, "
            f"p99 {rtts[int(n * 0.99)]:.2f} ms, max {rtts[-1]:.1f} ms, "
            f"over 20 ms: {sum(r > 20 for r in rtts)}, over 50 ms: {sum(r > 50 for r in rtts)}"
        )
        if kind == "strata" and opts.heavy < os.cpu_count() and rtts[-1] > opts.strata_max_ms:
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
