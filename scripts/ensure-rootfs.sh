#!/bin/bash
# Build the Debian bookworm rootfs that the nspawn test tier boots, unless it is
# already there. Usage: scripts/ensure-rootfs.sh [DIR]   (needs root, ~2 min, ~250 MB)
#
# - The mirror comes from apt's own configuration (or $POSTJOIN_DEBIAN_MIRROR), so no
#   registry host name lives in this repo.
# - The build happens in a temp dir next to DIR and is renamed into place at the end:
#   an interrupted build never leaves a half rootfs at DIR.
# - Idempotent, and safe to run concurrently (flock).
set -euo pipefail

DIR=${1:-/var/cache/postjoin-test/rootfs}
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,procps,iproute2

complete() { [ -x "$1/usr/lib/systemd/systemd" ] || [ -x "$1/lib/systemd/systemd" ]; }

if complete "$DIR"; then
  echo "rootfs ready: $DIR"
  exit 0
fi
if [ -e "$DIR" ]; then
  # Not ours to delete: it may be someone's work. Say what to do instead.
  echo "ensure-rootfs: $DIR exists but has no systemd; remove it and rerun" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-rootfs: debootstrap needs root (sudo $0 $DIR)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "ensure-rootfs: apt-get install -y debootstrap" >&2; exit 1; }

mirror() {
  if [ -n "${POSTJOIN_DEBIAN_MIRROR:-}" ]; then echo "$POSTJOIN_DEBIAN_MIRROR"; return; fi
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    # First "deb [options] URI suite ..." line; skip the optional [ ... ] block.
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "ensure-rootfs: no Debian mirror in apt's config; set POSTJOIN_DEBIAN_MIRROR" >&2; return 1; }
  echo "$m"
}

PARENT=$(dirname "$DIR")
mkdir -p "$PARENT"
exec 9>"$PARENT/.$(basename "$DIR").lock"
flock 9
if complete "$DIR"; then # another run finished it while we waited for the lock
  echo "rootfs ready: $DIR"
  exit 0
fi

MIRROR=$(mirror)
TMP=$(mktemp -d "$PARENT/.$(basename "$DIR").build.XXXXXX")
cleanup() {
  # debootstrap may leave proc/sys/dev mounted in the target when interrupted;
  # unmount them first, and never let rm cross into another file system.
  awk -v p="$TMP/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT

echo "building $SUITE rootfs from $MIRROR into $TMP (then $DIR)"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$TMP/rootfs" "$MIRROR"
complete "$TMP/rootfs" || { echo "ensure-rootfs: debootstrap finished without systemd" >&2; exit 1; }
# apt caches are not needed to boot; keep the cached image small.
rm -rf "$TMP/rootfs/var/cache/apt/archives/"*.deb "$TMP/rootfs/var/lib/apt/lists/"* || true
mv -T "$TMP/rootfs" "$DIR"
echo "rootfs ready: $DIR"
