# Convenience targets; the scripts are the source of truth.
.PHONY: run test build fmt lint

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
