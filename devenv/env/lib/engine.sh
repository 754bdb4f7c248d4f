# Debian packages and the Docker engine (sourced by up.sh).
# shellcheck shell=bash

# restic: the demo appliance schedules backups, which the agent runs with restic.
ENV_PACKAGES=(docker.io debootstrap docker-registry apache2-utils git ca-certificates iptables curl restic)

pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]
}

install_packages() {
  local missing=() p
  for p in "${ENV_PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing Debian packages ${missing[*]}: run as root or install them"
  log "installing ${missing[*]}"
  apt-get update -qq >>"$LOGS/apt.log" 2>&1 || die "apt-get update failed (see $LOGS/apt.log)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >>"$LOGS/apt.log" 2>&1 || die "apt-get install failed (see $LOGS/apt.log)"
  note "installed ${missing[*]}"
}

# dockerd programs the firewall through `iptables`; where the nft flavour does not work in this
# kernel, the legacy one usually does.
ensure_iptables() {
  iptables -S >/dev/null 2>&1 && return 0
  if iptables-legacy -S >/dev/null 2>&1; then
    update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
    update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
    note "switched iptables to the legacy backend"
    return 0
  fi
  die "neither iptables-nft nor iptables-legacy works here; dockerd cannot set up its networks"
}

# clear_stale_pidfile FILE EXE: removes a pid file left by a killed daemon, which would keep
# dockerd from starting ("pid file found, ensure docker is not running").
clear_stale_pidfile() {
  [[ -s $1 ]] || return 0
  if ! proc_runs "$(<"$1")" "$2"; then
    rm -f "$1"
    log "removed stale $1"
  fi
}

engine_answers() { timeout 10 "$DOCKER" info >/dev/null 2>&1; }

ensure_engine() {
  if engine_answers; then
    log "docker engine answers on $DOCKER_SOCK"
    return 0
  fi
  ensure_iptables
  clear_stale_pidfile /var/run/docker.pid "$DOCKERD"
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid /usr/bin/containerd
  local logfile=$LOGS/dockerd.log
  log "starting dockerd (log: $logfile)"
  # overlay2 is what dockerd picks on this kernel; asking for it fails loudly instead of
  # silently falling back to the slow vfs driver.
  start_daemon dockerd "$logfile" "$DOCKERD" --host="unix://$DOCKER_SOCK" --storage-driver=overlay2
  local deadline=$((SECONDS + 90))
  until engine_answers; do
    if ! daemon_alive dockerd || ((SECONDS >= deadline)); then
      tail -n 30 "$logfile" >&2 || true
      die "dockerd did not come up (see $logfile)"
    fi
    sleep 0.5
  done
  note "started dockerd (pid $(<"$RUN/dockerd.pid"), storage $("$DOCKER" info --format '{{.Driver}}'))"
}

# Networks of appliances (tests, the demo) that no container uses any more, from runs that
# ended without removing them. Docker's default address pools hold about 30 networks: leftovers
# pile up across runs on one engine until every network create fails. Networks made in the
# last 10 minutes stay (a run may be between creating one and starting its containers).
sweep_networks() {
  local gone
  gone=$("$DOCKER" network prune -f --filter label=appliance.owner --filter until=10m | sed -n '2,$p' | grep -c . || true)
  if ((gone > 0)); then note "removed $gone unused appliance networks left by earlier runs"; fi
}
