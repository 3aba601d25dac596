"""redis-py's scripting users against Strata: register_script, the Lock (released and
extended with Lua), and FUNCTION LOAD / FCALL."""

import threading

import redis


def test_register_script_runs_through_evalsha(server):
    r = server.client()
    incr_by = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    assert incr_by(keys=["n"], args=[2]) == 7
    # register_script falls back to EVAL after SCRIPT FLUSH (NOSCRIPT), as with Redis.
    r.script_flush()
    assert incr_by(keys=["n"], args=[1]) == 8


def test_lock_excludes_and_releases(server):
    r = server.client()
    counter_key = "locked-counter"
    r.set(counter_key, 0)

    def worker():
        c = server.client()
        for _ in range(50):
            with c.lock("the-lock", timeout=10, blocking_timeout=30):
                value = int(c.get(counter_key))
                c.set(counter_key, value + 1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(r.get(counter_key)) == 200
    assert r.get("the-lock") is None

    lock = r.lock("other", timeout=5)
    assert lock.acquire(blocking=False)
    assert lock.extend(10)
    assert r.pttl("other") > 5000
    assert not r.lock("other").acquire(blocking=False)
    lock.release()
    assert r.exists("other") == 0


def test_functions_from_redis_py(server):
    r = server.client()
    code = "#!lua name=pylib\nredis.register_function('echo_first', function(keys, args) return args[1] end)"
    assert r.function_load(code) == b"pylib"
    assert r.function_load(code, replace=True) == b"pylib"
    assert r.fcall("echo_first", 0, "hello") == b"hello"
    libs = r.function_list()
    assert any(lib[1] in (b"pylib", "pylib") for lib in libs)
    try:
        r.fcall("nope", 0)
    except redis.ResponseError as e:
        assert "Function not found" in str(e)
    else:
        raise AssertionError("FCALL of a missing function must fail")
