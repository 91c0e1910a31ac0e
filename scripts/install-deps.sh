#!/usr/bin/env bash
# Installs everything berth needs on a fresh Debian machine, as root.
#   scripts/install-deps.sh          runtime dependencies only
#   scripts/install-deps.sh --test   plus what the test suite and benchmarks use
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

runtime_pkgs=(python3 python3-venv busybox-static iproute2 iptables libseccomp2 kmod tini procps)
test_pkgs=(runc crun skopeo umoci docker-registry apache2-utils debootstrap zstd pigz
           docker.io psmisc openssl)

pkgs=("${runtime_pkgs[@]}")
[ $want_test = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # A package's post-install must not start services (dockerd, registry) on the host.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Python dependencies live in a virtual environment inside the checkout.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extra=""
[ $want_test = 1 ] && extra="[test]"
# compat mode: a plain path entry in a .pth file, no import hook (the hook costs
# every berth command ~15 ms of start-up: pathlib, importlib.util, contextlib).
.venv/bin/python -m pip install -q --disable-pip-version-check \
  --config-settings editable_mode=compat -e ".$extra"
# berth-runc is started for every container operation and needs only the standard
# library and berth: its launcher skips `site` (python -S) and pip's wrapper. It
# runs on the distribution's python3.X when that is the venv's version X (on
# Debian the venv's own python is that one anyway): Debian builds it with PGO and
# LTO, statically linked, and berth-runc starts faster on it than on a shared-
# library build such as pyenv's. Same version, same bytecode caches.
runc_python="$PWD/.venv/bin/python"
system_python="/usr/bin/python$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ -x "$system_python" ] && "$system_python" -S -c 'import _ctypes, _json' 2>/dev/null; then
  runc_python="$system_python"
fi
printf '#!%s -S\nimport sys\nsys.path.insert(0, "%s")\nfrom berth.runtime.cli import main\nsys.exit(main())\n' \
  "$runc_python" "$PWD" > .venv/bin/berth-runc
chmod 755 .venv/bin/berth-runc
# `berth` (the CLI) gets the same kind of launcher: every command pays for the
# interpreter's start, and pip's wrapper adds `site` and `re` (~10 ms). The CLI's
# hot paths are stdlib-only; the venv's site-packages go last on sys.path for the
# commands that need a third-party package (bcrypt for `registry serve --htpasswd`).
# The venv's own python: the CLI relies on its stdlib (tarfile's extraction
# filters are 3.11.4+; Debian 12's python3.11 is 3.11.2).
cli_site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '#!%s/.venv/bin/python -S\nimport sys\nsys.path[0] = "%s"\nsys.path.append("%s")\nfrom berth.cli.main import main\nsys.exit(main())\n' \
  "$PWD" "$PWD" "$cli_site" > .venv/bin/berth
chmod 755 .venv/bin/berth
# Bytecode written now, so no start-up recompiles (PYTHONDONTWRITEBYTECODE may be set).
.venv/bin/python -m compileall -q berth >/dev/null
# For the quick start, the console scripts go on the PATH; the test suite uses
# .venv/bin directly and leaves the host's PATH alone.
if [ $want_test = 0 ]; then
  for tool in berth berthd berth-shim berth-runc; do
    if [ -x ".venv/bin/$tool" ]; then ln -sf "$PWD/.venv/bin/$tool" "/usr/local/bin/$tool"; fi
  done
fi
