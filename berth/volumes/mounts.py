"""Parsing Docker's three ways of asking for mounts into one `MountRequest` list.

- `-v` / HostConfig.Binds: `SRC:DST[:OPTS]` or `DST` (anonymous volume). SRC is a
  host path when it starts with '/', else a volume name. A missing host path is
  created (Docker's historical behaviour).
- `--mount` / HostConfig.Mounts: `type=bind|volume|tmpfs,src=,dst=,readonly,...`.
  A missing host path is an error.
- `--tmpfs` / HostConfig.Tmpfs: {DST: "size=64m,mode=1777"}.
Plus an image's VOLUME entries (anonymous volumes) and `--volumes-from`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from berth.errors import InvalidArgument

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated"}
PROPAGATIONS = {"private", "rprivate", "shared", "rshared", "slave", "rslave"}


@dataclass(frozen=True, slots=True)
class MountRequest:
    type: str  # "bind", "volume", "tmpfs"
    target: str
    source: str = ""  # host path, volume name, or "" (anonymous volume / tmpfs)
    readonly: bool = False
    create_host_path: bool = False
    propagation: str = ""
    mode: str = ""  # the raw option string of -v, shown in inspect
    nocopy: bool = False
    tmpfs_options: tuple[str, ...] = ()
    volume_labels: dict[str, str] = field(default_factory=dict)
    volume_options: dict[str, str] = field(default_factory=dict)
    volume_driver: str = "local"


def check_volume_name(name: str) -> str:
    if not VOLUME_NAME.match(name):
        raise InvalidArgument(
            f'"{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )
    return name


def _target(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid mount config: mount path must be absolute: {path}")
    clean = str(PurePosixPath(path))
    if clean == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return clean


def parse_bind(spec: str) -> MountRequest:
    """One `-v` / Binds entry."""
    parts = spec.split(":")
    if len(parts) == 1:
        return MountRequest("volume", _target(parts[0]))
    if len(parts) > 3:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    src, dst = parts[0], parts[1]
    opts = parts[2].split(",") if len(parts) == 3 else []
    if not src:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    readonly, propagation, nocopy = False, "", False
    for o in opts:
        if o in PROPAGATIONS:
            propagation = o
        elif o not in BIND_MODES:
            raise InvalidArgument(f"invalid mode: {o}")
        readonly = readonly or o == "ro"
        nocopy = nocopy or o == "nocopy"
    mode = parts[2] if len(parts) == 3 else ""
    if src.startswith("/"):
        if nocopy:
            raise InvalidArgument(f"invalid mode: nocopy for bind mount {spec}")
        return MountRequest(
            "bind",
            _target(dst),
            str(PurePosixPath(src)),
            readonly=readonly,
            create_host_path=True,
            propagation=propagation or "rprivate",
            mode=mode,
        )
    if propagation:
        raise InvalidArgument(f"invalid mode: propagation is for bind mounts only: {spec}")
    return MountRequest(
        "volume", _target(dst), check_volume_name(src), readonly=readonly, mode=mode, nocopy=nocopy
    )


def parse_mount_flag(spec: str) -> dict:
    """CLI `--mount k=v,...` -> an Engine API HostConfig.Mounts object."""
    out: dict = {"Type": "volume"}
    bind: dict = {}
    vol: dict = {}
    tmp: dict = {}
    labels: dict = {}
    driver_opts: dict = {}
    for field_ in spec.split(","):
        key, eq, value = field_.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro"):
            out["ReadOnly"] = value.lower() not in ("false", "0") if eq else True
        elif key == "type":
            if value not in ("bind", "volume", "tmpfs"):
                raise InvalidArgument(f"invalid mount type: {value!r}")
            out["Type"] = value
        elif key in ("source", "src"):
            out["Source"] = value
        elif key in ("target", "dst", "destination"):
            out["Target"] = value
        elif key == "bind-propagation":
            bind["Propagation"] = value
        elif key == "volume-nocopy":
            vol["NoCopy"] = value.lower() not in ("false", "0") if eq else True
        elif key == "volume-label":
            k, _, v = value.partition("=")
            labels[k] = v
        elif key == "volume-driver":
            vol.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            k, _, v = value.partition("=")
            driver_opts[k] = v
        elif key == "tmpfs-size":
            tmp["SizeBytes"] = _size(value)
        elif key == "tmpfs-mode":
            tmp["Mode"] = int(value, 8)
        elif key == "consistency":
            out["Consistency"] = value
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{field_}'")
    if labels:
        vol["Labels"] = labels
    if driver_opts:
        vol.setdefault("DriverConfig", {})["Options"] = driver_opts
    if bind:
        out["BindOptions"] = bind
    if vol:
        out["VolumeOptions"] = vol
    if tmp:
        out["TmpfsOptions"] = tmp
    if "Target" not in out:
        raise InvalidArgument("target is required")
    return out


def _size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([kmgKMG]?)[bB]?", text.strip())
    if not m:
        raise InvalidArgument(f"invalid size: {text!r}")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def from_api_mount(obj: dict) -> MountRequest:
    """One HostConfig.Mounts entry (what `--mount` becomes)."""
    kind = obj.get("Type") or ""
    target = obj.get("Target") or ""
    if not target:
        raise InvalidArgument("invalid mount config: Target must not be empty")
    readonly = bool(obj.get("ReadOnly"))
    src = obj.get("Source") or ""
    if kind == "bind":
        if not src:
            raise InvalidArgument(
                'invalid mount config for type "bind": field Source must not be empty'
            )
        if not src.startswith("/"):
            raise InvalidArgument(
                f"invalid mount config for type \"bind\": invalid mount path: '{src}' mount path must be absolute"
            )
        prop = (obj.get("BindOptions") or {}).get("Propagation") or "rprivate"
        if prop not in PROPAGATIONS:
            raise InvalidArgument(f"invalid propagation mode: {prop}")
        return MountRequest(
            "bind", _target(target), str(PurePosixPath(src)), readonly=readonly, propagation=prop
        )
    if kind == "volume":
        vo = obj.get("VolumeOptions") or {}
        dc = vo.get("DriverConfig") or {}
        if src:
            check_volume_name(src)
        return MountRequest(
            "volume",
            _target(target),
            src,
            readonly=readonly,
            nocopy=bool(vo.get("NoCopy")),
            volume_labels=dict(vo.get("Labels") or {}),
            volume_options=dict(dc.get("Options") or {}),
            volume_driver=dc.get("Name") or "local",
        )
    if kind == "tmpfs":
        if src:
            raise InvalidArgument(
                'invalid mount config for type "tmpfs": field Source must not be specified'
            )
        to = obj.get("TmpfsOptions") or {}
        opts = []
        if to.get("SizeBytes"):
            opts.append(f"size={int(to['SizeBytes'])}")
        if to.get("Mode"):
            opts.append(f"mode={int(to['Mode']):o}")
        return MountRequest("tmpfs", _target(target), readonly=readonly, tmpfs_options=tuple(opts))
    raise InvalidArgument(f"mount type unknown: {kind!r}")


def parse_tmpfs(target: str, options: str) -> MountRequest:
    """One HostConfig.Tmpfs entry; Docker's defaults are noexec,nosuid,nodev."""
    opts = [o for o in (options or "").split(",") if o]
    readonly = "ro" in opts
    opts = [o for o in opts if o not in ("ro", "rw")]
    return MountRequest(
        "tmpfs", _target(target), readonly=readonly, tmpfs_options=tuple(opts), mode="tmpfs"
    )


def collect(
    binds: list[str] = (),
    mounts: list[dict] = (),
    tmpfs: dict[str, str] | None = None,
    image_volumes: list[str] = (),
    inherited: list[MountRequest] = (),
) -> list[MountRequest]:
    """All of a container's mounts; explicit ones win over image VOLUMEs and --volumes-from."""
    explicit: list[MountRequest] = [parse_bind(b) for b in binds]
    explicit += [from_api_mount(m) for m in mounts]
    explicit += [parse_tmpfs(t, o) for t, o in (tmpfs or {}).items()]
    seen: set[str] = set()
    for m in explicit:
        if m.target in seen:
            raise InvalidArgument(f"Duplicate mount point: {m.target}")
        seen.add(m.target)
    out = list(explicit)
    for m in inherited:
        if m.target not in seen:
            seen.add(m.target)
            out.append(m)
    for v in image_volumes:
        t = _target(v)
        if t not in seen:
            seen.add(t)
            out.append(MountRequest("volume", t))
    return sorted(out, key=lambda m: len(PurePosixPath(m.target).parts))
