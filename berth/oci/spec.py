"""The OCI runtime-spec (1.0.2 / 1.1) config.json model, as dataclasses.

Field names are snake_case; their JSON names are camelCase, or the name given in
the field's metadata where the spec spells it differently ("blockIO", "hostID").
`load_spec` parses config.json into a `Spec`, checking every value's type and
naming the JSON path of the first bad one; unknown properties are ignored, as the
spec requires. `Spec.to_dict()` / `dump_spec` write it back, leaving out fields
that are None or empty. Semantic checks (namespace types, paths) belong to the runtime.

This module deliberately does not use `from __future__ import annotations`: the
field types are real objects that the loader walks without importing `typing`.
The classes are slotted but neither frozen nor comparable (compare
`to_dict()`s): treat them as values and build changed copies with
`dataclasses.replace`. Generating __eq__/__hash__/__setattr__ for forty
classes would cost berth-runc ~10 ms at every start.
"""

import dataclasses
import json
import types
from dataclasses import dataclass, field

from berth.errors import InvalidArgument

_NONE = type(None)


def _json(name: str) -> dict:
    return {"json": name}


@dataclass(slots=True, eq=False)
class Root:
    """The container's root filesystem, relative to the bundle unless absolute."""

    path: str
    readonly: bool = False


@dataclass(slots=True, eq=False)
class Box:
    height: int = 0
    width: int = 0


@dataclass(slots=True, eq=False)
class User:
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = field(default_factory=list)
    username: str | None = None


@dataclass(slots=True, eq=False)
class Capabilities:
    bounding: list[str] = field(default_factory=list)
    effective: list[str] = field(default_factory=list)
    inheritable: list[str] = field(default_factory=list)
    permitted: list[str] = field(default_factory=list)
    ambient: list[str] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Rlimit:
    type: str
    hard: int
    soft: int


@dataclass(slots=True, eq=False)
class Process:
    """The program the container runs, and the identity and limits it runs with."""

    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    terminal: bool = False
    console_size: Box | None = None
    user: User = field(default_factory=User)
    capabilities: Capabilities | None = None
    rlimits: list[Rlimit] = field(default_factory=list)
    no_new_privileges: bool = False
    apparmor_profile: str | None = None
    oom_score_adj: int | None = None
    selinux_label: str | None = None


@dataclass(slots=True, eq=False)
class Mount:
    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Hook:
    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


@dataclass(slots=True, eq=False)
class Hooks:
    """Programs the runtime runs at fixed points of the lifecycle (see docs/runtime.md)."""

    prestart: list[Hook] = field(default_factory=list)
    create_runtime: list[Hook] = field(default_factory=list)
    create_container: list[Hook] = field(default_factory=list)
    start_container: list[Hook] = field(default_factory=list)
    poststart: list[Hook] = field(default_factory=list)
    poststop: list[Hook] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Namespace:
    """A namespace to create (no path) or to join (path of a /proc/PID/ns/* file)."""

    type: str
    path: str | None = None


@dataclass(slots=True, eq=False)
class IDMapping:
    container_id: int = field(metadata=_json("containerID"))
    host_id: int = field(metadata=_json("hostID"))
    size: int


@dataclass(slots=True, eq=False)
class Device:
    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(slots=True, eq=False)
class DeviceRule:
    allow: bool
    type: str | None = None
    major: int | None = None
    minor: int | None = None
    access: str | None = None


@dataclass(slots=True, eq=False)
class Memory:
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = field(default=None, metadata=_json("kernelTCP"))
    swappiness: int | None = None
    disable_oom_killer: bool | None = field(default=None, metadata=_json("disableOOMKiller"))
    use_hierarchy: bool | None = None


@dataclass(slots=True, eq=False)
class CPU:
    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None


@dataclass(slots=True, eq=False)
class Pids:
    limit: int


@dataclass(slots=True, eq=False)
class WeightDevice:
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@dataclass(slots=True, eq=False)
class ThrottleDevice:
    major: int
    minor: int
    rate: int


@dataclass(slots=True, eq=False)
class BlockIO:
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: list[WeightDevice] = field(default_factory=list)
    throttle_read_bps_device: list[ThrottleDevice] = field(default_factory=list)
    throttle_write_bps_device: list[ThrottleDevice] = field(default_factory=list)
    throttle_read_iops_device: list[ThrottleDevice] = field(
        default_factory=list, metadata=_json("throttleReadIOPSDevice")
    )
    throttle_write_iops_device: list[ThrottleDevice] = field(
        default_factory=list, metadata=_json("throttleWriteIOPSDevice")
    )


