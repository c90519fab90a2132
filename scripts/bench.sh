#!/usr/bin/env bash
# Runs the benchmarks in bench/ (as root), each printing tables with the command
# that reproduces them; they never assert timings. Default: all of them, the
# per-packet cost (BPF_PROG_TEST_RUN) and throughput on veth first.
#
#   npm run bench                        # all (about 20 minutes)
#   npm run bench -- per-packet          # some of them, by file name
#   PER_PACKET_ARGS="--flows 1,1000 --types ipv4-tcp" THROUGHPUT_ARGS="--duration 5 --reps 1" npm run bench
#   (options of bench/NAME.ts: <NAME, upper case, - as _>_ARGS; see node --import tsx bench/NAME.ts --help)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "bench: needs root (BPF programs, network namespaces)" >&2
  exit 1
fi
which=("$@")
if [[ ${#which[@]} -eq 0 ]]; then
  which=(per-packet throughput)
  for f in bench/*.ts; do
    n=$(basename "$f" .ts)
    [[ $n == lib || " ${which[*]} " == *" $n "* ]] || which+=("$n")
  done
fi
bash scripts/build.sh
for b in "${which[@]}"; do
  if [[ ! -f bench/$b.ts || $b == lib ]]; then
    echo "bench: no benchmark \"$b\" (bench/*.ts)" >&2
    exit 2
  fi
  var="$(echo "$b" | tr 'a-z-' 'A-Z_')_ARGS"
  # shellcheck disable=SC2086
  node --import tsx "bench/$b.ts" ${!var:-}
  echo
done
