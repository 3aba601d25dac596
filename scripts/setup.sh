#!/usr/bin/env bash
# Installs what building and testing Strata needs on a Debian/Ubuntu machine that has only
# the Rust toolchain: clang/libclang (RocksDB's bindings), redis-server/redis-tools (for
# redis-cli tests and side-by-side benchmarks), and Python's venv support.
set -euo pipefail

missing=()
need() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
need clang
need libclang-dev
need redis-server
need redis-tools
need redis-sentinel
# TLS tests use redis-cli --tls and make certificates with openssl.
need openssl
# A venv needs ensurepip; Debian's system python ships it in python3-venv.
python3 -c "import ensurepip" >/dev/null 2>&1 || need python3-venv

if ((${#missing[@]})); then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
