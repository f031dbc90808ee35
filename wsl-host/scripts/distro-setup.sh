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

# WSL writes the distro's resolv.conf at each start (wsl.conf [network] generateResolvConf,
# default true): the NAT gateway, which forwards to the host's nameservers. A link there
# (systemd-resolved's stub) is replaced by the file, as WSL does.
mkdir -p "$root/etc"
if [ -n "${BERTH_RESOLV_CONF:-}" ]; then
  rm -f "$root/etc/resolv.conf"
  printf '%s' "$BERTH_RESOLV_CONF" > "$root/etc/resolv.conf"
  chmod 0644 "$root/etc/resolv.conf"
fi

# WSL writes the distro's hosts file at each start too (wsl.conf [network] generateHosts,
# default true): localhost, the distro's host name and the host's hosts entries.
if [ -n "${BERTH_HOSTS_FILE:-}" ]; then
  rm -f "$root/etc/hosts"
  cat "$BERTH_HOSTS_FILE" > "$root/etc/hosts"
  chmod 0644 "$root/etc/hosts"
fi

# As on WSL, /init is the VM's, not the distro's.
[ -e "$root/init" ] || : > "$root/init"
mount --bind "$BERTH_INIT" "$root/init"
mount -o remount,bind,ro "$root/init"

hostname "$BERTH_HOSTNAME"

if [ -n "${BERTH_BOOT_COMMAND:-}" ]; then
  exec "$BERTH_INIT" pid1 --root "$root" --lock "$BERTH_LOCK" --log "$BERTH_LOG" --idle "$BERTH_IDLE" --boot "$BERTH_BOOT_COMMAND"
fi
exec "$BERTH_INIT" pid1 --root "$root" --lock "$BERTH_LOCK" --log "$BERTH_LOG" --idle "$BERTH_IDLE"
