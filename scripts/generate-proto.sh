#!/usr/bin/env bash
# Generates the TypeScript of the gRPC API from proto/ (the single source of
# truth) with Debian's protoc and the ts-proto plugin from npm: message types,
# encoders and grpc-js service definitions in src/api/grpc/gen/. The output is
# committed (so that type-checking and editing work without protoc) and the
# build regenerates it; `--check` fails when the committed output is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/api/grpc/gen
check=0
[[ "${1:-}" == "--check" ]] && check=1
command -v protoc >/dev/null || { echo "generate-proto: protoc not found: apt-get install protobuf-compiler (scripts/install-deps.sh does)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$tmp" \
  --ts_proto_opt=outputServices=grpc-js,env=node,forceLong=number,esModuleInterop=true,importSuffix=.js,useExactTypes=false,outputJsonMethods=false,stringEnums=true \
  -I proto proto/flowlens/v1/*.proto
if [[ $check -eq 1 ]]; then
  diff -r "$tmp" "$out" >/dev/null || { echo "generate-proto: $out is stale: run bash scripts/generate-proto.sh and commit it" >&2; exit 1; }
  exit 0
fi
mkdir -p "$out"
rm -rf "${out:?}"/*
cp -r "$tmp"/. "$out"/
