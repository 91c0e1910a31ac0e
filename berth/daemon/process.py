"""The OCI process of an exec: the container's identity and environment, with
the exec's command, user, working directory and extra variables on top."""

from __future__ import annotations

from typing import Any

from berth.oci import builder
from berth.oci import spec as oci


def exec_process(containers: Any, c: Any, e: Any) -> dict[str, Any]:
    rootfs = containers.images.rootfs_path(c.id)
    hc = c.host_config
    user, home = builder.resolve_user(
        rootfs, e.user or c.config.get("User") or "", hc.get("GroupAdd") or []
    )
    privileged = e.privileged or bool(hc.get("Privileged"))
    caps = builder.capabilities(hc.get("CapAdd") or [], hc.get("CapDrop") or [], privileged)
    cfg = dict(c.config)
    cfg["Tty"] = e.tty
    env = builder.environment(cfg, home, list(e.env))
    security = builder.parse_security_opts(hc.get("SecurityOpt") or [])
    proc = oci.Process(
        args=list(e.cmd),
        env=env,
        cwd=e.workdir or c.config.get("WorkingDir") or "/",
        terminal=e.tty,
        user=user,
        capabilities=oci.Capabilities(
            bounding=list(caps), effective=list(caps), permitted=list(caps)
        ),
        rlimits=builder.rlimits(hc.get("Ulimits") or []),  # exec'd processes share PID 1's
        no_new_privileges=security.get("no-new-privileges", False) is True,
    )
    size = e.console_size or [0, 0]
    if e.tty and size and size[0] and size[1]:
        proc.console_size = oci.Box(height=int(size[0]), width=int(size[1]))
    return oci.Spec(process=proc).to_dict()["process"]
