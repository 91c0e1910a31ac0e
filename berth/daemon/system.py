"""`version`, `info` and `system df`: what the daemon reports about itself."""

from __future__ import annotations

import os
import platform
import socket
import time
from typing import Any

from berth.daemon.state import Status
from berth.distribution.registry import registry_config


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


class SystemService:
    def __init__(self, *, options: Any, containers: Any, images: Any, started_at: float) -> None:
        self.options = options
        self.containers = containers
        self.images = images
        self.started_at = started_at

    def version(self, api_version: str, min_api_version: str) -> dict[str, Any]:
        v = _version()
        uname = os.uname()
        return {
            "Platform": {"Name": "berth"},
            "Components": [
                {
                    "Name": "Engine",
                    "Version": v,
                    "Details": {
                        "ApiVersion": api_version,
                        "MinAPIVersion": min_api_version,
                        "Os": "linux",
                        "Arch": "amd64",
                        "KernelVersion": uname.release,
                        "GoVersion": "python" + platform.python_version(),
                    },
                },
                {"Name": "runtime", "Version": self.options.default_runtime, "Details": {}},
            ],
            "Version": v,
            "ApiVersion": api_version,
            "MinAPIVersion": min_api_version,
            "GitCommit": "",
            "GoVersion": "python" + platform.python_version(),
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": uname.release,
            "BuildTime": "",
        }

    def info(self) -> dict[str, Any]:
        counts = {"running": 0, "paused": 0, "stopped": 0}
        all_containers = self.containers.store.all()
        for c in all_containers:
            if c.state.status == Status.RUNNING:
                counts["running"] += 1
            elif c.state.status == Status.PAUSED:
                counts["paused"] += 1
            else:
                counts["stopped"] += 1
        try:
            n_images = len(self.images.svc.list_images(None, all=False))
        except Exception:
            n_images = 0
        cg = _cgroup_version()
        return {
            "ID": _daemon_id(self.options.data_root),
            "Containers": len(all_containers),
            "ContainersRunning": counts["running"],
            "ContainersPaused": counts["paused"],
            "ContainersStopped": counts["stopped"],
            "Images": n_images,
            "Driver": self.images.driver,
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "none"],
                "Authorization": None,
                "Log": ["json-file"],
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "IPv4Forwarding": True,
            "Debug": self.options.debug,
            "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": _threads(),
            "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cg,
            "NEventsListener": 0,
            "KernelVersion": os.uname().release,
            "OperatingSystem": _os_name(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": os.uname().machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": registry_config(
                self.options.registry_mirrors, self.options.insecure_registries
            ),
            "NCPU": os.cpu_count() or 1,
            "MemTotal": _mem_total(),
            "DockerRootDir": str(self.options.data_root),
            "HttpProxy": "",
            "HttpsProxy": "",
            "NoProxy": "",
            "Name": socket.gethostname(),
            "Labels": list(self.options.labels),
            "ExperimentalBuild": False,
            "ServerVersion": _version(),
            "Runtimes": {name: {"path": path} for name, path in self.options.runtimes.items()},
            "DefaultRuntime": self.options.default_runtime,
            "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False},
            "LiveRestoreEnabled": self.options.live_restore,
            "Isolation": "",
            "InitBinary": self.options.init_path,
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=no-new-privileges"],
            "Warnings": None,
            "ExecRoot": str(self.options.exec_root),
            "UptimeSeconds": int(time.time() - self.started_at),
        }

    def disk_usage(self) -> dict[str, Any]:
        images = []
        layers_size = 0
        try:
            usage = self.images.disk_usage()
            layers_size = usage.layers_size
            for i in usage.images:
                images.append(
                    {
                        "Id": i.id,
                        "ParentId": "",
                        "RepoTags": i.repo_tags,
                        "RepoDigests": [],
                        "Created": 0,
                        "Size": i.size,
                        "SharedSize": i.shared_size,
                        "VirtualSize": i.size,
                        "Labels": None,
                        "Containers": i.containers,
                    }
                )
        except Exception:
            pass
        containers = self.containers.list(all=True, size=True)
        return {
            "LayersSize": layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": [],
            "BuildCache": [],
        }


def _threads() -> int:
    import threading

    return threading.active_count()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("berth")
    except Exception:
        return "0.1.0"


def _daemon_id(data_root) -> str:
    path = data_root / "engine-id"
    try:
        return path.read_text().strip()
    except OSError:
        import uuid

        value = str(uuid.uuid4())
        path.write_text(value + "\n")
        return value
