# The gemini-operator image: `docker build -f docker/operator.Dockerfile -t <registry>/gemini-operator:0.1.0 .`
# from the repository root. Not built by CI (no Docker engine there).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p operator --bin gemini-operator \
    && objcopy --strip-debug target/release/gemini-operator /gemini-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /gemini-operator /usr/local/bin/gemini-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gemini-operator"]
