#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs before flowlens runs: Debian
# packages, npm packages, and a build. Safe to run again: each step does only
# what is missing. `--test` also installs what the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh "$@"
if [[ ! -d node_modules/node-addon-api || package-lock.json -nt node_modules/.package-lock.json ]]; then
  if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi
bash scripts/build.sh
