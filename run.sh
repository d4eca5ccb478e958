#!/usr/bin/env bash
# First run: builds and starts the gemini server on a fresh Debian machine that has only the
# Rust toolchain. RocksDB's bindings need clang and libclang at build time; when they are
# missing and apt-get is here, this installs them (saying so) before the build. Arguments go
# to `gemini` (default: `serve`, embedded storage in ./data, HTTP on 127.0.0.1:8086).
#
# `cargo run --release --bin gemini` resolves features for the whole workspace, as the test
# command does, so both share one build of RocksDB.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages RocksDB's build needs: a C++ compiler, make, clang and libclang for bindgen.
NEEDED="g++ make clang libclang-dev"
missing=""
for pkg in $NEEDED; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "run.sh: installing RocksDB's build prerequisites with apt-get:$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "run.sh: no apt-get here; install these (or your system's equivalents) if the build fails:$missing" >&2
  fi
fi

[ $# -gt 0 ] || set -- serve
exec cargo run --release --bin gemini -- "$@"
