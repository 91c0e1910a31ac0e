"""Docker's create-time rules: checking a create body's types, merging the
user's Config with the image's, and validating HostConfig values."""

from __future__ import annotations

import os
from typing import Any

from berth.errors import InvalidArgument

_LIST_OF_STR = ("Cmd", "Entrypoint", "Env", "OnBuild", "Shell")
_STR = ("Hostname", "Domainname", "User", "WorkingDir", "Image", "StopSignal", "MacAddress")
_BOOL = ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce")
_HC_INT = (
    "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod",
    "CpuQuota", "PidsLimit", "BlkioWeight", "ShmSize", "MemorySwappiness", "OomScoreAdj",
    "CpuRealtimePeriod", "CpuRealtimeRuntime",
)  # fmt: skip


def _type_error(field: str, want: str, value: Any) -> InvalidArgument:
    got = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "bool",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)
    return InvalidArgument(
        f"json: cannot unmarshal {got} into Go struct field {field} of type {want}"
    )


def check_types(body: dict[str, Any]) -> None:
    """Refuse values of the wrong JSON type with Docker's (Go's) wording."""
    for key in _LIST_OF_STR:
        v = body.get(key)
        if key in ("Cmd", "Entrypoint") and isinstance(v, str):
            body[key] = [v]  # Docker's StrSlice accepts a bare string
            continue
        if v is not None and not isinstance(v, list):
            raise _type_error(f"Config.{key}", "[]string", v)
        bad = next((x for x in v or [] if not isinstance(x, str)), None)
        if bad is not None:
            raise _type_error(f"Config.{key}", "string", bad)
    for key in _STR:
        v = body.get(key)
        if v is not None and not isinstance(v, str):
            raise _type_error(f"Config.{key}", "string", v)
    for key in _BOOL:
        v = body.get(key)
        if v is not None and not isinstance(v, bool):
            raise _type_error(f"Config.{key}", "bool", v)
    labels = body.get("Labels")
    if labels is not None and (
        not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())
    ):
        raise _type_error("Config.Labels", "map[string]string", labels)
    hc = body.get("HostConfig")
    if hc is not None and not isinstance(hc, dict):
        raise _type_error("ContainerConfigWrapper.HostConfig", "container.HostConfig", hc)
    for key in _HC_INT:
        v = (hc or {}).get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise _type_error(f"HostConfig.{key}", "int64", v)


def merge_image_config(user: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The container's Config: the user's values, the image's where the user gave none."""
    cfg = dict(user)
    entry = cfg.get("Entrypoint")
    if not entry:
        if not cfg.get("Cmd"):
            cfg["Cmd"] = image.get("Cmd")
        if entry is None:
            cfg["Entrypoint"] = image.get("Entrypoint")
    env: dict[str, str] = {}
    for item in (image.get("Env") or []) + (cfg.get("Env") or []):
        k, sep, v = item.partition("=")
        env[k] = v if sep else os.environ.get(k, "")
    cfg["Env"] = [f"{k}={v}" for k, v in env.items()] or None
    labels = dict(image.get("Labels") or {})
    labels.update(cfg.get("Labels") or {})
    cfg["Labels"] = labels
    for key in ("WorkingDir", "User", "StopSignal"):
        if not cfg.get(key) and image.get(key):
            cfg[key] = image[key]
    for key in ("ExposedPorts", "Volumes"):
        merged = dict(image.get(key) or {})
        merged.update(cfg.get(key) or {})
        cfg[key] = merged or None
    if cfg.get("Healthcheck") is None and image.get("Healthcheck"):
        cfg["Healthcheck"] = image["Healthcheck"]
    if cfg.get("Shell") is None and image.get("Shell"):
        cfg["Shell"] = image["Shell"]
    if cfg.get("OnBuild") is None:
        cfg["OnBuild"] = image.get("OnBuild")
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
        cfg[key] = bool(cfg.get(key))
    cfg.setdefault("Domainname", "")
    cfg.setdefault("User", "")
    cfg.setdefault("WorkingDir", "")
    return cfg


RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")


def validate_host_config(hc: dict[str, Any], host_cpus: int) -> list[str]:
    """Docker's checks on limits and policies; returns warnings, raises on errors."""
    warnings: list[str] = []
    policy = hc.get("RestartPolicy") or {}
    name = policy.get("Name") or ""
    if name not in RESTART_POLICIES:
        raise InvalidArgument(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        )
    retries = policy.get("MaximumRetryCount") or 0
    if retries and name != "on-failure":
        raise InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    if retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if hc.get("AutoRemove") and name not in ("", "no"):
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    mem = hc.get("Memory") or 0
    if mem < 0:
        raise InvalidArgument("invalid memory limit: must be positive")
    if mem and mem < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    swap = hc.get("MemorySwap") or 0
    if swap > 0 and mem and swap < mem:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if swap and not mem and swap != -1:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    reservation = hc.get("MemoryReservation") or 0
    if reservation < 0:
        raise InvalidArgument("invalid memory reservation: must be positive")
    if mem and reservation and mem < reservation:
        raise InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    if reservation and reservation < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(
            f"Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )
    nano = hc.get("NanoCpus") or 0
    if nano and (hc.get("CpuQuota") or hc.get("CpuPeriod")):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano < 0 or nano > host_cpus * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {host_cpus}.00, as there are only {host_cpus} CPUs available"
        )
    if (hc.get("CpuShares") or 0) < 0:
        raise InvalidArgument("invalid CPU shares: must be positive")
    period = hc.get("CpuPeriod") or 0
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    quota = hc.get("CpuQuota") or 0
    if quota and quota < 1000 and quota != -1:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    for key, what in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        spec = hc.get(key) or ""
        if spec:
            wanted = parse_cpuset(spec, key)
            available = _available(what)
            if available is not None and not wanted <= available:
                raise InvalidArgument(
                    f"Requested {'CPUs' if what == 'cpus' else 'memory nodes'} are not available - requested {spec}, available: {_fmt(available)}"
                )
    pids = hc.get("PidsLimit")
    if pids is not None and pids < -1:
        raise InvalidArgument("invalid PIDs limit: must be -1 (unlimited) or a positive number")
    blkio = hc.get("BlkioWeight") or 0
    if blkio and not 10 <= blkio <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    shm = hc.get("ShmSize") or 0
    if shm < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    mode = hc.get("NetworkMode") or ""
    if mode.startswith("container:") and hc.get("PortBindings"):
        raise InvalidArgument(
            "conflicting options: port publishing and the container type network mode"
        )
    return warnings


def parse_cpuset(spec: str, key: str = "cpuset") -> set[int]:
    out: set[int] = set()
    try:
        for part in spec.split(","):
            lo, sep, hi = part.partition("-")
            if sep:
                out.update(range(int(lo), int(hi) + 1))
            else:
                out.add(int(lo))
    except ValueError:
        raise InvalidArgument(f"Invalid value {spec} for {key}") from None
    return out


def _available(what: str) -> set[int] | None:
    path = "/sys/devices/system/cpu/online" if what == "cpus" else "/sys/devices/system/node/online"
    try:
        with open(path) as f:
            return parse_cpuset(f.read().strip())
    except OSError:
        return {0} if what == "mems" else None


def _fmt(values: set[int]) -> str:
    s = sorted(values)
    return (
        f"{s[0]}-{s[-1]}"
        if len(s) > 1 and s == list(range(s[0], s[-1] + 1))
        else ",".join(map(str, s))
    )
