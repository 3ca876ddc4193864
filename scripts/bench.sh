#!/usr/bin/env bash
# The side-by-side benchmark: installs Node's socket.io for benches/node when it is missing, then runs
# Node socket.io, bare socketioxide and iostack (no layers, five layers) as fresh processes against
# one Rust load generator and prints one Markdown table (see benches/README.md).
#   BENCH_ROUNDS=N          rounds per variant (default 2)
#   BENCH_ALLOCATOR=system  the Rust servers on glibc's malloc instead of jemalloc
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "error: Node.js and npm are needed for the Node socket.io column (apt-get install nodejs npm)" >&2; exit 1; }
(cd benches/node && npm ci --no-audit --no-fund --loglevel=error)
if [ "${BENCH_ALLOCATOR:-jemalloc}" = system ]; then
  cargo bench --bench side_by_side
else
  cargo bench --bench side_by_side --features jemalloc
fi
