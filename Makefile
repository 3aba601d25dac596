# Convenience targets; the scripts are the source of truth.
.PHONY: run test build fmt lint bench microbench larger-than-ram

run:
	./scripts/run.sh

test:
	./scripts/test.sh

build:
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo build --release

fmt:
	cargo fmt

lint:
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo clippy --release --all-targets -- -D warnings

# Side-by-side with redis-server; writes benches/results/latest.md.
bench:
	./scripts/setup.sh
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo build --release --bin strata --example loadgen
	python3 benches/harness.py

# Criterion micro-benchmarks (a couple of minutes).
microbench:
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo bench --bench micro

# Issue 4's larger-than-RAM check: 1 GB of 1 KiB values through maxmemory 32mb, RSS bounded,
# every key read back before and after a restart (STRATA_LTR_MB=100 for a quick run).
larger-than-ram:
	./scripts/setup.sh
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo test --release --test it larger_than_ram -- --ignored --nocapture
