#!/usr/bin/env bash
# Installs what Berth needs on a Debian/Ubuntu machine, then its npm packages and build.
# Idempotent: a second run installs nothing and only rebuilds what changed. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "berth setup: run as root (it installs Debian packages; the WSL host needs namespaces and mounts)." >&2
  exit 1
fi

# command (or file) → the Debian package that provides it
declare -A wanted=(
  [dockerd]=docker.io
  [mkfs.ext4]=e2fsprogs
  [debugfs]=e2fsprogs
  [iptables]=iptables
  [unshare]=util-linux
  [nsenter]=util-linux
  [losetup]=util-linux
  [ip]=iproute2
  [ps]=procps
  [pgrep]=procps
  [gcc]=gcc
  [tar]=tar
  [gzip]=gzip
  [tmux]=tmux
  [curl]=curl
  [debootstrap]=debootstrap
  # networking: the user-mode links (WSL's NAT, the engine link), and the tests' proxy, registry and CA
  [pasta]=passt
  [slirp4netns]=slirp4netns
  [tinyproxy]=tinyproxy
  [docker-registry]=docker-registry
  [openssl]=openssl
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
# The distros need a static busybox (the dynamic one cannot run inside them).
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || missing+=(libc6-dev)

if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "berth setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "berth setup: could not install ${missing[*]} with apt-get; install them by hand and run this again." >&2
    exit 1
  fi
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "berth setup: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit --loglevel=error
fi
npm run --silent build
