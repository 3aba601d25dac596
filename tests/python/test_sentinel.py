"""Failover under the real redis-sentinel, followed by redis-py's Sentinel client.

One round here (the README's test command); `make failover-test` runs ten.
"""

import redis
from redis.sentinel import Sentinel

from sentinel_cluster import MASTER_NAME, Node, SentinelProcess, eventually, failover_round, free_port, info


def test_sentinel_failover_loses_no_wait_acknowledged_write(tmp_path):
    result = failover_round(tmp_path)
    print(result)
    assert result["acknowledged"] >= 400
    # The old primary's history was a prefix of the new one's, or it was not: either way
    # it rejoined (a partial or a full sync) and the datasets compared equal above.
    assert result["new_primary_partial_syncs"] + result["new_primary_full_syncs"] >= 2


def test_sentinel_client_reads_from_replicas_and_writes_to_the_master(tmp_path):
    ports = [free_port() for _ in range(4)]
    primary = Node(tmp_path, "p", ports[0])
    replica = Node(tmp_path, "r", ports[1], ports[0])
    sentinels = []
    try:
        primary.start()
        replica.start()
        sentinels = [SentinelProcess(tmp_path, p, ports[0]) for p in ports[2:]]
        sentinel = Sentinel([("127.0.0.1", p) for p in ports[2:]], socket_timeout=0.5)
        eventually("sentinels up", 60, lambda: sentinel.discover_master(MASTER_NAME) == ("127.0.0.1", ports[0]))
        eventually("replica discovered", 60, lambda: sentinel.discover_slaves(MASTER_NAME) == [("127.0.0.1", ports[1])])
        master = sentinel.master_for(MASTER_NAME, socket_timeout=2)
        reader = sentinel.slave_for(MASTER_NAME, socket_timeout=2)
        master.set("greeting", "hello")
        assert master.execute_command("WAIT", 1, 5000) == 1
        assert reader.get("greeting") == b"hello"
        try:
            reader.set("x", "y")
            raise AssertionError("a write on the replica succeeded")
        except redis.ReadOnlyError:
            pass
        assert info(ports[1])["role"] == "slave"
    finally:
        for s in sentinels:
            s.stop()
        replica.stop()
        primary.stop()
