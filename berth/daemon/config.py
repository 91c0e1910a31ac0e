"""The daemon's typed options. Only `berth.daemon.main` builds them (from flags
and daemon.json); every service below receives the fields it needs as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TLSOptions:
    cacert: Path | None
    cert: Path
    key: Path
    verify: bool


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    data_root: Path = Path("/var/lib/berth")
    exec_root: Path = Path("/run/berth")
    hosts: tuple[str, ...] = ("unix:///run/berth/berth.sock",)
    tls: TLSOptions | None = None
    insecure_tcp: bool = False
    socket_group: str = "berth"
    storage_driver: str = "overlay"
    default_runtime: str = "berth-runc"
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> executable path
    init_path: str = "/usr/bin/tini-static"
    log_max_size: int = 0  # bytes, 0 = unlimited
    log_max_file: int = 1
    default_shm_size: int = 64 * 1024 * 1024
    live_restore: bool = True
    debug: bool = False
    labels: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    pidfile: Path | None = None
    # registries (berth.daemon.distribution turns them into RegistryOptions)
    registry_mirrors: tuple[str, ...] = ()  # URLs, used for Docker Hub names only
    insecure_registries: tuple[str, ...] = ()  # hosts or CIDRs; 127.0.0.0/8 always
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    # networking (berth.daemon.networks): the default bridge ("none": no default bridge)
    bridge: str | None = None
    bip: str | None = None
    iptables: bool = True
    userland_proxy: bool = True
