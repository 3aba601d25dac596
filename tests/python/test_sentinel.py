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


# The users Redis's documentation gives Sentinel and replicas (only what each needs), and
# a password on the default user, so every connection in the test is an ACL login.
ACL_LINES = [
    "user default on >admin-pw ~* &* +@all",
    "user sentinel-user on >sentinel-pw allchannels +multi +slaveof +replicaof +ping +exec "
    "+subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill",
    "user replica-user on >replica-pw +psync +replconf +ping",
    "masteruser replica-user",
    "masterauth replica-pw",
]


def test_sentinel_fails_over_nodes_that_require_acl_logins(tmp_path):
    ports = [free_port() for _ in range(5)]
    primary = Node(tmp_path, "p", ports[0], extra=ACL_LINES)
    replica = Node(tmp_path, "r", ports[1], ports[0], extra=ACL_LINES)
    sentinels = []

    def admin(port):
        return redis.Redis(port=port, username="default", password="admin-pw", socket_timeout=2)

    try:
        primary.start()
        replica.start()
        eventually("the replica authenticates as replica-user", 60,
                   lambda: admin(ports[1]).info("replication")["master_link_status"] == "up")
        auth = [f"sentinel auth-user {MASTER_NAME} sentinel-user", f"sentinel auth-pass {MASTER_NAME} sentinel-pw"]
        sentinels = [SentinelProcess(tmp_path, p, ports[0], extra=auth) for p in ports[2:]]
        sentinel = Sentinel([("127.0.0.1", p) for p in ports[2:]], socket_timeout=0.5)
        eventually("replica discovered", 60,
                   lambda: sentinel.discover_slaves(MASTER_NAME) == [("127.0.0.1", ports[1])])
        master = sentinel.master_for(MASTER_NAME, socket_timeout=2, username="default", password="admin-pw")
        master.set("before", "1")
        assert master.execute_command("WAIT", 1, 5000) == 1
        # Sentinel promotes the replica and turns the old primary into its replica, all
        # as sentinel-user.
        # Until Sentinel has the replica's INFO it answers NOGOODSLAVE: ask again.
        def failover_started():
            try:
                return redis.Redis(port=ports[2], socket_timeout=5).execute_command(
                    "SENTINEL", "FAILOVER", MASTER_NAME) in (b"OK", True, "OK")
            except redis.ResponseError as e:
                if "NOGOODSLAVE" in str(e):
                    return False
                raise

        eventually("Sentinel starts the failover", 60, failover_started, interval=0.5)
        eventually("the replica was promoted", 60,
                   lambda: sentinel.discover_master(MASTER_NAME) == ("127.0.0.1", ports[1]))
        eventually("the old primary follows it", 60,
                   lambda: admin(ports[0]).info("replication").get("master_port") == ports[1]
                   and admin(ports[0]).info("replication")["master_link_status"] == "up")
        master.set("after", "2")
        assert master.execute_command("WAIT", 1, 5000) == 1
        assert admin(ports[0]).mget("before", "after") == [b"1", b"2"]
        log = admin(ports[1]).acl_log()
        assert not [e for e in log if e["username"] == "sentinel-user"], log
    finally:
        for s in sentinels:
            s.stop()
        replica.stop()
        primary.stop()
