"""berth-shim: memory per running container and start latency.

Starts N idle busybox containers (`sleep 3600`) through shims forked by the
zygote, then reads each shim's PSS/RSS from /proc/PID/smaps_rollup, and the
zygote's (its pages are shared with every shim; its PSS is spread over them).
Reports the median shim PSS and the per-container cost
(zygote PSS + sum of shim PSS) / N, against docker's containerd-shim measured
on this machine (3.0 MB PSS, 13.2 MB RSS; issue 4), and podman's conmon
(0.4 MB PSS).

Start latency, each M times: the runtime alone (`RUNTIME create` + `start`,
what any engine pays), a shim forked by the zygote (spawn until the container
runs), and a shim executed fresh (`berth-shim serve`). The difference is the
shim's own cost. Run as root:
    .venv/bin/python bench/shim_mem.py [-n 20] [-m 15] [--runtime /usr/bin/runc]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from berth.oci.seccomp_default import default_profile
from berth.runtime.example import example_config
from berth.shim import client
from tests.conftest import make_busybox_rootfs

DOCKER_SHIM_PSS_KB = 3.0 * 1024
DOCKER_SHIM_RSS_KB = 13.2 * 1024
CONMON_PSS_KB = 0.4 * 1024


def smaps(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def write_bundle(work: Path, rootfs: Path, cid: str, args: list[str]) -> Path:
    bundle = work / cid
    bundle.mkdir()
    config = example_config()
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = f"/{cid}"
    # as the daemon writes it: with the default seccomp profile (a large config.json)
    config["linux"]["seccomp"] = default_profile(config["process"]["capabilities"]["bounding"])
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def rt(runtime: str, root: Path, *args: str) -> None:
    subprocess.run(
        [runtime, "--root", str(root), *args],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="idle containers for the memory figure")
    ap.add_argument("-m", type=int, default=15, help="samples for each latency figure")
    ap.add_argument("--runtime", default=shutil.which("runc") or "runc")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bshim-bench-", dir="/tmp"))
    rootfs = make_busybox_rootfs(work / "rootfs")
    sockets = work / "s"
    root = work / "rr"
    shims: list[client.Shim] = []
    ids: list[str] = []

    def spec(cid: str, bundle: Path) -> client.ShimSpec:
        return client.ShimSpec(
            id=cid,
            bundle=bundle,
            runtime=args.runtime,
            runtime_root=root,
            socket_dir=sockets,
            log_path=work / f"{cid}.log",
        )

    try:
        # ---- memory -------------------------------------------------------------------
        for _ in range(args.n):
            cid = f"bench-{secrets.token_hex(5)}"
            ids.append(cid)
            shims.append(
                client.spawn(spec(cid, write_bundle(work, rootfs, cid, ["sleep", "3600"])))
            )
        time.sleep(1.0)  # let every shim settle into its idle loop
        zpid = client.zygote_pid(sockets)
        zy = smaps(zpid) if zpid else {"Pss": 0, "Rss": 0}
        per = [smaps(s.shim_pid) for s in shims]
        pss = [m["Pss"] for m in per]
        rss = [m["Rss"] for m in per]
        total = sum(pss) + zy["Pss"]
        print(f"runtime: {args.runtime}; {args.n} idle containers")
        print(
            f"shim PSS median {statistics.median(pss) / 1024:.2f} MB, RSS median "
            f"{statistics.median(rss) / 1024:.2f} MB, private dirty median "
            f"{statistics.median(m.get('Private_Dirty', 0) for m in per) / 1024:.2f} MB"
        )
        print(f"zygote PSS {zy['Pss'] / 1024:.2f} MB, RSS {zy['Rss'] / 1024:.2f} MB")
        uss = [m.get("Private_Clean", 0) + m.get("Private_Dirty", 0) for m in per]
        print(
            f"shim USS (private pages: what one more container adds) median "
            f"{statistics.median(uss) / 1024:.2f} MB; "
            f"ratio to containerd-shim's PSS: {statistics.median(uss) / DOCKER_SHIM_PSS_KB:.2f}"
        )
        per_container = total / args.n
        print(
            f"per container (zygote + shims PSS) / N: {per_container / 1024:.2f} MB; "
            f"ratio to containerd-shim (3.0 MB PSS): {per_container / DOCKER_SHIM_PSS_KB:.2f}; "
            f"to conmon (0.4 MB): {per_container / CONMON_PSS_KB:.2f}"
        )
        for s in shims:
            s.kill(9)
        for s in shims:
            s.wait()
        shims.clear()

        # ---- latency ------------------------------------------------------------------
        def sample(kind: str) -> float:
            cid = f"bench-{secrets.token_hex(5)}"
            ids.append(cid)
            bundle = write_bundle(work, rootfs, cid, ["sleep", "3600"])
            t0 = time.perf_counter()
            if kind == "runtime":
                rt(args.runtime, root, "create", "--bundle", str(bundle), cid)
                rt(args.runtime, root, "start", cid)
                elapsed = time.perf_counter() - t0
                rt(args.runtime, root, "kill", cid, "KILL")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        rt(args.runtime, root, "delete", cid)
                        break
                    except subprocess.CalledProcessError:
                        time.sleep(0.01)
                return elapsed
            shim = client.spawn(spec(cid, bundle), zygote=kind == "zygote")
            elapsed = time.perf_counter() - t0
            shim.kill(9)
            shim.wait()
            # the shim runs `delete` after answering wait: let it finish, as the
            # runtime-only sample does, so it does not slow the next sample down
            deadline = time.monotonic() + 10
            while client.probe(shim.state_dir).shim_alive and time.monotonic() < deadline:
                time.sleep(0.005)
            return elapsed

        kinds = ("runtime", "zygote", "direct")
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        for kind in kinds:
            sample(kind)  # warm up
        for _ in range(args.m):  # interleaved, so that a noisy neighbour hits all alike
            for kind in kinds:
                samples[kind].append(sample(kind))
        results = {k: statistics.median(v) for k, v in samples.items()}
        base = results["runtime"]
        print(
            f"start latency medians over {args.m}: runtime create+start {base * 1000:.1f} ms; "
            f"shim via zygote {results['zygote'] * 1000:.1f} ms "
            f"(+{(results['zygote'] - base) * 1000:.1f} ms); shim executed fresh "
            f"{results['direct'] * 1000:.1f} ms (+{(results['direct'] - base) * 1000:.1f} ms)"
        )
    finally:
        for s in shims:
            try:
                s.kill(9)
                s.wait()
            except Exception:
                pass
        client.stop_zygote(sockets)
        for cid in ids:
            subprocess.run(
                [args.runtime, "--root", str(root), "delete", "--force", cid],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
