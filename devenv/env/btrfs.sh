#!/usr/bin/env bash
# btrfs on a loop device for tests: the data path of an appliance under test.
#
#   bash devenv/env/btrfs.sh up NAME [SIZE]   # prints the mount point; idempotent (default 2G)
#   bash devenv/env/btrfs.sh down NAME        # unmounts and deletes the image
#
# The image is a sparse file $STATE/btrfs/NAME.img (truncate + mkfs.btrfs), mounted with
# `-o loop` at $STATE/btrfs/mnt/NAME (the loop device is freed on unmount). Installs
# btrfs-progs when missing. Needs root (mount) and a kernel with btrfs.
set -euo pipefail
STATE=${APPLIANCE_TEST_ENV_DIR:-/var/lib/appliance-test-env}
DIR=$STATE/btrfs
action=${1:-}
name=${2:-}
size=${3:-2G}
[[ $name =~ ^[a-zA-Z0-9][a-zA-Z0-9_-]*$ ]] || {
  echo "usage: btrfs.sh up|down NAME [SIZE]" >&2
  exit 2
}
img=$DIR/$name.img
mnt=$DIR/mnt/$name

ensure_tools() {
  command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null && return
  [[ $(id -u) == 0 ]] || {
    echo "btrfs-progs is missing (install it, or run as root)" >&2
    exit 1
  }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends btrfs-progs >/dev/null
}

mounted() { findmnt -n -M "$mnt" >/dev/null 2>&1; }

case $action in
  up)
    ensure_tools
    mkdir -p "$DIR/mnt" "$mnt"
    chmod 0700 "$DIR"
    if ! mounted; then
      if [[ ! -s $img ]] || ! blkid -p -t TYPE=btrfs "$img" >/dev/null 2>&1; then
        rm -f "$img"
        truncate -s "$size" "$img"
        mkfs.btrfs -q -L "appl-$name" "$img" >/dev/null
      fi
      mount -o loop "$img" "$mnt"
    fi
    echo "$mnt"
    ;;
  down)
    if mounted; then umount "$mnt"; fi
    rm -f "$img"
    rmdir "$mnt" 2>/dev/null || true
    ;;
  *)
    echo "usage: btrfs.sh up|down NAME [SIZE]" >&2
    exit 2
    ;;
esac
