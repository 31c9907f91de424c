#!/usr/bin/env bash
# Make a libvirt host out of this machine, for the real-VM tests, the demo and operators:
# - install libvirtd and QEMU from Debian when missing (as root);
# - give /dev/kvm to group kvm, mode 0660 (otherwise libvirt re-probes QEMU on every call, a minute each);
# - start virtlogd then libvirtd when they are not running (systemd where it runs, the daemons' -d otherwise).
# Idempotent: running it again changes nothing on a ready machine.
set -euo pipefail

packages=(libvirt-daemon-system libvirt-daemon-system-sysv qemu-system-x86 qemu-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "libvirtd and QEMU are missing; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # policy-rc.d keeps the packages' scripts from starting daemons half-configured; we start them below.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
fi

if [ -e /dev/kvm ] && [ "$(id -u)" -eq 0 ]; then
  getent group kvm >/dev/null || groupadd --system kvm
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl start virtlogd libvirtd
else
  mkdir -p /var/log/libvirt /var/lib/libvirt/images /run/libvirt
  pgrep -x virtlogd >/dev/null || virtlogd -d
  pgrep -x libvirtd >/dev/null || libvirtd -d
fi

for _ in $(seq 1 50); do
  virsh -c qemu:///system version >/dev/null 2>&1 && { echo "libvirtd is ready (qemu:///system)"; exit 0; }
  sleep 0.2
done
echo "libvirtd did not answer on qemu:///system; see /var/log/libvirt/libvirtd.log" >&2
exit 1
