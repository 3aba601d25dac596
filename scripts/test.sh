#!/usr/bin/env bash
# Sets up and runs every test: Rust unit tests, the integration suite (real binary, real
# client), and the redis-py / redis-cli suite in a Python venv.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"

echo "== cargo test (unit + integration, hot tier on)"
STRATA_REQUIRE_REDIS=1 STRATA_HOT_TIER=yes ./scripts/cargo test --release

echo "== integration suite again with the hot tier off"
STRATA_REQUIRE_REDIS=1 STRATA_HOT_TIER=no ./scripts/cargo test --release --test it

if [ ! -x .venv/bin/pytest ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q -r tests/python/requirements.txt
for tier in yes no; do
    echo "== python (redis-py, redis-cli), hot tier $tier"
    STRATA_HOT_TIER=$tier STRATA_BIN="$CARGO_TARGET_DIR/release/strata" .venv/bin/pytest -q tests/python
done
echo "== redis-py's own ACL tests (its sdist's -k acl), against Strata"
STRATA_BIN="$CARGO_TARGET_DIR/release/strata" tests/acl/run_redis_py_acl.sh
# A short bounded network fuzz (the full one is `make netfuzz`): random commands with hostile
# arguments over 50 connections. The PING bound is looser than the 100 ms of the 10-minute
# acceptance run because CI shares two cores between this server, the fuzzer and the rest.
echo "== network fuzz (45 s, 50 connections)"
.venv/bin/python tests/fuzz/netfuzz.py --duration "${NETFUZZ_SECONDS:-45}" --conns 50 \
    --ping-deadline-ms "${NETFUZZ_PING_MS:-2000}" --seed "${NETFUZZ_SEED:-14}" \
    --bin "$CARGO_TARGET_DIR/release/strata" --report "$CARGO_TARGET_DIR/netfuzz-report.json"
echo "== all tests passed"
