"""Restart policies: whether a container that exited comes back, and when.

Docker's rules: `no` never; `always` always (also when the daemon starts);
`unless-stopped` like always, unless the user stopped it; `on-failure[:N]`
only after a non-zero exit, at most N times. A stop by the user is never
undone. The delay doubles from 100 ms, and resets once the container ran 10 s.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


@dataclass(frozen=True, slots=True)
class Policy:
    name: str = "no"
    max_retries: int = 0

    @classmethod
    def from_host_config(cls, hc: dict) -> Policy:
        p = hc.get("RestartPolicy") or {}
        return cls(p.get("Name") or "no", int(p.get("MaximumRetryCount") or 0))


def should_restart(
    policy: Policy, exit_code: int, manually_stopped: bool, restart_count: int
) -> bool:
    if manually_stopped:
        return False
    if policy.name in ("always", "unless-stopped"):
        return True
    if policy.name == "on-failure":
        return exit_code != 0 and (policy.max_retries == 0 or restart_count < policy.max_retries)
    return False


def restart_on_daemon_start(policy: Policy, manually_stopped: bool) -> bool:
    """Containers the daemon brings back when it starts (live restore found them exited)."""
    return policy.name == "always" or (policy.name == "unless-stopped" and not manually_stopped)


def next_delay(previous: float, ran_for: float) -> float:
    """The back-off before the next restart."""
    if ran_for >= RESET_AFTER or previous <= 0:
        return INITIAL_DELAY
    return min(previous * 2, MAX_DELAY)
