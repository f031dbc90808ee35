#!/usr/bin/env bash
# Berth's main job, as far as it goes today: the Linux WSL host imports a user distro and
# Berth's two distros, the berth distro's agent starts a real dockerd in its own
# namespaces on berth-data's store, and a container runs. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
export WSL_UTF8=1 BERTH_WSL_IDLE_TIMEOUT=${BERTH_WSL_IDLE_TIMEOUT:-0}
wsl=bin/berth-wsl
root=${BERTH_WSL_ROOT:-/var/lib/berth-wsl}
images=$root/images
say() { printf '\n== %s\n' "$*"; }
run() { echo "+ berth-wsl $*"; $wsl "$@"; }
installed() { $wsl -l -q 2>/dev/null | tr -d '\r' | grep -qx "$1"; }

say "a user distro (busybox, standing in for Ubuntu)"
if ! installed berth-demo; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tarball=$(node scripts/make-busybox-distro.mjs "$work" berth-demo)
  run --import berth-demo "$root/distros/berth-demo" "$tarball" --version 2
fi
run -d berth-demo -u me --exec sh -c 'echo "I am $(id -un) in $WSL_DISTRO_NAME ($(hostname)); drives: $(ls /mnt)"'

say "Berth's images (deterministic; rebuilt only when missing)"
[ -f "$images/manifest.json" ] || node dist/installer/images/cli.js "$images"
image() { node -p "require('$images/manifest.json').images['$1'].file"; }

say "the berth and berth-data distros"
installed berth || run --import berth "$root/distros/berth" "$images/$(image berth)" --version 2
installed berth-data || run --import berth-data "$root/distros/berth-data" "$images/$(image berth-data)" --version 2
# The cross-distro mount: berth-data's store under /mnt/wsl/berth/data (what `berth start` will do).
run -d berth-data -u root --exec sh -c 'mkdir -p /mnt/wsl/berth/data; grep -q " /mnt/wsl/berth/data " /proc/mounts || mount --bind /srv/berth-data /mnt/wsl/berth/data'

say "the LinuxKit root with a real dockerd"
run -d berth -u root --exec /opt/berth/bin/berth-agent status >/dev/null || run -d berth -u root --exec /opt/berth/bin/berth-agent start --detach
run -d berth -u root --exec /opt/berth/bin/berth-agent status

say "a container, through the socket published in /mnt/wsl"
sock="unix://$root/run/wsl/berth/docker.sock"
if ! docker -H "$sock" image inspect busybox >/dev/null 2>&1; then
  bb=$(mktemp -d)
  mkdir -p "$bb/bin" && cp /bin/busybox "$bb/bin/" && ln -s busybox "$bb/bin/sh" && ln -s busybox "$bb/bin/echo" && ln -s busybox "$bb/bin/uname"
  tar -C "$bb" -c . | docker -H "$sock" import - busybox:latest >/dev/null
  rm -rf "$bb"
fi
echo "+ docker -H $sock run --rm busybox sh -c 'echo hello from \$(uname -n)'"
docker -H "$sock" run --rm busybox sh -c 'echo hello from $(uname -n)'

say "done"
echo "Stop the engine: bin/berth-wsl -d berth --exec /opt/berth/bin/berth-agent stop; everything: bin/berth-wsl --shutdown"
