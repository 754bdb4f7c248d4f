# Stage packer: qemu boots the base disk with a build-only `cidata` seed (user `build`, a key
# made for this build), packer's shell provisioner runs install.sh --image from the release,
# and the shutdown command removes the build user.
# shellcheck shell=bash
run_packer() {
  local base=$1 release=$2 out=$3 seed="$WORK/seed" accel=tcg
  mkdir -p "$seed"
  ssh-keygen -q -t ed25519 -N '' -C appliance-build -f "$WORK/build_key"
  cat >"$seed/user-data" <<SEED
#cloud-config
users:
  - name: build
    sudo: 'ALL=(ALL) NOPASSWD:ALL'
    shell: /bin/bash
    ssh_authorized_keys: ['$(cat "$WORK/build_key.pub")']
# The image keeps its size: the root grows on the appliance's first boot, to its disk.
growpart: { mode: 'off' }
resize_rootfs: false
SEED
  printf 'instance-id: appliance-build\nlocal-hostname: appliance-build\n' >"$seed/meta-data"
  accel=$(qemu_accel)
  log "packer: qemu ($accel) boots the base disk; serial console in $WORK/serial.log"
  PACKER_CACHE_DIR="$WORK/packer_cache" PACKER_LOG=0 CHECKPOINT_DISABLE=1 packer build -color=false \
    -var "base_disk=$base" -var "output_dir=$out" -var "release=$release" -var "seed_dir=$seed" \
    -var "ssh_key=$WORK/build_key" -var "accelerator=$accel" -var "disk_size=$((ROOT_SIZE_MB + 2))M" -var "serial_log=$WORK/serial.log" \
    "$PACKER_DIR/appliance.json" 2>&1 | sed -u 's/^/  packer: /' >&2 || {
    tail -n 40 "$WORK/serial.log" >&2 || true
    die "packer build failed"
  }
}
