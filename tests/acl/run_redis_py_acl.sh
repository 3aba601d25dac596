#!/usr/bin/env bash
# redis-py's own ACL tests against a fresh Strata: `-k acl` of tests/test_commands.py and
# tests/test_asyncio/test_commands.py from redis-py's sdist, the version installed in the
# venv (5.2.1: 38 tests). The sdist is downloaded once into ~/.cache/strata-redis-py.
#
#   tests/acl/run_redis_py_acl.sh                         Strata: $STRATA_BIN, else
#                                                         $CARGO_TARGET_DIR/release/strata
#   tests/acl/run_redis_py_acl.sh --url redis://HOST:PORT  a server that is already running
#   tests/acl/run_redis_py_acl.sh -- -x -v                 arguments after -- go to pytest
#
# redis-server 7.0.15 passes 32 and fails 6 (test_acl_getuser_setuser and test_acl_log, sync
# and both async variants): those expect Redis 7.2's rule strings and ACL LOG entries for
# the CLIENT SETINFO redis-py sends. Strata aims to pass all 38.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
cache="${STRATA_REDIS_PY_CACHE:-$HOME/.cache/strata-redis-py}"
url=""
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --url) url="$2"; shift 2 ;;
        --) shift; pytest_args=("$@"); break ;;
        *) echo "usage: $0 [--url redis://HOST:PORT] [-- PYTEST_ARGS...]" >&2; exit 2 ;;
    esac
done
if ! "$python" -c 'import pytest, pytest_asyncio, redis' 2>/dev/null; then
    echo "$python lacks pytest, pytest-asyncio or redis: pip install -r tests/python/requirements.txt" >&2
    exit 1
fi

# The test suite of the redis-py that is installed.
version="$("$python" -c 'import redis; print(redis.__version__)')"
src="$cache/redis-$version"
if [ ! -f "$src/tests/test_commands.py" ]; then
    mkdir -p "$cache"
    if [ ! -f "$cache/redis-$version.tar.gz" ]; then
        "$python" -m pip download --quiet --no-deps --no-binary :all: "redis==$version" -d "$cache"
    fi
    rm -rf "$src.unpacking"
    mkdir "$src.unpacking"
    tar -xzf "$cache/redis-$version.tar.gz" -C "$src.unpacking"
    rm -rf "$src"
    mv "$src.unpacking/redis-$version" "$src"
    rm -rf "$src.unpacking"
fi

tmp="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$url" ]; then
    bin="${STRATA_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}/release/strata}"
    if [ ! -x "$bin" ]; then
        echo "no strata binary at $bin (make build, or set STRATA_BIN)" >&2
        exit 1
    fi
    # --port 0: the server picks a free port and names it in its first log line.
    "$bin" server --port 0 --bind 127.0.0.1 --dir "$tmp/data" >"$tmp/strata.log" 2>&1 &
    pid=$!
    addr=""
    deadline=$((SECONDS + 60))
    while [ -z "$addr" ]; do
        addr="$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/strata.log" | head -n 1)"
        [ -n "$addr" ] && break
        if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            cat "$tmp/strata.log" >&2
            echo "strata did not start" >&2
            exit 1
        fi
        sleep 0.1
    done
    url="redis://$addr"
fi

echo "redis-py $version ACL tests against $url"
status=0
(
    cd "$src"
    timeout "${REDIS_PY_ACL_TIMEOUT:-600}" "$python" -m pytest \
        tests/test_commands.py tests/test_asyncio/test_commands.py -k acl \
        --redis-url="$url" -o asyncio_mode=auto -o asyncio_default_fixture_loop_scope=function \
        -p no:cacheprovider -W ignore -q \
        ${pytest_args[@]+"${pytest_args[@]}"}
) || status=$?
if [ "$status" -ne 0 ] && [ -n "$pid" ]; then
    echo "== last lines of the Strata log" >&2
    tail -n 40 "$tmp/strata.log" >&2
fi
exit "$status"
