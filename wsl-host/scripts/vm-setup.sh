#!/bin/sh
# Runs once in the utility VM's fresh mount and network namespaces (a copy of the host's).
# Every mount but the shared area turns private, so nothing done in the VM reaches the
# host; the shared area stays a peer of the host's copy, so the host sees /mnt/wsl.
set -eu
"$BERTH_INIT" private-except "$BERTH_SHARED"
ip link set lo up
