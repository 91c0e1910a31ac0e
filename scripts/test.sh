#!/usr/bin/env bash
# Installs every dependency (apt and pip) and runs the whole test suite, as root.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
fi
exit $rc
