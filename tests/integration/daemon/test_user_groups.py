"""Supplementary groups as Docker's engine sets them: the primary group, then the
groups of /etc/group that list the user; the same for run and exec."""

from __future__ import annotations


def test_groups_of_run_and_exec(berthd):
    out = berthd.docker("run", "--rm", "--network", "none", "busybox", "id").stdout
    assert out.strip().startswith("uid=0(root) gid=0(root) groups=0(root)")
    out = berthd.docker("run", "--rm", "--network", "none", "-u", "nobody", "busybox", "id")
    assert out.stdout.strip() == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    cid = berthd.docker("run", "-d", "--network", "none", "busybox", "sleep", "600").stdout
    try:
        out = berthd.docker("exec", "-u", "nobody", cid.strip(), "id").stdout
        assert out.strip() == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    finally:
        berthd.docker("rm", "-f", cid.strip(), check=False)
