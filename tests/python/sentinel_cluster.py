"""A primary, two replicas and three real `redis-sentinel` processes on 127.0.0.1, and one
failover round: a redis-py writer using `Sentinel.master_for` writes sequence-numbered keys
with `WAIT 1 1000` after each, the primary is killed with SIGKILL, Sentinel promotes a
replica, the writer carries on against the new primary, the old primary restarts on its
port and Sentinel turns it into a replica. At the end every WAIT-acknowledged key must be on
every node and the three datasets must be identical.

Used by tests/python/test_sentinel.py (one round) and tests/failover/failover_loop.py
(`make failover-test`, ten rounds). Everything is bounded in time and stops by itself.
"""

import os
import shutil
import socket
import subprocess
import threading
import time

import redis
from redis.sentinel import Sentinel

from conftest import StrataServer

MASTER_NAME = "mymaster"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(what, deadline, check, interval=0.05):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if check():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for: {what}")


def info(port, section="replication"):
    return redis.Redis(port=port, socket_timeout=2).info(section)


def dataset(port):
    """Every key of db 0 with its value (the writer only writes strings to db 0)."""
    c = redis.Redis(port=port, socket_timeout=5)
    return {k: c.get(k) for k in c.scan_iter(count=1000)}


def digest(port):
    """DEBUG DIGEST: Redis's order-independent summary of every key in every database."""
    value = redis.Redis(port=port, socket_timeout=30).execute_command("DEBUG", "DIGEST")
    return value.decode() if isinstance(value, bytes) else str(value)


class Node:
    """A Strata server on a fixed port with its own config file (Sentinel rewrites it)."""

    def __init__(self, root, name, port, replicaof=None, extra=()):
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "strata.conf"
        lines = [f"port {port}", "bind 127.0.0.1", f"dir {self.dir / 'data'}", *extra]
        if replicaof:
            lines.append(f"replicaof 127.0.0.1 {replicaof}")
        self.conf.write_text("\n".join(lines) + "\n")
        self.port = port
        self.server = None

    def start(self):
        self.server = StrataServer(
            self.dir / "data", ["--config", str(self.conf)], port=self.port, log_path=self.dir / "strata.log"
        )
        assert self.server.port == self.port

    def kill9(self):
        self.server.proc.kill()
        self.server.proc.wait(timeout=30)

    def stop(self):
        if self.server:
            self.server.stop()


