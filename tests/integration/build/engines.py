"""Daemons for the build tests: the shared harness's private berthd (with Debian's
runc, BERTH_BUILD_TEST_RUNTIME to change) and private dockerd, each on its own
temporary roots and socket, stopped by pid and checked for leftovers."""

from __future__ import annotations

import os

from tests.support.berthd import Berthd, private_berthd
from tests.support.dockerd import Dockerd, private_dockerd
from tests.support.tools import DOCKER

RUNTIME = os.environ.get("BERTH_BUILD_TEST_RUNTIME", "runc")

Daemon = Berthd | Dockerd

__all__ = ["DOCKER", "RUNTIME", "Daemon", "private_berthd", "private_dockerd"]
