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
