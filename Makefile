# Convenience targets; the scripts are the source of truth.
.PHONY: run test build fmt lint bench microbench

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
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo build --release --bin strata
	python3 benches/harness.py

# Criterion micro-benchmarks (a couple of minutes).
microbench:
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$$HOME/.cache/strata-target} cargo bench --bench micro
