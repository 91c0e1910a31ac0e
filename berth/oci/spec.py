"""The OCI runtime-spec (1.0.2 / 1.1) config.json model.

Field names are snake_case; their JSON names are camelCase, or the name given by
`field(json=...)` where the spec spells it differently ("blockIO", "hostID").
`parse_spec` parses config.json into a `Spec`, checking every value's type and
naming the JSON path of the first bad one; unknown properties are ignored, as the
spec requires; `X.from_dict(data, source)` does the same for decoded JSON (the
runtime decodes config.json itself). `Spec.to_dict()` / `dump_spec` write it
back, leaving out fields that are None or empty. Semantic checks (namespace
types, paths) belong to the runtime.

The classes are declared like dataclasses (annotated fields, defaults,
`field(default_factory=...)`) and behave like slotted ones (keyword or
positional construction, value equality, repr), but `Model`'s metaclass only
records the fields: nothing is generated or compiled per class. `dataclasses`
would exec a new `__init__` for each of the thirty classes here, and this module
is imported by every `berth-runc create`, `run` and `exec`, whose start-up time is
part of every container start (see docs/runtime.md, Speed). The classes are not
frozen: treat them as values and build changed copies with `replace`.

This module deliberately does not use `from __future__ import annotations`: the
field types are real objects that the loader walks without importing `typing`;
and it imports `json` only inside the functions that read or write text.
"""

from berth.errors import InvalidArgument

_NONE = type(None)
_UNION = type(int | None)
_MISSING = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()


class _Field:
    """A field's declaration: its default (or factory) and its JSON name if not camelCase."""

    __slots__ = ("default", "factory", "json")

    def __init__(self, default: object, factory: object, json: str | None) -> None:
        self.default = default
        self.factory = factory
        self.json = json


def field(*, default: object = _MISSING, default_factory=None, json: str | None = None):
    """Declare a field with a default, a default factory (lists, dicts) or a JSON name."""
    return _Field(default, default_factory, json)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import dataclass_transform
else:

    def dataclass_transform(**_options):
        return lambda cls: cls


@dataclass_transform(field_specifiers=(field,))
class _ModelMeta(type):
    """Turns a class body's annotated fields into `__slots__` and `_fields`:
    (name, JSON name, type, default, factory) per field, in declaration order."""

    def __new__(mcls, name: str, bases: tuple, namespace: dict):
        fields = []
        for fname, ftype in namespace.get("__annotations__", {}).items():
            declared = namespace.pop(fname, _MISSING)
            if not isinstance(declared, _Field):
                declared = _Field(declared, None, None)
            fields.append(
                (fname, declared.json or _camel(fname), ftype, declared.default, declared.factory)
            )
        namespace["__slots__"] = tuple(f[0] for f in fields)
        namespace["_fields"] = tuple(fields)
        return super().__new__(mcls, name, bases, namespace)


class Model(metaclass=_ModelMeta):
    """Shared by every class here: construction from positional or keyword
    arguments in field order, value equality and a readable repr."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes at most {len(fields)} arguments")
        for i, (name, _key, _type, default, factory) in enumerate(fields):
            if i < len(args):
                if name in kwargs:
                    raise TypeError(f"{type(self).__name__}() got two values for {name!r}")
                value = args[i]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif factory is not None:
                value = factory()
            elif default is not _MISSING:
                value = default
            else:
                raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
            setattr(self, name, value)
        if kwargs:  # what is left names no field
            unknown = ", ".join(map(repr, kwargs))
            raise TypeError(f"{type(self).__name__}() got unexpected arguments {unknown}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f[0]) == getattr(other, f[0]) for f in self._fields)

    __hash__ = None  # mutable values

    @classmethod
    def from_dict(cls, data: object, source: str = "config"):
        """An instance from decoded JSON, every value's type checked; errors name
        `source` and the JSON path of the first bad value."""
        return _load(cls, data, source)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f[0]}={getattr(self, f[0])!r}" for f in self._fields)
        return f"{type(self).__name__}({fields})"


def replace(value: "Model", **changes: object) -> "Model":
    """A copy of `value` with `changes` applied (dataclasses.replace for these classes)."""
    fields = {f[0]: getattr(value, f[0]) for f in value._fields}
    unknown = changes.keys() - fields.keys()
    if unknown:
        raise TypeError(f"{type(value).__name__} has no field {', '.join(sorted(unknown))}")
    fields.update(changes)
    return type(value)(**fields)


class Root(Model):
    """The container's root filesystem, relative to the bundle unless absolute."""

    path: str
    readonly: bool = False


class Box(Model):
    """A terminal's size in characters (process.consoleSize)."""

    height: int = 0
    width: int = 0


class User(Model):
    """Who the process runs as: ids, supplementary groups, umask."""

    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = field(default_factory=list)
    username: str | None = None


class Capabilities(Model):
    """The five capability sets, by name (CAP_CHOWN, ...)."""

    bounding: list[str] = field(default_factory=list)
    effective: list[str] = field(default_factory=list)
    inheritable: list[str] = field(default_factory=list)
    permitted: list[str] = field(default_factory=list)
    ambient: list[str] = field(default_factory=list)


class Rlimit(Model):
    """One resource limit (RLIMIT_NOFILE, ...), soft and hard."""

    type: str
    hard: int
    soft: int


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


