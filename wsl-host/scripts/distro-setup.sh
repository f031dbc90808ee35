#!/bin/sh
# Runs as pid 1 of a distro's new mount/pid/uts/ipc namespaces, inside a copy of the VM's
# mount namespace, with the host's tools still visible. It builds the distro's view of the
# world under BERTH_MOUNTPOINT, then becomes the distro's init, which pivots into it.
set -eu
root=$BERTH_MOUNTPOINT
automount=$BERTH_AUTOMOUNT_ROOT   # e.g. /mnt/ or /

mkdir -p "$root"
if [ "$BERTH_VHD" = 1 ]; then
  # One loop device per image, as WSL attaches a VHD to the VM once: a distro started again
  # while a mount of its disk lives on (bound into /mnt/wsl, say) must get the same file
  # system, not a second one on the same file (two ext4 mounts of one disk corrupt it).
  loop=$(losetup -j "$BERTH_ROOTFS" -O NAME -n | head -n 1)
  # (A disk that is not sparse is not modelled by turning discard off: the kernel keeps that
  # limit on the loop device after it is detached, and no later user of it could trim.)
  [ -n "$loop" ] || loop=$(losetup -f --show "$BERTH_ROOTFS")
  mount "$loop" "$root"
  # Detached as soon as the last mount of it is gone.
  losetup -d "$loop"
else
  mount --bind "$BERTH_ROOTFS" "$root"
fi
mount --make-private "$root"

for d in proc sys dev run tmp; do mkdir -p "$root/$d"; done
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
if [ -d /sys/fs/cgroup ]; then mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"; fi
mount -t devtmpfs devtmpfs "$root/dev"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev run "$root/run"

if [ "$BERTH_WSL2" = 1 ]; then
  # rbind keeps what other distros already mounted there; the copies stay peers, so
  # mounts made later in any distro appear in all of them.
  mkdir -p "$root${automount}wsl"
  mount --rbind "$BERTH_SHARED" "$root${automount}wsl"
  # The copy left at the old path goes away with the old root; as a slave its unmount
  # cannot propagate to the other distros.
  mount --make-rslave "$BERTH_SHARED"
fi

# The drives come as arguments, a letter and a host directory each: a path is never split again here.
if [ "$BERTH_AUTOMOUNT" = 1 ]; then
  while [ $# -ge 2 ]; do
    mkdir -p "$root${automount}$1"
    mount --bind "$2" "$root${automount}$1"
    shift 2
  done
fi

# The files WSL writes into the distro at each start go only into a real /etc of its own:
# this script runs as root with the host's files in view, and a symlink there (the
# directory or a file) could point it at them. A distro whose /etc is a link gets none.
if [ -L "$root/etc" ]; then etc_is_own=0; else mkdir -p "$root/etc"; etc_is_own=1; fi
generate() { # FILE: standard input becomes $root/etc/FILE, mode 0644
  if [ "$etc_is_own" != 1 ]; then cat >/dev/null; return 0; fi
  rm -f "$root/etc/$1"
  cat > "$root/etc/$1"
  chmod 0644 "$root/etc/$1"
}
# resolv.conf (wsl.conf [network] generateResolvConf, default true): the NAT gateway, which
# forwards to the host's nameservers; a link there (systemd-resolved's stub) is replaced.
[ -z "${BERTH_RESOLV_CONF:-}" ] || printf '%s' "$BERTH_RESOLV_CONF" | generate resolv.conf
# hostname, always.
printf '%s\n' "$BERTH_HOSTNAME" | generate hostname
# hosts ([network] generateHosts, default true): localhost, the host name, the host's entries.
[ -z "${BERTH_HOSTS_FILE:-}" ] || generate hosts < "$BERTH_HOSTS_FILE"

# As on WSL, /init is the VM's, not the distro's (a link there is the distro's, not followed).
[ ! -L "$root/init" ] || rm -f "$root/init"
[ -e "$root/init" ] || : > "$root/init"
mount --bind "$BERTH_INIT" "$root/init"
mount -o remount,bind,ro "$root/init"

hostname "$BERTH_HOSTNAME"

if [ -n "${BERTH_BOOT_COMMAND:-}" ]; then
  exec "$BERTH_INIT" pid1 --root "$root" --lock "$BERTH_LOCK" --log "$BERTH_LOG" --idle "$BERTH_IDLE" --boot "$BERTH_BOOT_COMMAND"
fi
exec "$BERTH_INIT" pid1 --root "$root" --lock "$BERTH_LOCK" --log "$BERTH_LOG" --idle "$BERTH_IDLE"
