#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs before flowlens runs: Debian
# packages, npm packages, and a build (scripts/build.sh). Each step runs only
# when its inputs changed (scripts/steps.sh), prints a line when it starts and
# one with the time it took; when nothing changed it prints nothing and takes
# a few milliseconds. `--test` also installs what the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/steps.sh

# Debian packages: again when the package list changes or dpkg installed or removed
# anything since (install-deps.sh itself does only what is missing)
debian=debian
[[ "${1:-}" == "--test" ]] && debian=debian-test
if stale "$stamps/$debian" -- scripts/install-deps.sh /var/lib/dpkg/status; then
  if [[ -w . ]]; then
    step "$debian" "Debian packages (scripts/install-deps.sh $*)" bash scripts/install-deps.sh "$@"
    # the test packages include the runtime ones
    [[ $debian == debian-test ]] && cp -p "$stamps/debian-test" "$stamps/debian"
  else
    # another user's checkout: check (install-deps says what is missing), do not stamp
    bash scripts/install-deps.sh "$@"
  fi
fi

# npm packages: npm ci writes node_modules/.package-lock.json, which is the stamp.
# A node_modules that is a link (a worktree sharing another checkout's packages) is
# that checkout's to keep current: npm ci here would reinstall them under its feet.
if [[ ! -L node_modules ]] && stale node_modules/.package-lock.json node_modules/node-addon-api -- package-lock.json; then
  if [[ -f package-lock.json ]]; then
    step npm "npm packages (npm ci)" npm ci --no-audit --no-fund --loglevel=error
  else
    step npm "npm packages (npm install)" npm install --no-audit --no-fund --loglevel=error
  fi
fi

bash scripts/build.sh
