#!/usr/bin/env bash
# The test command: sets up everything the tests need (Debian packages, npm
# packages, build), checks the generated layout is current, runs every tap test,
# and ends with one line "N passed, N failed, N skipped".
# Extra arguments go to tap (e.g. a test file).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! bash scripts/setup.sh --test; then
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
# a run as root proves the kernel parts: skipping them would prove nothing
if [[ $(id -u) -eq 0 ]]; then export FLOWLENS_REQUIRE_KERNEL=1; fi
# tests are type-checked too (tap itself only transpiles them)
typecheck_failed=0
if ! node_modules/.bin/tsc -p tsconfig.test.json; then
  echo "type check of the tests failed"
  typecheck_failed=1
fi
out=$(mktemp)
node_modules/.bin/tap --reporter=tap "$@" 2>&1 | tee "$out"
summary=$(grep -E '^# \{ total: ' "$out" | tail -1)
rm -f "$out"
field() { echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
if [[ -z "$summary" ]]; then
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
pass=$(field pass); fail=$(field fail); skip=$(field skip); todo=$(field todo)
total=$(field total)
# a test file that crashed shows up as total > pass + fail + skip + todo
lost=$(( total - pass - fail - skip - todo ))
(( lost > 0 )) && fail=$(( fail + lost ))
fail=$(( fail + typecheck_failed ))
echo "$pass passed, $fail failed, $skip skipped"
(( fail == 0 ))
