#!/usr/bin/env bash
# Makes a Debian bookworm base image available as $1 (default utvm-base:bookworm).
# Where a registry is reachable, `docker pull debian:bookworm-slim` is the normal
# way; where none is (this CI), build one with debootstrap and `docker import`.
# Idempotent: an image that exists already is kept.
set -euo pipefail
NAME="${1:-utvm-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$NAME" >/dev/null 2>&1; then
  echo "docker-base: $NAME exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "docker-base: debootstrap is not installed (ci/install-system.sh)" >&2; exit 1; }
ROOT="$(mktemp -d /tmp/utvm-rootfs.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
echo "docker-base: debootstrap bookworm into $ROOT"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
tar -C "$ROOT" -c . | docker import - "$NAME" >/dev/null
echo "docker-base: imported $NAME"
