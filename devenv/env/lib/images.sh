# Base and app images, built from Debian packages and cached by content (sourced by up.sh).
# shellcheck shell=bash

HASH_LABEL=appliance-test.hash
IMAGES_DIR=$ENV_DIR/images
DEMO_VERSIONS=(v1 v2 v3 v4)

# apt_mirrors [FILE...]: prints "<mirror> <security mirror or ->" read from this machine's apt sources
# (one-line .list files and deb822 .sources files), so the images use what works here.
apt_mirrors() {
  local files=("$@") f
  if ((${#files[@]} == 0)); then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      if [[ -f $f ]]; then files+=("$f"); fi
    done
  fi
  ((${#files[@]})) || die "no apt sources found in /etc/apt"
  awk -v suite="$SUITE" '
    function take(uris, suites,   u, s, nu, ns, i, j) {
      nu = split(uris, u, " "); ns = split(suites, s, " ")
      for (i = 1; i <= ns; i++) for (j = 1; j <= nu; j++) {
        if (s[i] == suite && main == "") main = u[j]
        if (s[i] == suite "-security" && sec == "") sec = u[j]
      }
    }
    function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no") take(uris, suites); types = uris = suites = enabled = "" }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      if ($0 ~ /^#/) next
      key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
      if (key == "types") types = $0; else if (key == "uris") uris = $0
      else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0)
      next
    }
    FNR == 1 { flush() }
    $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }; take($i, $(i + 1)) }
    END { flush(); if (main == "") exit 1; print main, (sec == "" ? "-" : sec) }
  ' "${files[@]}"
}

image_hash() { "$DOCKER" image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true; }

ensure_base_image() {
  local mirrors mirror security
  if [[ -n ${APPLIANCE_TEST_DEBIAN_MIRROR:-} ]]; then
    mirrors="$APPLIANCE_TEST_DEBIAN_MIRROR ${APPLIANCE_TEST_DEBIAN_SECURITY_MIRROR:--}"
  else
    mirrors=$(apt_mirrors) || die "no apt source for $SUITE found; set APPLIANCE_TEST_DEBIAN_MIRROR"
  fi
  read -r mirror security <<<"$mirrors"
  [[ $security == - ]] && security=
  local hash
  hash=$({
    echo "$SUITE minbase $mirror $security"
    file_hashes "$IMAGES_DIR/debian"
  } | short_hash)
  BASE_HASH=$hash
  local image=appliance-test/debian:$SUITE
  if [[ $(image_hash "$image") == "$hash" ]]; then
    log "$image is current ($hash)"
    return 0
  fi
  local tarball=$CACHE/debian-$SUITE-$hash.tar
  if [[ ! -s $tarball ]]; then
    local root=$CACHE/rootfs-$SUITE.tmp started=$SECONDS
    rm -rf "$root"
    log "debootstrap $SUITE from $mirror (log: $LOGS/debootstrap.log)"
    debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$LOGS/debootstrap.log" 2>&1 ||
      die "debootstrap failed (see $LOGS/debootstrap.log)"
    bash "$IMAGES_DIR/debian/customize-rootfs.sh" "$root" "$mirror" "$security"
    tar -C "$root" --numeric-owner --xattrs --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    find "$CACHE" -maxdepth 1 -name "debian-$SUITE-*.tar" ! -name "${tarball##*/}" -delete
    note "debootstrapped $SUITE ($((SECONDS - started)) s, cached as ${tarball##*/})"
  fi
  "$DOCKER" import --change "LABEL $HASH_LABEL=$hash" --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
  note "imported $image from ${tarball##*/}"
}

# build_image NAME TAG CONTEXT DOCKERFILE PARENT_HASH [BUILD ARG...]: docker build unless the
# image with TAG already carries the hash of these inputs.
build_image() {
  local name=$1 tag=$2 context=$3 dockerfile=$4 parent=$5
  shift 5
  local args=() a
  for a in "$@"; do args+=(--build-arg "$a"); done
  local hash
  hash=$({
    echo "$parent $*"
    file_hashes "$context" "$dockerfile"
  } | short_hash)
  if [[ $(image_hash "$tag") == "$hash" ]]; then
    log "$tag is current ($hash)"
    return 0
  fi
  local started=$SECONDS logfile=$LOGS/build-$name.log
  log "building $tag (log: $logfile)"
  # Host network: apt in the build reaches the mirror exactly as this machine does.
  "$DOCKER" build --network host --label "$HASH_LABEL=$hash" -t "$tag" -f "$dockerfile" \
    "${args[@]}" "$context" >"$logfile" 2>&1 || {
    tail -n 30 "$logfile" >&2
    die "building $tag failed (see $logfile)"
  }
  note "built $tag ($((SECONDS - started)) s)"
}

ensure_images() {
  ensure_base_image
  local py_hash
  build_image postgres appliance-test/postgres:15 "$IMAGES_DIR/postgres" "$IMAGES_DIR/postgres/Dockerfile" "$BASE_HASH"
  build_image caddy appliance-test/caddy:2.6 "$IMAGES_DIR/caddy" "$IMAGES_DIR/caddy/Dockerfile" "$BASE_HASH"
  build_image python appliance-test/python:3.11 "$IMAGES_DIR/python" "$IMAGES_DIR/python/Dockerfile" "$BASE_HASH"
  py_hash=$(image_hash appliance-test/python:3.11)
  local v
  for v in "${DEMO_VERSIONS[@]}"; do
    build_image "demo-$v" "appliance-test/demo:$v" "$ENV_DIR/demo-app" "$IMAGES_DIR/demo/Dockerfile" "$py_hash" \
      "VERSION=$v"
  done
  # Dangling layers of earlier builds of the same tags.
  "$DOCKER" image prune -f --filter "label=$HASH_LABEL" >/dev/null
}
