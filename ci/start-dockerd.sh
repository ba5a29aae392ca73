#!/usr/bin/env bash
# Starts the Docker engine when it is not running (it is not a service on CI
# machines). Idempotent; waits until the daemon answers, at most 60 s.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
command -v dockerd >/dev/null || { echo "start-dockerd: dockerd is not installed (ci/install-system.sh)" >&2; exit 1; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
LOG="${UTVM_DOCKERD_LOG:-/var/log/utvm-dockerd.log}"
# setsid: the daemon outlives this script and the test run that started it.
$SUDO setsid dockerd >"$LOG" 2>&1 < /dev/null &
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "start-dockerd: the daemon did not come up in 60 s; last lines of $LOG:" >&2
tail -20 "$LOG" >&2 || true
exit 1
