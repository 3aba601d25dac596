#!/usr/bin/env python3
"""Side-by-side benchmark: Strata against redis-server, on this machine, in one run.

Starts both servers on loopback with matched durability (appendonly + appendfsync everysec;
the `always` scenario switches both with CONFIG SET), drives them alternately with
redis-benchmark, repeats each pair, and prints a table of medians: ops/s for both, the ratio
Strata/Redis, and p50/p99 latency. The table is also written to benches/results/latest.md.

Usage: python3 benches/harness.py [--repeats 3] [--requests 100000] [--dataset-keys 1000000]
Single scenarios: --only-zipf (latest.md), --only-monitor (monitor.md), --only-acl (acl.md),
--only-tls (tls.md: plain port vs TLS, certificates made with openssl), in benches/results.
Requires redis-server and redis-benchmark (scripts/setup.sh installs them) and a built
release binary of strata (found through $STRATA_BIN or the default target directory).
"""

import argparse
import csv
import datetime
import io
import json
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def strata_binary():
    if os.environ.get("STRATA_BIN"):
        return os.environ["STRATA_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/strata-target"))
    return os.path.join(target, "release", "strata")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port, deadline=60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"server on port {port} did not answer PING")


class Server:
    def __init__(self, kind, data_dir, fsync="everysec", start_args=()):
        self.kind = kind
        self.data_dir = data_dir
        self.fsync = fsync
        # Extra directives for both kinds, after the harness's own (e.g. the tls-* ones).
        self.start_args = list(start_args)
        self.proc = None
        self.port = None
        self.startup_seconds = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        began = time.monotonic()
        if self.kind == "redis":
            self.port = free_port()
            durability = getattr(self, "extra_args", None) or ["--appendonly", "yes", "--appendfsync", self.fsync]
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.data_dir,
                 "--save", "", *durability, *self.start_args],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            # `port 0` beside a `tls-port` means TLS only (as in Redis), so name a plain port then.
            port = str(free_port()) if "--tls-port" in self.start_args else "0"
            self.proc = subprocess.Popen(
                [strata_binary(), "server", "--port", port, "--bind", "127.0.0.1", "--dir", self.data_dir,
                 "--appendfsync", self.fsync, *self.start_args],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            lines = queue.Queue()
            threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
            while True:
                line = lines.get(timeout=120)
                if "listening on " in line:
                    self.port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
                    # The server's own measure: process start to accepting connections.
                    self.ready_ms = int(line.split("ready in ", 1)[1].split()[0]) if "ready in " in line else None
                    break
        wait_ping(self.port)
        self.startup_seconds = time.monotonic() - began
        return self

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True,
                              timeout=600).stdout.strip()

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.cli("SHUTDOWN", "NOSAVE")
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_benchmark(port, test, clients, pipeline, size, requests, keyspace=100000, auth=None, tls=None):
    """One redis-benchmark run. `tls=(tls_port, ca_file)` connects over TLS to that port instead
    of `port` (the client checks the server's certificate against the CA, presents none)."""
    if tls:
        port = tls[0]
    cmd = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
           "-d", str(size), "-r", str(keyspace), "--csv", "-q"]
    if tls:
        cmd += ["--tls", "--cacert", tls[1]]
    if auth:
        cmd += ["--user", auth[0], "-a", auth[1]]
    if test.startswith("MSET"):
        cmd += ["-t", "mset"]
    elif " " in test:
        cmd += test.split()
    else:
        cmd += ["-t", test.lower()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    if not rows:
        raise RuntimeError(f"redis-benchmark gave no result for {test}: {out!r}")
    row = rows[-1]
    return {"rps": float(row[1]), "p50": float(row[4]), "p99": float(row[6])}


SCENARIOS = [
    # (label, redis-benchmark test, clients, pipeline, value size)
    ("GET 64B P1", "get", 50, 1, 64),
    ("SET 64B P1", "set", 50, 1, 64),
    ("GET 64B P16", "get", 50, 16, 64),
    ("SET 64B P16", "set", 50, 16, 64),
    ("GET 1KB P1", "get", 50, 1, 1024),
    ("SET 1KB P1", "set", 50, 1, 1024),
    ("GET 1KB P16", "get", 50, 16, 1024),
    ("SET 1KB P16", "set", 50, 16, 1024),
    # Every write row of issue 16's list, at pipeline 1 and 16 (pops follow their pushes, so
    # the lists they pop are not empty).
    *[(f"{label} P{p}", test, 50, p, 64)
      for p in (1, 16)
      for label, test in (("INCR", "incr"), ("LPUSH", "lpush"), ("LPOP", "lpop"), ("RPUSH", "rpush"),
                          ("RPOP", "rpop"), ("LRANGE_100", "lrange_100"), ("HSET", "hset"),
                          ("SADD", "sadd"), ("ZADD", "zadd"), ("MSET(10)", "MSET"))],
]


def loadgen_binary():
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/strata-target")),
                        "release", "examples", "loadgen")


