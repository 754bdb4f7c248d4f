#!/usr/bin/env bash
# Stops what up.sh started (the registry, and dockerd when up.sh started it), keeping caches,
# images, registry data and credentials. Containers still running stop with dockerd.
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[[ -d $RUN ]] || exit 0
exec 9>"$STATE/up.lock"
flock -w 600 9 || die "up.sh is still running (holds $STATE/up.lock)"
mkdir -p "$LOGS"
exec > >(tee -a "$LOGS/up.log" 9>&-) 2>&1
stop_daemon registry
stop_daemon dockerd
if ((${#SUMMARY[@]} == 0)); then SUMMARY=("nothing was running"); fi
log "down: done in ${SECONDS} s"
printf '  - %s\n' "${SUMMARY[@]}"
