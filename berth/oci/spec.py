"""The OCI runtime-spec (1.0.2 / 1.1) config.json model, as dataclasses.

Field names are snake_case; their JSON names are camelCase, or the name given in
the field's metadata where the spec spells it differently ("blockIO", "hostID").
`load_spec` parses config.json into a `Spec`, checking every value's type and
naming the JSON path of the first bad one; unknown properties are ignored, as the
spec requires. `Spec.to_dict()` / `dump_spec` write it back, leaving out fields
that are None or empty. Semantic checks (namespace types, paths) belong to the runtime.

This module deliberately does not use `from __future__ import annotations`: the
field types are real objects that the loader walks without importing `typing`.
The classes are slotted but not frozen: treat them as values and build changed
copies with `dataclasses.replace`. Only __init__ is generated per class;
equality and repr come from the `Model` base class: generating
__eq__/__repr__/__hash__/__setattr__ for forty classes would cost berth-runc
~10 ms at every start.
"""

import dataclasses
import json
import types
from dataclasses import dataclass, field

from berth.errors import InvalidArgument

_NONE = type(None)


class Model:
    """Shared by every class here: value equality and a readable repr, written once
    instead of generated per class (that generation is most of this module's
    import time, which every berth-runc start pays)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(self)
        )

    __hash__ = None  # mutable values

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{type(self).__name__}({fields})"


def _json(name: str) -> dict:
    return {"json": name}


@dataclass(slots=True, repr=False, eq=False)
class Root(Model):
    """The container's root filesystem, relative to the bundle unless absolute."""

    path: str
    readonly: bool = False


@dataclass(slots=True, repr=False, eq=False)
class Box(Model):
    """A terminal's size in characters (process.consoleSize)."""

    height: int = 0
    width: int = 0


@dataclass(slots=True, repr=False, eq=False)
class User(Model):
    """Who the process runs as: ids, supplementary groups, umask."""

    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = field(default_factory=list)
    username: str | None = None


@dataclass(slots=True, repr=False, eq=False)
class Capabilities(Model):
    """The five capability sets, by name (CAP_CHOWN, ...)."""

    bounding: list[str] = field(default_factory=list)
    effective: list[str] = field(default_factory=list)
    inheritable: list[str] = field(default_factory=list)
    permitted: list[str] = field(default_factory=list)
    ambient: list[str] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class Rlimit(Model):
    """One resource limit (RLIMIT_NOFILE, ...), soft and hard."""

    type: str
    hard: int
    soft: int


@dataclass(slots=True, repr=False, eq=False)
class Process(Model):
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


@dataclass(slots=True, repr=False, eq=False)
class Mount(Model):
    """One mount: destination inside the container, type, source, options."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class Hook(Model):
    """One hook program, with its argv, env and optional timeout in seconds."""

    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


@dataclass(slots=True, repr=False, eq=False)
class Hooks(Model):
    """Programs the runtime runs at fixed points of the lifecycle (see docs/runtime.md)."""

    prestart: list[Hook] = field(default_factory=list)
    create_runtime: list[Hook] = field(default_factory=list)
    create_container: list[Hook] = field(default_factory=list)
    start_container: list[Hook] = field(default_factory=list)
    poststart: list[Hook] = field(default_factory=list)
    poststop: list[Hook] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class Namespace(Model):
    """A namespace to create (no path) or to join (path of a /proc/PID/ns/* file)."""

    type: str
    path: str | None = None


@dataclass(slots=True, repr=False, eq=False)
class IDMapping(Model):
    """A range of ids mapped between the container and the host (user namespaces)."""

    container_id: int = field(metadata=_json("containerID"))
    host_id: int = field(metadata=_json("hostID"))
    size: int


@dataclass(slots=True, repr=False, eq=False)
class Device(Model):
    """A device node to create in the container's /dev."""

    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(slots=True, repr=False, eq=False)
class DeviceRule(Model):
    """An allow/deny rule of the devices cgroup."""

    allow: bool
    type: str | None = None
    major: int | None = None
    minor: int | None = None
    access: str | None = None


@dataclass(slots=True, repr=False, eq=False)
class Memory(Model):
    """Memory limits in bytes (swap means memory plus swap, as in runc)."""

    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = field(default=None, metadata=_json("kernelTCP"))
    swappiness: int | None = None
    disable_oom_killer: bool | None = field(default=None, metadata=_json("disableOOMKiller"))
    use_hierarchy: bool | None = None


@dataclass(slots=True, repr=False, eq=False)
class CPU(Model):
    """CPU shares, CFS quota and period, realtime budget, cpuset."""

    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None


@dataclass(slots=True, repr=False, eq=False)
class Pids(Model):
    """The most processes the container may have (0 or less: no limit)."""

    limit: int


@dataclass(slots=True, repr=False, eq=False)
class WeightDevice(Model):
    """A block device's I/O weight."""

    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@dataclass(slots=True, repr=False, eq=False)
class ThrottleDevice(Model):
    """A block device's rate limit (bytes or operations per second)."""

    major: int
    minor: int
    rate: int


@dataclass(slots=True, repr=False, eq=False)
class BlockIO(Model):
    """Block I/O weights and throttles."""

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


@dataclass(slots=True, repr=False, eq=False)
class HugepageLimit(Model):
    """A hugetlb limit for one page size ("2MB", ...)."""

    page_size: str
    limit: int


@dataclass(slots=True, repr=False, eq=False)
class InterfacePriority(Model):
    """A network interface's priority (net_prio)."""

    name: str
    priority: int


@dataclass(slots=True, repr=False, eq=False)
class Network(Model):
    """net_cls class id and net_prio priorities."""

    class_id: int | None = field(default=None, metadata=_json("classID"))
    priorities: list[InterfacePriority] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class Resources(Model):
    """The container's cgroup limits."""

    devices: list[DeviceRule] = field(default_factory=list)
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = field(default=None, metadata=_json("blockIO"))
    hugepage_limits: list[HugepageLimit] = field(default_factory=list)
    network: Network | None = None
    unified: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, repr=False, eq=False)
class SeccompArg(Model):
    """A condition on one syscall argument."""

    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass(slots=True, repr=False, eq=False)
class Syscall(Model):
    """A seccomp rule: these syscalls get this action."""

    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[SeccompArg] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class Seccomp(Model):
    """The seccomp filter: a default action and rules."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    listener_path: str | None = None
    syscalls: list[Syscall] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class Linux(Model):
    """The Linux-specific part: namespaces, ids, devices, cgroups, seccomp, paths."""

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


@dataclass(slots=True, repr=False, eq=False)
class Spec(Model):
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


def load_resources(data: object) -> Resources:
    """A LinuxResources object (as `runc update -r` reads it) from decoded JSON."""
    return _load(Resources, data, "resources")


def dump_spec(spec: Spec) -> str:
    return json.dumps(spec.to_dict(), indent="\t") + "\n"
