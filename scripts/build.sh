#!/usr/bin/env bash
# Builds everything flowlens runs from: the BPF object and skeleton, the native
# addon, the generated layout check, and the TypeScript. Idempotent and quick
# when nothing changed (make and tsc skip what is up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C bpf
if [[ ! -f native/build/Release/flowlens.node || -n "$(find native/src native/binding.gyp bpf/flow.h build/bpf/flow.skel.h -newer native/build/Release/flowlens.node 2>/dev/null)" ]]; then
  node_modules/.bin/node-gyp rebuild --nodedir=/usr -C native >/tmp/flowlens-gyp.log 2>&1 || { cat /tmp/flowlens-gyp.log >&2; exit 1; }
fi
node native/gen-layout.mjs --check
node_modules/.bin/tsc -p tsconfig.json
