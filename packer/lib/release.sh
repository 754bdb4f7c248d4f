# Stage release: the agent as the appliance runs it, made on the host (the build VM reaches no
# npm registry): the compiled dist/, production node_modules from `npm ci --omit=dev`, the
# host's node binary, the units and scripts/install.sh. Writes a .tar.gz.
# shellcheck shell=bash
build_release() {
  local out=$1 dir="$WORK/release"
  local app="$dir/appliance"
  mkdir -p "$app"
  log "release: tsc build into $app"
  (cd "$PROJECT_DIR" && npx tsc -p tsconfig.build.json --outDir "$app/dist")
  cp -a "$PROJECT_DIR/package.json" "$PROJECT_DIR/package-lock.json" "$PROJECT_DIR/bin" "$PROJECT_DIR/schema" "$app/"
  log "release: npm ci --omit=dev"
  (cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  # The host's node (Debian bookworm's nodejs is 18; the agent needs >= 20.19): a single binary
  # needing only libc, libstdc++ and libgcc, which the image has.
  local node
  node=$(command -v node)
  if ldd "$node" | grep -q 'not found'; then die "$node needs libraries that are missing"; fi
  install -m 0755 "$node" "$dir/node"
  install -m 0644 "$PACKER_DIR/files/appliance-agent.service" "$PACKER_DIR/files/appliance-boot.service" "$dir/"
  install -m 0755 "$PROJECT_DIR/scripts/install.sh" "$dir/install.sh"
  tar -czf "$out" -C "$dir" .
  log "release: $(du -h "$out" | cut -f1) ($("$node" --version))"
}
