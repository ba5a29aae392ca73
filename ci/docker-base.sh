#!/usr/bin/env bash
# Makes a Debian bookworm base image available as $1 (default utvm-base:bookworm).
# Where a registry is reachable, `docker pull debian:bookworm-slim` is the normal
# way; where none is (this CI), build one with debootstrap and `docker import`.
# The base trusts the same extra certificate authorities as this machine
# (/usr/local/share/ca-certificates), so pip and apt behind a TLS-inspecting
# proxy work inside image builds as they do here.
# Idempotent: an image of the current recipe (label org.utvm.base-recipe) is kept.
set -euo pipefail
NAME="${1:-utvm-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RECIPE=2  # bump when what goes into the base changes
if [ "$(docker image inspect -f '{{ index .Config.Labels "org.utvm.base-recipe" }}' "$NAME" 2>/dev/null)" = "$RECIPE" ]; then
  echo "docker-base: $NAME exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "docker-base: debootstrap is not installed (ci/install-system.sh)" >&2; exit 1; }
ROOT="$(mktemp -d /tmp/utvm-rootfs.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
echo "docker-base: debootstrap bookworm into $ROOT"
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR" >/dev/null
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  chroot "$ROOT" update-ca-certificates >/dev/null
fi
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
tar -C "$ROOT" -c . | docker import --change "LABEL org.utvm.base-recipe=$RECIPE" - "$NAME" >/dev/null
echo "docker-base: imported $NAME"
