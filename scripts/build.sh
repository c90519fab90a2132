#!/usr/bin/env bash
# Builds everything flowlens runs from: the BPF object and skeleton, the native
# addon, the generated layout check, the gRPC code check, the TypeScript and the
# dashboard. Each step runs only when one of its inputs is newer than its stamp
# (scripts/steps.sh), so a change to one source rebuilds only what depends on it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/steps.sh

if stale "$stamps/bpf" build/bpf/flow.bpf.o build/bpf/flow.skel.h build/bpf/bench.bpf.o -- bpf bench/bench.bpf.c; then
  step bpf "BPF object and skeleton (make -C bpf)" make -s -C bpf
fi

build_addon() {
  node_modules/.bin/node-gyp rebuild --nodedir=/usr -C native >/tmp/flowlens-gyp.log 2>&1 || { cat /tmp/flowlens-gyp.log >&2; return 1; }
}
if stale "$stamps/addon" native/build/Release/flowlens.node -- native/src native/binding.gyp bpf/flow.h build/bpf/flow.skel.h; then
  step addon "native addon (node-gyp)" build_addon
fi

if stale "$stamps/layout" -- native/build/Release/flowlens.node native/gen-layout.mjs src/collector/layout.gen.ts; then
  step layout "record layout check (native/gen-layout.mjs --check)" node native/gen-layout.mjs --check
fi

# the gRPC API's TypeScript from proto/ is committed: the build fails when it is stale
# (regenerate with bash scripts/generate-proto.sh)
if stale "$stamps/proto" -- proto src/api/grpc/gen scripts/generate-proto.sh package-lock.json; then
  step proto "gRPC code check (scripts/generate-proto.sh --check)" bash scripts/generate-proto.sh --check
fi

if stale "$stamps/typescript" dist/src/cli.js -- src tsconfig.json package-lock.json; then
  step typescript "TypeScript (tsc -p tsconfig.json)" node_modules/.bin/tsc -p tsconfig.json
fi

# the dashboard (ui/ → ui/dist, served by the HTTP API)
if stale "$stamps/dashboard" ui/dist/index.html -- ui/src ui/index.html ui/vite.config.ts ui/svelte.config.js ui/tsconfig.json package-lock.json; then
  step dashboard "dashboard (vite build)" node_modules/.bin/vite build --config ui/vite.config.ts --logLevel warn
fi
