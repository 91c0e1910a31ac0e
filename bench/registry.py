"""Serving throughput: berth's registry vs Debian's docker-registry, same image, loopback.

For each registry, median of N runs (default 5) of:
  blobs x3     the image's 5 layer blobs (150 MB) fetched 3 at a time by
               berth's client, digests verified (MB/s)
  skopeo       `skopeo copy docker://... oci:DIR` of the whole image (MB/s)
  HEAD/s       manifest HEAD requests per second on one keep-alive connection
and the ratio berth/docker-registry (goal >= 0.8 on throughput). Run:
    .venv/bin/python bench/registry.py [-n 5] [--mb 150]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pull import build_image, skopeo

from berth.distribution.client import RegistryClient
from berth.distribution.registry import RegistryOptions, endpoints
from berth.distribution.testing import (
    Layout,
    Registry,
    start_berth_registry,
    start_docker_registry,
    stop,
)


def fetch_blobs(reg: Registry, layout: Layout) -> float:
    client = RegistryClient(endpoints(reg.host, RegistryOptions())[0])
    client.ping()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        list(
            pool.map(
                lambda d: client.fetch_blob("bench/img", d, lambda b: None), layout.layer_digests
            )
        )
    elapsed = time.perf_counter() - t0
    client.pool.close()
    return elapsed


def skopeo_copy(reg: Registry, work: Path) -> float:
    out = Path(tempfile.mkdtemp(prefix="sk-", dir=work))
    subprocess.run(["sync"], check=False)
    try:
        t0 = time.perf_counter()
        skopeo(
            "copy", "--src-tls-verify=false", f"docker://{reg.host}/bench/img:1", f"oci:{out}/img:x"
        )
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def head_rate(reg: Registry, count: int = 2000) -> float:
    conn = http.client.HTTPConnection(reg.host)
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    t0 = time.perf_counter()
    for _ in range(count):
        conn.request("HEAD", "/v2/bench/img/manifests/1", headers=accept)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
    conn.close()
    return count / (time.perf_counter() - t0)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=5)
    p.add_argument("--mb", type=int, default=150)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-registry-", dir="/var/tmp"))
    regs: list[Registry] = []
    try:
        layout = build_image(work / "layout", args.mb, 5)
        size = sum(layout.layer_sizes)
        regs = [
            start_docker_registry(work / "docker-registry"),
            start_berth_registry(work / "berth-registry"),
        ]
        for reg in regs:
            skopeo(
                "copy",
                "--dest-tls-verify=false",
                f"oci:{layout.path}:latest",
                f"docker://{reg.host}/bench/img:1",
            )
        results: dict[str, dict[str, float]] = {r.kind: {} for r in regs}
        for _ in range(args.n):  # interleaved, so both see the same machine state
            for reg in regs:
                results[reg.kind].setdefault("blobs", []).append(fetch_blobs(reg, layout))  # type: ignore[attr-defined]
                results[reg.kind].setdefault("skopeo", []).append(skopeo_copy(reg, work))  # type: ignore[attr-defined]
        for reg in regs:
            results[reg.kind]["head"] = head_rate(reg)
        print(f"image: 5 layers, {size / 1e6:.1f} MB; median of {args.n}")
        for kind in ("docker", "berth"):
            r = results[kind]
            blobs, sk = statistics.median(r["blobs"]), statistics.median(r["skopeo"])  # type: ignore[arg-type]
            name = "docker-registry" if kind == "docker" else "berth registry"
            print(f"{name:16s} blobs x3 {size / blobs / 1e6:7.1f} MB/s   skopeo {size / sk / 1e6:7.1f} MB/s   "
                  f"HEAD {r['head']:7.0f}/s")  # fmt: skip
        d, b = results["docker"], results["berth"]
        print(f"ratio berth/docker-registry: blobs {statistics.median(d['blobs']) / statistics.median(b['blobs']):.2f}"  # type: ignore[arg-type]
              f"  skopeo {statistics.median(d['skopeo']) / statistics.median(b['skopeo']):.2f}"  # type: ignore[arg-type]
              f"  HEAD/s {b['head'] / d['head']:.2f}   (goal >= 0.80 on throughput)")  # fmt: skip
        return 0
    finally:
        for reg in regs:
            stop(reg.proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
