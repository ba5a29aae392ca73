#!/usr/bin/env bash
# Set-up on a fresh Debian bookworm machine (idempotent, quick when done already):
# system packages, a virtual environment in .venv, and this project with its
# dev, tvm and lab extras.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-system.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
.venv/bin/pip install -q -e ".[dev,tvm,lab]"
