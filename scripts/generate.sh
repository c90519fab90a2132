#!/usr/bin/env bash
# Regenerates what is derived from bpf/flow.h: the addon and src/collector/layout.gen.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C bpf
node_modules/.bin/node-gyp rebuild --nodedir=/usr -C native >/dev/null 2>&1
node native/gen-layout.mjs
node --import tsx scripts/gen-settings-doc.ts
