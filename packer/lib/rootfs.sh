# Stage rootfs: mmdebstrap into a plain directory (a loop mount is twice as slow), cached by a
# hash of the package list and of the mmdebstrap options (ROOTFS_OPTIONS: change it with them).
# shellcheck shell=bash
packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$PACKER_DIR/packages.txt" | grep -v '^$' | sort -u; }

ROOTFS_OPTIONS='bookworm important main v1'

rootfs_key() {
  { packages; echo "$ROOTFS_OPTIONS"; } | sha256sum | cut -c1-16
}

# build_rootfs: sets ROOTFS to the cached rootfs for the current package list, building it when missing.
build_rootfs() {
  ROOTFS="$IMAGE_CACHE/rootfs-$(rootfs_key)"
  if [ -f "$ROOTFS.complete" ]; then
    log "rootfs: cached $ROOTFS"
    return
  fi
  rm -rf "$ROOTFS" "$ROOTFS.tmp" "$ROOTFS.complete"
  mkdir -p "$IMAGE_CACHE"
  local list
  list=$(packages | paste -sd, -)
  log "rootfs: mmdebstrap bookworm with $(packages | wc -l) packages into $ROOTFS (4-5 min)"
  # The host's apt sources name the mirror (Debian bookworm and its security updates).
  mmdebstrap --variant=important --components=main --include="$list" \
    --aptopt='Acquire::Retries "3"' \
    --customize-hook='chroot "$1" apt-get clean' \
    bookworm "$ROOTFS.tmp" /etc/apt/sources.list.d/debian.sources
  mv "$ROOTFS.tmp" "$ROOTFS"
  touch "$ROOTFS.complete"
  # Older rootfs caches of other package lists are removed: each is ~1.5 GB.
  find "$IMAGE_CACHE" -maxdepth 1 -name 'rootfs-*' ! -path "$ROOTFS" ! -path "$ROOTFS.complete" -exec rm -rf {} +
}
