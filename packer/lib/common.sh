# Shared by the image build's stages: logging with durations, and the cache directory.
# shellcheck shell=bash
IMAGE_CACHE="${APPLIANCE_IMAGE_CACHE:-/var/cache/appliance-image}"

log() { printf '[image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# stage NAME COMMAND...: runs one stage, logging what it does and how long it took.
stage() {
  local name=$1 start=$SECONDS
  shift
  log "stage $name: start"
  "$@"
  log "stage $name: done in $((SECONDS - start)) s"
}

die() {
  log "error: $*"
  exit 1
}

# qemu_accel: kvm when /dev/kvm is writable and the CPU has virtualisation extensions; else tcg.
# (A /dev/kvm without vmx/svm, as in some sandboxes, boots ~10x slower than tcg.)
qemu_accel() {
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then echo kvm; else echo tcg; fi
}
