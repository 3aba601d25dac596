# Multi-stage build: a builder with clang/libclang for RocksDB's bindings, then a slim
# runtime that runs as a non-root user with its data in /data.
FROM rust:1-bookworm AS builder
RUN apt-get update && apt-get install -y --no-install-recommends clang libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --bin strata

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libstdc++6 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data strata \
    && mkdir -p /data /etc/strata && chown strata /data
COPY --from=builder /src/target/release/strata /usr/local/bin/strata
COPY config/strata.conf /etc/strata/strata.conf
USER strata
WORKDIR /data
EXPOSE 6379
VOLUME /data
CMD ["strata", "server", "--config", "/etc/strata/strata.conf", "--bind", "0.0.0.0", "--dir", "/data"]
