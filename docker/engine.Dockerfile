# The Gemini engine image: `docker build -f docker/engine.Dockerfile -t <registry>/gemini:0.1.0 .`
# from the repository root. Not built by CI (no Docker engine there).
FROM rust:1.95-bookworm AS build
# The release profile keeps line tables for our code only (readable backtraces): the binary is
# small as built, and the build fails if it ever grows past 60 MB.
RUN apt-get update && apt-get install -y --no-install-recommends clang libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gemini \
    && cp target/release/gemini /gemini \
    && test "$(stat -c %s /gemini)" -lt 62914560

# distroless: glibc and libstdc++ (RocksDB), no shell, user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /gemini /usr/local/bin/gemini
USER 65532:65532
EXPOSE 8086
VOLUME /var/lib/gemini
ENTRYPOINT ["/usr/local/bin/gemini"]
# The operator replaces these arguments with `serve --config /etc/gemini/gemini.toml`.
CMD ["serve", "--http-addr", "0.0.0.0:8086", "--data-dir", "/var/lib/gemini"]
