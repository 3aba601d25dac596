#!/usr/bin/env bash
# Builds the RocksDB that `librocksdb-sys` bundles as a unity build and prints the directory
# holding `librocksdb.a` (the only thing on stdout; progress goes to stderr). Called by
# scripts/cargo; docs/build.md has the why and the measurements.
#
# The flags are the ones librocksdb-sys's build.rs passes for this project's features
# (`lz4`, no jemalloc, no io-uring) on x86-64/aarch64 Linux, so the archive is the library
# that build script would have produced, compiled in fewer, larger translation units. Units
# are consecutive runs of RocksDB's own source list in its order: RocksDB's CI compiles the
# whole list as one unit (`make unity_test`), so any consecutive slice of it compiles too.
# The cache key covers the crate version, this script, the compiler and the CPU features,
# so a change to any of them builds a new archive instead of reusing a stale one.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cxx="${CXX:-clang++}"
units="${STRATA_ROCKSDB_UNITS:-8}"
jobs="${STRATA_ROCKSDB_JOBS:-$(nproc)}"

# Where cargo unpacked librocksdb-sys and lz4-sys (fetching them if this machine has not).
read -r sys_dir lz4_dir sys_version < <(
    cargo metadata --format-version 1 --manifest-path "$root/Cargo.toml" 2>/dev/null |
        python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
pkgs = {p["name"]: p for p in meta["packages"]}
sys_pkg, lz4_pkg = pkgs["librocksdb-sys"], pkgs["lz4-sys"]
print(os.path.dirname(sys_pkg["manifest_path"]), os.path.dirname(lz4_pkg["manifest_path"]),
      sys_pkg["version"])
'
)

if [ -z "${sys_version:-}" ] || [ ! -f "$sys_dir/rocksdb_lib_sources.txt" ]; then
    echo "rocksdb-unity: could not find librocksdb-sys's sources through cargo metadata" >&2
    exit 1
fi

arch="$(uname -m)"
case "$arch" in
x86_64)
    # What .cargo/config.toml's target features make build.rs pass.
    cpu_flags=(-msse2 -msse4.1 -msse4.2 -mpclmul)
    ;;
aarch64)
    cpu_flags=(-march=armv8-a+crc+aes+crypto)
    ;;
*)
    cpu_flags=()
    ;;
esac

defines=(
    -DLZ4=1 -DNDEBUG=1 -DHAVE_ALIGNED_NEW -DHAVE_UINT128_EXTENSION
    -DOS_LINUX -DROCKSDB_PLATFORM_POSIX -DROCKSDB_LIB_IO_POSIX
    -DROCKSDB_SCHED_GETCPU_PRESENT -DROCKSDB_AUXV_GETAUXVAL_PRESENT
    -DROCKSDB_FALLOCATE_PRESENT -DROCKSDB_RANGESYNC_PRESENT
)
flags=(
    -O3 -ffunction-sections -fdata-sections -fPIC -std=c++20 -include cstdint
    -Wno-unused-parameter -Wno-unused-variable -Wno-missing-field-initializers
    -Wno-strict-aliasing -Wno-invalid-offsetof -Wno-deprecated-declarations
    "${cpu_flags[@]}" "${defines[@]}"
    -I"$sys_dir/rocksdb/include" -I"$sys_dir/rocksdb" -I"$sys_dir" -I"$lz4_dir/liblz4/lib"
)

key="$(
    {
        echo "$sys_version $units"
        cat "$0"
        "$cxx" --version | head -1
        echo "${flags[*]}"
    } | sha256sum | cut -c1-16
)"
out="${STRATA_ROCKSDB_CACHE:-$HOME/.cache/strata-rocksdb}/$sys_version-$key"
if [ -f "$out/librocksdb.a" ]; then
    echo "$out"
    exit 0
fi

mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [ -f "$out/librocksdb.a" ]; then
    echo "$out"
    exit 0
fi

work="$(mktemp -d "$out.tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
echo "rocksdb-unity: compiling RocksDB $sys_version as $units units with $cxx, $jobs at a time" >&2

# Split the source list (without util/build_version.cc: the crate ships its own) into
# `units` consecutive runs of about equal size in bytes.
python3 - "$sys_dir" "$units" "$work" <<'EOF'
import os, sys
sys_dir, units, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(os.path.join(sys_dir, "rocksdb_lib_sources.txt")) as f:
    sources = [s.strip() for s in f if s.strip() and s.strip() != "util/build_version.cc"]
sizes = [os.path.getsize(os.path.join(sys_dir, "rocksdb", s)) for s in sources]
share = sum(sizes) / units
runs, run, acc = [], [], 0.0
for source, size in zip(sources, sizes):
    run.append(source)
    acc += size
    if acc >= share * (len(runs) + 1) and len(runs) < units - 1:
        runs.append(run)
        run = []
if run:
    runs.append(run)
for i, run in enumerate(runs):
    with open(os.path.join(work, f"unity_{i:02}.cc"), "w") as f:
        f.writelines(f'#include "{os.path.join(sys_dir, "rocksdb", s)}"\n' for s in run)
with open(os.path.join(work, "unity_build_version.cc"), "w") as f:
    f.write(f'#include "{os.path.join(sys_dir, "build_version.cc")}"\n')
EOF

export cxx work
printf '%s\n' "$work"/unity_*.cc |
    xargs -P "$jobs" -I{} sh -c 'unit=$1; shift
        "$cxx" "$@" -c "$unit" -o "${unit%.cc}.o" 2>"${unit%.cc}.log" ||
            { cat "${unit%.cc}.log" >&2; exit 255; }' sh {} "${flags[@]}" >&2
ar crs "$work/librocksdb.a" "$work"/unity_*.o
mkdir -p "$out.new"
mv "$work/librocksdb.a" "$out.new/"
rm -rf "$out"
mv "$out.new" "$out"
echo "rocksdb-unity: done in $(($(date +%s) - start)) s" >&2
echo "$out"
