"""The docker CLI pointed at one test daemon (berthd or a private dockerd)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.tools import DOCKER


class DockerCli:
    """`docker -H <host> ...` with a private client config and the classic builder.

    Needs `host`, `root` and `text_output` (str output when True, bytes when False)."""

    host: str
    root: Path
    text_output: bool

    def docker_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
        env["DOCKER_CONFIG"] = str(self.root / "docker-config")  # never the host's ~/.docker
        env["DOCKER_BUILDKIT"] = "0"  # the classic builder protocol, as berthd serves it
        return env

    def docker(
        self,
        *args: str,
        check: bool = True,
        input: str | bytes | None = None,
        text: bool | None = None,
        cwd: Path | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess:
        """`docker ARGS`; a non-zero exit fails the test unless `check` is False."""
        text = self.text_output if text is None else text
        if isinstance(input, str) and not text:
            input = input.encode()
        res = subprocess.run(
            [DOCKER, "-H", self.host, *args], capture_output=True, input=input, text=text,
            cwd=cwd, env=self.docker_env(), timeout=timeout,
        )  # fmt: skip
        if check and res.returncode != 0:
            out, err = res.stdout, res.stderr
            if not text:
                out, err = out.decode(errors="replace"), err.decode(errors="replace")
            raise AssertionError(f"docker {' '.join(args)} -> {res.returncode}\n{out}\n{err}")
        return res

    def inspect_image(self, ref: str) -> dict[str, Any]:
        return json.loads(self.docker("image", "inspect", ref, text=True).stdout)[0]
