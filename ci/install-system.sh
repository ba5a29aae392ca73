#!/usr/bin/env bash
# Installs the Debian packages utvm needs (toolchains, QEMU, Docker engine, debootstrap).
# Idempotent: does nothing when everything is already there. Needs root (or sudo).
set -euo pipefail
PKGS=(gcc make gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm docker.io debootstrap
      binutils file clang-14 libclang-rt-14-dev chromium ser2net)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
