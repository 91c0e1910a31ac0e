"""Running the spec's hooks: each gets the container's state JSON on stdin."""

from __future__ import annotations

from berth.errors import InternalError
from berth.oci.spec import Hook
from berth.runtime import jsonc


def run_hooks(stage: str, hooks: list[Hook], state: dict) -> None:
    """Run `hooks` in order; the first failure (or timeout) raises, naming the stage."""
    if not hooks:
        return
    import subprocess

    data = jsonc.dumps(state).encode()
    for hook in hooks:
        argv = hook.args or [hook.path]
        try:
            result = subprocess.run(
                argv,
                executable=hook.path,
                input=data,
                env=dict(e.split("=", 1) for e in hook.env if "=" in e),
                capture_output=True,
                timeout=hook.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InternalError(
                f"{stage} hook {hook.path} timed out after {hook.timeout}s"
            ) from None
        except OSError as e:
            raise InternalError(f"{stage} hook {hook.path}: {e.strerror}") from None
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise InternalError(
                f"{stage} hook {hook.path} failed: exit status {result.returncode}"
                + (f": {detail[-1]}" if detail else "")
            )


def run_hooks_logged(stage: str, hooks: list[Hook], state: dict) -> None:
    """For poststop: failures are logged, not raised (the container is gone anyway)."""
    try:
        run_hooks(stage, hooks, state)
    except InternalError as e:
        _warn("container %s: %s", state.get("id"), e)


def _warn(fmt: str, *args: object) -> None:
    """Log a warning; `logging` is imported only when there is one (start-up time)."""
    import logging

    logging.getLogger(__name__).warning(fmt, *args)
