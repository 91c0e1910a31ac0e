"""`berthd`: the only code that reads flags and daemon.json.

It merges the two (flags win, as in dockerd; a key given in both with
different values is an error), builds `DaemonOptions`, constructs the
`Daemon`, and serves the Engine API on every `-H` address until SIGTERM or
SIGINT. Stopping berthd never stops containers (live restore).
"""

from __future__ import annotations

import argparse
import grp
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

from berth.daemon.config import DaemonOptions, TLSOptions

log = logging.getLogger("berthd")

DEFAULT_CONFIG = Path("/etc/berth/daemon.json")
DEFAULT_SOCKET = "unix:///run/berth/berth.sock"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berthd", description="berth's daemon: the Docker Engine API")
    p.add_argument(
        "-H", "--host", action="append", dest="hosts", help="unix:///path or tcp://host:port"
    )
    p.add_argument("--data-root", help="persistent state (default /var/lib/berth)")
    p.add_argument("--exec-root", help="runtime state and sockets (default /run/berth)")
    p.add_argument("--storage-driver", "-s", help="overlay or vfs")
    p.add_argument("--default-runtime", help="berth-runc, runc, crun or a --add-runtime name")
    p.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--config-file", help=f"daemon.json (default {DEFAULT_CONFIG})")
    p.add_argument("--group", "-G", help="group of the unix socket (default berth)")
    p.add_argument("--tls", action="store_true", default=None, help="serve TCP with TLS")
    p.add_argument("--tlsverify", action="store_true", default=None, help="TLS and verify clients")
    p.add_argument("--tlscacert")
    p.add_argument("--tlscert")
    p.add_argument("--tlskey")
    p.add_argument(
        "--insecure-tcp",
        action="store_true",
        default=None,
        help="allow plain TCP without TLS (anyone who can connect is root)",
    )
    p.add_argument("--init-path", help="init binary for --init (default /usr/bin/tini-static)")
    p.add_argument("--pidfile", "-p")
    p.add_argument("--debug", "-D", action="store_true", default=None)
    p.add_argument(
        "--registry-mirror",
        action="append",
        dest="registry_mirrors",
        metavar="URL",
        help="mirror for Docker Hub pulls (repeatable)",
    )
    p.add_argument(
        "--insecure-registry",
        action="append",
        dest="insecure_registries",
        metavar="HOST",
        help="registry host or CIDR without TLS checks (repeatable)",
    )
    p.add_argument("--max-concurrent-downloads", type=int, help="layers pulled at once (3)")
    p.add_argument("--max-concurrent-uploads", type=int, help="layers pushed at once (5)")
    p.add_argument(
        "--bridge", "-b", help="the default bridge's name, or none for no default bridge"
    )
    p.add_argument("--bip", help="the default bridge's subnet, e.g. 172.31.0.0/16")
    for name, what in (("iptables", "NAT and filter rules"), ("userland-proxy", "loopback proxy")):
        p.add_argument(
            f"--{name}", type=_bool, nargs="?", const=True, default=None,
            help=f"{what} for published ports (default true; --{name}=false)",
        )  # fmt: skip
    return p


def _bool(text: str) -> bool:
    """Docker's boolean flag values: --iptables=false."""
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes"):
        return True
    if value in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


_KEYS = {  # daemon.json key -> flag attribute
    "hosts": "hosts",
    "data-root": "data_root",
    "exec-root": "exec_root",
    "storage-driver": "storage_driver",
    "default-runtime": "default_runtime",
    "group": "group",
    "tls": "tls",
    "tlsverify": "tlsverify",
    "tlscacert": "tlscacert",
    "tlscert": "tlscert",
    "tlskey": "tlskey",
    "insecure-tcp": "insecure_tcp",
    "init-path": "init_path",
    "pidfile": "pidfile",
    "debug": "debug",
    "registry-mirrors": "registry_mirrors",
    "insecure-registries": "insecure_registries",
    "max-concurrent-downloads": "max_concurrent_downloads",
    "max-concurrent-uploads": "max_concurrent_uploads",
    "bridge": "bridge",
    "bip": "bip",
    "iptables": "iptables",
    "userland-proxy": "userland_proxy",
}
_OTHER_KEYS = {
    "runtimes",
    "log-opts",
    "log-driver",
    "default-shm-size",
    "live-restore",
    "labels",
    "dns",
}