def run_loadgen(port, *args):
    out = subprocess.run([loadgen_binary(), "--port", str(port), *map(str, args)], capture_output=True, text=True,
                         timeout=1800, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {"rps": r["rps"], "p50": r["p50_ms"], "p99": r["p99_ms"]}


def tier_counters(server):
    info = dict(l.split(":", 1) for l in server.cli("INFO", "memory").splitlines() if ":" in l)
    return int(info.get("hot_tier_hits", 0)), int(info.get("hot_tier_misses", 0))


def zipf_rows(servers, repeats, maxmemory_mb):
    """GET/SET over zipfian keys (s=0.99, 1 KiB values): a hot set that fits the tier, then an
    80/20 mix over a dataset 10x Strata's maxmemory. Redis keeps everything in RAM."""
    rows, notes = [], []
    value = 1024
    scenarios = [
        ("hot-set GET zipf 1KB P1", 10_000, 1.0),
        (f"zipf 80/20 GET/SET 1KB P1, data 10x maxmemory", maxmemory_mb * 10 * 1024, 0.8),
    ]
    for label, keys, get_ratio in scenarios:
        for s in servers.values():
            s.cli("FLUSHALL")
        servers["strata"].cli("CONFIG", "SET", "maxmemory", f"{maxmemory_mb}mb")
        for s in servers.values():
            run_loadgen(s.port, "--keys", keys, "--value-size", value, "--requests", 0, "--clients", 1, "--preload")
        results = {name: [] for name in servers}
        hits0, misses0 = tier_counters(servers["strata"])
        for _ in range(repeats):
            for name, s in servers.items():
                results[name].append(run_loadgen(s.port, "--keys", keys, "--value-size", value, "--requests",
                                                 100_000, "--clients", 50, "--get-ratio", get_ratio))
        hits1, misses1 = tier_counters(servers["strata"])
        med = {name: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
               for name, runs in results.items()}
        rows.append((label, med))
        lookups = (hits1 - hits0) + (misses1 - misses0)
        ratio = (hits1 - hits0) / lookups if lookups else 0.0
        notes.append(f"{label}: {keys:,} keys ({keys * value / 2**20:.0f} MiB), Strata maxmemory "
                     f"{maxmemory_mb} MB (hot tier {maxmemory_mb // 2} MB); hot-tier hit ratio {ratio:.3f} "
                     f"over {lookups:,} meta lookups (SETs read the key first, so they count too)")
        print(f"{label:16} redis {med['redis']['rps']:>10.0f}  strata {med['strata']['rps']:>10.0f}  "
              f"ratio {med['strata']['rps'] / med['redis']['rps']:.2f}  tier hit ratio {ratio:.3f}", flush=True)
    servers["strata"].cli("CONFIG", "SET", "maxmemory", "0")
    return rows, notes


def median_run(servers, scenario, repeats, requests, auth=None, tls=False):
    """Medians of `repeats` alternating runs. With `tls`, each server's `tls_port` and `tls_ca`
    (set by tls_rows) are used. Each result also has the server's CPU per command (`cpu_us`)."""
    label, test, clients, pipeline, size = scenario
    results = {name: [] for name in servers}
    n = requests * (4 if pipeline > 1 else 1)
    for _ in range(repeats):
        for name, server in servers.items():  # alternate: redis, strata, redis, strata...
            before = cpu_seconds(server.proc.pid)
            result = run_benchmark(server.port, test, clients, pipeline, size, n, auth=auth,
                                   tls=(server.tls_port, server.tls_ca) if tls else None)
            result["cpu_us"] = (cpu_seconds(server.proc.pid) - before) / n * 1e6
            results[name].append(result)
    med = {name: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99", "cpu_us")}
           for name, runs in results.items()}
    return label, med


def monitor_rows(servers, repeats, requests):
    """GET and SET at pipeline 1 without and then with one MONITOR client attached to each
    server (redis-cli monitor, its output discarded): the cost of MONITOR on both."""
    rows, notes = [], []
    for label, test in (("GET 64B P1", "get"), ("SET 64B P1", "set")):
        _, off = median_run(servers, (label, test, 50, 1, 64), repeats, requests)
        watchers = [subprocess.Popen(["redis-cli", "-p", str(s.port), "monitor"], stdout=subprocess.DEVNULL)
                    for s in servers.values()]
        try:
            deadline = time.monotonic() + 30
            for s in servers.values():
                while "cmd=monitor" not in s.cli("CLIENT", "LIST"):
                    if time.monotonic() > deadline:
                        raise RuntimeError("MONITOR client did not attach")
                    time.sleep(0.05)
            _, on = median_run(servers, (label, test, 50, 1, 64), repeats, requests)
        finally:
            for w in watchers:
                w.terminate()
                w.wait(timeout=30)
        rows.append((f"{label} MONITOR off", off))
        rows.append((f"{label} MONITOR on", on))
        kept = {name: on[name]["rps"] / off[name]["rps"] for name in servers}
        notes.append(f"{label} with one MONITOR client: Redis keeps {kept['redis']:.2f}x of its throughput, "
                     f"Strata {kept['strata']:.2f}x")
        print(f"{label} MONITOR: redis {off['redis']['rps']:.0f} -> {on['redis']['rps']:.0f}, "
              f"strata {off['strata']['rps']:.0f} -> {on['strata']['rps']:.0f}", flush=True)
    return rows, notes


# A user whose every command is checked: all commands but the dangerous ones, and only the
# keys redis-benchmark uses (`key:__rand_int__`), so both the command bitmap and a key
# pattern are consulted per request.
ACL_BENCH_USER = ("bench", "bench-pw", ["on", ">bench-pw", "+@all", "-@dangerous", "~key:*", "&*"])


def cpu_seconds(pid):
    """The process's user + system CPU time so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def acl_rows(servers, repeats, requests):
    """GET and SET as the unrestricted default user and as a restricted ACL user, on both
    servers: the cost of the permission check. Each repeat runs both users on both servers
    back to back, so drift on a shared machine hits both users alike; the ratio of the
    medians of server CPU per command is the steadier figure."""
    rows, notes = [], []
    name, password, rules = ACL_BENCH_USER
    for server in servers.values():
        server.cli("ACL", "SETUSER", name, *rules)
    users = {"default user": None, "restricted user": (name, password)}
    for label, test, pipeline in (("GET 64B P1", "get", 1), ("SET 64B P1", "set", 1),
                                  ("GET 64B P16", "get", 16), ("SET 64B P16", "set", 16)):
        n = requests * (4 if pipeline > 1 else 1)
        runs = {(user, srv): [] for user in users for srv in servers}
        for _ in range(repeats):
            for user, auth in users.items():
                for srv, server in servers.items():
                    before = cpu_seconds(server.proc.pid)
                    result = run_benchmark(server.port, test, 50, pipeline, 64, n, auth=auth)
                    result["cpu_us"] = (cpu_seconds(server.proc.pid) - before) / n * 1e6
                    runs[(user, srv)].append(result)
        med = {key: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "cpu_us")}
               for key, rs in runs.items()}
        for user in users:
            rows.append((f"{label} {user}", {srv: med[(user, srv)] for srv in servers}))
        ratio = {srv: (med[("restricted user", srv)]["rps"] / med[("default user", srv)]["rps"],
                       med[("restricted user", srv)]["cpu_us"] / med[("default user", srv)]["cpu_us"])
                 for srv in servers}
        notes.append(f"{label} as a restricted ACL user: throughput Redis {ratio['redis'][0]:.3f}x, "
                     f"Strata {ratio['strata'][0]:.3f}x of the default user's; server CPU per command "
                     f"Redis {med[('default user', 'redis')]['cpu_us']:.2f} -> "
                     f"{med[('restricted user', 'redis')]['cpu_us']:.2f} us ({ratio['redis'][1]:.3f}x), "
                     f"Strata {med[('default user', 'strata')]['cpu_us']:.2f} -> "
                     f"{med[('restricted user', 'strata')]['cpu_us']:.2f} us ({ratio['strata'][1]:.3f}x)")
        print(notes[-1], flush=True)
    return rows, notes

# The server certificate's v3 extensions (rustls checks SAN, CA:FALSE and the key usages).
TLS_LEAF_EXTENSIONS = (
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
)


def make_tls_certs(dir):
    """A CA and a server certificate it signed (localhost, 127.0.0.1; P-256 keys), made with the
    openssl CLI. X.509 v3 throughout: rustls refuses v1 certificates."""
    os.makedirs(dir, exist_ok=True)
    ca_key, ca, key, csr, crt, ext = (os.path.join(dir, n) for n in
                                      ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "leaf.ext"))
    with open(ext, "w") as f:
        f.write(TLS_LEAF_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=Strata bench CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                ["req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
                 "-out", crt, "-extfile", ext]):
        subprocess.run(["openssl", *cmd], check=True, capture_output=True, timeout=60)
    return ca, crt, key


def tls_session(port, ca):
    """The protocol and cipher suite an OpenSSL client (as redis-benchmark's) negotiates."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca, "-brief"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    facts = dict(l.split(":", 1) for l in (out.stdout + out.stderr).splitlines() if ":" in l)
    return f"{facts.get('Protocol version', '?').strip()} {facts.get('Ciphersuite', '?').strip()}"


def tls_rows(tmp, repeats, requests):
    """SET and GET (64 B, 50 clients) at pipeline 1 and 16 over the plain port and over TLS, on
    a redis-server and a Strata started with a TLS port beside the plain one and
    `tls-auth-clients no` (redis-benchmark --tls --cacert, no client certificate)."""
    ca, crt, key = make_tls_certs(os.path.join(tmp, "tls-certs"))
    servers = {}
    try:
        for kind in ("redis", "strata"):
            tls_port = free_port()
            server = Server(kind, os.path.join(tmp, f"{kind}-tls"), start_args=[
                "--tls-port", str(tls_port), "--tls-cert-file", crt, "--tls-key-file", key,
                "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"])
            server.tls_port, server.tls_ca = tls_port, ca
            servers[kind] = server.start()
        rows, notes = [], []
        notes.append("TLS: redis-benchmark --tls --cacert (no client certificate, tls-auth-clients no), "
                     "ECDSA P-256 server certificate; negotiated "
                     + ", ".join(f"{n} {tls_session(s.tls_port, ca)}" for n, s in servers.items()))
        # SET before GET, so the GETs read the 64-byte values the SETs wrote.
        for label, test, pipeline in (("SET 64B P1", "set", 1), ("GET 64B P1", "get", 1),
                                      ("SET 64B P16", "set", 16), ("GET 64B P16", "get", 16)):
            scenario = (label, test, 50, pipeline, 64)
            _, plain = median_run(servers, scenario, repeats, requests)
            _, tls = median_run(servers, scenario, repeats, requests, tls=True)
            rows.append((f"{label} plain", plain))
            rows.append((f"{label} TLS", tls))
            kept = {n: tls[n]["rps"] / plain[n]["rps"] for n in servers}
            notes.append(f"{label} over TLS: throughput Redis {kept['redis']:.2f}x, Strata {kept['strata']:.2f}x "
                         f"of its plain-port figure; Strata/Redis {tls['strata']['rps'] / tls['redis']['rps']:.2f} "
                         f"over TLS vs {plain['strata']['rps'] / plain['redis']['rps']:.2f} plain; server CPU "
                         f"per command Redis {plain['redis']['cpu_us']:.1f} -> {tls['redis']['cpu_us']:.1f} us, "
                         f"Strata {plain['strata']['cpu_us']:.1f} -> {tls['strata']['cpu_us']:.1f} us")
            print(notes[-1], flush=True)
    finally:
        for s in servers.values():
            s.stop()
    return rows, notes


def machine_description():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}; {redis_version}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100000)
    parser.add_argument("--dataset-keys", type=int, default=1000000,
                        help="keys loaded for the start-up time and RSS figures (0 skips them)")
    parser.add_argument("--zipf-maxmemory-mb", type=int, default=32,
                        help="Strata's maxmemory for the zipfian scenarios (the dataset is 10x this)")
    parser.add_argument("--skip-zipf", action="store_true")
    parser.add_argument("--only-zipf", action="store_true", help="run only the zipfian scenarios")
    parser.add_argument("--only-monitor", action="store_true",
                        help="run only GET/SET with and without a MONITOR client")
    parser.add_argument("--only-acl", action="store_true",
                        help="run only GET/SET as the default user and as a restricted ACL user")
    parser.add_argument("--only-tls", action="store_true",
                        help="run only GET/SET over the plain port and over TLS (certificates made with openssl)")
    args = parser.parse_args()
    for tool in ("redis-server", "redis-benchmark", "redis-cli", "openssl"):
        if not shutil.which(tool):
            subprocess.run([os.path.join(ROOT, "scripts", "setup.sh")], check=True)
            break
    if not os.path.exists(strata_binary()):
        subprocess.run(["cargo", "build", "--release", "--bin", "strata"], cwd=ROOT, check=True)
    if not os.path.exists(loadgen_binary()):
        subprocess.run(["cargo", "build", "--release", "--example", "loadgen"], cwd=ROOT, check=True)
    only = args.only_zipf or args.only_monitor or args.only_acl or args.only_tls
    scenarios = [] if only else SCENARIOS
    if only:
        args.dataset_keys = 0
        args.skip_zipf = args.skip_zipf or args.only_monitor or args.only_acl or args.only_tls

    rows = []
    extra = []
    with tempfile.TemporaryDirectory() as tmp:
        # --only-tls starts its own pair (with TLS ports) in tls_rows.
        servers = {} if args.only_tls else {"redis": Server("redis", os.path.join(tmp, "redis")).start(),
                                            "strata": Server("strata", os.path.join(tmp, "strata")).start()}
        try:
            for scenario in scenarios:
                label, med = median_run(servers, scenario, args.repeats, args.requests)
                rows.append((label, med))
                print(f"{label:16} redis {med['redis']['rps']:>10.0f}  strata {med['strata']['rps']:>10.0f}  "
                      f"ratio {med['strata']['rps'] / med['redis']['rps']:.2f}", flush=True)
            # The same SET load under each appendfsync mode, both servers switched alike.
            for mode in () if only else ("always", "no", "everysec"):
                for s in servers.values():
                    s.cli("CONFIG", "SET", "appendfsync", mode)
                requests = args.requests // 4 if mode == "always" else args.requests
                label, med = median_run(servers, (f"SET 64B P1 {mode}", "set", 50, 1, 64), args.repeats, requests)
                rows.append((label, med))
                print(f"{label:16} redis {med['redis']['rps']:>10.0f}  strata {med['strata']['rps']:>10.0f}  "
                      f"ratio {med['strata']['rps'] / med['redis']['rps']:.2f}", flush=True)
                if mode == "always":
                    # One client: the latency of a lone fsynced write (its p50 is the figure).
                    label, med = median_run(servers, ("SET 64B P1 always, 1 client", "set", 1, 1, 64),
                                            args.repeats, args.requests // 20)
                    rows.append((label, med))
                    print(f"{label:16} redis p50 {med['redis']['p50']:.3f}  strata p50 {med['strata']['p50']:.3f}",
                          flush=True)

            if not (args.only_zipf or args.only_acl or args.only_tls):
                mrows, mnotes = monitor_rows(servers, args.repeats, args.requests)
                rows += mrows
                extra += mnotes

            if args.only_acl or not only:
                arows, anotes = acl_rows(servers, args.repeats, args.requests)
                rows += arows
                extra += anotes

            if args.only_tls or not only:
                trows, tnotes = tls_rows(tmp, args.repeats, args.requests)
                rows += trows
                extra += tnotes

            if not args.skip_zipf:
                zrows, znotes = zipf_rows(servers, args.repeats, args.zipf_maxmemory_mb)
                rows += zrows
                extra += znotes

            if args.dataset_keys:
                keys = args.dataset_keys
                for s in servers.values():
                    s.cli("FLUSHALL")
                    subprocess.run(["redis-benchmark", "-p", str(s.port), "-t", "set", "-n", str(keys), "-r",
                                    str(keys * 10), "-P", "64", "-c", "20", "-d", "64", "-q"],
                                   capture_output=True, timeout=1800)
                    # Keys created with -r are random: report per actual key.
                    s.keys = int(s.cli("DBSIZE") or 0)
                for name, s in servers.items():
                    extra.append(f"RSS with {s.keys:,} keys of 64 B: {name} "
                                 f"{s.rss_bytes() / 2**20:.0f} MiB ({s.rss_bytes() / max(s.keys, 1) * 1e6 / 2**20:.0f} MiB per million keys)")
                # Redis restarts from an RDB snapshot of the same data; Strata just opens RocksDB.
                redis = servers["redis"]
                redis.cli("CONFIG", "SET", "appendonly", "no")
                redis.cli("SAVE")
                redis.extra_args = ["--appendonly", "no", "--dbfilename", "dump.rdb"]
                for name, s in servers.items():
                    s.stop()
                    s.start()
                    loaded = s.cli("DBSIZE")
                    how = "loading its RDB" if name == "redis" else "opening RocksDB"
                    own = f", server-reported ready in {s.ready_ms} ms" if getattr(s, "ready_ms", None) else ""
                    extra.append(f"Start-up with {int(loaded):,} keys: {name} {s.startup_seconds:.2f} s "
                                 f"({how}; harness launch to first PONG{own})")
        finally:
            for s in servers.values():
                s.stop()

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Strata vs Redis, side by side",
        "",
        f"Run {date} on {machine_description()}.",
        f"redis-benchmark, 50 clients, random keys over 100,000, median of {args.repeats} alternating runs; "
        "both servers with appendonly and appendfsync everysec unless the scenario says `always`.",
        "",
        "| scenario | Redis ops/s | Strata ops/s | ratio | Redis p50/p99 ms | Strata p50/p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, med in rows:
        r, s = med["redis"], med["strata"]
        lines.append(f"| {label} | {r['rps']:.0f} | {s['rps']:.0f} | {s['rps'] / r['rps']:.2f} | "
                     f"{r['p50']:.3f}/{r['p99']:.3f} | {s['p50']:.3f}/{s['p99']:.3f} |")
    if extra:
        lines += ["", *[f"- {e}" for e in extra]]
    lines += ["", "Zipfian rows use `examples/loadgen.rs` (50 clients, s=0.99, 1 KiB values) against both servers; "
              "the other rows use redis-benchmark."]
    table = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "benches", "results"), exist_ok=True)
    name = ("monitor.md" if args.only_monitor else "acl.md" if args.only_acl else "tls.md" if args.only_tls
            else "latest.md")
    with open(os.path.join(ROOT, "benches", "results", name), "w") as f:
        f.write(table)
    print()
    print(table)


if __name__ == "__main__":
    sys.exit(main())
