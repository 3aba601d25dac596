# Convenience targets; the scripts are the source of truth.
# failover-test: issue 17's Sentinel acceptance run.
.PHONY: py-env failover-test chaos-test repl-big-sync run test build fmt lint bench bench-monitor bench-acl bench-tls stall-probe microbench larger-than-ram keys-10m netfuzz soak fuzz redis-py-acl rdb-big-import

run:
	./scripts/run.sh

test:
	./scripts/test.sh

build:
	./scripts/cargo build --release

fmt:
	cargo fmt

lint:
	./scripts/cargo clippy --release --all-targets -- -D warnings

# Side-by-side with redis-server; writes benches/results/latest.md.
bench:
	./scripts/setup.sh
	./scripts/cargo build --release --bin strata --example loadgen
	python3 benches/harness.py

# GET/SET with and without one MONITOR client, both servers side by side (a few minutes);
# writes benches/results/monitor.md.
bench-monitor:
	./scripts/setup.sh
	./scripts/cargo build --release --bin strata --example loadgen
	python3 benches/harness.py --only-monitor

# GET/SET as the default user and as a restricted ACL user, both servers side by side (a few
# minutes); writes benches/results/acl.md.
bench-acl:
	./scripts/setup.sh
	./scripts/cargo build --release --bin strata --example loadgen
	python3 benches/harness.py --only-acl

# GET/SET over the plain port and over TLS (certificates made with openssl at run time,
# tls-auth-clients no), both servers side by side (a few minutes); writes benches/results/tls.md.
bench-tls:
	./scripts/setup.sh
	./scripts/cargo build --release --bin strata --example loadgen
	python3 benches/harness.py --only-tls

# PING latency while another client runs commands over a 64 MiB string, Strata beside Redis
# (docs/ping-stalls.md); fails if Strata's slowest PING passes 50 ms.
stall-probe:
	./scripts/setup.sh
	./scripts/cargo build --release --bin strata
	python3 benches/stall_probe.py

# Criterion micro-benchmarks (a couple of minutes).
microbench:
	./scripts/cargo bench --bench micro

# Issue 4's larger-than-RAM check: 1 GB of 1 KiB values through maxmemory 32mb, RSS bounded,
# every key read back before and after a restart (STRATA_LTR_MB=100 for a quick run).
larger-than-ram:
	./scripts/setup.sh
	./scripts/cargo test --release --test it larger_than_ram -- --ignored --nocapture

# Issue 14's acceptance run: hostile-argument fuzz of every command over 100 connections for
# 10 minutes; fails on a PING slower than 100 ms, a panic, a dropped connection or a
# connected_clients drift. Shorter: make netfuzz NETFUZZ_SECONDS=60.
NETFUZZ_SECONDS ?= 600
NETFUZZ_CONNS ?= 100
NETFUZZ_PING_MS ?= 100
netfuzz: build
	python3 tests/fuzz/netfuzz.py --duration $(NETFUZZ_SECONDS) --conns $(NETFUZZ_CONNS) \
		--ping-deadline-ms $(NETFUZZ_PING_MS) $(NETFUZZ_ARGS)

# 1,000 connections of verified mixed traffic, pub/sub and blocking pops for 10 minutes;
# fails on any error or RSS growth past 1.5x (RSS at 20% of the run).
# The server runs with maxmemory 64mb: with none set, RocksDB's block cache is sized from the
# machine's RAM (gigabytes) and keeps filling with blocks of rewritten SST files for far
# longer than ten minutes, which is a cache warming up, not a leak; a bounded budget makes
# "RSS flat" a test of leaks.
SOAK_SECONDS ?= 600
SOAK_CONNS ?= 1000
SOAK_MAXMEMORY ?= 64mb
soak: build
	python3 tests/soak/soak.py --duration $(SOAK_SECONDS) --conns $(SOAK_CONNS) \
		--server-arg=--maxmemory --server-arg=$(SOAK_MAXMEMORY) $(SOAK_ARGS)

# Coverage-guided fuzz targets (libFuzzer, stable toolchain), FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/fuzz.sh

# Issue 14: KEYS * over ten million keys while another client PINGs (STRATA_KEYS_N=1000000
# for a quicker run). Prints the KEYS duration and the slowest PING.
keys-10m:
	./scripts/setup.sh
	./scripts/cargo test --release --test it keys_over_ten_million_keys -- --ignored --nocapture

# What the Python-driven runs below need: packages, the release binary, the test venv.
py-env:
	./scripts/setup.sh
	./scripts/cargo build --release --bin strata
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install -q -r tests/python/requirements.txt

# redis-py's own ACL tests (38 with redis-py 5.2.1; its sdist is cached in
# ~/.cache/strata-redis-py) against a fresh Strata.
redis-py-acl: py-env
	./tests/acl/run_redis_py_acl.sh

# Issue 17: ten Sentinel failover rounds (1 primary, 2 replicas, 3 redis-sentinel on
# 127.0.0.1; kill -9 the primary under a WAIT-confirmed writer); fails on any lost write.
failover-test: py-env
	.venv/bin/python tests/failover/failover_loop.py --runs $${FAILOVER_RUNS:-10} \
	    --bin $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/release/strata \
	    --report $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/failover-report.json

# Issue 17's Jepsen-style check: CHAOS_RUNS seeded schedules (default 5) of CHAOS_ROUNDS
# (default 8) random primary kills, replica kills and replica restarts under three
# WAIT-confirmed writers, with Sentinel; fails on any lost write or any dataset difference.
chaos-test: py-env
	.venv/bin/python tests/failover/chaos_loop.py --runs $${CHAOS_RUNS:-5} --rounds $${CHAOS_ROUNDS:-8} \
	    --bin $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/release/strata \
	    --report $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/chaos-report.json

# repl-big-sync: issue 17's large full sync (BIG_SYNC_GB, default 2) under a write load, then
# equal DEBUG DIGEST on primary and replica. Writes gigabytes to a temporary directory.
repl-big-sync: py-env
	.venv/bin/python tests/replication/big_full_sync.py --gb $${BIG_SYNC_GB:-2} \
	    --bin $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/release/strata \
	    --report $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/big-sync-report.json

# rdb-big-import: issue 19's large import. redis-server 7.0 builds ~RDB_GB (default 1) GB with
# every type, encoding, TTLs and 16 databases; strata import-rdb loads its dump.rdb; a Strata
# with maxmemory 64mb is compared key by key with the live Redis. Writes gigabytes to /tmp.
rdb-big-import: py-env
	.venv/bin/python tests/migration/big_rdb_import.py --gb $${RDB_GB:-1} \
	    --bin $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/release/strata \
	    --report $${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target}/rdb-import-report.json
