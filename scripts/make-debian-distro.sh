#!/usr/bin/env bash
# Makes a Debian user distro's root as a tarball, as a downloaded distro would be:
# debootstrap (minbase) from Debian's mirror, the user `me` (uid 1000) as wsl.conf's default
# user, curl, and docker-compose from Debian. Usage: make-debian-distro.sh OUT.tar.gz
# Needs root and debootstrap; ~1 minute. Set BERTH_DEBIAN_MIRROR for another mirror.
# Written beside OUT and renamed, so nobody ever sees half a tarball.
set -euo pipefail
out=${1:?usage: make-debian-distro.sh OUT.tar.gz}
suite=bookworm
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=docker-compose,curl,ca-certificates,passwd
command -v debootstrap >/dev/null || { echo "make-debian-distro: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/debootstrap.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/root" "$mirror" >"$work/log" 2>&1; then
  tail -15 "$work/log" >&2
  echo "make-debian-distro: debootstrap $suite from $mirror failed (offline? set BERTH_DEBIAN_MIRROR)" >&2
  exit 1
fi
chroot "$work/root" useradd -m -u 1000 -s /bin/bash me
printf '[user]\ndefault=me\n' > "$work/root/etc/wsl.conf"
rm -rf "$work/root/var/cache/apt/archives" && mkdir -p "$work/root/var/cache/apt/archives/partial"
tar -C "$work/root" --numeric-owner -czf "$out.partial" .
mv "$out.partial" "$out"
echo "$out"