def load_config_file(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise SystemExit(f"berthd: config file {path} does not exist")
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except ValueError as exc:
        raise SystemExit(f"berthd: {path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SystemExit(f"berthd: {path}: expected a JSON object")
    unknown = set(data) - set(_KEYS) - _OTHER_KEYS
    if unknown:
        raise SystemExit(f"berthd: {path}: unknown keys: {', '.join(sorted(unknown))}")
    return data


def _size(text: str | int) -> int:
    if isinstance(text, int):
        return text
    t = text.strip().lower().rstrip("b")
    mult = {"k": 1024, "m": 1024**2, "g": 1024**3}.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in "kmg" else t) * mult)


def options_from(args: argparse.Namespace, config: dict[str, Any]) -> DaemonOptions:
    merged: dict[str, Any] = {}
    for key, attr in _KEYS.items():
        flag = getattr(args, attr)
        if flag is not None and key in config and config[key] != flag and key != "hosts":
            raise SystemExit(
                f"berthd: the following directives are specified both as a flag and in the "
                f"configuration file: {key}: (from flag: {flag}, from file: {config[key]})"
            )
        merged[attr] = flag if flag is not None else config.get(key)
    runtimes: dict[str, str] = {}
    for name, exe in (("berth-runc", "berth-runc"), ("runc", "runc"), ("crun", "crun")):
        found = shutil.which(exe) or _venv_tool(exe)
        if found:
            runtimes[name] = found
    for name, spec in (config.get("runtimes") or {}).items():
        runtimes[name] = spec["path"] if isinstance(spec, dict) else str(spec)
    for item in args.add_runtime:
        name, _, path = item.partition("=")
        runtimes[name] = path
    default_runtime = merged["default_runtime"] or (
        "berth-runc" if "berth-runc" in runtimes else "runc"
    )
    if default_runtime not in runtimes:
        raise SystemExit(f"berthd: default runtime {default_runtime} is not installed")
    tls = None
    if merged["tlsverify"] or merged["tls"]:
        if not merged["tlscert"] or not merged["tlskey"]:
            raise SystemExit("berthd: --tls needs --tlscert and --tlskey")
        tls = TLSOptions(
            cacert=Path(merged["tlscacert"]) if merged["tlscacert"] else None,
            cert=Path(merged["tlscert"]),
            key=Path(merged["tlskey"]),
            verify=bool(merged["tlsverify"]),
        )
        if tls.verify and tls.cacert is None:
            raise SystemExit("berthd: --tlsverify needs --tlscacert")
    exec_root = Path(merged["exec_root"] or "/run/berth")
    hosts = tuple(merged["hosts"] or ())
    if not hosts:
        hosts = (f"unix://{exec_root / 'berth.sock'}",)
    log_opts = config.get("log-opts") or {}
    return DaemonOptions(
        data_root=Path(merged["data_root"] or "/var/lib/berth"),
        exec_root=exec_root,
        hosts=hosts,
        tls=tls,
        insecure_tcp=bool(merged["insecure_tcp"]),
        socket_group=merged["group"] or "berth",
        storage_driver=merged["storage_driver"] or "overlay",
        default_runtime=default_runtime,
        runtimes=runtimes,
        init_path=merged["init_path"] or _default_init(),
        log_max_size=_size(log_opts["max-size"]) if "max-size" in log_opts else 0,
        log_max_file=int(log_opts.get("max-file", 1)),
        default_shm_size=_size(config.get("default-shm-size", 64 * 1024 * 1024)),
        live_restore=bool(config.get("live-restore", True)),
        debug=bool(merged["debug"]),
        labels=tuple(config.get("labels") or ()),
        dns=tuple(config.get("dns") or ()),
        pidfile=Path(merged["pidfile"]) if merged["pidfile"] else None,
        registry_mirrors=tuple(merged["registry_mirrors"] or ()),
        insecure_registries=tuple(merged["insecure_registries"] or ()),
        max_concurrent_downloads=int(merged["max_concurrent_downloads"] or 3),
        max_concurrent_uploads=int(merged["max_concurrent_uploads"] or 5),
        bridge=merged["bridge"] or None,
        bip=merged["bip"] or None,
        iptables=merged["iptables"] is not False,
        userland_proxy=merged["userland_proxy"] is not False,
    )


