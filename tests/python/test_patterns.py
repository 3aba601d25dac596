"""redis-py end to end: the patterns Strata's users run, over RESP2 and RESP3."""

import json
import time

import pytest
import redis
import redis.asyncio as aioredis


def test_connects_and_identifies(r):
    assert r.ping() is True
    info = r.client_info()
    assert info["lib-name"] == "redis-py"
    assert r.echo("hi") == "hi"
    assert r.connection_pool.connection_kwargs.get("protocol") in (2, 3)


@pytest.mark.parametrize("protocol", [2, 3])
def test_asyncio_client(server, protocol):
    import asyncio

    async def run():
        client = aioredis.Redis(host=server.host, port=server.port, protocol=protocol, decode_responses=True)
        try:
            assert await client.ping()
            await client.set("async:key", "v", ex=100)
            assert await client.get("async:key") == "v"
            assert 0 < await client.ttl("async:key") <= 100
        finally:
            await client.aclose()

    asyncio.run(run())


def test_strings_counters_ttl(r):
    assert r.set("greeting", "hello")
    assert r.get("greeting") == "hello"
    assert r.append("greeting", " world") == 11
    assert r.getrange("greeting", 0, 4) == "hello"
    assert r.strlen("greeting") == 11
    assert r.incr("visits") == 1
    assert r.incrby("visits", 10) == 11
    assert r.decr("visits") == 10
    assert r.incrbyfloat("price", 1.5) == 1.5
    assert r.mset({"a": "1", "b": "2"})
    assert r.mget("a", "b", "c") == ["1", "2", None]
    assert r.set("temp", "x", ex=100)
    assert 99 <= r.ttl("temp") <= 100
    assert r.persist("temp")
    assert r.ttl("temp") == -1
    assert r.set("temp", "x", px=50)
    deadline = time.monotonic() + 10
    while r.exists("temp") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.get("temp") is None
    assert r.getex("greeting", ex=50) == "hello world"
    assert 0 < r.ttl("greeting") <= 50
    assert r.getdel("greeting") == "hello world"
    assert r.exists("greeting") == 0
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("price")


def acquire_lock(r, name, token, ttl):
    return bool(r.set(f"lock:{name}", token, nx=True, ex=ttl))


def release_lock(r, name, token):
    # Compare-and-delete; Lua arrives with scripting, so check then delete.
    if r.get(f"lock:{name}") == token:
        return r.delete(f"lock:{name}") == 1
    return False


def test_distributed_lock_with_set_nx_ex(r):
    assert acquire_lock(r, "job", "owner-a", 10)
    assert not acquire_lock(r, "job", "owner-b", 10)
    assert 0 < r.ttl("lock:job") <= 10
    assert not release_lock(r, "job", "owner-b")
    assert release_lock(r, "job", "owner-a")
    assert acquire_lock(r, "job", "owner-b", 10)
    # An abandoned lock frees itself when its TTL runs out.
    assert r.set("lock:short", "x", nx=True, px=100)
    deadline = time.monotonic() + 10
    while not acquire_lock(r, "short", "y", 10):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_session_store_with_sliding_expiry(r):
    session = {"user": 42, "cart": [1, 2]}
    r.setex("session:abc", 30, json.dumps(session))
    assert json.loads(r.get("session:abc")) == session
    r.expire("session:abc", 5)
    # Each access slides the expiry forward.
    assert json.loads(r.getex("session:abc", ex=30)) == session
    assert r.ttl("session:abc") > 5
    r.delete("session:abc")
    assert r.get("session:abc") is None


def test_cache_aside(r):
    calls = []

    def load_user(uid):
        key = f"cache:user:{uid}"
        cached = r.get(key)
        if cached is not None:
            return json.loads(cached)
        calls.append(uid)
        value = {"id": uid, "name": f"user{uid}"}
        r.set(key, json.dumps(value), ex=60)
        return value

    assert load_user(7) == {"id": 7, "name": "user7"}
    assert load_user(7) == {"id": 7, "name": "user7"}
    assert calls == [7]
    r.delete("cache:user:7")
    load_user(7)
    assert calls == [7, 7]


def test_fixed_window_rate_limiter(r):
    def allowed(user, limit=5, window=60):
        key = f"rate:{user}:{int(time.time() // window)}"
        pipe = r.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        count, _ = pipe.execute()
        return count <= limit

    results = [allowed("alice") for _ in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert allowed("bob")
    keys = r.keys("rate:alice:*")
    assert len(keys) == 1 and 0 < r.ttl(keys[0]) <= 60


def test_pipeline_of_a_thousand_commands(r):
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"p:{i}", i)
    for i in range(1000):
        pipe.get(f"p:{i}")
    results = pipe.execute()
    assert results[:1000] == [True] * 1000
    assert results[1000:] == [str(i) for i in range(1000)]


def test_scan_iter_returns_each_of_ten_thousand_keys_once(r):
    pipe = r.pipeline(transaction=False)
    for i in range(10_000):
        pipe.set(f"scan:{i}", i)
    pipe.execute()
    r.set("other", 1)
    seen = list(r.scan_iter(match="scan:*", count=500))
    assert len(seen) == 10_000
    assert set(seen) == {f"scan:{i}" for i in range(10_000)}
    assert r.dbsize() == 10_001


def test_databases_and_errors(r):
    r.set("k", "db0")
    r.execute_command("SELECT", 3)
    assert r.get("k") is None
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 99)
