#!/usr/bin/env bash
# Sets up, builds and runs Strata on its embedded defaults: port 6379, data in ./data.
# Extra arguments go to `strata server` (e.g. --port 7000 --appendfsync always).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
./scripts/cargo build --release --bin strata
exec "$CARGO_TARGET_DIR/release/strata" server "$@"
