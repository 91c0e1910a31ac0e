#!/usr/bin/env bash
# Installs every dependency (apt and pip) and runs the whole test suite, as root.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
#
# The suite runs inside a network namespace of its own: every bridge, veth, NAT
# rule and published port the tests (and the berthd/dockerd they start) create
# lives there, loopback included, and goes away with it. The host's network
# configuration is never touched. Mounts and cgroups stay the host's, and the
# tests clean those up themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .

netns="berth-test-$$"
ip netns add "$netns"
trap 'ip netns del "$netns" 2>/dev/null || true' EXIT
ip netns exec "$netns" ip link set lo up

set +e
nsenter --net="/run/netns/$netns" .venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
fi
exit $rc
