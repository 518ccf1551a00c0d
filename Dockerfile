# syntax=docker/dockerfile:1
# Multi-stage build: cargo-chef caches the dependency layer, the runtime image holds only
# the binary and runs as a non-root user. CI runs the `RUN cargo build` line below itself
# (.ci/run) because no Docker engine is available there, so the two cannot drift.

FROM rust:1.95-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p api
COPY . .
RUN cargo build --release --locked -p api --bin api

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin app \
    && mkdir -p /data && chown app:app /data
COPY --from=builder /app/target/release/api /usr/local/bin/api
USER app
WORKDIR /data
ENV APP_MODE=production \
    BIND_ADDR=0.0.0.0:8080 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/api"]
CMD ["serve"]
