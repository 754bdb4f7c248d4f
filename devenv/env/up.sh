#!/usr/bin/env bash
# Brings up the test environment (see devenv/env/README.md): Debian packages, a Docker engine,
# base and app images built from Debian packages (cached by content), a local registry with
# basic auth holding the images, and state files the tests read. Idempotent: quick when all is up.
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/engine.sh
source "$ENV_DIR/lib/engine.sh"
# shellcheck source=lib/images.sh
source "$ENV_DIR/lib/images.sh"
# shellcheck source=lib/registry.sh
source "$ENV_DIR/lib/registry.sh"

mkdir -p "$LOGS" "$RUN" "$CACHE"
chmod 0700 "$STATE"
exec 9>"$STATE/up.lock"
flock -w 1200 9 || die "another up.sh holds $STATE/up.lock"
exec > >(tee -a "$LOGS/up.log" 9>&-) 2>&1
log "up: state in $STATE"

install_packages
ensure_engine
sweep_networks
ensure_images
ensure_registry
push_images "debian:$SUITE" postgres:15 caddy:2.6 "${DEMO_VERSIONS[@]/#/demo:}"

cat >"$STATE/env.json.tmp" <<JSON
{
  "stateDir": "$STATE",
  "dockerHost": "$DOCKER_HOST",
  "socketPath": "$DOCKER_SOCK",
  "dockerBin": "$DOCKER",
  "dockerConfig": "$DOCKER_CONFIG",
  "registry": { "url": "$REGISTRY_ADDR", "credentialsFile": "$CREDENTIALS" },
  "imagesFile": "$STATE/images.json"
}
JSON
mv "$STATE/env.json.tmp" "$STATE/env.json"

if ((${#SUMMARY[@]} == 0)); then SUMMARY=("everything was already up"); fi
log "up: done in ${SECONDS} s"
printf '  - %s\n' "${SUMMARY[@]}"
