# Sdelka container image.
#   docker build -t sdelka .
#   docker run -p 8080:8080 -v sdelka-data:/data sdelka          (SQLite in /data)
#   docker compose up --build                                    (PostgreSQL + Mailpit, see docker-compose.yml)
# The cache mounts need BuildKit (the default builder since Docker 23).

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sdelka-api \
    && install -m 0755 target/release/sdelka /usr/local/bin/sdelka

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin sdelka \
    && mkdir -p /data \
    && chown sdelka:sdelka /data
COPY --from=builder /usr/local/bin/sdelka /usr/local/bin/sdelka
ENV SDELKA_DATA_DIR=/data \
    SDELKA_BIND=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER sdelka
WORKDIR /data
ENTRYPOINT ["sdelka"]
CMD ["serve"]
