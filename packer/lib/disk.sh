# Stage disk: the base disk packer provisions. GPT with a bios_grub partition and one ext4 root
# made from the rootfs with `mkfs.ext4 -d`; grub installed in a chroot; serial console.
# shellcheck shell=bash
ROOT_SIZE_MB=${APPLIANCE_ROOT_SIZE_MB:-6144}

# configure_rootfs DIR UUID: the machine settings every appliance has (idempotent: DIR is the cache).
configure_rootfs() {
  local dir=$1 uuid=$2
  echo appliance >"$dir/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 appliance\n::1 localhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
  printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$dir/etc/fstab"
  install -D -m 0644 "$PACKER_DIR/files/20-dhcp.network" "$dir/etc/systemd/network/20-dhcp.network"
  install -D -m 0644 "$PACKER_DIR/files/90-appliance.cfg" "$dir/etc/cloud/cloud.cfg.d/90-appliance.cfg"
  chroot "$dir" systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
  ln -sf /run/systemd/resolve/stub-resolv.conf "$dir/etc/resolv.conf"
  cat >"$dir/etc/default/grub" <<'GRUB'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB
}

# Undone by disk_cleanup when a stage fails.
LOOP=
DISK_MOUNT=

disk_cleanup() {
  if [ -n "$DISK_MOUNT" ]; then umount -R "$DISK_MOUNT" 2>/dev/null || true; fi
  if [ -n "$LOOP" ]; then losetup -d "$LOOP" 2>/dev/null || true; fi
}

# build_disk ROOTFS OUT: writes the bootable base disk OUT (qcow2).
build_disk() {
  local rootfs=$1 out=$2 work="$WORK/disk" raw uuid mnt
  mkdir -p "$work"
  raw="$work/base.raw"
  uuid=$(cat /proc/sys/kernel/random/uuid)
  configure_rootfs "$rootfs" "$uuid"
  truncate -s "$((ROOT_SIZE_MB + 2))M" "$raw"
  # parted calls udevadm, absent here: its complaint is noise.
  parted -s "$raw" mklabel gpt mkpart bios 1MiB 2MiB set 1 bios_grub on mkpart root ext4 2MiB 100% 2>&1 |
    grep -v udevadm >&2 || true
  # No udev here: losetup -P asks the kernel for the partitions and partx adds any it missed.
  LOOP=$(losetup -P --find --show "$raw")
  local loop=$LOOP
  mnt="$work/mnt"
  DISK_MOUNT=$mnt
  partx -a "$loop" 2>/dev/null || true
  [ -b "${loop}p2" ] || die "no partition device ${loop}p2"
  log "disk: mkfs.ext4 -d (copies the rootfs, ~1 min)"
  mkfs.ext4 -q -L root -U "$uuid" -d "$rootfs" "${loop}p2"
  mkdir -p "$mnt"
  mount "${loop}p2" "$mnt"
  for d in dev proc sys; do mount --bind "/$d" "$mnt/$d"; done
  log "disk: grub-install and update-grub in a chroot"
  chroot "$mnt" grub-install --target=i386-pc --modules='part_gpt ext2' "$loop" 2>&1 | grep -v '^Installation finished' >&2 || true
  chroot "$mnt" update-grub 2>&1 | sed "s/^/  update-grub: /" >&2
  # update-grub names the loop device (no /dev/disk/by-uuid without udev): boot by UUID instead.
  sed -i -E "s#root=/dev/loop[0-9]+p2#root=UUID=$uuid#g" "$mnt/boot/grub/grub.cfg"
  grep -q "root=UUID=$uuid" "$mnt/boot/grub/grub.cfg" || die "grub.cfg has no root=UUID=$uuid"
  [ -f "$mnt/boot/grub/i386-pc/core.img" ] || die "grub-install wrote no core.img"
  umount -R "$mnt"
  DISK_MOUNT=
  # Everything written through the loop device reaches the image file before it is converted.
  sync
  blockdev --flushbufs "$loop"
  losetup -d "$loop"
  LOOP=
  qemu-img convert -f raw -O qcow2 "$raw" "$out"
  rm -f "$raw"
}
