"""Base images with no registry: busybox from the host, Debian by debootstrap.

Each function returns a `BaseLayer`: an uncompressed layer tar on disk plus
the history line and defaults of the image. The busybox layer is built in
memory from the host's static busybox (Debian's busybox-static) with its
applets as hard links, as in the official image, and with fixed mtimes, so
the same busybox binary always gives the same image id. The Debian layer is
`debootstrap --variant=minbase` from a Debian mirror, with apt's caches
cleared; it takes minutes, so callers may keep the tar (`cache`).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from berth.errors import InternalError, NotFound
from berth.storage.diff import write_tree

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "bin:x:2:2:bin:/bin:/bin/false\n"
    "sys:x:3:3:sys:/dev:/bin/false\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\ntty:x:5:\nusers:x:100:\nnogroup:x:65534:\n"


@dataclass(frozen=True, slots=True)
class BaseLayer:
    tar: Path
    created: str
    created_by: str
    env: tuple[str, ...] = (DEFAULT_PATH,)
    cleanup: tuple[Path, ...] = field(default=())


def _iso(ts: float) -> str:
    from berth.timestamps import format_seconds

    return format_seconds(int(ts))


def busybox_layer(busybox: Path = Path("/bin/busybox")) -> BaseLayer:
    """One layer: /bin/busybox, its applets (hard links), /etc basics, empty dirs."""
    if not busybox.exists():
        raise NotFound(f"busybox binary {busybox} not found (apt-get install busybox-static)")
    mtime = int(busybox.stat().st_mtime)
    applets = subprocess.run(
        [str(busybox), "--list-full"], check=True, capture_output=True, text=True
    ).stdout.split()
    tmpdir = Path(tempfile.mkdtemp(prefix="berth-busybox-"))
    out = tmpdir / "layer.tar"
    with open(out, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tf:

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, mode, mtime
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(data) if data else None)

        for d in (
            "bin",
            "dev",
            "etc",
            "home",
            "proc",
            "sys",
            "usr",
            "usr/bin",
            "usr/sbin",
            "sbin",
            "var",
            "var/spool",
            "var/www",
        ):
            add(d, tarfile.DIRTYPE, 0o755)
        add("tmp", tarfile.DIRTYPE, 0o1777)
        add("root", tarfile.DIRTYPE, 0o700)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in sorted(set(applets)):
            path = applet.lstrip("/")
            if path == "bin/busybox" or "/" not in path or ".." in path.split("/"):
                continue
            if path.split("/")[0] not in ("bin", "sbin", "usr"):
                continue
            add(path, tarfile.LNKTYPE, 0o755, link="bin/busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644, _PASSWD.encode())
        add("etc/group", tarfile.REGTYPE, 0o644, _GROUP.encode())
        add("etc/hostname", tarfile.REGTYPE, 0o644, b"")
        add("etc/hosts", tarfile.REGTYPE, 0o644, b"")
        add("etc/resolv.conf", tarfile.REGTYPE, 0o644, b"")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return BaseLayer(
        tar=out,
        created=_iso(mtime),
        created_by=f"/bin/sh -c #(nop) ADD file:{digest} in / ",
        cleanup=(tmpdir,),
    )


def debootstrap_layer(
    suite: str = "bookworm",
    mirror: str = "http://deb.debian.org/debian",
    cache: Path | None = None,
) -> BaseLayer:
    """`debootstrap --variant=minbase` into a temporary dir, as one layer tar."""
    if cache is not None and cache.exists():
        return BaseLayer(
            tar=cache,
            created=_iso(cache.stat().st_mtime),
            created_by=f"/bin/sh -c #(nop) ADD debootstrap {suite} minbase in / ",
        )
    if shutil.which("debootstrap") is None:
        raise NotFound("debootstrap is not installed (apt-get install debootstrap)")
    tmpdir = Path(tempfile.mkdtemp(prefix="berth-debootstrap-"))
    rootfs = tmpdir / "rootfs"
    try:
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", suite, str(rootfs), mirror],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise InternalError(f"debootstrap {suite} failed: {proc.stderr.strip()[-2000:]}")
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            d = rootfs / sub
            if d.is_dir():
                for entry in d.iterdir():
                    if entry.is_file() and entry.name != "lock":
                        entry.unlink()
        for sub in ("proc", "sys", "dev"):
            d = rootfs / sub
            if d.is_dir():
                shutil.rmtree(d)
                d.mkdir(mode=0o755)
        out = cache or tmpdir / "layer.tar"
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        with open(partial, "wb") as f:
            write_tree(rootfs, f)
        os.rename(partial, out)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
        if cache is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return BaseLayer(
        tar=out,
        created=_iso(out.stat().st_mtime),
        created_by=f"/bin/sh -c #(nop) ADD debootstrap {suite} minbase in / ",
        cleanup=() if cache else (tmpdir,),
    )
