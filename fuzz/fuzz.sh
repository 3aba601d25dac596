#!/usr/bin/env bash
# Builds the coverage-guided fuzz targets (libFuzzer via libfuzzer-sys) with the stable
# toolchain and runs each for a bounded time. No nightly, no cargo-fuzz needed: the
# sanitizer-coverage instrumentation cargo-fuzz asks rustc for is available on stable
# through -Cpasses / -Cllvm-args; only `-Zsanitizer=address` is not (we run without ASan,
# as `cargo fuzz run -s none` would).
#
#   fuzz/fuzz.sh                    build, then run every target for FUZZ_SECONDS (60)
#   fuzz/fuzz.sh build              build only
#   fuzz/fuzz.sh run dispatch lua   run some targets
#   FUZZ_SECONDS=1200 fuzz/fuzz.sh  the 20-minute runs (per target)
#
# RocksDB's C++ takes ~35 minutes to compile, and different RUSTFLAGS would compile it
# again: the build links the librocksdb.a the main release build already made
# (ROCKSDB_LIB_DIR + ROCKSDB_STATIC, read by librocksdb-sys's build script), and uses its own
# target directory so the main one is not invalidated.
set -euo pipefail
cd "$(dirname "$0")"

TARGETS_ALL=(resp_parser dispatch lua glob)
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
MAIN_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/strata-fuzz-target}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN_DIR="$CARGO_TARGET_DIR/$TRIPLE/release"

find_rocksdb() {
    ls -t "$MAIN_TARGET_DIR"/release/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -1
}

build() {
    local lib
    lib="$(find_rocksdb)"
    if [ -z "$lib" ]; then
        echo "fuzz: no librocksdb.a under $MAIN_TARGET_DIR yet; building the main crate first"
        (cd .. && CARGO_TARGET_DIR="$MAIN_TARGET_DIR" cargo build --release --lib)
        lib="$(find_rocksdb)"
    fi
    export ROCKSDB_LIB_DIR="$(dirname "$lib")" ROCKSDB_STATIC=1
    # What `cargo fuzz build -s none` passes, minus nightly-only flags.
    export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing"
    echo "fuzz: building with RocksDB from $ROCKSDB_LIB_DIR into $CARGO_TARGET_DIR"
    # --target keeps the instrumentation off build scripts and proc macros.
    cargo build --release --target "$TRIPLE" --bins
}

run_one() {
    local t="$1" timeout=20 max_len=4096
    case "$t" in
        glob) timeout=5 ;;
        resp_parser) max_len=16384 ;;
    esac
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== fuzz $t for ${FUZZ_SECONDS}s (log: fuzz/artifacts/$t/last-run.log)"
    # New inputs go to corpus/<t> (not committed); seeds/<t> is the committed seed set.
    local rc=0
    "$BIN_DIR/$t" -max_total_time="$FUZZ_SECONDS" -timeout="$timeout" -rss_limit_mb=4096 \
        -max_len="$max_len" -dict=dicts/strata.dict -artifact_prefix="artifacts/$t/" \
        -print_final_stats=1 "corpus/$t" "seeds/$t" > "artifacts/$t/last-run.log" 2>&1 || rc=$?
    grep -E "INITED|DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss" \
        "artifacts/$t/last-run.log" | sed 's/^/   /' || true
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc); the input is under fuzz/artifacts/$t/:"
        grep -E -A12 "panicked|deadly signal|ERROR: libFuzzer|Test unit written" \
            "artifacts/$t/last-run.log" | head -40 | sed 's/^/   /'
        return 1
    fi
}

python3 gen_dict.py >/dev/null
cmd="${1:-all}"
case "$cmd" in
    build) build ;;
    run)
        shift
        [ $# -gt 0 ] || set -- "${TARGETS_ALL[@]}"
        failed=0
        for t in "$@"; do run_one "$t" || failed=1; done
        exit $failed
        ;;
    all)
        build
        failed=0
        for t in "${TARGETS_ALL[@]}"; do run_one "$t" || failed=1; done
        exit $failed
        ;;
    *) echo "usage: fuzz/fuzz.sh [all|build|run [target...]]" >&2; exit 2 ;;
esac
