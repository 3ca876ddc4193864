#!/usr/bin/env bash
# The whole test suite of iostack, on a fresh Debian machine or this one:
# installs what is missing (redis-server, Node.js, npm packages), then runs the lints,
# the Rust tests (unit, integration with real clients and real stores, doctests) and the
# end-to-end tests with the official JS socket.io-client.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    fail "need root to run: $* (install it by hand or run as root)"
  fi
}

apt_install() {
  command -v apt-get >/dev/null || fail "missing $*; no apt-get here: install them by hand"
  step "installing $* with apt-get"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || fail "cargo is missing: install a Rust toolchain (https://rustup.rs)"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools) # forms the Redis Cluster of the tests
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
command -v make >/dev/null || missing+=(make) # builds jemalloc (feature `jemalloc`)
command -v sqlite3 >/dev/null || missing+=(sqlite3) # the JS tests read the flagship's connection log
command -v chromium >/dev/null || missing+=(chromium) # the browser tests (tests/browser)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

step "PostgreSQL for the channel store tests"
pg_url="${IOSTACK_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}"
pg_ok() { psql "$pg_url/postgres" -tAc 'select 1' >/dev/null 2>&1; }
if ! pg_ok; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
  if ! pg_ok; then
    # A fresh Debian cluster wants a password over TCP: give postgres one for the tests.
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'iostack'\""
    pg_url="postgres://postgres:iostack@127.0.0.1:5432"
  fi
  pg_ok || fail "PostgreSQL is not reachable at $pg_url"
fi
export IOSTACK_TEST_PG_URL="$pg_url"
# Each channel test makes its own database: drop those of earlier runs.
for db in $(psql "$pg_url/postgres" -tAc "select datname from pg_database where datname like 'iostack_test_%'"); do
  psql "$pg_url/postgres" -qc "drop database if exists \"$db\" with (force)"
done

step "MongoDB-compatible test server (SecantusDB in .venv)"
bash scripts/setup-mongo.sh

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features --quiet

# The Node.js servers that iostack-redis-node's tests cluster with (needed before the Rust tests).
(cd tests/node-cluster && npm ci --no-audit --no-fund --loglevel=error)
step "Rust tests (unit, integration, doctests)"
cargo test --workspace --all-features

step "end-to-end tests with the official socket.io-client (and python-socketio, in .venv)"
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
cargo build --examples --all-features --quiet
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error && npm test)

step "browser tests: headless Chromium with the official socket.io client, Admin UI and monitoring page"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && npm test)
