"""Turn a container's Docker settings (Config + HostConfig, already merged with
the image's config) into an OCI runtime spec.

`build_spec(BuildInput)` is pure: it reads nothing but the rootfs's
/etc/passwd and /etc/group (to resolve `-u name`), and returns a
`berth.oci.spec.Spec`. The daemon writes it as the bundle's config.json.
"""

from __future__ import annotations

import json
import os
import signal
import stat as _stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.errors import InvalidArgument
from berth.oci import defaults
from berth.oci import spec as oci
from berth.oci.seccomp_default import default_profile


@dataclass(slots=True)
class BuildInput:
    id: str
    config: dict[str, Any]  # Docker's Config, merged with the image's
    host_config: dict[str, Any]
    rootfs: Path
    container_dir: Path  # holds hostname, hosts, resolv.conf
    init_path: str = "/usr/bin/tini"
    default_shm_size: int = 64 * 1024 * 1024
    netns_path: str | None = None  # join this network namespace (None: new or host)
    extra_mounts: list[dict[str, Any]] = field(default_factory=list)
    extra_env: list[str] = field(default_factory=list)
    cgroup_parent: str = "/berth"


def command_of(config: dict[str, Any]) -> list[str]:
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not args:
        raise InvalidArgument("No command specified")
    return args


def build_spec(inp: BuildInput) -> oci.Spec:
    cfg, hc = inp.config, inp.host_config
    privileged = bool(hc.get("Privileged"))
    caps = capabilities(hc.get("CapAdd") or [], hc.get("CapDrop") or [], privileged)
    user, home = resolve_user(inp.rootfs, cfg.get("User") or "", hc.get("GroupAdd") or [])
    args = command_of(cfg)
    mounts = base_mounts(hc, inp.default_shm_size, privileged)
    if hc.get("Init"):
        args = [defaults.INIT_TARGET, "--", *args]
        mounts.append(_bind(inp.init_path, defaults.INIT_TARGET, ro=True))
    for name, target in (("hostname", "/etc/hostname"), ("hosts", "/etc/hosts")):
        mounts.append(_bind(str(inp.container_dir / name), target, ro=False))
    mounts.append(_bind(str(inp.container_dir / "resolv.conf"), "/etc/resolv.conf", ro=False))
    mounts.extend(oci.Spec.from_dict({"mounts": [m]}).mounts[0] for m in inp.extra_mounts)
    mounts = _dedupe(mounts)
    security = parse_security_opts(hc.get("SecurityOpt") or [])
    process = oci.Process(
        args=args,
        env=environment(cfg, home, inp.extra_env),
        cwd=cfg.get("WorkingDir") or "/",
        terminal=bool(cfg.get("Tty")),
        user=user,
        capabilities=oci.Capabilities(
            bounding=list(caps), effective=list(caps), permitted=list(caps)
        ),
        rlimits=rlimits(hc.get("Ulimits") or []),
        no_new_privileges=security.get("no-new-privileges", False) is True,
        oom_score_adj=hc.get("OomScoreAdj") or None,
    )
    size = hc.get("ConsoleSize") or [0, 0]
    if process.terminal and size and size[0] and size[1]:
        process.console_size = oci.Box(height=int(size[0]), width=int(size[1]))
    linux = oci.Linux(
        namespaces=namespaces(hc, inp.netns_path),
        cgroups_path=f"{inp.cgroup_parent}/{inp.id}",
        resources=resources(hc, privileged),
        sysctl={str(k): str(v) for k, v in (hc.get("Sysctls") or {}).items()},
        masked_paths=[] if privileged else list(defaults.MASKED_PATHS),
        readonly_paths=[] if privileged else list(defaults.READONLY_PATHS),
        devices=devices(hc.get("Devices") or []),
    )
    if not privileged:
        profile = security.get("seccomp")
        if profile is None:
            linux.seccomp = _seccomp(default_profile(caps))
        elif isinstance(profile, dict):
            linux.seccomp = _seccomp(profile)
    return oci.Spec(
        oci_version="1.0.2",
        process=process,
        root=oci.Root(path=str(inp.rootfs), readonly=bool(hc.get("ReadonlyRootfs"))),
        hostname=cfg.get("Hostname") or inp.id[:12],
        domainname=cfg.get("Domainname") or None,
        mounts=mounts,
        annotations={"org.berth.container.id": inp.id},
        linux=linux,
    )


def _seccomp(profile: dict[str, Any]) -> oci.Seccomp:
    linux = oci.Spec.from_dict({"linux": {"seccomp": profile}}).linux
    assert linux is not None and linux.seccomp is not None
    return linux.seccomp


