# The gemini-operator image: `docker build -f docker/operator.Dockerfile -t <registry>/gemini-operator:0.1.0 .`
# from the repository root. Not built by CI (no Docker engine there).
FROM rust:1.95-bookworm AS build
# Line tables for our code only (see Cargo.toml): small as built; fails past 60 MB.
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gemini-operator \
    && cp target/release/gemini-operator /gemini-operator \
    && test "$(stat -c %s /gemini-operator)" -lt 62914560

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /gemini-operator /usr/local/bin/gemini-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gemini-operator"]
