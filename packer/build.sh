#!/usr/bin/env bash
# `npm run image` (as root): builds the appliance disk image.
#   packer/build.sh [OUT_DIR]            (default packer/output)
#   packer/build.sh --base-only OUT_DIR  the bare Debian disk before packer (the benchmark's baseline)
# Stages, each logged with its time: rootfs (mmdebstrap, cached by a hash of packages.txt),
# release (the agent, built on this host), disk (GPT, ext4 from the rootfs, grub), packer (qemu
# boots the disk, the shell provisioner installs the release, cleanup), output (a compressed
# qcow2 and a raw image). APPLIANCE_IMAGE_CACHE sets the cache directory.
set -euo pipefail
PACKER_DIR=$(cd "$(dirname "$0")" && pwd)
PROJECT_DIR=$(dirname "$PACKER_DIR")
. "$PACKER_DIR/lib/common.sh"
. "$PACKER_DIR/lib/rootfs.sh"
. "$PACKER_DIR/lib/disk.sh"
. "$PACKER_DIR/lib/release.sh"
. "$PACKER_DIR/lib/provision.sh"

BASE_ONLY=false
if [ "${1:-}" = --base-only ]; then BASE_ONLY=true; shift; fi
OUT=${1:-$PACKER_DIR/output}
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap, losetup, chroot)"
for tool in mmdebstrap packer qemu-system-x86_64 qemu-img parted partx losetup mkfs.ext4 xorriso ssh-keygen; do
  command -v "$tool" >/dev/null || die "$tool is missing (bash test/prereqs.sh installs the image tools)"
done
mkdir -p "$IMAGE_CACHE" "$OUT"
WORK=$(mktemp -d "$IMAGE_CACHE/build.XXXXXX")
trap 'disk_cleanup; rm -rf "$WORK"' EXIT
total=$SECONDS

stage rootfs build_rootfs
if $BASE_ONLY; then
  stage disk build_disk "$ROOTFS" "$OUT/base.qcow2"
  log "base disk built in $((SECONDS - total)) s"
  exit 0
fi
stage release build_release "$WORK/release.tar.gz"
stage disk build_disk "$ROOTFS" "$WORK/base.qcow2"
stage packer run_packer "$WORK/base.qcow2" "$WORK/release.tar.gz" "$WORK/packer"
write_outputs() {
  rm -f "$OUT/appliance.qcow2" "$OUT/appliance.raw"
  # Side by side: compressing is single-threaded and the raw copy is mostly I/O.
  qemu-img convert -c -O qcow2 "$WORK/packer/appliance.qcow2" "$OUT/appliance.qcow2" &
  local compress=$!
  qemu-img convert -O raw "$WORK/packer/appliance.qcow2" "$OUT/appliance.raw"
  wait "$compress"
  log "output: $OUT/appliance.qcow2 ($(du -h "$OUT/appliance.qcow2" | cut -f1)), $OUT/appliance.raw ($(du -h --apparent-size "$OUT/appliance.raw" | cut -f1), sparse)"
}
stage output write_outputs
log "image built in $((SECONDS - total)) s"
