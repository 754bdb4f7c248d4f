# Local registry (Debian's docker-registry, basic auth) and the pushed images (sourced by up.sh).
# shellcheck shell=bash

REG=$STATE/registry
CREDENTIALS=$REG/credentials.json
REGISTRY_USER=appliance-test

registry_password() { sed -n 's/.*"password": *"\([^"]*\)".*/\1/p' "$CREDENTIALS"; }

ensure_credentials() {
  if [[ -s $CREDENTIALS && -s $REG/htpasswd ]]; then return 0; fi
  local password
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  (
    umask 077
    printf '{ "url": "%s", "username": "%s", "password": "%s" }\n' \
      "$REGISTRY_ADDR" "$REGISTRY_USER" "$password" >"$CREDENTIALS.tmp"
    # -i: the password comes on stdin, never in argv.
    printf '%s\n' "$password" | htpasswd -B -i -c "$REG/htpasswd.tmp" "$REGISTRY_USER" 2>/dev/null
  )
  mv "$REG/htpasswd.tmp" "$REG/htpasswd"
  mv "$CREDENTIALS.tmp" "$CREDENTIALS"
  rm -rf "$DOCKER_CONFIG"
  note "generated registry credentials ($CREDENTIALS)"
}

write_registry_config() {
  cat >"$REG/config.yml.tmp" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REG/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  secret: appliance-test-only
auth:
  htpasswd:
    realm: appliance-test
    path: $REG/htpasswd
EOF
  mv "$REG/config.yml.tmp" "$REG/config.yml"
}

# registry_status: the HTTP status of /v2/ (401 when our registry runs with auth).
registry_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$REGISTRY_ADDR/v2/" || true; }
registry_ready() { [[ $(registry_status) == 401 ]]; }

ensure_registry() {
  mkdir -p "$REG/data"
  ensure_credentials
  write_registry_config
  local status
  status=$(registry_status)
  if daemon_alive registry && [[ $status == 401 ]]; then
    log "registry answers on $REGISTRY_ADDR"
  elif [[ $status == 401 ]]; then
    log "a registry up.sh did not start answers on $REGISTRY_ADDR; using it (down.sh leaves it running)"
  elif [[ $status != 000 ]]; then
    die "something else answers on $REGISTRY_ADDR (HTTP $status); stop it or set APPLIANCE_TEST_REGISTRY_ADDR"
  else
    start_daemon registry "$LOGS/registry.log" docker-registry serve "$REG/config.yml"
    wait_for 30 "registry" registry_ready ||
      die "registry on $REGISTRY_ADDR did not come up (HTTP $(registry_status), see $LOGS/registry.log)"
    note "started registry on $REGISTRY_ADDR (pid $(<"$RUN/registry.pid"))"
  fi
  if ! grep -q "$REGISTRY_ADDR" "$DOCKER_CONFIG/config.json" 2>/dev/null; then
    mkdir -p "$DOCKER_CONFIG"
    chmod 0700 "$DOCKER_CONFIG"
    registry_password | "$DOCKER" login -u "$REGISTRY_USER" --password-stdin "$REGISTRY_ADDR" >>"$LOGS/push.log" 2>&1 ||
      die "docker login $REGISTRY_ADDR failed (see $LOGS/push.log)"
    log "logged in to $REGISTRY_ADDR"
  fi
}

# registry_has REPO DIGEST: the registry serves that manifest (checked with our credentials,
# handed to curl on stdin).
registry_has() {
  printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$(registry_password)" |
    curl -K - -sf -o /dev/null -I --max-time 10 \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "http://$REGISTRY_ADDR/v2/$1/manifests/$2"
}

# previous_field NAME FIELD: a field of NAME's entry in the images.json of an earlier run.
previous_field() {
  [[ -f $STATE/images.json ]] || return 0
  # An image new to this environment has no line yet: nothing to compare, not a failure.
  { grep -F "\"$1\": {" "$STATE/images.json" || true; } | sed -n "s/.*\"$2\": \"\([^\"]*\)\".*/\1/p"
}

# push_images NAME...: pushes appliance-test/NAME to the registry unless the same content was
# pushed before and is still there; writes images.json (NAME -> digest reference).
push_images() {
  local lines=() name repo tag hash id digest remote
  for name in "$@"; do
    repo=${name%%:*} tag=${name#*:}
    remote=$REGISTRY_ADDR/$repo:$tag
    hash=$(image_hash "appliance-test/$name")
    id=$("$DOCKER" image inspect --format '{{.Id}}' "appliance-test/$name")
    digest=$(previous_field "$name" digest)
    # Builds are not reproducible: a rebuilt image (new id) is pushed again, so the registry
    # serves exactly the local image.
    if [[ -z $digest || $(previous_field "$name" id) != "$id" ]] || ! registry_has "$repo" "$digest"; then
      "$DOCKER" tag "appliance-test/$name" "$remote"
      "$DOCKER" push "$remote" >>"$LOGS/push.log" 2>&1 || die "pushing $remote failed (see $LOGS/push.log)"
      digest=$("$DOCKER" image inspect --format '{{ range .RepoDigests }}{{ println . }}{{ end }}' "$remote" |
        sed -n "s|^$REGISTRY_ADDR/$repo@||p" | head -n 1)
      [[ -n $digest ]] || die "no digest for $remote after pushing it"
      note "pushed $remote ($digest)"
    fi
    lines+=("$(printf '  "%s": { "local": "appliance-test/%s", "tag": "%s", "ref": "%s", "digest": "%s", "id": "%s", "hash": "%s" }' \
      "$name" "$name" "$remote" "$REGISTRY_ADDR/$repo@$digest" "$digest" "$id" "$hash")")
  done
  {
    echo "{"
    local i
    for i in "${!lines[@]}"; do
      if ((i + 1 < ${#lines[@]})); then echo "${lines[$i]},"; else echo "${lines[$i]}"; fi
    done
    echo "}"
  } >"$STATE/images.json.tmp"
  mv "$STATE/images.json.tmp" "$STATE/images.json"
}
