#!/usr/bin/env bash
# Installs the Debian packages the tests drive (git, python3, gpg, ssh-keygen, age, xorriso, poppler,
# cloud-init for its schema check, zbar, fuseiso, restic, caddy, openssl,
# prometheus for promtool, pebble for ACME, chromium for the browser tests; parted, e2fsprogs,
# btrfs-progs for the first-boot disk tests) when missing, so `npm test` works on a fresh machine;
# the Docker and btrfs tests install theirs through devenv/env/. Quick when everything is there.
# With arguments, installs those packages instead (the benchmarks' baselines, and
# `npm run image` and test/run.sh for the VM tests: mmdebstrap packer qemu-system-x86 qemu-utils socat).
set -euo pipefail
pkgs=(git python3 gnupg openssh-client age xorriso poppler-utils cloud-init zbar-tools fuseiso restic caddy openssl prometheus
  pebble chromium parted e2fsprogs btrfs-progs)
if [ $# -gt 0 ]; then pkgs=("$@"); fi
need=()
for pkg in "${pkgs[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "tests need these Debian packages: ${need[*]} (install them, or run as root)" >&2
  exit 1
fi
echo "installing ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
