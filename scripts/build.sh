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
# the gRPC API's TypeScript from proto/ is committed: the build fails when it is stale
# (regenerate with bash scripts/generate-proto.sh)
bash scripts/generate-proto.sh --check
node_modules/.bin/tsc -p tsconfig.json
# the dashboard (ui/ → ui/dist, served by the HTTP API): rebuilt when its
# sources or the locked dependencies are newer than the last build
if [[ ! -f ui/dist/index.html || -n "$(find ui/src ui/index.html ui/vite.config.ts ui/svelte.config.js package-lock.json -newer ui/dist/index.html 2>/dev/null | head -1)" ]]; then
  node_modules/.bin/vite build --config ui/vite.config.ts --logLevel warn
fi
