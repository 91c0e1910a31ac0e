"""Helpers for tests and benchmarks of distribution: registries and OCI layouts.

`start_berth_registry` runs `python -m berth.distribution.server` on a random
port; `start_docker_registry` runs Debian's reference server the same way; both
return a `Registry` whose process the caller stops with `stop`. `make_oci_layout`
and `layer_tar` build small OCI image layouts with tarfile, so tests and
benchmarks need no other package. Nothing in berth imports this module.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from berth import errors

log = logging.getLogger(__name__)

DOCKER_REGISTRY = "/usr/bin/docker-registry"


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    root: Path
    proc: subprocess.Popen
    kind: str

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 with auth on)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"registry at {url} did not come up")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_berth_registry(root: Path, *extra: str) -> Registry:
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "berth.distribution.server",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--root",
            str(root),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    if "listening on" not in line:
        stop(proc)
        raise RuntimeError(f"berth registry did not start: {line!r}")
    url = line.split()[4]
    host = url.split("://", 1)[1]
    return Registry(host, root, proc, "berth")


def start_docker_registry(root: Path, htpasswd: Path | None = None) -> Registry:
    if not os.path.exists(DOCKER_REGISTRY):
        raise errors.Unavailable(f"docker-registry is not installed at {DOCKER_REGISTRY}")
    port = free_port()
    auth = ""
    if htpasswd:
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    config = root / "config.yml"
    (root / "data").mkdir(parents=True, exist_ok=True)
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    proc = subprocess.Popen(
        [DOCKER_REGISTRY, "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reg = Registry(f"127.0.0.1:{port}", root, proc, "docker")
    try:
        wait_http(f"{reg.url}/v2/", proc)
    except Exception:
        stop(proc)
        raise
    return reg


# ---- OCI layouts built with tarfile ----------------------------------------------


def layer_tar(files: dict[str, bytes | str], *, busybox: bool = False) -> bytes:
    """An uncompressed layer tar: `files` maps paths to content ("->target" makes a symlink)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if busybox:
            data = Path("/bin/busybox").read_bytes()
            for d in ("bin", "tmp", "etc"):
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            info = tarfile.TarInfo("bin/busybox")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
            for applet in ("sh", "ls", "cat", "echo"):
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        for path, content in files.items():
            if isinstance(content, str) and content.startswith("->"):
                info = tarfile.TarInfo(path)
                info.type, info.linkname = tarfile.SYMTYPE, content[2:]
                tar.addfile(info)
                continue
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


@dataclass
class Layout:
    path: Path
    manifest_digest: str
    config_digest: str
    layer_digests: list[str]
    layer_sizes: list[int]


def make_oci_layout(
    path: Path, layers: list[bytes], tag: str = "latest", arch: str = "amd64", compress: bool = True
) -> Layout:
    """Write an OCI image layout at `path` with the given layer tars (gzip'ed)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descs, diff_ids = [], []
    for raw in layers:
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        blob = gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw
        digest, size = _write_blob(path, blob)
        mt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
        descs.append({"mediaType": mt, "digest": digest, "size": size})
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
    }
    cdigest, csize = _write_blob(path, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cdigest,
            "size": csize,
        },
        "layers": descs,
    }
    mdigest, msize = _write_blob(path, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": msize,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (path / "index.json").write_text(json.dumps(index))
    return Layout(path, mdigest, cdigest, [d["digest"] for d in descs], [d["size"] for d in descs])


# ---- in-process registry and a faulty proxy ------------------------------------------


class InProcessRegistry:
    """berth's registry served from a thread of this process (its stats are readable)."""

    def __init__(self, root: Path, htpasswd: Path | None = None) -> None:
        import threading

        from berth.distribution.server.app import RegistryServer

        root.mkdir(parents=True, exist_ok=True)
        self.server = RegistryServer(root, ("127.0.0.1", 0), htpasswd)
        self.root = root
        self.host = self.server.address
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def stats(self):
        return self.server.stats

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