def _host_capabilities() -> list[str]:
    """The capabilities this process may hand on (its bounding set): 'all' for
    --privileged and --cap-add ALL, as Docker reads them from the running host."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration, ValueError):
        return list(defaults.ALL_CAPABILITIES)
    return [c for i, c in enumerate(defaults.CAPABILITY_ORDER) if mask >> i & 1]


def capabilities(add: list[str], drop: list[str], privileged: bool) -> list[str]:
    if privileged:
        return _host_capabilities()

    def norm(c: str) -> str:
        c = c.strip().upper()
        return c if c == "ALL" or c.startswith("CAP_") else "CAP_" + c

    add_n, drop_n = [norm(c) for c in add], [norm(c) for c in drop]
    for c in add_n + drop_n:
        if c != "ALL" and c not in defaults.ALL_CAPABILITIES:
            raise InvalidArgument(f"unknown capability: {c!r}")
    caps = (
        list(defaults.ALL_CAPABILITIES) if "ALL" in add_n else list(defaults.DEFAULT_CAPABILITIES)
    )
    if "ALL" in drop_n:
        caps = []
    caps = [c for c in caps if c not in drop_n]
    for c in add_n:
        if c != "ALL" and c not in caps:
            caps.append(c)
    return caps


def parse_security_opts(opts: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if key == "no-new-privileges":
            out[key] = value.lower() in ("", "true", "1") if sep else True
        elif key == "seccomp":
            if value == "unconfined":
                out[key] = False
            else:
                try:
                    out[key] = json.loads(value)
                except ValueError as exc:
                    raise InvalidArgument(f"invalid seccomp profile: {exc}") from exc
        elif key in ("apparmor", "label"):
            continue  # no LSM on this host; accepted as Docker does when disabled
        else:
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    return out


def _bind(source: str, target: str, ro: bool) -> oci.Mount:
    opts = ["rbind", "rprivate"] + (["ro"] if ro else [])
    return oci.Mount(destination=target, type="bind", source=source, options=opts)


def base_mounts(hc: dict[str, Any], default_shm: int, privileged: bool) -> list[oci.Mount]:
    shm = int(hc.get("ShmSize") or default_shm)
    sys_opts = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    return [
        oci.Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        oci.Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        oci.Mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        oci.Mount("/sys", "sysfs", "sysfs", sys_opts),
        oci.Mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            ["nosuid", "noexec", "nodev", "relatime"] + ([] if privileged else ["ro"]),
        ),
        oci.Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        oci.Mount(
            "/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"]
        ),
    ]


def _dedupe(mounts: list[oci.Mount]) -> list[oci.Mount]:
    """A later mount on the same target replaces an earlier one (user -v over defaults)."""
    out: dict[str, oci.Mount] = {}
    for m in mounts:
        out.pop(m.destination, None)
        out[m.destination] = m
    return list(out.values())


def namespaces(hc: dict[str, Any], netns_path: str | None) -> list[oci.Namespace]:
    ns = [oci.Namespace("mount"), oci.Namespace("uts")]
    if (hc.get("PidMode") or "") != "host":
        ns.append(oci.Namespace("pid"))
    if (hc.get("IpcMode") or "") != "host":
        ns.append(oci.Namespace("ipc"))
    mode = hc.get("NetworkMode") or "default"
    if mode == "host":
        pass
    elif netns_path:
        ns.append(oci.Namespace("network", netns_path))
    else:
        ns.append(oci.Namespace("network"))
    return ns


def environment(cfg: dict[str, Any], home: str, extra: list[str]) -> list[str]:
    env: dict[str, str] = {}
    for item in [*(cfg.get("Env") or []), *extra]:
        k, eq, v = item.partition("=")
        if eq:
            env[k] = v
        else:  # a bare name (`-e B` with B unset on the client) unsets it, as dockerd
            env.pop(k, None)
    env.setdefault("PATH", defaults.DEFAULT_PATH)
    env.setdefault("HOSTNAME", cfg.get("Hostname") or "")
    if cfg.get("Tty"):
        env.setdefault("TERM", "xterm")
    env.setdefault("HOME", home)
    return [f"{k}={v}" for k, v in env.items()]


def _read_db(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, spec: str, group_add: list[str]) -> tuple[oci.User, str]:
    """`-u` as Docker reads it: name|uid[:group|gid], names from the image's files."""
    name, _, group = spec.partition(":")
    passwd = _read_db(rootfs / "etc" / "passwd")
    groups = _read_db(rootfs / "etc" / "group")
    uid, gid, home, username = 0, 0, "/root", "root"
    if name:
        entry = next((p for p in passwd if len(p) >= 7 and (p[0] == name or p[2] == name)), None)
        if entry is not None:
            uid, gid, home, username = int(entry[2]), int(entry[3]), entry[5], entry[0]
        elif name.isdigit():
            uid, gid, home, username = int(name), 0, "/", name
        else:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        g = next((e for e in groups if len(e) >= 3 and (e[0] == group or e[2] == group)), None)
        if g is not None:
            gid = int(g[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise InvalidArgument(
                f"unable to find group {group}: no matching entries in group file"
            )
    # the primary group is a supplementary one too, as Docker's engine sets them
    # (`id -u nobody` in a container: groups=65534(nogroup))
    extra: list[int] = [gid]
    for e in groups:
        if len(e) >= 4 and username in e[3].split(","):
            extra.append(int(e[2]))
    for g_name in group_add:
        g = next((e for e in groups if len(e) >= 3 and (e[0] == g_name or e[2] == g_name)), None)
        if g is not None:
            extra.append(int(g[2]))
        elif g_name.isdigit():
            extra.append(int(g_name))
        else:
            raise InvalidArgument(f"unable to find group {g_name}")
    return oci.User(uid=uid, gid=gid, additional_gids=sorted(set(extra))), home


_RLIMITS = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as",
}  # fmt: skip


def rlimits(ulimits: list[dict[str, Any]]) -> list[oci.Rlimit]:
    out = []
    for u in ulimits:
        name = str(u.get("Name", "")).lower()
        if name not in _RLIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        soft, hard = int(u.get("Soft", 0)), int(u.get("Hard", 0))
        if soft > hard:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        out.append(oci.Rlimit(type="RLIMIT_" + name.upper(), hard=hard, soft=soft))
    return out


def devices(requests: list[dict[str, Any]]) -> list[oci.Device]:
    out = []
    for d in requests:
        host = d.get("PathOnHost") or ""
        try:
            st = os.stat(host)
        except OSError as exc:
            raise InvalidArgument(
                f"error gathering device information while adding custom device {host!r}: {exc.strerror}"
            ) from exc
        if _stat.S_ISCHR(st.st_mode):
            kind = "c"
        elif _stat.S_ISBLK(st.st_mode):
            kind = "b"
        else:
            raise InvalidArgument(f"{host} is not a device node")
        out.append(
            oci.Device(
                type=kind,
                path=d.get("PathInContainer") or host,
                major=os.major(st.st_rdev),
                minor=os.minor(st.st_rdev),
                file_mode=_stat.S_IMODE(st.st_mode),
                uid=0,
                gid=0,
            )
        )
    return out


def resources(hc: dict[str, Any], privileged: bool) -> oci.Resources:
    rules: list[oci.DeviceRule]
    if privileged:
        rules = [oci.DeviceRule(allow=True, access="rwm")]
    else:
        rules = [oci.DeviceRule(allow=False, access="rwm")]
        for kind, major, minor, access in defaults.ALLOWED_DEVICES:
            rules.append(
                oci.DeviceRule(
                    allow=True,
                    type=kind,
                    major=None if major < 0 else major,
                    minor=None if minor < 0 else minor,
                    access=access,
                )
            )
        for d in devices(hc.get("Devices") or []):
            perms = next(
                (x.get("CgroupPermissions") for x in hc.get("Devices") or []
                 if (x.get("PathInContainer") or x.get("PathOnHost")) == d.path),
                "rwm",
            )  # fmt: skip
            rules.append(oci.DeviceRule(True, d.type, d.major, d.minor, perms or "rwm"))
    res = oci.Resources(devices=rules)
    mem = oci.Memory(
        limit=hc.get("Memory") or None,
        reservation=hc.get("MemoryReservation") or None,
        swap=hc.get("MemorySwap") or None,
        disable_oom_killer=True if hc.get("OomKillDisable") else None,
        swappiness=hc.get("MemorySwappiness") if (hc.get("MemorySwappiness") or -1) >= 0 else None,
    )
    if any(
        v is not None
        for v in (mem.limit, mem.reservation, mem.swap, mem.disable_oom_killer, mem.swappiness)
    ):
        res.memory = mem
    quota, period = hc.get("CpuQuota") or None, hc.get("CpuPeriod") or None
    if hc.get("NanoCpus"):
        period = 100_000
        quota = int(hc["NanoCpus"]) * period // 1_000_000_000
    cpu = oci.CPU(
        shares=hc.get("CpuShares") or None,
        quota=quota,
        period=period,
        cpus=hc.get("CpusetCpus") or None,
        mems=hc.get("CpusetMems") or None,
    )
    if any(v is not None for v in (cpu.shares, cpu.quota, cpu.period, cpu.cpus, cpu.mems)):
        res.cpu = cpu
    pids = hc.get("PidsLimit")
    if pids and pids > 0:
        res.pids = oci.Pids(limit=int(pids))
    if hc.get("BlkioWeight"):
        res.block_io = oci.BlockIO(weight=int(hc["BlkioWeight"]))
    return res


def update_resources(changes: dict[str, Any]) -> dict[str, Any]:
    """The LinuxResources JSON `RUNTIME update --resources -` reads for `docker update`:
    only the limits in `changes` (HostConfig keys), and no device rules (update keeps them)."""
    res = resources(changes, privileged=False)
    res.devices = []
    out = oci.Spec(linux=oci.Linux(resources=res)).to_dict()["linux"].get("resources") or {}
    out.pop("devices", None)
    return out


def signal_number(name: str | int | None, default: int = signal.SIGTERM) -> int:
    """STOPSIGNAL / --signal values: "SIGTERM", "TERM", "15"."""
    if name is None or name == "":
        return int(default)
    if isinstance(name, int):
        return name
    text = str(name).strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        if text.startswith("SIGRTMIN+") and text[9:].isdigit():
            return int(signal.SIGRTMIN) + int(text[9:])
        raise InvalidArgument(f"Invalid signal: {name}") from None
