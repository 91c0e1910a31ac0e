#!/usr/bin/env bash
# The main job, as root on a fresh Debian machine: install berth, start berthd,
# make the embedded busybox image from Debian's busybox-static, run a container.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec .venv/bin/python -m berth.quickstart "$@"
