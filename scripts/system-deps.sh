#!/usr/bin/env bash
# System packages civicloud needs to build its Python dependencies on Debian 12:
# libvirt-python compiles against libvirt-dev (found through pkg-config); the agent's networks need nftables.
# Installs them with apt-get when running as root; otherwise prints the command.
set -euo pipefail

missing=()
pkg-config --exists libvirt 2>/dev/null || missing+=(libvirt-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
python3 -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' \
  || missing+=(python3-dev)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# Tenant networks: the agent programs security groups and anti-spoofing as nftables rules (nft -j).
command -v nft >/dev/null 2>&1 || missing+=(nftables)
# The data-plane tests ping between the network namespaces they make.
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "civicloud needs these system packages: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
