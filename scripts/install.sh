#!/usr/bin/env bash
# Installs the appliance agent from a release directory (packer/build.sh makes one) onto Debian
# bookworm: the image build's provisioner runs it with --image; on an existing host run it as
#   sudo bash install.sh RELEASE_DIR
# Steps: the Debian packages the agent drives, node (the release's own, when the host has no
# node >= 20.19), /opt/appliance, the `appliance` command, the boot and agent units.
set -euo pipefail
image=false
if [ "${1:-}" = --image ]; then image=true; shift; fi
release=${1:?usage: install.sh [--image] RELEASE_DIR}
release=$(cd "$release" && pwd)
log() { printf 'install: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || log "warning: made for Debian bookworm, this is ${PRETTY_NAME:-unknown}"

# What the agent drives. The image has them from its package list (packer/packages.txt).
pkgs=(docker.io btrfs-progs e2fsprogs util-linux restic git age gnupg openssl ca-certificates)
need=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  $image && { log "the base image lacks ${need[*]} (add them to packer/packages.txt)"; exit 1; }
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# node: the host's when it is new enough, else the release's binary.
node_ok() { "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; }
if [ -x /usr/bin/node ] && node_ok /usr/bin/node; then
  log "node $(/usr/bin/node --version) is already there"
elif [ -e /usr/bin/node ]; then
  log "/usr/bin/node is older than 20.19: upgrade it (the agent needs >= 20.19)"
  exit 1
else
  install -m 0755 "$release/node" /usr/bin/node
  log "node $(/usr/bin/node --version) installed to /usr/bin/node"
fi

# The agent release, replaced as a whole (an update keeps the previous one as /opt/appliance.old).
rm -rf /opt/appliance.new /opt/appliance.old
cp -a "$release/appliance" /opt/appliance.new
chown -R root:root /opt/appliance.new
[ -d /opt/appliance ] && mv /opt/appliance /opt/appliance.old
mv /opt/appliance.new /opt/appliance
ln -sf /opt/appliance/bin/appliance.js /usr/local/bin/appliance
log "agent $(/usr/bin/node /opt/appliance/dist/agent/main.js --version) installed to /opt/appliance"

install -d -m 0700 /etc/appliance /var/lib/appliance
install -m 0644 "$release/appliance-boot.service" "$release/appliance-agent.service" /etc/systemd/system/
systemctl daemon-reload 2>/dev/null || true
systemctl enable appliance-boot.service appliance-agent.service docker.service >/dev/null 2>&1

if $image; then
  # The image must not carry this build's identity: cloud-init runs again on the first boot,
  # with a new machine id and new SSH host keys.
  cloud-init clean --logs
  # cloud-init named the build machine: the image's own name (a seed's meta-data may rename it).
  echo appliance >/etc/hostname
  rm -f /etc/ssh/ssh_host_*
  truncate -s 0 /etc/machine-id
  rm -f /var/lib/dbus/machine-id
  apt-get clean
  log "image provisioned"
else
  systemctl restart appliance-boot.service appliance-agent.service
  log "started; without /etc/appliance/bootstrap.yml the agent serves a 'no configuration' page"
fi