@dataclass(slots=True, eq=False)
class HugepageLimit:
    page_size: str
    limit: int


@dataclass(slots=True, eq=False)
class InterfacePriority:
    name: str
    priority: int


@dataclass(slots=True, eq=False)
class Network:
    class_id: int | None = field(default=None, metadata=_json("classID"))
    priorities: list[InterfacePriority] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Resources:
    devices: list[DeviceRule] = field(default_factory=list)
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = field(default=None, metadata=_json("blockIO"))
    hugepage_limits: list[HugepageLimit] = field(default_factory=list)
    network: Network | None = None
    unified: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class SeccompArg:
    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass(slots=True, eq=False)
class Syscall:
    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[SeccompArg] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Seccomp:
    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    listener_path: str | None = None
    syscalls: list[Syscall] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Linux:
    namespaces: list[Namespace] = field(default_factory=list)
    uid_mappings: list[IDMapping] = field(default_factory=list)
    gid_mappings: list[IDMapping] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    cgroups_path: str | None = None
    resources: Resources | None = None
    rootfs_propagation: str | None = None
    seccomp: Seccomp | None = None
    sysctl: dict[str, str] = field(default_factory=dict)
    masked_paths: list[str] = field(default_factory=list)
    readonly_paths: list[str] = field(default_factory=list)
    mount_label: str | None = None


@dataclass(slots=True, eq=False)
class Spec:
    """A bundle's config.json."""

    oci_version: str = "1.0.2"
    process: Process | None = None
    root: Root | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: list[Mount] = field(default_factory=list)
    hooks: Hooks | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    linux: Linux | None = None

    def to_dict(self) -> dict:
        return _dump(self)

    @classmethod
    def from_dict(cls, data: object) -> "Spec":
        return _load(cls, data, "config")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _json_name(f: dataclasses.Field) -> str:
    return f.metadata.get("json") or _camel(f.name)


def _kind(expected: object) -> str:
    return getattr(expected, "__name__", str(expected))


def _load(tp: object, value: object, path: str) -> object:
    """Convert decoded JSON `value` to type `tp`, raising InvalidArgument at `path`."""
    if isinstance(tp, types.UnionType):
        options = [t for t in tp.__args__ if t is not _NONE]
        if value is None and _NONE in tp.__args__:
            return None
        tp = options[0]
    origin = getattr(tp, "__origin__", None)
    if origin is list:
        if not isinstance(value, list):
            raise InvalidArgument(f"{path}: expected an array, got {type(value).__name__}")
        (item,) = tp.__args__
        return [_load(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidArgument(f"{path}: expected an object, got {type(value).__name__}")
        item = tp.__args__[1]
        return {k: _load(item, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InvalidArgument(f"{path}: expected an object, got {type(value).__name__}")
        kwargs = {}
        for f in dataclasses.fields(tp):
            key = _json_name(f)
            if key in value and value[key] is not None:
                kwargs[f.name] = _load(f.type, value[key], f"{path}.{key}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InvalidArgument(f"{path}.{key}: required")
        return tp(**kwargs)
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp)  # str, bool
    if not ok:
        raise InvalidArgument(f"{path}: expected {_kind(tp)}, got {type(value).__name__}")
    return value


def _dump(value: object) -> object:
    if dataclasses.is_dataclass(value):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is not None and v != [] and v != {}:
                out[_json_name(f)] = _dump(v)
        return out
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def parse_spec(text: str | bytes, source: str = "config.json") -> Spec:
    """Parse config.json's text; errors name `source` and the bad JSON path."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"{source}: invalid JSON: {e}") from None
    return _load(Spec, data, source)


def load_spec(path: str) -> Spec:
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such file") from None
    return parse_spec(text, path)


def load_process(path: str) -> Process:
    """Parse a process.json (the `exec --process` file)."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such file") from None
    except ValueError as e:
        raise InvalidArgument(f"{path}: invalid JSON: {e}") from None
    return _load(Process, data, path)


def dump_spec(spec: Spec) -> str:
    return json.dumps(spec.to_dict(), indent="\t") + "\n"
