"""redis-cli against Strata: interactive, --scan, --stat, --bigkeys, --memkeys, --hotkeys,
--latency, --latency-history, -n, INFO keyspace."""

import os
import shutil
import subprocess
import time

import pexpect
import pytest

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")


def cli(server, *args, **kwargs):
    return subprocess.run(
        ["redis-cli", "-h", server.host, "-p", str(server.port), *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def test_interactive_session(server):
    child = pexpect.spawn("redis-cli", ["-h", server.host, "-p", str(server.port)], encoding="utf-8", timeout=30)
    prompt = f"{server.host}:{server.port}>"

    def type_line(text):
        # linenoise runs the terminal raw: Enter is a carriage return.
        child.send(text + "\r")

    child.expect_exact(prompt)
    type_line("SET greeting hello")
    child.expect_exact("OK")
    child.expect_exact(prompt)
    type_line("GET greeting")
    child.expect_exact('"hello"')
    child.expect_exact(prompt)
    type_line("SELECT 2")
    child.expect_exact("OK")
    child.expect_exact(f"{server.host}:{server.port}[2]>")
    type_line("INCR n")
    child.expect_exact("(integer) 1")
    type_line("NOSUCHCOMMAND")
    child.expect_exact("(error) ERR unknown command 'NOSUCHCOMMAND'")
    type_line("QUIT")
    child.expect(pexpect.EOF)


def test_scan_mode(server):
    r = server.client(decode_responses=True)
    for i in range(250):
        r.set(f"user:{i}", i)
    r.set("other", 1)
    out = cli(server, "--scan", "--pattern", "user:*")
    assert out.returncode == 0, out.stderr
    keys = out.stdout.split()
    assert len(keys) == 250 and set(keys) == {f"user:{i}" for i in range(250)}


def test_db_selection_and_info_keyspace(server):
    assert cli(server, "-n", "3", "SET", "k", "v").stdout.strip() == "OK"
    assert cli(server, "-n", "3", "GET", "k").stdout.strip() == "v"
    assert cli(server, "GET", "k").stdout.strip() == ""
    info = cli(server, "INFO", "keyspace").stdout
    assert "# Keyspace" in info and "db3:keys=1,expires=0,avg_ttl=0" in info


def test_stat_mode_one_sample(server):
    server.client().set("k", "v")
    proc = subprocess.Popen(
        ["redis-cli", "-h", server.host, "-p", str(server.port), "--stat", "-i", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        header, sample = None, None
        while time.monotonic() < deadline and sample is None:
            line = proc.stdout.readline()
            if "keys" in line and "mem" in line:
                header = line
            elif header and line.strip() and line.split()[0].isdigit():
                sample = line
        assert header, "no --stat header"
        assert sample, "no --stat sample"
        assert sample.split()[0] == "1", sample  # one key
    finally:
        proc.kill()
        proc.wait()


def populate_every_type(server):
    r = server.client()
    r.set("str", "x" * 100)
    r.hset("hash", mapping={f"f{i}": i for i in range(50)})
    r.rpush("list", *range(30))
    r.sadd("set", *range(40))
    r.zadd("zset", {f"m{i}": i for i in range(20)})


def test_bigkeys_over_every_type(server):
    populate_every_type(server)
    out = cli(server, "--bigkeys")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Sampled 5 keys in the keyspace!" in text, text
    for line in [
        "1 lists with 30 items",
        "1 hashs with 50 fields",
        "1 strings with 100 bytes",
        "1 sets with 40 members",
        "1 zsets with 20 members",
    ]:
        assert line in text, text


def test_memkeys_over_every_type(server):
    populate_every_type(server)
    out = cli(server, "--memkeys")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Sampled 5 keys in the keyspace!" in text, text
    for kind in ["lists", "hashs", "strings", "sets", "zsets"]:
        assert f"1 {kind} with " in text, text


def test_latency_modes(server):
    # On a terminal redis-cli prints its running summary (and, for --latency-history, one
    # line per interval); PING is what it times.
    sample = r"min: \d+, max: \d+, avg: [\d.]+ \(\d+ samples\)"
    child = pexpect.spawn("redis-cli", ["-h", server.host, "-p", str(server.port), "--latency"],
                          encoding="utf-8", timeout=30)
    try:
        child.expect(sample)
    finally:
        child.terminate(force=True)
    child = pexpect.spawn("redis-cli",
                          ["-h", server.host, "-p", str(server.port), "--latency-history", "-i", "0.2"],
                          encoding="utf-8", timeout=30)
    try:
        for _ in range(2):
            child.expect(sample + r" -- [\d.]+ seconds range")
    finally:
        child.terminate(force=True)


def test_hotkeys_under_an_lfu_policy(server):
    r = server.client()
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.set("cold", "x")
    r.set("hot", "x")
    for _ in range(200):
        r.get("hot")
    out = cli(server, "--hotkeys")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Sampled 2 keys in the keyspace!" in text, text
    if os.environ.get("STRATA_HOT_TIER") == "no":
        # Access frequencies live in the hot tier: without it OBJECT FREQ reads 0 and
        # redis-cli lists no hot key (it still scans every key).
        return
    assert 'keyname: "hot"' in text, text
    lines = [l for l in text.splitlines() if "hot key found with counter" in l]
    assert lines and '"hot"' in lines[0], text
