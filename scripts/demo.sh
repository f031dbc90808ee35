#!/usr/bin/env bash
# Berth's main job: tick "Use the WSL 2 based engine" (berth enable), integrate a user
# distro, and from inside it run `docker run` with a bind mount of one of its folders and a
# published port, then reach that port from the host and from another distro.
# Idempotent; run as root. Uses /var/lib/berth and /var/lib/berth-wsl.
set -euo pipefail
cd "$(dirname "$0")/.."
export WSL_UTF8=1
say() { printf '\n== %s\n' "$*"; }
run() { echo "+ $*"; "$@"; }
wsl=bin/berth-wsl
root=${BERTH_WSL_ROOT:-/var/lib/berth-wsl}

say "enable the WSL 2 engine"
run bin/berth enable

say "a user distro \"Ubuntu\" (a Debian root made with debootstrap; busybox when offline)"
if ! $wsl -l -q 2>/dev/null | tr -d '\r' | grep -qx Ubuntu; then
  debian=/var/cache/berth/debian-bookworm.tar.gz
  if [ -e "$debian" ] || { echo "+ scripts/make-debian-distro.sh $debian"; bash scripts/make-debian-distro.sh "$debian" >/dev/null; }; then
    run $wsl --import Ubuntu "$root/distros/Ubuntu" "$debian" --version 2
  else
    echo "(no Debian mirror reachable: a busybox distro stands in)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    run $wsl --import Ubuntu "$root/distros/Ubuntu" "$(node scripts/make-busybox-distro.mjs "$work" Ubuntu)" --version 2
  fi
fi
run bin/berth integrate Ubuntu

say "an image for the engine (made locally: no registry is reachable here)"
if ! docker --context berth image inspect busybox >/dev/null 2>&1; then
  bb=$(mktemp -d)
  mkdir -p "$bb/bin" && cp /bin/busybox "$bb/bin/"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$bb/bin/$a"; done
  tar -C "$bb" -c . | docker --context berth import - busybox:latest >/dev/null
  rm -rf "$bb"
fi

say "docker run with a bind mount and a published port, from inside the user distro, as its user"
run $wsl -d Ubuntu -u me --exec sh -c 'id -nG; mkdir -p ~/app && echo "hello from $WSL_DISTRO_NAME:~/app" > ~/app/index.html && docker rm -f berth-demo-web >/dev/null 2>&1; docker run -d --name berth-demo-web -v ~/app:/www -p 8080:80 busybox httpd -f -p 80 -h /www'
sleep 1
say "the port, from the host (the \"Windows\" localhost) and from inside the distro"
echo "+ curl http://localhost:8080/"
curl -s --retry 5 --retry-connrefused --retry-delay 1 http://127.0.0.1:8080/
# (curl in the Debian distro, busybox wget in the stand-in)
run $wsl -d Ubuntu -- 'curl -s http://127.0.0.1:8080/ 2>/dev/null || wget -qO- http://127.0.0.1:8080/'

say "status"
run bin/berth status
echo
echo "Try: bin/berth-wsl -d Ubuntu -u me   (a shell there; docker works in it)   ·   bin/berth stop"
