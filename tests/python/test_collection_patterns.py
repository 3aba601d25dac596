"""redis-py patterns on collections: leaderboards, sliding-window rate limiting, reliable
queues, producer/consumer, hash profiles and tag sets — over RESP2 and RESP3."""

import threading
import time
import uuid


def test_leaderboard_top_rank_and_window(r):
    scores = {f"player{i}": i * 10 for i in range(1, 21)}
    r.zadd("board", scores)
    r.zincrby("board", 5, "player3")
    # redis-py gives tuples over RESP2 and lists over RESP3, as with Redis itself.
    top3 = [tuple(p) for p in r.zrevrange("board", 0, 2, withscores=True)]
    assert top3 == [("player20", 200.0), ("player19", 190.0), ("player18", 180.0)]
    assert r.zrevrank("board", "player20") == 0
    assert r.zscore("board", "player3") == 35.0
    rank = r.zrevrank("board", "player10")
    window = r.zrevrange("board", max(rank - 2, 0), rank + 2)
    assert window == ["player12", "player11", "player10", "player9", "player8"]
    assert r.zcount("board", 100, "+inf") == 11
    assert r.zrangebyscore("board", "(180", "+inf") == ["player19", "player20"]
    assert r.zcard("board") == 20


def test_sliding_window_rate_limiter_on_a_sorted_set(r):
    def allow(user, limit=3, window_ms=60_000):
        now_ms = int(time.time() * 1000)
        key = f"ratelimit:{user}"
        pipe = r.pipeline(transaction=False)
        pipe.zremrangebyscore(key, 0, now_ms - window_ms)
        pipe.zadd(key, {f"{now_ms}-{uuid.uuid4().hex}": now_ms})
        pipe.zcard(key)
        pipe.pexpire(key, window_ms)
        _, _, count, _ = pipe.execute()
        return count <= limit

    assert [allow("u1") for _ in range(5)] == [True, True, True, False, False]
    assert allow("u2")
    old = int(time.time() * 1000) - 120_000
    r.zadd("ratelimit:u3", {"ancient-1": old, "ancient-2": old, "ancient-3": old})
    assert allow("u3"), "entries outside the window are dropped"


def test_reliable_queue_with_lmove_and_blmove(r):
    r.rpush("jobs", "j1", "j2", "j3")
    job = r.lmove("jobs", "processing", "LEFT", "RIGHT")
    assert job == "j1"
    assert r.lrange("processing", 0, -1) == ["j1"]
    assert r.lrem("processing", 1, job) == 1  # acknowledged
    job = r.blmove("jobs", "processing", 1, "LEFT", "RIGHT")
    assert job == "j2"
    # A worker that died leaves its job in processing; a reaper puts it back.
    while r.lmove("processing", "jobs", "RIGHT", "LEFT"):
        pass
    assert r.lrange("jobs", 0, -1) == ["j2", "j3"]
    assert r.blmove("empty", "processing", 0.05, "LEFT", "RIGHT") is None


def test_producer_consumer_with_blpop_across_threads(server):
    consumed = []
    errors = []

    def consumer():
        client = server.client(decode_responses=True)
        try:
            while True:
                item = client.blpop(["work"], timeout=10)
                if item is None or item[1] == "stop":
                    return
                consumed.append(item[1])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=consumer) for _ in range(3)]
    for t in threads:
        t.start()
    producer = server.client(decode_responses=True)
    for i in range(300):
        producer.rpush("work", f"item{i}")
    for _ in threads:
        producer.rpush("work", "stop")
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(consumed) == sorted(f"item{i}" for i in range(300))
    assert producer.llen("work") == 0


def test_user_profiles_in_hashes(r):
    r.hset("user:1", mapping={"name": "Ada", "visits": 0, "plan": "free"})
    assert r.hincrby("user:1", "visits", 1) == 1
    assert r.hincrby("user:1", "visits", 5) == 6
    assert r.hincrbyfloat("user:1", "balance", 2.5) == 2.5
    assert r.hget("user:1", "name") == "Ada"
    assert r.hmget("user:1", ["name", "plan", "missing"]) == ["Ada", "free", None]
    assert r.hgetall("user:1") == {"name": "Ada", "visits": "6", "plan": "free", "balance": "2.5"}
    assert r.hdel("user:1", "plan") == 1
    assert r.hexists("user:1", "plan") is False or r.hexists("user:1", "plan") == 0
    assert sorted(r.hkeys("user:1")) == ["balance", "name", "visits"]
    assert dict(r.hscan_iter("user:1")) == {"name": "Ada", "visits": "6", "balance": "2.5"}


def test_tag_sets(r):
    r.sadd("tag:python", "post1", "post2", "post3")
    r.sadd("tag:redis", "post2", "post3", "post4")
    r.sadd("tag:rust", "post3", "post5")
    assert r.sinter("tag:python", "tag:redis") == {"post2", "post3"}
    assert r.sunion("tag:python", "tag:rust") == {"post1", "post2", "post3", "post5"}
    assert r.sdiff("tag:redis", "tag:python") == {"post4"}
    assert r.sinterstore("both", ["tag:python", "tag:redis", "tag:rust"]) == 1
    assert r.smembers("both") == {"post3"}
    assert r.sismember("tag:rust", "post5")
    assert r.smismember("tag:rust", ["post5", "post1"]) in ([1, 0], [True, False])
    assert r.scard("tag:python") == 3
    assert set(r.sscan_iter("tag:python")) == {"post1", "post2", "post3"}
