#!/bin/bash
# Installs postjoin without RPM: the binary, the units, the config and the directories, with the modes the RPM
# uses, then enables (never starts) postjoin.service, which pulls in postjoin-report.service. Safe to run again:
# what is already right is left alone (not even touched), and an existing /etc/postjoin/config.yaml is never
# overwritten.
#
#   packaging/install.sh [--binary PATH] [--prefix /usr] [--root DIR]
#
#   --binary PATH  the single executable (dist/postjoin-linux-x64|arm64), or the bundle (dist/postjoin.cjs),
#                  which is installed with a launcher that runs it with the host's Node 20+.
#                  Default: the single executable for this machine, beside this script or in ../dist.
#   --prefix DIR   where bin/, lib/systemd/system/ and libexec/ go (default /usr). The unit's ExecStart follows.
#                  /etc/postjoin and /var/lib/postjoin stay where the agent looks for them.
#   --root DIR     install into DIR as if it were / (staging an image tree); enabling is then done offline.
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=''
prefix=/usr
binary=''

die() { echo "install.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --binary=*) binary=${1#--binary=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

case "$prefix" in /*) ;; *) die "--prefix must be absolute: $prefix" ;; esac
prefix=${prefix%/}
if [ -n "$root" ]; then
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  [ "$root" = / ] && root=''
fi

if [ -z "$binary" ]; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "no single executable for $(uname -m); pass --binary" ;;
  esac
  for candidate in "$here/postjoin-linux-$arch" "$here/../dist/postjoin-linux-$arch"; do
    if [ -f "$candidate" ]; then binary=$candidate; break; fi
  done
  [ -n "$binary" ] || die "no postjoin-linux-$arch beside this script or in ../dist; build it (npm run build:sea) or pass --binary"
fi
[ -f "$binary" ] || die "no such file: $binary"

# Both layouts work: a flat directory (install.sh beside its files) and the source tree.
find_source() {
  local f
  for f in "$@"; do if [ -f "$f" ]; then echo "$f"; return; fi; done
  die "cannot find any of: $*"
}
unit_src=$(find_source "$here/postjoin.service" "$here/../systemd/postjoin.service")
report_unit_src=$(find_source "$here/postjoin-report.service" "$here/../systemd/postjoin-report.service")
config_src=$(find_source "$here/config.yaml")

# What kind of binary: an ELF single executable, or the JavaScript bundle (starts with a #! line).
magic=$(head -c 4 "$binary" | od -An -c | tr -d ' ')
case "$magic" in
  177ELF) kind=sea ;;
  '#!'*) kind=bundle ;;
  *) die "$binary is neither a single executable (ELF) nor the postjoin.cjs bundle" ;;
esac

changed=0
mode_of() { stat -c '%a' "$1"; }

# Directory with exactly this mode (an existing one is tightened or loosened to it).
put_dir() {
  local mode=$1 dir=$root$2
  if [ ! -d "$dir" ]; then mkdir -p "$dir"; changed=1; echo "created $2"; fi
  if [ "$(mode_of "$dir")" != "${mode#0}" ]; then chmod "$mode" "$dir"; changed=1; echo "chmod $mode $2"; fi
}

# File with this content and mode; an identical one is left untouched, so its mtime stays.
put_file() {
  local mode=$1 src=$2 dest=$root$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    if [ "$(mode_of "$dest")" != "${mode#0}" ]; then chmod "$mode" "$dest"; changed=1; echo "chmod $mode $3"; fi
    return
  fi
  mkdir -p "$(dirname "$dest")"
  # Beside the target, then renamed over it: a running binary is replaced, not written into.
  install -m "$mode" "$src" "$dest.postjoin-new"
  mv -f "$dest.postjoin-new" "$dest"
  changed=1
  echo "installed $3"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

put_dir 0755 "$prefix/bin"
if [ "$kind" = sea ]; then
  put_file 0755 "$binary" "$prefix/bin/postjoin"
else
  put_dir 0755 "$prefix/libexec/postjoin"
  put_file 0644 "$binary" "$prefix/libexec/postjoin/postjoin.cjs"
  launcher_src=$(find_source "$here/bundle-launcher.sh")
  sed "s|@LIBEXECDIR@|$prefix/libexec|g" "$launcher_src" > "$tmp/postjoin"
  put_file 0755 "$tmp/postjoin" "$prefix/bin/postjoin"
fi

# systemd reads units from /usr/lib/systemd/system and /usr/local/lib/systemd/system alike.
unitdir=$prefix/lib/systemd/system
sed "s|^ExecStart=/usr/bin/postjoin |ExecStart=$prefix/bin/postjoin |" "$unit_src" > "$tmp/postjoin.service"
sed "s|^ExecStart=/usr/bin/postjoin |ExecStart=$prefix/bin/postjoin |" "$report_unit_src" > "$tmp/postjoin-report.service"
put_dir 0755 "$unitdir"
put_file 0644 "$tmp/postjoin.service" "$unitdir/postjoin.service"
# Not enabled on its own: postjoin.service pulls it in (Wants=) and it runs after it.
put_file 0644 "$tmp/postjoin-report.service" "$unitdir/postjoin-report.service"

# /etc/postjoin is readable (the config holds no secrets); task files may hold secrets, so tasks.d and the
# state directory are root-only, as in the RPM.
put_dir 0755 /etc/postjoin
if [ -e "$root/etc/postjoin/config.yaml" ]; then
  if ! cmp -s "$config_src" "$root/etc/postjoin/config.yaml"; then echo "kept /etc/postjoin/config.yaml (edited; not overwritten)"; fi
else
  put_file 0644 "$config_src" /etc/postjoin/config.yaml
fi
put_dir 0700 /etc/postjoin/tasks.d
put_dir 0700 /var/lib/postjoin

# Enable, never start: in an image build the node has not joined anything yet.
wants=/etc/systemd/system/multi-user.target.wants/postjoin.service
if [ "$(readlink "$root$wants" 2>/dev/null)" = "$unitdir/postjoin.service" ]; then
  :
elif command -v systemctl >/dev/null 2>&1; then
  # With --root, systemctl works on the tree offline; without it, it also reloads a running manager.
  if [ -n "$root" ]; then systemctl --root="$root" enable postjoin.service; else systemctl enable postjoin.service; fi
  changed=1
else
  # No systemctl on a staging host: write the symlink `systemctl enable` would (WantedBy=multi-user.target).
  mkdir -p "$(dirname "$root$wants")"
  ln -sfn "$unitdir/postjoin.service" "$root$wants"
  changed=1
  echo "enabled postjoin.service (symlink $wants)"
fi

if [ "$changed" = 0 ]; then echo "postjoin: already installed${root:+ in $root}; nothing changed"; else echo "postjoin: installed${root:+ in $root} ($kind)"; fi
