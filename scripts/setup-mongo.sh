#!/usr/bin/env bash
# Installs the MongoDB-compatible test server (SecantusDB, pinned: only pre-releases exist) into
# .venv. Idempotent. Production needs a real MongoDB replica set instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if .venv/bin/python -c "import secantus" 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null || { echo "error: python3 is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
python3 -m venv .venv || { echo "error: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
.venv/bin/pip install --quiet --disable-pip-version-check "SecantusDB==0.7.0b3"
