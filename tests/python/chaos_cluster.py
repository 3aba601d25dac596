"""A consistency check in the style of Jepsen's, on the Sentinel set-up of
`sentinel_cluster`: three concurrent writers (each its own keys, `WAIT 1 1000` after every
write) run while a seeded random schedule kills the primary with SIGKILL (Sentinel
promotes a replica, the old primary restarts and rejoins), kills a replica with SIGKILL, or
restarts a replica cleanly, round after round. After the last round every write a `WAIT`
confirmed must be on every node with its value, and the three datasets (and their
`DEBUG DIGEST`) must be identical: no node holds a write the final primary lacks.

Used by tests/python/test_chaos.py (a short schedule, in the README's test command) and
tests/failover/chaos_loop.py (`make chaos-test`). Bounded in time; stops by itself.
"""

import random
import time

from redis.sentinel import Sentinel

from sentinel_cluster import MASTER_NAME, Node, SentinelProcess, Writer, dataset, digest, eventually, free_port, info

WRITERS = 3


def _settled(sentinel, nodes):
    """The primary Sentinel names has both other nodes online, each with its link up."""
    current = sentinel.discover_master(MASTER_NAME)[1]
    if info(current)["role"] != "master" or info(current)["connected_slaves"] != len(nodes) - 1:
        return False
    for n in nodes:
        if n.port == current:
            continue
        own = info(n.port)
        if own["role"] != "slave" or own["master_port"] != current or own["master_link_status"] != "up":
            return False
    return True


def chaos_run(root, rounds, seed):
    """Runs the schedule; returns what was measured. Raises AssertionError on a loss."""
    rng = random.Random(seed)
    ports = [free_port() for _ in range(6)]
    nodes = [Node(root, "n1", ports[0]), Node(root, "n2", ports[1], ports[0]), Node(root, "n3", ports[2], ports[0])]
    by_port = {n.port: n for n in nodes}
    sentinels = []
    writers = []
    log = []
    try:
        for n in nodes:
            n.start()
        sentinels = [SentinelProcess(root, p, ports[0]) for p in ports[3:]]
        sentinel = Sentinel([("127.0.0.1", p) for p in ports[3:]], socket_timeout=0.5)
        eventually("sentinels see both replicas", 60, lambda: len(sentinel.discover_slaves(MASTER_NAME)) == 2)
        eventually("the cluster settles", 60, lambda: _settled(sentinel, nodes))
        writers = [Writer(sentinel, prefix=f"w{i}:") for i in range(WRITERS)]
        for w in writers:
            w.start()

        def acked():
            return sum(len(w.acked) for w in writers)

        eventually("writes before the first round", 60, lambda: acked() >= 100)
        for number in range(rounds):
            # The first round always kills the primary, so every schedule has a failover.
            action = "kill-primary" if number == 0 else rng.choice(["kill-primary", "kill-replica", "restart-replica"])
            current = sentinel.discover_master(MASTER_NAME)[1]
            if action == "kill-primary":
                victim = by_port[current]
            else:
                victim = by_port[rng.choice([p for p in by_port if p != current])]
            started = time.monotonic()
            before = acked()
            if action == "restart-replica":
                victim.stop()
            else:
                victim.kill9()
            if action == "kill-primary":
                eventually(
                    "Sentinel promoted a replica",
                    60,
                    lambda: sentinel.discover_master(MASTER_NAME)[1] != victim.port,
                    interval=0.02,
                )
            # Writers confirm writes (WAIT 1) while the victim is down.
            eventually("writes go on without the victim", 60, lambda: acked() >= before + 20, interval=0.02)
            victim.start()
            eventually("the victim rejoins and the cluster settles", 90, lambda: _settled(sentinel, nodes), interval=0.1)
            log.append(
                {
                    "round": number + 1,
                    "action": action,
                    "victim": victim.port,
                    "primary_after": sentinel.discover_master(MASTER_NAME)[1],
                    "seconds": round(time.monotonic() - started, 2),
                    "acknowledged_so_far": acked(),
                }
            )
        for w in writers:
            w.stop_flag.set()
        for w in writers:
            w.join(timeout=30)
        eventually(
            "all nodes at the same offset",
            60,
            lambda: len({info(n.port)["master_repl_offset"] for n in nodes}) == 1,
        )
        data = {n.port: dataset(n.port) for n in nodes}
        confirmed = {k: v for w in writers for k, v in w.acked.items()}
        lost = {
            n.port: sorted(k for k, v in confirmed.items() if data[n.port].get(k.encode()) != v) for n in nodes
        }
        result = {
            "seed": seed,
            "rounds": log,
            "acknowledged": len(confirmed),
            "attempted": sum(w.attempted for w in writers),
            "lost": {p: len(v) for p, v in lost.items()},
        }
        assert all(not v for v in lost.values()), f"acknowledged writes lost: {lost} ({result})"
        final = sentinel.discover_master(MASTER_NAME)[1]
        for n in nodes:
            extra = set(data[n.port]) - set(data[final])
            assert not extra, f"node {n.port} holds {len(extra)} keys the primary {final} lacks"
            assert data[n.port] == data[final], f"datasets differ between {n.port} and {final}"
        digests = {n.port: digest(n.port) for n in nodes}
        assert len(set(digests.values())) == 1, f"DEBUG DIGEST differs: {digests}"
        result["digest"] = digests[final]
        return result
    finally:
        for w in writers:
            w.stop_flag.set()
        for s in sentinels:
            s.stop()
        for n in nodes:
            n.stop()
