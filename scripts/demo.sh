#!/usr/bin/env bash
# Shows the Linux WSL host at work: imports a small distro and runs commands in it, the way
# `wsl --import` and `wsl -d NAME --exec …` work on Windows. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export WSL_UTF8=1
wsl=bin/berth-wsl
root=${BERTH_WSL_ROOT:-/var/lib/berth-wsl}
name=berth-demo

if ! $wsl -l -q 2>/dev/null | tr -d '\r' | grep -qx "$name"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tarball=$(node scripts/make-busybox-distro.mjs "$work" "$name")
  echo "+ berth-wsl --import $name $root/distros/$name $(basename "$tarball")"
  $wsl --import "$name" "$root/distros/$name" "$tarball" --version 2
fi

run() { echo "+ berth-wsl $*"; $wsl "$@"; }
run -l -v
run -d "$name" --exec sh -c 'echo "hostname: $(hostname)"; echo "user: $(id)"; ls /mnt'
run -d "$name" -u me --exec sh -c 'echo "home: $HOME"'
run -d "$name" -u root --exec sh -c 'echo "hello from $WSL_DISTRO_NAME" > /mnt/wsl/demo.txt'
echo "+ cat $root/run/wsl/demo.txt   (the host sees /mnt/wsl)"
cat "$root/run/wsl/demo.txt"
echo "Done. Try: WSL_UTF8=1 bin/berth-wsl -d $name    (a shell in the distro); bin/berth-wsl --shutdown"
