# Build steps decided as make decides: a step runs only when its stamp
# (build/stamps/NAME) is missing, one of its outputs is missing, or one of its
# inputs (files, or directories searched recursively) is newer than the stamp.
# A step that runs prints what it does and, at the end, how long it took (stderr);
# with nothing to do nothing is printed, which is what makes bin/flowlens instant.
# Sourced by scripts/setup.sh and scripts/build.sh, from the checkout's root.

stamps=build/stamps

# stale STAMP [OUTPUT...] -- INPUT...: true when the step must run.
# The reason (what is newer or missing) is left in $stale_reason.
stale() {
  local stamp=$1; shift
  stale_reason=
  while [[ $# -gt 0 && $1 != -- ]]; do
    [[ -e $1 ]] || { stale_reason="$1 is missing"; return 0; }
    shift
  done
  shift
  [[ -e $stamp ]] || { stale_reason="first build"; return 0; }
  local newer
  newer=$(find "$@" -newer "$stamp" -print -quit 2>/dev/null || true)
  [[ -n $newer ]] || return 1
  stale_reason="$newer changed"
  return 0
}

# A checkout this user cannot write cannot be rebuilt: say which step and whom to ask,
# instead of the first rm/tsc that fails on a permission.
need_writable() {
  local name=$1
  if [[ ! -w . ]] || { [[ -e build ]] && [[ ! -w build ]]; }; then
    echo "flowlens: the build in $PWD is out of date ($name: $stale_reason), and $(id -un) cannot write there." >&2
    echo "  → run bin/flowlens once as root or as the checkout's owner ($(stat -c %U .)); then every user's commands start at once" >&2
    exit 1
  fi
}

# step NAME "what it does" COMMAND...: runs COMMAND, timing it, then stamps NAME.
# The stamp takes the time the step started, so that a source edited while the
# step runs is newer than the stamp and is built next time.
step() {
  local name=$1 what=$2; shift 2
  need_writable "$name"
  mkdir -p "$stamps"
  local started=${EPOCHREALTIME/,/.}
  : > "$stamps/.$name.started"
  echo "flowlens setup: [$name] $what ($stale_reason) …" >&2
  if ! "$@"; then
    echo "flowlens setup: [$name] failed after $(elapsed "$started") s" >&2
    rm -f "$stamps/.$name.started"
    exit 1
  fi
  mv -f "$stamps/.$name.started" "$stamps/$name"
  echo "flowlens setup: [$name] done in $(elapsed "$started") s" >&2
}

elapsed() {
  local now=${EPOCHREALTIME/,/.}
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}