class DroppingProxy:
    """A TCP proxy on loopback that cuts blob responses short.

    Every response carrying more than `cut_after` bytes is cut after that many
    bytes, for the first `drops` such responses (drops < 0: always). Counts
    the bytes it forwarded from the server. A request whose first line holds
    `hold_until[0]` is forwarded only once the event `hold_until[1]` is set
    (at most 60 s): a slow layer, on cue.
    """

    def __init__(
        self,
        upstream: str,
        cut_after: int,
        drops: int = 1,
        hold_until: tuple[bytes, threading.Event] | None = None,
    ) -> None:
        import threading

        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.cut_after = cut_after
        self.drops = drops
        self.hold_until = hold_until
        self.dropped = 0
        self.range_requests = 0
        self.forwarded = 0  # bytes sent to clients (headers included)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(client,), daemon=True)
            t.start()

    def _serve(self, client: socket.socket) -> None:
        """One request per connection (we ask the server to close after it)."""
        try:
            self._relay(client)
        except OSError as e:  # the client gave up (a cancelled pull): not the proxy's fault
            log.debug("proxy %s: connection ended: %s", self.host, e)

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as up:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data or data[:1] == b"\x16":  # a TLS handshake: plain HTTP only here
                    return
                head += data
            headers, _, rest = head.partition(b"\r\n\r\n")
            if self.hold_until and self.hold_until[0] in head.split(b"\r\n", 1)[0]:
                self.hold_until[1].wait(60)
            lines = [
                ln for ln in headers.split(b"\r\n") if not ln.lower().startswith(b"connection:")
            ]
            if any(ln.lower().startswith(b"range:") for ln in lines):
                with self._lock:
                    self.range_requests += 1
            length = 0
            for ln in lines:
                if ln.lower().startswith(b"content-length:"):
                    length = int(ln.split(b":", 1)[1])
            while len(rest) < length:
                data = client.recv(65536)
                if not data:
                    return
                rest += data
            up.sendall(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + rest)
            sent = 0
            cut = False
            while True:
                data = up.recv(65536)
                if not data:
                    break
                with self._lock:
                    if (
                        not cut
                        and sent + len(data) > self.cut_after
                        and (self.drops < 0 or self.dropped < self.drops)
                    ) and self._is_big(head):
                        cut = True
                        self.dropped += 1
                if cut and sent + len(data) > self.cut_after:
                    part = data[: max(self.cut_after - sent, 0)]
                    with self._lock:
                        self.forwarded += len(part)
                    client.sendall(part)
                    client.shutdown(socket.SHUT_RDWR)
                    return
                with self._lock:  # counted before sending: the client may finish first
                    self.forwarded += len(data)
                client.sendall(data)
                sent += len(data)

    @staticmethod
    def _is_big(head: bytes) -> bool:
        first = head.split(b"\r\n", 1)[0]
        return first.startswith(b"GET ") and b"/blobs/" in first

    def close(self) -> None:
        self._closed = True
        self.listener.close()


# ---- a private dockerd ---------------------------------------------------------------


@dataclass
class PrivateDockerd:
    root: Path
    host: str  # unix:///.../d.sock
    proc: subprocess.Popen

    def docker(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "-H", self.host, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def close(self) -> None:
        stop(self.proc)
        for d in ("exec", "root"):
            subprocess.run(["umount", "-R", "-l", str(self.root / d)], capture_output=True)
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)


def start_dockerd(*insecure: str, deadline: float = 60.0) -> PrivateDockerd:
    """A dockerd on a private root and socket (no iptables, no bridge); Unavailable if it cannot run."""
    import shutil
    import tempfile

    if os.geteuid() != 0:
        raise errors.Unavailable("dockerd needs root")
    dockerd = shutil.which("dockerd")
    if dockerd is None or shutil.which("docker") is None:
        raise errors.Unavailable("dockerd or the docker CLI is not installed")
    root = Path(tempfile.mkdtemp(prefix="bdist-d", dir="/tmp"))  # short: socket paths <= 108 bytes
    host = f"unix://{root}/d.sock"
    args = [dockerd, "--iptables=false", "--bridge=none", "--data-root", str(root / "root"),
            "--exec-root", str(root / "exec"), "-H", host, "--pidfile", str(root / "d.pid")]  # fmt: skip
    for registry in insecure:
        args += ["--insecure-registry", registry]
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    d = PrivateDockerd(root, host, proc)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            tail = (root / "dockerd.log").read_text(errors="replace")[-500:]
            d.close()
            raise errors.Unavailable(f"dockerd exited with {proc.returncode}: {tail}")
        if (
            d.docker(
                "version", "--format", "{{.Server.Version}}", timeout=10, check=False
            ).returncode
            == 0
        ):
            return d
        time.sleep(0.1)
    d.close()
    raise errors.Unavailable("dockerd did not answer within its deadline")
