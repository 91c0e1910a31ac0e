"""Cold pull of a 150 MB, 5-layer, mostly incompressible image from a loopback registry.

Side by side, each N times (default 3), median wall time:
  berth  pull  from Debian's docker-registry   (fresh data root each run: cold)
  berth  pull  from berth's registry
  docker pull  from Debian's docker-registry   (private dockerd; rmi + prune between runs)
  skopeo copy  docker-registry -> OCI dir       (no unpacking)
Berth pulls in this process through `berth.distribution.pull.Puller` into an
`ImageService` (overlay2) on a fresh data root, downloads and unpacking
included. Goal: berth <= 0.7x docker's time. Run as root:
    .venv/bin/python bench/pull.py [-n 3] [--mb 150] [--layers 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from berth import errors
from berth.db import open_db
from berth.distribution.pull import Puller
from berth.distribution.registry import RegistryOptions
from berth.distribution.session import Session
from berth.distribution.testing import (
    Layout,
    layer_tar,
    make_oci_layout,
    start_berth_registry,
    start_docker_registry,
    start_dockerd,
    stop,
)


def build_image(root: Path, mb: int, layers: int) -> Layout:
    """Layers of random files (incompressible) plus a small text file each."""
    per = mb * 1_000_000 // layers
    tars = []
    for i in range(layers):
        files: dict[str, bytes | str] = {f"data/layer{i}/notes.txt": f"layer {i}\n" * 1000}
        chunk = 4_000_000
        for j in range(0, per, chunk):
            files[f"data/layer{i}/blob{j // chunk:03d}"] = os.urandom(min(chunk, per - j))
        tars.append(layer_tar(files, busybox=(i == 0)))
    return make_oci_layout(root, tars)


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True)


def berth_pull(ref: str, work: Path) -> float:
    from berth.image.service import ImageService

    root = Path(tempfile.mkdtemp(prefix="pull-", dir=work))
    db = open_db(root / "berth.db")
    svc = ImageService(root, db, driver="overlay2")
    session = Session(RegistryOptions())
    subprocess.run(["sync"], check=False)  # earlier runs' writeback must not land on this one
    try:
        t0 = time.perf_counter()
        Puller(svc, session).pull(ref)
        return time.perf_counter() - t0
    finally:
        session.close()
        db.close()
        shutil.rmtree(root, ignore_errors=True)


def docker_pull(d, ref: str) -> float:
    d.docker("rmi", "-f", ref, check=False)
    d.docker("image", "prune", "-af", check=False)
    subprocess.run(["sync"], check=False)
    t0 = time.perf_counter()
    d.docker("pull", "-q", ref)
    return time.perf_counter() - t0


def skopeo_copy(ref: str, work: Path) -> float:
    out = Path(tempfile.mkdtemp(prefix="sk-", dir=work))
    subprocess.run(["sync"], check=False)
    try:
        t0 = time.perf_counter()
        skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}/img:x")
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def median(f, n: int) -> float:
    samples = [f() for _ in range(n)]
    return statistics.median(samples)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=3)
    p.add_argument("--mb", type=int, default=150)
    p.add_argument("--layers", type=int, default=5)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pull-", dir="/var/tmp"))
    procs = []
    dockerd = None
    try:
        layout = build_image(work / "layout", args.mb, args.layers)
        size = sum(layout.layer_sizes)
        print(f"image: {args.layers} layers, {size / 1e6:.1f} MB compressed")
        dreg = start_docker_registry(work / "docker-registry")
        breg = start_berth_registry(work / "berth-registry")
        procs += [dreg.proc, breg.proc]
        for reg in (dreg, breg):
            skopeo(
                "copy",
                "--dest-tls-verify=false",
                f"oci:{layout.path}:latest",
                f"docker://{reg.host}/bench/img:1",
            )
        dref, bref = f"{dreg.host}/bench/img:1", f"{breg.host}/bench/img:1"
        rows: list[tuple[str, float]] = []
        rows.append(
            ("berth pull (docker-registry)", median(lambda: berth_pull(dref, work), args.n))
        )
        rows.append(("berth pull (berth registry)", median(lambda: berth_pull(bref, work), args.n)))
        try:
            dockerd = start_dockerd(dreg.host, breg.host)
            rows.append(
                (
                    "docker pull (docker-registry)",
                    median(lambda: docker_pull(dockerd, dref), args.n),
                )
            )
            rows.append(
                ("docker pull (berth registry)", median(lambda: docker_pull(dockerd, bref), args.n))
            )
        except errors.Unavailable as e:
            print(f"docker: skipped ({e})")
        if shutil.which("skopeo"):
            rows.append(
                (
                    "skopeo copy -> oci (docker-registry)",
                    median(lambda: skopeo_copy(dref, work), args.n),
                )
            )
        for name, t in rows:
            print(f"{name:40s} {t:7.3f} s  {size / t / 1e6:7.1f} MB/s")
        times = dict(rows)
        docker_t = times.get("docker pull (docker-registry)")
        if docker_t:
            ratio = times["berth pull (docker-registry)"] / docker_t
            print(f"berth/docker time ratio: {ratio:.2f} (goal <= 0.70)")
        return 0
    finally:
        if dockerd is not None:
            dockerd.close()
        for proc in procs:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
