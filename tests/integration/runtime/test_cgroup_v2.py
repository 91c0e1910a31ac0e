"""berth-runc on a pure cgroup v2 host, simulated in a private mount namespace
where /sys/fs/cgroup is replaced by the unified (cgroup2) hierarchy."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .conftest import Bundle, Runtime

V2_HOST = "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "


def test_run_pause_resume_delete_on_v2(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.config["linux"]["resources"] = {}
    bundle.write()
    cid = berth_runc.new_id()
    runc = f"{berth_runc.binary} --root {berth_runc.root}"
    script = V2_HOST + (
        f"{runc} run -d -b {bundle.path} {cid} </dev/null >/dev/null 2>&1 && "
        f"cat /sys/fs/cgroup/{cid}/cgroup.procs | wc -l && "
        f"{runc} pause {cid} && {runc} state {cid} | grep -o paused && "
        f"cat /sys/fs/cgroup/{cid}/cgroup.freeze && "
        f"{runc} resume {cid} && {runc} state {cid} | grep -o running && "
        f"{runc} exec {cid} cat /proc/self/cgroup | grep '^0::' && "
        f"{runc} delete --force {cid} && test ! -e /sys/fs/cgroup/{cid} && echo cleaned"
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == ["1", "paused", "1", "running", f"0::/{cid}", "cleaned"], (
        result.stderr
    )
    assert not Path(f"/sys/fs/cgroup/unified/{cid}").exists()
    assert json.loads(berth_runc("list", "--format", "json").stdout) == []
