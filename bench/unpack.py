"""Layer unpack throughput: berth's layer import vs GNU `tar -xzf` (and `umoci unpack`).

A ~150 MB (uncompressed) layer set of mostly incompressible files is made
once, gzip-compressed, and then unpacked repeatedly by:

- GNU tar: `tar -xzf layer.tar.gz -C dir` for each layer, one after another
  (what a shell script would do; gzip runs as tar's child process);
- berth: `ImageService.import_layers` on the blobs in its content store, on
  the overlay driver: snapshot per layer, safe extraction, diff id verified,
  layers recorded in SQLite (the real path of a pull or a load);
- berth apply only: `apply_layer` into plain directories, same thread pool,
  without snapshots or bookkeeping;
- umoci: `umoci unpack` of an OCI layout holding the same blobs (when installed).

Prints the median of N runs as uncompressed MB/s and the ratio to GNU tar.
Needs root (overlay, owners). Usage: .venv/bin/python bench/unpack.py [--runs 3] [--mb 150]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def make_layers(dest: Path, total_mb: int, layers: int = 6) -> list[tuple[Path, str, int]]:
    """[(gzip blob path, diff id, uncompressed size)]: 90% random bytes, 10% text."""
    out = []
    per_layer = total_mb * 1_000_000 // layers
    for n in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            written = 0
            i = 0
            while written < per_layer:
                size = [4_000, 60_000, 400_000, 2_000_000][i % 4]
                if i % 10 == 9:
                    data = (b"the quick brown fox jumps over the lazy dog %d\n" % i) * (size // 45)
                else:
                    data = os.urandom(size)
                info = tarfile.TarInfo(f"layer{n}/dir{i % 17}/file{i}")
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 1_700_000_000
                tf.addfile(info, io.BytesIO(data))
                written += len(data)
                i += 1
        raw = buf.getvalue()
        diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        path = dest / f"layer{n}.tar.gz"
        path.write_bytes(gzip.compress(raw, compresslevel=6))
        out.append((path, diff_id, len(raw)))
    return out


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_tar(blobs, work: Path) -> float:
    def go() -> None:
        for i, (path, _, _) in enumerate(blobs):
            d = work / f"t{i}"
            d.mkdir(parents=True)
            subprocess.run(["tar", "-xzf", str(path), "-C", str(d)], check=True)

    return timed(go)


def run_berth(blobs, work: Path) -> float:
    from berth.db import open_db
    from berth.image.service import ImageService
    from berth.image.types import OCI_LAYER_GZIP, Descriptor

    root = work / "berth"
    root.mkdir()
    svc = ImageService(root, open_db(root / "berth.db"), driver="overlay2")
    descs = []
    for path, _, _ in blobs:
        with open(path, "rb") as f:
            info = svc.content.ingest(f)
        descs.append(Descriptor(OCI_LAYER_GZIP, info.digest, info.size))
    diff_ids = [d for _, d, _ in blobs]
    return timed(lambda: svc.import_layers(descs, diff_ids))


def run_apply(blobs, work: Path) -> float:
    from berth.storage.layers import apply_layer
    from berth.storage.snapshotter import ApplyTarget, WhiteoutFormat

    def one(i: int) -> None:
        path, diff_id, _ = blobs[i]
        d = work / f"a{i}"
        d.mkdir(parents=True)
        with open(path, "rb") as f:
            apply_layer(f, ApplyTarget(d, WhiteoutFormat.OVERLAY), expected_diff_id=diff_id)

    def go() -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(len(blobs))))

    return timed(go)


def run_umoci(blobs, work: Path) -> float:
    layout = work / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes) -> tuple[str, int]:
        h = hashlib.sha256(data).hexdigest()
        (layout / "blobs" / "sha256" / h).write_bytes(data)
        return "sha256:" + h, len(data)

    layers = []
    for path, _, _ in blobs:
        digest, size = put(path.read_bytes())
        layers.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
        )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [d for _, d, _ in blobs]},
    }
    cdigest, csize = put(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cdigest,
            "size": csize,
        },
        "layers": layers,
    }
    mdigest, msize = put(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": msize,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    bundle = work / "bundle"
    return timed(
        lambda: subprocess.run(
            ["umoci", "unpack", "--image", f"{layout}:bench", str(bundle)],
            check=True,
            capture_output=True,
        )
    )


def decompressor_rates(blobs) -> dict[str, float]:
    """Uncompressed MB/s of each way to gunzip the set (the choice apply_layer makes)."""
    from berth.storage.compression import READ_SIZE, _ZlibGzipReader

    total = sum(size for _, _, size in blobs)

    def external(cmd: list[str]) -> None:
        for path, _, _ in blobs:
            with open(path, "rb") as f:
                subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, check=True)

    def in_process() -> None:
        for path, _, _ in blobs:
            with open(path, "rb") as f:
                reader = _ZlibGzipReader(f)
                while reader.read(READ_SIZE):
                    pass

    ways = {
        "pigz -dc": lambda: external(["pigz", "-dc"]),
        "gzip -dc": lambda: external(["gzip", "-dc"]),
    }
    ways["python zlib (1 MiB reads)"] = in_process
    return {
        name: total / timed(fn) / 1e6
        for name, fn in ways.items()
        if shutil.which(name.split()[0]) or "zlib" in name
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=150)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/unpack.py needs root (overlay snapshots, file owners)")
    base = Path(tempfile.mkdtemp(prefix="berth-bench-unpack-"))
    try:
        blobs = make_layers(base, args.mb)
        total = sum(size for _, _, size in blobs)
        compressed = sum(p.stat().st_size for p, _, _ in blobs)
        print(
            f"layer set: {len(blobs)} layers, {total / 1e6:.0f} MB uncompressed, {compressed / 1e6:.0f} MB gzip"
        )
        contenders = {
            "GNU tar -xzf": run_tar,
            "berth import_layers": run_berth,
            "berth apply_layer only": run_apply,
        }
        if shutil.which("umoci"):
            contenders["umoci unpack"] = run_umoci
        for name, rate in decompressor_rates(blobs).items():
            print(f"decompressor {name:28} {rate:6.0f} MB/s")
        results: dict[str, float] = {}
        for name, fn in contenders.items():
            times = []
            for _ in range(args.runs):
                work = base / "work"
                work.mkdir()
                try:
                    times.append(fn(blobs, work))
                finally:
                    subprocess.run(["rm", "-rf", str(work)], check=True)
            results[name] = statistics.median(times)
        tar_rate = total / results["GNU tar -xzf"]
        print(f"{'method':28} {'median s':>9} {'MB/s':>8} {'vs tar':>7}")
        for name, seconds in results.items():
            rate = total / seconds
            print(f"{name:28} {seconds:9.2f} {rate / 1e6:8.0f} {rate / tar_rate:6.2f}x")
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


if __name__ == "__main__":
    main()