def _default_init() -> str:
    """A static init: the container's root may have no libc (busybox images)."""
    for path in ("/usr/bin/tini-static", "/usr/bin/tini"):
        if os.path.exists(path):
            return path
    return "/usr/bin/tini-static"


def _venv_tool(name: str) -> str | None:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else None


def make_server(host: str, app: Any, options: DaemonOptions) -> Any:
    from berth.api.http import Handler, TCPServer, UnixServer

    if host.startswith("unix://"):
        path = Path(host[len("unix://") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_socket() or path.exists():
            _refuse_if_live(path)
            path.unlink()
        server = UnixServer(str(path), Handler)
        try:
            gid = grp.getgrnam(options.socket_group).gr_gid
        except KeyError:
            gid = -1
        os.chown(path, 0, gid if gid >= 0 else 0)
        os.chmod(path, 0o660)
    elif host.startswith("tcp://"):
        hostport = host[len("tcp://") :]
        addr, _, port = hostport.rpartition(":")
        server = TCPServer((addr or "127.0.0.1", int(port or 2376)), Handler)
        if options.tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(options.tls.cert), str(options.tls.key))
            if options.tls.cacert is not None:
                ctx.load_verify_locations(str(options.tls.cacert))
            if options.tls.verify:
                ctx.verify_mode = ssl.CERT_REQUIRED
            # the handshake happens in the connection's thread, not in the accept loop
            server.socket = ctx.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        elif options.insecure_tcp:
            log.warning("serving the API on %s WITHOUT TLS: anyone who can reach it has root", host)
        else:
            raise SystemExit(
                f"berthd: refusing {host} without TLS: pass --tlsverify with certificates, "
                "or --insecure-tcp to accept the risk"
            )
    else:
        raise SystemExit(f"berthd: unsupported host {host!r} (unix:// or tcp://)")
    server.app = app  # type: ignore[attr-defined]
    return server


def _refuse_if_live(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(str(path))
    except OSError:
        return
    finally:
        s.close()
    raise SystemExit(f"berthd: another daemon is serving {path}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config_path = Path(args.config_file) if args.config_file else DEFAULT_CONFIG
    options = options_from(args, load_config_file(config_path, args.config_file is not None))
    logging.basicConfig(
        level=logging.DEBUG if options.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("pyroute2", "asyncio", "berth.api.http"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from berth.api.app import App
    from berth.daemon.daemon import Daemon

    daemon = Daemon(options)
    daemon.start()
    app = App(daemon)
    servers = [make_server(h, app, options) for h in options.hosts]
    if options.pidfile:
        options.pidfile.write_text(f"{os.getpid()}\n")
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # systemd's reload: configuration is read at start only; never die of it
    signal.signal(signal.SIGHUP, lambda *_: log.info("SIGHUP: restart berthd to apply changes"))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    log.info("berthd serving %s (data root %s)", ", ".join(options.hosts), options.data_root)
    while not stop.wait(3600):
        pass
    log.info("berthd stopping; containers keep running")
    for s in servers:
        s.shutdown()
        s.server_close()
        if isinstance(s.server_address, str):
            try:
                os.unlink(s.server_address)
            except OSError:
                pass
    daemon.close()
    if options.pidfile:
        try:
            options.pidfile.unlink()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
