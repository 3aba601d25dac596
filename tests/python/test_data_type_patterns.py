"""redis-py seed patterns on the remaining data types: an event log and an order-processing
worker group on streams, daily active users on bitmaps, unique visitors on HyperLogLog and
a nearby-store search on geo sets — over RESP2 and RESP3."""

import threading
import time


def _wait_blocked(r, n, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if r.info("clients")["blocked_clients"] == n:
            return
        time.sleep(0.01)
    raise AssertionError(f"expected {n} blocked clients")


def _entries(reply, stream):
    """XREAD/XREADGROUP entries of one stream: a list of pairs over RESP2, a dict over RESP3."""
    if isinstance(reply, dict):
        return reply[stream][0]
    return dict((name, entries) for name, entries in reply)[stream]


def test_event_log_with_xadd_xrange_and_blocking_xread(server, r):
    ids = [r.xadd("events", {"type": "login", "user": f"u{i}"}) for i in range(5)]
    assert r.xlen("events") == 5
    entries = r.xrange("events", "-", "+")
    assert [e[0] for e in entries] == ids
    assert entries[0][1] == {"type": "login", "user": "u0"}
    assert [e[0] for e in r.xrevrange("events", count=2)] == ids[:-3:-1]
    # Paging with an exclusive start, as a tailing reader does.
    page = r.xrange("events", f"({ids[1]}", "+", count=2)
    assert [e[0] for e in page] == ids[2:4]

    # A tailing consumer blocks on `$` and sees exactly the next event.
    got = {}

    def tail():
        reader = server.client(decode_responses=True)
        got["reply"] = reader.xread({"events": "$"}, block=10_000)
        reader.close()

    t = threading.Thread(target=tail)
    t.start()
    _wait_blocked(r, 1)
    new_id = r.xadd("events", {"type": "logout", "user": "u1"})
    t.join(timeout=10)
    assert not t.is_alive()
    stream, events = got["reply"][0]
    assert stream == "events"
    assert events == [(new_id, {"type": "logout", "user": "u1"})] or events == [
        [new_id, {"type": "logout", "user": "u1"}]
    ]
    # Capped log: keep the newest 3.
    r.xtrim("events", maxlen=3, approximate=False)
    assert r.xlen("events") == 3


def test_order_processing_worker_group(server, r):
    for n in range(30):
        r.xadd("orders", {"order": n, "amount": n * 10})
    r.xgroup_create("orders", "billing", id="0")
    processed = {}
    lock = threading.Lock()

    def worker(name):
        c = server.client(decode_responses=True)
        while True:
            reply = c.xreadgroup("billing", name, {"orders": ">"}, count=4)
            if not reply:
                break
            for entry_id, fields in reply[0][1]:
                with lock:
                    assert entry_id not in processed
                    processed[entry_id] = name
                assert c.xack("orders", "billing", entry_id) == 1
        c.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(processed) == 30
    summary = r.xpending("orders", "billing")
    assert summary["pending"] == 0
    # A crashed worker's delivery stays pending until claimed.
    r.xadd("orders", {"order": 99})
    delivered = r.xreadgroup("billing", "crashy", {"orders": ">"})
    entry_id = _entries(delivered, "orders")[0][0]
    pending = r.xpending_range("orders", "billing", "-", "+", 10)
    assert [p["message_id"] for p in pending] == [entry_id]
    assert pending[0]["consumer"] == "crashy" and pending[0]["times_delivered"] == 1
    claimed = r.xautoclaim("orders", "billing", "rescuer", min_idle_time=0, justid=True)
    assert claimed == [entry_id]
    assert r.xack("orders", "billing", entry_id) == 1
    groups = r.xinfo_groups("orders")
    assert groups[0]["name"] == "billing" and groups[0]["pending"] == 0
    assert groups[0]["lag"] == 0


def test_daily_active_users_on_bitmaps(r):
    days = {"dau:mon": [1, 5, 9, 1000], "dau:tue": [5, 9, 77], "dau:wed": [9, 4_000_000]}
    for key, users in days.items():
        for uid in users:
            assert r.setbit(key, uid, 1) == 0
    assert r.getbit("dau:mon", 5) == 1 and r.getbit("dau:mon", 6) == 0
    assert r.bitcount("dau:mon") == 4
    r.bitop("OR", "dau:week", *days)
    assert r.bitcount("dau:week") == 6
    r.bitop("AND", "dau:every-day", *days)
    assert r.bitcount("dau:every-day") == 1
    assert r.bitpos("dau:every-day", 1) == 9
    # The bitmap is a plain string: its length is the highest byte touched.
    assert r.strlen("dau:wed") == 4_000_000 // 8 + 1


def test_unique_visitors_on_hyperloglog(r):
    for page, visitors in {"home": 3000, "about": 1000}.items():
        for start in range(0, visitors, 500):
            r.pfadd(f"uv:{page}", *[f"visitor{i}" for i in range(start, min(visitors, start + 500))])
    home = r.pfcount("uv:home")
    assert abs(home - 3000) <= 3000 * 0.02
    # about's visitors are a subset of home's: the union is still about 3000.
    union = r.pfcount("uv:home", "uv:about")
    assert abs(union - 3000) <= 3000 * 0.02
    r.pfmerge("uv:site", "uv:home", "uv:about")
    assert r.pfcount("uv:site") == union
    assert r.pfadd("uv:home", "visitor1") == 0


def test_nearby_store_search(r):
    stores = [
        (13.361389, 38.115556, "palermo"),
        (15.087269, 37.502669, "catania"),
        (12.496365, 41.902782, "rome"),
        (9.189982, 45.464204, "milan"),
    ]
    for lon, lat, name in stores:
        r.geoadd("stores", (lon, lat, name))
    near = r.geosearch(
        "stores", longitude=14.0, latitude=38.0, radius=200, unit="km", sort="ASC", withdist=True
    )
    assert [n[0] for n in near] == ["palermo", "catania"]
    assert 50 < near[0][1] < 70
    boxed = r.geosearch("stores", member="rome", width=1400, height=1400, unit="km", sort="ASC")
    assert boxed[0] == "rome" and set(boxed) == {"rome", "palermo", "catania", "milan"}
    assert r.geosearchstore("south", "stores", longitude=14.0, latitude=38.0, radius=200, unit="km") == 2
    assert sorted(r.zrange("south", 0, -1)) == ["catania", "palermo"]
    assert round(r.geodist("stores", "palermo", "catania", unit="km"), 1) == 166.3
    assert r.geohash("stores", "palermo") == ["sqc8b49rny0"]
