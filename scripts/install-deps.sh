#!/usr/bin/env bash
# Installs the Debian packages flowlens needs to build and (with --test) to test.
# Idempotent: does nothing when every package is present at a good version.
set -euo pipefail

runtime_pkgs=(ieee-data clang llvm libelf-dev zlib1g-dev pkg-config bpftool iproute2 iputils-ping make g++ python3 protobuf-compiler)
test_pkgs=(prometheus python3-grpcio python3-protobuf iperf3 tcpreplay ethtool dnsmasq nginx-light bind9-dnsutils curl openssl victoria-metrics chromium systemd tcpdump tshark nmap hping3 tmux python3-aiosmtpd nftables)
want=("${runtime_pkgs[@]}")
testing=0
[[ "${1:-}" == "--test" ]] && testing=1 && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# TCX links (auto-detach when the process dies) need libbpf >= 1.3; Debian 12 has 1.1,
# bookworm-backports has 1.4. The backports source is derived from the machine's own
# Debian source so that we use whichever mirror this host is configured for.
libbpf_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || true)
  [[ -n "$v" ]] && dpkg --compare-versions "$v" ge 1:1.3
}

# The end-to-end tests check what is attached with `bpftool net show`, which lists TCX
# attachments from bpftool 7.3 on; Debian 12 has 7.1, bookworm-backports 7.5 (only the
# bpftool package comes from backports, nothing else is pulled in).
bpftool_ok() {
  local v
  if [[ $testing -eq 0 ]]; then return 0; fi
  v=$(dpkg-query -W -f='${Version}' bpftool 2>/dev/null || true)
  [[ -n "$v" ]] && dpkg --compare-versions "$v" ge 7.3
}

add_backports() {
  local src=/etc/apt/sources.list.d/flowlens-backports.sources uri
  [[ -f "$src" ]] && return 0
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | awk '{print $2}' | grep -v security | head -1 || true)
  if [[ -z "$uri" ]]; then
    uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)
  fi
  [[ -n "$uri" ]] || { echo "install-deps: cannot find a Debian source to derive bookworm-backports from" >&2; exit 1; }
  cat > "$src" <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

if [[ ${#missing[@]} -eq 0 ]] && libbpf_ok && bpftool_ok; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [[ $(id -u) -ne 0 ]]; then
  need=("${missing[@]}")
  libbpf_ok || need+=("libbpf-dev>=1.3")
  bpftool_ok || need+=("bpftool>=7.3")
  echo "install-deps: missing packages (${need[*]}); run as root to install them" >&2
  exit 1
fi
{ libbpf_ok && bpftool_ok; } || add_backports
apt-get update -qq
if [[ ${#missing[@]} -gt 0 ]]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! libbpf_ok; then
  apt-get install -y -qq --no-install-recommends -t bookworm-backports libbpf-dev libbpf1 >/dev/null
fi
if ! bpftool_ok; then
  apt-get install -y -qq --no-install-recommends bpftool/bookworm-backports >/dev/null
fi
