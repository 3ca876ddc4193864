#!/usr/bin/env bash
# Long fuzzing run: the property tests over client-controlled input with many more cases than the
# test suite uses. Prints the number of cases run; fails on the first counterexample.
#   bash scripts/fuzz.sh            # about 1,000,000 cases
#   CASES=50000 bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
cases=${CASES:-250000}
total=0

run() { # run <PROPTEST_CASES> <cases it makes in all> <cargo test args...>
  local per=$1 made=$2
  shift 2
  echo "==> $* ($made cases)"
  PROPTEST_CASES=$per cargo test --quiet "$@"
  total=$((total + made))
}

# Handshake auth payloads and headers, forwarded headers, allowlist entries and CIDRs.
run "$cases" "$((cases * 4))" -p iostack-middleware --test fuzz
# Events of every shape against a live server (one case per round trip: fewer cases).
events=$((cases / 25))
run "$events" "$events" -p iostack --all-features --test fuzz_events arbitrary_events
# One connection per case: the test runs a tenth of PROPTEST_CASES.
run "$events" "$(((events + 9) / 10))" -p iostack --all-features --test fuzz_events broken_packets

echo "fuzzing: $total cases passed"
