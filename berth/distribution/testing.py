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
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from berth import errors

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