class Mount(Model):
    """One mount: destination inside the container, type, source, options."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] = field(default_factory=list)


class Hook(Model):
    """One hook program, with its argv, env and optional timeout in seconds."""

    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


class Hooks(Model):
    """Programs the runtime runs at fixed points of the lifecycle (see docs/runtime.md)."""

    prestart: list[Hook] = field(default_factory=list)
    create_runtime: list[Hook] = field(default_factory=list)
    create_container: list[Hook] = field(default_factory=list)
    start_container: list[Hook] = field(default_factory=list)
    poststart: list[Hook] = field(default_factory=list)
    poststop: list[Hook] = field(default_factory=list)


class Namespace(Model):
    """A namespace to create (no path) or to join (path of a /proc/PID/ns/* file)."""

    type: str
    path: str | None = None


class IDMapping(Model):
    """A range of ids mapped between the container and the host (user namespaces)."""

    container_id: int = field(json="containerID")
    host_id: int = field(json="hostID")
    size: int


class Device(Model):
    """A device node to create in the container's /dev."""

    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class DeviceRule(Model):
    """An allow/deny rule of the devices cgroup."""

    allow: bool
    type: str | None = None
    major: int | None = None
    minor: int | None = None
    access: str | None = None


class Memory(Model):
    """Memory limits in bytes (swap means memory plus swap, as in runc)."""

    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = field(default=None, json="kernelTCP")
    swappiness: int | None = None
    disable_oom_killer: bool | None = field(default=None, json="disableOOMKiller")
    use_hierarchy: bool | None = None


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


class Pids(Model):
    """The most processes the container may have (0 or less: no limit)."""

    limit: int


class WeightDevice(Model):
    """A block device's I/O weight."""

    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


class ThrottleDevice(Model):
    """A block device's rate limit (bytes or operations per second)."""

    major: int
    minor: int
    rate: int


class BlockIO(Model):
    """Block I/O weights and throttles."""

    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: list[WeightDevice] = field(default_factory=list)
    throttle_read_bps_device: list[ThrottleDevice] = field(default_factory=list)
    throttle_write_bps_device: list[ThrottleDevice] = field(default_factory=list)
    throttle_read_iops_device: list[ThrottleDevice] = field(
        default_factory=list, json="throttleReadIOPSDevice"
    )
    throttle_write_iops_device: list[ThrottleDevice] = field(
        default_factory=list, json="throttleWriteIOPSDevice"
    )


class HugepageLimit(Model):
    """A hugetlb limit for one page size ("2MB", ...)."""

    page_size: str
    limit: int


class InterfacePriority(Model):
    """A network interface's priority (net_prio)."""

    name: str
    priority: int


class Network(Model):
    """net_cls class id and net_prio priorities."""

    class_id: int | None = field(default=None, json="classID")
    priorities: list[InterfacePriority] = field(default_factory=list)


class Resources(Model):
    """The container's cgroup limits."""

    devices: list[DeviceRule] = field(default_factory=list)
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = field(default=None, json="blockIO")
    hugepage_limits: list[HugepageLimit] = field(default_factory=list)
    network: Network | None = None
    unified: dict[str, str] = field(default_factory=dict)


class SeccompArg(Model):
    """A condition on one syscall argument."""

    index: int
    value: int
    op: str
    value_two: int = 0


class Syscall(Model):
    """A seccomp rule: these syscalls get this action."""

    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[SeccompArg] = field(default_factory=list)


class Seccomp(Model):
    """The seccomp filter: a default action and rules."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    listener_path: str | None = None
    syscalls: list[Syscall] = field(default_factory=list)


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


def _kind(expected: object) -> str:
    return getattr(expected, "__name__", str(expected))


def _load(tp: object, value: object, path: str) -> object:
    """Convert decoded JSON `value` to type `tp`, raising InvalidArgument at `path`."""
    if type(tp) is _UNION:
        if value is None and _NONE in tp.__args__:
            return None
        tp = next(t for t in tp.__args__ if t is not _NONE)
    if type(tp) is _ModelMeta:
        if not isinstance(value, dict):
            raise InvalidArgument(f"{path}: expected an object, got {type(value).__name__}")
        obj = object.__new__(tp)
        for name, key, ftype, default, factory in tp._fields:
            raw = value.get(key)
            if raw is not None:
                setattr(obj, name, _load(ftype, raw, f"{path}.{key}"))
            elif factory is not None:
                setattr(obj, name, factory())
            elif default is not _MISSING:
                setattr(obj, name, default)
            else:
                raise InvalidArgument(f"{path}.{key}: required")
        return obj
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
    if type(type(value)) is _ModelMeta:
        out = {}
        for name, key, _type, _default, _factory in value._fields:
            v = getattr(value, name)
            if v is not None and v != [] and v != {}:
                out[key] = _dump(v)
        return out
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def parse_spec(text: str | bytes, source: str = "config.json") -> Spec:
    """Parse config.json's text; errors name `source` and the bad JSON path."""
    return Spec.from_dict(_decode(text, source), source)


def _decode(text: str | bytes, source: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"{source}: invalid JSON: {e}") from None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such file") from None


def load_spec(path: str) -> Spec:
    return parse_spec(_read(path), path)


def load_process(path: str) -> Process:
    """Parse a process.json (the `exec --process` file)."""
    return Process.from_dict(_decode(_read(path), path), path)


def load_resources(data: object) -> Resources:
    """A LinuxResources object (as `runc update -r` reads it) from decoded JSON."""
    return Resources.from_dict(data, "resources")


def dump_spec(spec: Spec) -> str:
    import json

    return json.dumps(spec.to_dict(), indent="\t") + "\n"
