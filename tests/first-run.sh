#!/usr/bin/env bash
# Runs README.md's first command (the server) after the test command's build, as a user would,
# and checks that it reaches /ping without compiling RocksDB again: cargo's verbose output
# must say `Fresh librocksdb-sys` and never `Compiling librocksdb-sys`. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first line of README.md's first ```sh block, without its comment.
CMD=$(awk '/^```sh/ { inside = 1; next } inside { print; exit }' README.md | sed 's/#.*//; s/[[:space:]]*$//')
[ -n "$CMD" ] || { echo "first-run: no command found in README.md" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA=$(mktemp -d)
LOG=$(mktemp)
echo "first-run: $CMD --data-dir $DATA --http-addr 127.0.0.1:$PORT"
CARGO_TERM_VERBOSE=true setsid bash -c "$CMD --data-dir '$DATA' --http-addr 127.0.0.1:$PORT" >"$LOG" 2>&1 &
PID=$!
stop() { kill -TERM -- "-$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap stop EXIT

# Fresh builds take seconds; 10 minutes is room for a loaded machine, not for RocksDB's build.
for _ in $(seq 1 600); do
  if grep -q "Compiling librocksdb-sys" "$LOG"; then
    echo "first-run: FAILED: the first command compiles librocksdb-sys again:" >&2
    grep -E "Compiling|Fresh librocksdb" "$LOG" >&2
    exit 1
  fi
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/ping" 2>/dev/null; then
    grep -q "Fresh librocksdb-sys" "$LOG" || { echo "first-run: FAILED: cargo did not report librocksdb-sys as fresh:" >&2; cat "$LOG" >&2; exit 1; }
    echo "first-run: ok, /ping answers and librocksdb-sys was fresh:"
    grep -E "Compiling|Fresh librocksdb-sys" "$LOG" | sed 's/^/  /'
    exit 0
  fi
  kill -0 "$PID" 2>/dev/null || { echo "first-run: FAILED: the command exited:" >&2; tail -30 "$LOG" >&2; exit 1; }
  sleep 1
done
echo "first-run: FAILED: no answer on /ping within 10 minutes" >&2
tail -30 "$LOG" >&2
exit 1
