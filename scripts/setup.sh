#!/usr/bin/env bash
# Installs what Berth needs on a Debian/Ubuntu machine, then its npm packages and build.
# Idempotent: a second run installs nothing and only rebuilds what changed. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "berth setup: run as root (it installs Debian packages; the WSL host needs namespaces and mounts)." >&2
  exit 1
fi

# Each Debian package, then the commands it must provide (one is enough to tell it is there).
# Networking: slirp4netns is the user-mode link (WSL's NAT, the engine link), passt's pasta
# the benchmark's peer link;
# tinyproxy, docker-registry and openssl are the tests' proxy, registry and CA (apache2-utils'
# htpasswd makes the registry's bcrypt password file); chromium the
# browser the dashboard tests drive (headless, with playwright-core); socat the benchmark's
# peer relay for the proxy (docker-proxy, the published-port peer, comes with docker.io);
# clang (with libclang-rt-14-dev below) builds the libFuzzer run over berth-relay's parsers.
missing=()
while read -r package commands; do
  for cmd in $commands; do
    command -v "$cmd" >/dev/null 2>&1 || { missing+=("$package"); break; }
  done
done <<'PACKAGES'
docker.io dockerd
e2fsprogs mkfs.ext4 debugfs resize2fs e2fsck filefrag
iptables iptables
mount losetup
util-linux unshare nsenter fallocate taskset
iproute2 ip
procps ps pgrep
gcc gcc
tar tar
gzip gzip
tmux tmux
curl curl
debootstrap debootstrap
passt pasta
slirp4netns slirp4netns
tinyproxy tinyproxy
docker-registry docker-registry
apache2-utils htpasswd
openssl openssl
chromium chromium
socat socat
clang clang
PACKAGES
# The distros need a static busybox (the dynamic one cannot run inside them).
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || missing+=(libc6-dev)
# libFuzzer's runtime, for the tests that fuzz berth-relay's parsers with clang.
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)

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
