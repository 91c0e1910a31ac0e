"""`run`/`create` flags and the Engine API create body they become, as docker builds it.

`FLAGS` is the flag table both commands share; `create_body(opts, image, cmd)`
returns `(query params, body)` for `POST /containers/create`. Everything here is
pure so the unit tests can check each flag's translation.
"""

from __future__ import annotations

import os

from berth.cli import humanize
from berth.cli.flags import BOOL, INT, LIST, STR, Flag, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FLAGS = [
    Flag("--add-host", LIST, help="Add a custom host-to-IP mapping (host:ip)"),
    Flag("-a, --attach", LIST, help="Attach to STDIN, STDOUT or STDERR"),
    Flag("--cap-add", LIST, help="Add Linux capabilities"),
    Flag("--cap-drop", LIST, help="Drop Linux capabilities"),
    Flag("--cgroupns", STR, help="Cgroup namespace to use (host|private)"),
    Flag("--cidfile", STR, help="Write the container ID to the file"),
    Flag("-c, --cpu-shares", INT, help="CPU shares (relative weight)"),
    Flag("--cpus", STR, help="Number of CPUs"),
    Flag("--cpuset-cpus", STR, help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("--cpuset-mems", STR, help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("-d, --detach", help="Run container in background and print container ID"),
    Flag("--detach-keys", STR, help="Override the key sequence for detaching a container"),
    Flag("--device", LIST, help="Add a host device to the container"),
    Flag("--dns", LIST, help="Set custom DNS servers"),
    Flag("--dns-option", LIST, help="Set DNS options"),
    Flag("--dns-search", LIST, help="Set custom DNS search domains"),
    Flag("--domainname", STR, help="Container NIS domain name"),
    Flag("--entrypoint", STR, help="Overwrite the default ENTRYPOINT of the image"),
    Flag("-e, --env", LIST, help="Set environment variables"),
    Flag("--env-file", LIST, help="Read in a file of environment variables"),
    Flag("--expose", LIST, help="Expose a port or a range of ports"),
    Flag("--group-add", LIST, help="Add additional groups to join"),
    Flag("--health-cmd", STR, help="Command to run to check health"),
    Flag("--health-interval", STR, help="Time between running the check (ms|s|m|h)"),
    Flag("--health-retries", INT, help="Consecutive failures needed to report unhealthy"),
    Flag("--health-start-period", STR, help="Start period for the container to initialize"),
    Flag("--health-timeout", STR, help="Maximum time to allow one check to run (ms|s|m|h)"),
    Flag("-h, --hostname", STR, help="Container host name"),
    Flag(
        "--init", help="Run an init inside the container that forwards signals and reaps processes"
    ),
    Flag("-i, --interactive", help="Keep STDIN open even if not attached"),
    Flag("--ipc", STR, help="IPC mode to use"),
    Flag("-l, --label", LIST, help="Set meta data on a container"),
    Flag("--label-file", LIST, help="Read in a line delimited file of labels"),
    Flag("--link", LIST, help="Add link to another container"),
    Flag("--log-driver", STR, help="Logging driver for the container"),
    Flag("--log-opt", LIST, help="Log driver options"),
    Flag("--mac-address", STR, help="Container MAC address"),
    Flag("-m, --memory", STR, help="Memory limit"),
    Flag("--memory-reservation", STR, help="Memory soft limit"),
    Flag("--memory-swap", STR, help="Swap limit equal to memory plus swap: '-1' for unlimited"),
    Flag("--mount", LIST, help="Attach a filesystem mount to the container"),
    Flag("--name", STR, help="Assign a name to the container"),
    Flag("--network, --net", STR, help="Connect a container to a network"),
    Flag("--network-alias", LIST, help="Add network-scoped alias for the container"),
    Flag("--no-healthcheck", help="Disable any container-specified HEALTHCHECK"),
    Flag("--oom-kill-disable", help="Disable OOM Killer"),
    Flag("--oom-score-adj", INT, help="Tune host's OOM preferences (-1000 to 1000)"),
    Flag("--pid", STR, help="PID namespace to use"),
    Flag("--pids-limit", INT, help="Tune container pids limit (set -1 for unlimited)"),
    Flag("--platform", STR, help="Set platform if server is multi-platform capable"),
    Flag("--privileged", help="Give extended privileges to this container"),
    Flag("-p, --publish", LIST, help="Publish a container's port(s) to the host"),
    Flag("-P, --publish-all", help="Publish all exposed ports to random ports"),
    Flag("--pull", STR, "missing", 'Pull image before running ("always", "missing", "never")'),
    Flag("-q, --quiet", help="Suppress the pull output"),
    Flag("--read-only", help="Mount the container's root filesystem as read only"),
    Flag("--restart", STR, "no", "Restart policy to apply when a container exits"),
    Flag("--rm", help="Automatically remove the container when it exits"),
    Flag("--runtime", STR, help="Runtime to use for this container"),
    Flag("--security-opt", LIST, help="Security Options"),
    Flag("--shm-size", STR, help="Size of /dev/shm"),
    Flag("--sig-proxy", BOOL, True, "Proxy received signals to the process"),
    Flag("--stop-signal", STR, help="Signal to stop the container"),
    Flag("--stop-timeout", INT, help="Timeout (in seconds) to stop a container"),
    Flag("--sysctl", LIST, help="Sysctl options"),
    Flag("--tmpfs", LIST, help="Mount a tmpfs directory"),
    Flag("-t, --tty", help="Allocate a pseudo-TTY"),
    Flag("--ulimit", LIST, help="Ulimit options"),
    Flag("-u, --user", STR, help="Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("--userns", STR, help="User namespace to use"),
    Flag("--uts", STR, help="UTS namespace to use"),
    Flag("-v, --volume", LIST, help="Bind mount a volume"),
    Flag("--volume-driver", STR, help="Optional volume driver for the container"),
    Flag("--volumes-from", LIST, help="Mount volumes from the specified container(s)"),
    Flag("-w, --workdir", STR, help="Working directory inside the container"),
]


def env_list(values: list[str], files: list[str]) -> list[str]:
    """`--env-file` lines then `-e` values; `VAR` alone takes the client's value, as docker."""
    out: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise UsageError(f"open {path}: {e.strerror}") from None
        for line in lines:
            line = line.lstrip()
            if line and not line.startswith("#"):
                out.append(_env_value(line))
    out += [_env_value(v) for v in values]
    return out


def _env_value(value: str) -> str:
    if "=" in value:
        name = value.split("=", 1)[0]
        if not name:
            raise UsageError(f"invalid environment variable: {value}")
        return value
    return f"{value}={os.environ[value]}" if value in os.environ else value


def labels(values: list[str], files: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    lines: list[str] = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            lines += [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    for value in lines + values:
        key, _, rest = value.partition("=")
        out[key] = rest
    return out


def restart_policy(value: str) -> dict[str, Any]:
    name, _, count = value.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure", ""):
        raise UsageError(f"invalid restart policy {value}")
    policy: dict[str, Any] = {"Name": "" if name == "no" else name}
    if count:
        if name != "on-failure":
            raise UsageError(
                f"invalid restart policy format: maximum retry count cannot be used with restart policy '{name}'"
            )
        try:
            policy["MaximumRetryCount"] = int(count)
        except ValueError:
            raise UsageError(f"invalid restart policy format: {value}") from None
    return policy


def _port_range(text: str) -> list[int]:
    if not text:
        return []
    start, _, end = text.partition("-")
    try:
        lo, hi = int(start), int(end or start)
    except ValueError:
        raise UsageError(f"invalid containerPort: {text}") from None
    if not (0 < lo <= hi <= 65535):
        raise UsageError(f"invalid range specified for port: {text}")
    return list(range(lo, hi + 1))


def parse_publish(spec: str) -> list[tuple[str, dict[str, str]]]:
    """`[ip:][hostPort:]containerPort[/proto]` -> [("80/tcp", {"HostIp", "HostPort"})...]."""
    proto = "tcp"
    rest = spec
    if "/" in spec:
        rest, proto = spec.rsplit("/", 1)
    if rest.startswith("["):  # [::1]:80:80
        close = rest.index("]")
        ip, rest = rest[1:close], rest[close + 2 :]
        host_port, _, container = rest.rpartition(":")
    else:
        parts = rest.split(":")
        if len(parts) == 1:
            ip, host_port, container = "", "", parts[0]
        elif len(parts) == 2:
            ip, host_port, container = "", parts[0], parts[1]
        elif len(parts) == 3:
            ip, host_port, container = parts
        else:
            raise UsageError(f"invalid publish opts format (should be name=value but got '{spec}')")
    if not container:
        raise UsageError(f"no port specified: {spec}<empty>")
    cports = _port_range(container)
    hports = _port_range(host_port)
    if hports and len(hports) != len(cports) and len(hports) != 1:
        raise UsageError(
            f"invalid ranges specified for container and host Ports: {container} and {host_port}"
        )
    out = []
    for i, port in enumerate(cports):
        if not hports:
            hp = ""
        elif len(hports) == 1 and len(cports) > 1:
            hp = str(hports[0])
        else:
            hp = str(hports[i])
        out.append((f"{port}/{proto}", {"HostIp": ip, "HostPort": hp}))
    return out


def parse_mount(spec: str) -> dict[str, Any]:
    """`--mount type=bind,source=/a,target=/b,readonly` -> an API Mount object."""
    mount: dict[str, Any] = {"Type": "volume"}
    bind_opts: dict[str, Any] = {}
    vol_opts: dict[str, Any] = {}
    tmpfs_opts: dict[str, Any] = {}
    for field in spec.split(","):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if key == "type":
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "destination", "dst"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = (not eq) or value.lower() in ("1", "true")
        elif key == "consistency":
            mount["Consistency"] = value
        elif key == "bind-propagation":
            bind_opts["Propagation"] = value
        elif key == "volume-nocopy":
            vol_opts["NoCopy"] = (not eq) or value.lower() in ("1", "true")
        elif key == "volume-driver":
            vol_opts["DriverConfig"] = {"Name": value}
        elif key == "volume-label":
            k, _, v = value.partition("=")
            vol_opts.setdefault("Labels", {})[k] = v
        elif key == "tmpfs-size":
            tmpfs_opts["SizeBytes"] = humanize.parse_size(value)
        elif key == "tmpfs-mode":
            tmpfs_opts["Mode"] = int(value, 8)
        else:
            raise UsageError(
                f"invalid argument \"{spec}\" for \"--mount\" flag: unexpected key '{key}' in '{field}'"
            )
    if "Target" not in mount:
        raise UsageError(f'invalid argument "{spec}" for "--mount" flag: target is required')
    if bind_opts:
        mount["BindOptions"] = bind_opts
    if vol_opts:
        mount["VolumeOptions"] = vol_opts
    if tmpfs_opts:
        mount["TmpfsOptions"] = tmpfs_opts
    return mount


def _ulimit(spec: str) -> dict[str, Any]:
    name, _, values = spec.partition("=")
    soft, _, hard = values.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise UsageError(f"invalid ulimit argument: {spec}") from None


def _device(spec: str) -> dict[str, str]:
    parts = spec.split(":")
    host = parts[0]
    inside = parts[1] if len(parts) > 1 and not set(parts[1]) <= set("rwm") else host
    perms = parts[-1] if len(parts) > 1 and set(parts[-1]) <= set("rwm") else "rwm"
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms}


def _nanos(text: str | None) -> int:
    return int(humanize.parse_duration(text) * 1e9) if text else 0


def create_body(
    o: dict[str, Any], image: str, cmd: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(query params, JSON body) of `POST /containers/create` for these flags."""
    attach = [a.lower() for a in o["attach"]]
    detach = o["detach"]
    if detach and attach:
        raise UsageError("Conflicting options: -a and -d")
    if not detach and not attach:
        attach = ["stdout", "stderr"] + (["stdin"] if o["interactive"] else [])
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in o["publish"]:
        for port, binding in parse_publish(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    for spec in o["expose"]:
        proto = "tcp"
        if "/" in spec:
            spec, proto = spec.split("/", 1)
        for port in _port_range(spec):
            exposed[f"{port}/{proto}"] = {}
    binds, volumes = [], {}
    for spec in o["volume"]:
        if ":" in spec and not spec.startswith(":"):
            binds.append(spec)
        else:
            volumes[spec] = {}
    tmpfs = {}
    for spec in o["tmpfs"]:
        path, _, opts = spec.partition(":")
        tmpfs[path] = opts
    config: dict[str, Any] = {
        "Hostname": o["hostname"] or "",
        "Domainname": o["domainname"] or "",
        "User": o["user"] or "",
        "AttachStdin": "stdin" in attach,
        "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach,
        "Tty": o["tty"],
        "OpenStdin": o["interactive"],
        "StdinOnce": o["interactive"] and not detach and "stdin" in attach,
        "Env": env_list(o["env"], o["env_file"]),
        "Cmd": cmd or None,
        "Image": image,
        "Volumes": volumes or None,
        "WorkingDir": o["workdir"] or "",
        "Entrypoint": None,
        "Labels": labels(o["label"], o["label_file"]),
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if "entrypoint" in o["_set"]:
        config["Entrypoint"] = [o["entrypoint"]] if o["entrypoint"] else [""]
    if o["stop_signal"]:
        config["StopSignal"] = o["stop_signal"]
    if o["stop_timeout"] is not None:
        config["StopTimeout"] = o["stop_timeout"]
    if o["mac_address"]:
        config["MacAddress"] = o["mac_address"]
    if o["no_healthcheck"]:
        config["Healthcheck"] = {"Test": ["NONE"]}
    elif o["health_cmd"] or o["health_interval"] or o["health_retries"] is not None:
        config["Healthcheck"] = {
            "Test": ["CMD-SHELL", o["health_cmd"]] if o["health_cmd"] else [],
            "Interval": _nanos(o["health_interval"]),
            "Timeout": _nanos(o["health_timeout"]),
            "StartPeriod": _nanos(o["health_start_period"]),
            "Retries": o["health_retries"] or 0,
        }
    network = o["network"] or "default"
    log_config = None
    if o["log_driver"] or o["log_opt"]:
        log_config = {
            "Type": o["log_driver"] or "",
            "Config": dict(v.split("=", 1) if "=" in v else (v, "") for v in o["log_opt"]),
        }
    host: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": o["cidfile"] or "",
        "NetworkMode": network,
        "PortBindings": bindings or None,
        "RestartPolicy": restart_policy(o["restart"]),
        "AutoRemove": o["rm"],
        "VolumeDriver": o["volume_driver"] or "",
        "VolumesFrom": o["volumes_from"] or None,
        "CapAdd": o["cap_add"] or None,
        "CapDrop": o["cap_drop"] or None,
        "CgroupnsMode": o["cgroupns"] or "",
        "Dns": o["dns"] or [],
        "DnsOptions": o["dns_option"] or [],
        "DnsSearch": o["dns_search"] or [],
        "ExtraHosts": o["add_host"] or None,
        "GroupAdd": o["group_add"] or None,
        "IpcMode": o["ipc"] or "",
        "Links": o["link"] or None,
        "PidMode": o["pid"] or "",
        "Privileged": o["privileged"],
        "PublishAllPorts": o["publish_all"],
        "ReadonlyRootfs": o["read_only"],
        "SecurityOpt": o["security_opt"] or None,
        "UTSMode": o["uts"] or "",
        "UsernsMode": o["userns"] or "",
        "Devices": [_device(d) for d in o["device"]],
        "Ulimits": [_ulimit(u) for u in o["ulimit"]] or None,
        "Mounts": [parse_mount(m) for m in o["mount"]] or None,
    }
    if log_config:
        host["LogConfig"] = log_config
    if tmpfs:
        host["Tmpfs"] = tmpfs
    if o["sysctl"]:
        host["Sysctls"] = dict(s.split("=", 1) for s in o["sysctl"])
    if o["runtime"]:
        host["Runtime"] = o["runtime"]
    if o["init"]:
        host["Init"] = True
    if o["oom_kill_disable"]:
        host["OomKillDisable"] = True
    if o["oom_score_adj"] is not None:
        host["OomScoreAdj"] = o["oom_score_adj"]
    try:
        if o["memory"]:
            host["Memory"] = humanize.parse_size(o["memory"])
        if o["memory_reservation"]:
            host["MemoryReservation"] = humanize.parse_size(o["memory_reservation"])
        if o["memory_swap"]:
            host["MemorySwap"] = (
                -1 if o["memory_swap"] == "-1" else humanize.parse_size(o["memory_swap"])
            )
        if o["shm_size"]:
            host["ShmSize"] = humanize.parse_size(o["shm_size"])
    except ValueError as e:
        raise UsageError(str(e)) from None
    if o["cpus"]:
        try:
            host["NanoCpus"] = round(float(o["cpus"]) * 1e9)
        except ValueError:
            raise UsageError(f'invalid argument "{o["cpus"]}" for "--cpus" flag') from None
    if o["cpu_shares"] is not None:
        host["CpuShares"] = o["cpu_shares"]
    if o["cpuset_cpus"]:
        host["CpusetCpus"] = o["cpuset_cpus"]
    if o["cpuset_mems"]:
        host["CpusetMems"] = o["cpuset_mems"]
    if o["pids_limit"] is not None:
        host["PidsLimit"] = o["pids_limit"]
    if host["AutoRemove"] and host["RestartPolicy"]["Name"]:
        raise UsageError("Conflicting options: --restart and --rm")
    body: dict[str, Any] = {**config, "HostConfig": host}
    if o["network_alias"]:
        body["NetworkingConfig"] = {"EndpointsConfig": {network: {"Aliases": o["network_alias"]}}}
    params = {"name": o["name"] or None, "platform": o["platform"] or None}
    return params, body
