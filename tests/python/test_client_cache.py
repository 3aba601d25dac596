"""redis-py's client-side cache (RESP3, CLIENT TRACKING): a cached read is served locally
and invalidated by another client's write, by a flush, and by expiry."""

import time

from redis.cache import CacheConfig


def eventually(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met before the deadline")


def test_cached_read_is_invalidated_by_another_clients_write(server):
    cached = server.client(protocol=3, cache_config=CacheConfig(), single_connection_client=True)
    other = server.client()
    other.set("k", "v1")
    assert cached.get("k") == b"v1"
    cache = cached.get_cache()
    assert cache.size == 1, "the read was cached"
    # Served from the cache: the server sees no second GET.
    calls_before = other.info("commandstats")["cmdstat_get"]["calls"]
    assert cached.get("k") == b"v1"
    assert other.info("commandstats")["cmdstat_get"]["calls"] == calls_before
    other.set("k", "v2")
    # Without the server's invalidation the cache would keep answering v1.
    eventually(lambda: cached.get("k") == b"v2")
    assert other.info("clients")["tracking_clients"] == 1


def test_flush_and_expiry_invalidate_the_cache(server):
    cached = server.client(protocol=3, cache_config=CacheConfig(), single_connection_client=True)
    other = server.client()
    other.set("a", "1")
    assert cached.get("a") == b"1"
    other.flushall()
    eventually(lambda: cached.get("a") is None)
    other.set("b", "2", px=200)
    assert cached.get("b") == b"2"
    eventually(lambda: cached.get("b") is None)
