#!/usr/bin/env bash
# Prepares a debootstrap'ed bookworm rootfs to become the base image: apt sources of this
# machine's mirror, no recommends, no docs, no service starts in postinst, empty caches.
# Usage: customize-rootfs.sh <rootfs> <mirror> [security mirror]
set -euo pipefail
root=$1 mirror=$2 security=${3:-}

{
  echo "deb $mirror bookworm main"
  echo "deb $mirror bookworm-updates main"
  if [[ -n $security ]]; then echo "deb $security bookworm-security main"; fi
} >"$root/etc/apt/sources.list"

cat >"$root/etc/apt/apt.conf.d/90appliance-test" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
// The mirror may be a dated snapshot whose Release files have expired.
Acquire::Check-Valid-Until "false";
CONF

cat >"$root/etc/dpkg/dpkg.cfg.d/90appliance-test-nodoc" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF

printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
rm -rf "$root"/usr/share/doc/*/[!c]* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
rm -f "$root"/var/log/*.log "$root"/var/log/apt/* "$root/etc/resolv.conf" "$root/etc/hostname"