class SentinelProcess:
    def __init__(self, root, port, master_port, extra=()):
        if not shutil.which("redis-sentinel"):
            raise RuntimeError("redis-sentinel is not installed (scripts/setup.sh installs it)")
        self.port = port
        self.conf = root / f"sentinel-{port}.conf"
        self.conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndaemonize no\n"
            f"loglevel {os.environ.get('STRATA_SENTINEL_LOGLEVEL', 'notice')}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
            # 2000, not 1000: after a switch Sentinel may wait up to its 1 s reconnect
            # throttle before it even connects to the new master, and with a 1000 ms
            # window that alone marks a healthy new master down and starts a second
            # failover (seen in the sentinel logs; Redis nodes are exposed the same way).
            f"sentinel down-after-milliseconds {MASTER_NAME} 2000\n"
            f"sentinel failover-timeout {MASTER_NAME} 6000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 2\n"
            + "".join(f"{line}\n" for line in extra)
        )
        self.log = open(root / f"sentinel-{port}.log", "w")
        self.proc = subprocess.Popen(["redis-sentinel", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


class Writer(threading.Thread):
    """Writes k<i> = i through Sentinel's current master; remembers what WAIT confirmed."""

    def __init__(self, sentinel, prefix="k"):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.master = sentinel.master_for(MASTER_NAME, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.acked = {}
        self.attempted = 0
        self.stop_flag = threading.Event()
        self.last_ok = time.monotonic()
        self.errors = 0

    def run(self):
        i = 0
        while not self.stop_flag.is_set():
            key = f"{self.prefix}{i}"
            try:
                self.master.set(key, str(i))
                self.attempted += 1
                if self.master.execute_command("WAIT", 1, 1000) >= 1:
                    self.acked[key] = str(i).encode()
                self.last_ok = time.monotonic()
                i += 1
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.ResponseError):
                self.errors += 1
                time.sleep(0.05)


def failover_round(root, writes_before=200, writes_after=200):
    """One round; returns a dict of what was measured. Raises AssertionError on a loss."""
    ports = [free_port() for _ in range(6)]
    primary = Node(root, "n1", ports[0])
    replicas = [Node(root, "n2", ports[1], ports[0]), Node(root, "n3", ports[2], ports[0])]
    nodes = [primary, *replicas]
    sentinels = []
    writer = None
    try:
        for n in nodes:
            n.start()
        for p in ports[3:]:
            sentinels.append(SentinelProcess(root, p, ports[0]))
        sentinel = Sentinel([("127.0.0.1", p) for p in ports[3:]], socket_timeout=0.5)
        eventually(
            "sentinels see both replicas",
            60,
            lambda: all(len(sentinel.discover_slaves(MASTER_NAME)) == 2 for _ in [0]),
        )
        eventually(
            "replicas online",
            60,
            lambda: info(primary.port)["connected_slaves"] == 2,
        )
        writer = Writer(sentinel)
        writer.start()
        eventually("writes before the kill", 60, lambda: len(writer.acked) >= writes_before)

        killed_at = time.monotonic()
        primary.kill9()
        acked_at_kill = len(writer.acked)
        eventually(
            "Sentinel promoted a replica",
            60,
            lambda: sentinel.discover_master(MASTER_NAME)[1] != primary.port,
            interval=0.02,
        )
        new_port = sentinel.discover_master(MASTER_NAME)[1]
        eventually(
            "the writer carries on against the new primary",
            60,
            # Two more, not one: a reply the old primary sent just before it died can be
            # counted by the writer thread only after acked_at_kill was read; the write
            # after it must have gone to the new primary.
            lambda: len(writer.acked) >= acked_at_kill + 2 and writer.last_ok > killed_at,
            interval=0.02,
        )
        failover_seconds = writer.last_ok - killed_at
        eventually("writes after the failover", 60, lambda: len(writer.acked) >= acked_at_kill + writes_after)

        # The old primary comes back where Sentinel remembers it and is made a replica of
        # whichever node Sentinel names master by then (Sentinel may legitimately fail over
        # a second time; the checks below hold for any sequence of promotions).
        primary.start()

        def rejoined():
            current = sentinel.discover_master(MASTER_NAME)[1]
            own = info(primary.port)
            return (
                current != primary.port
                and own["role"] == "slave"
                and own["master_port"] == current
                and own["master_link_status"] == "up"
            )

        eventually("old primary rejoined as a replica", 90, rejoined, interval=0.1)
        new_port = sentinel.discover_master(MASTER_NAME)[1]
        writer.stop_flag.set()
        writer.join(timeout=30)
        eventually(
            "all nodes at the same offset",
            60,
            lambda: len({info(n.port)["master_repl_offset"] for n in nodes}) == 1,
        )
        data = {n.port: dataset(n.port) for n in nodes}
        lost = {
            n.port: sorted(k for k, v in writer.acked.items() if data[n.port].get(k.encode()) != v)
            for n in nodes
        }
        result = {
            "acknowledged": len(writer.acked),
            "attempted": writer.attempted,
            "lost": {p: len(v) for p, v in lost.items()},
            "failover_seconds": round(failover_seconds, 2),
            "new_primary_full_syncs": info(new_port, "stats")["sync_full"],
            "new_primary_partial_syncs": info(new_port, "stats")["sync_partial_ok"],
        }
        assert all(not v for v in lost.values()), f"acknowledged writes lost: {lost}"
        digests = {n.port: digest(n.port) for n in nodes}
        result["digest"] = digests[nodes[0].port]
        assert len(set(digests.values())) == 1, f"DEBUG DIGEST differs: {digests}"
        first = data[nodes[0].port]
        for n in nodes[1:]:
            assert data[n.port] == first, f"datasets differ between {nodes[0].port} and {n.port}"
        return result
    finally:
        if writer:
            writer.stop_flag.set()
        for s in sentinels:
            s.stop()
        for n in nodes:
            n.stop()


def keep_logs_on_failure(root, target):
    """Copies a failed round's directory (logs, configs) somewhere a person can read it."""
    if target:
        shutil.copytree(root, os.path.join(target, os.path.basename(str(root))), dirs_exist_ok=True)
