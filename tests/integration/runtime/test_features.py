"""One test per config.json feature, each under berth-runc and under Debian's runc
(`any_runtime`): the container prints what it sees and both must print it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import make_busybox_rootfs

from .conftest import Bundle, Runtime, wait_for


def run(runtime: Runtime, bundle: Bundle, script: str, **process) -> subprocess.CompletedProcess:
    bundle.config["process"]["args"] = ["sh", "-c", script]
    bundle.config["process"].update(process)
    return runtime.run(bundle)


def add_mount(bundle: Bundle, destination: str, kind: str, source: str, options: list[str]) -> None:
    bundle.config["mounts"].append(
        {"destination": destination, "type": kind, "source": source, "options": options}
    )


def writable_tmp(bundle: Bundle) -> None:
    add_mount(bundle, "/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=1777", "size=4m"])


def test_hostname_and_domainname(any_runtime: Runtime, bundle: Bundle):
    bundle.config["hostname"] = "box1"
    bundle.config["domainname"] = "example.test"
    result = run(any_runtime, bundle, "hostname; cat /proc/sys/kernel/domainname")
    hostname, domainname = result.stdout.split()
    assert hostname == "box1", result.stderr
    if any_runtime.name == "berth-runc":  # Debian's runc 1.1.5 ignores domainname
        assert domainname == "example.test"


def test_user_groups_and_umask(any_runtime: Runtime, bundle: Bundle):
    writable_tmp(bundle)
    user = {"uid": 1000, "gid": 100, "additionalGids": [1, 65534], "umask": 0o027}
    result = run(any_runtime, bundle, "id; umask; touch /tmp/f; stat -c %a /tmp/f", user=user)
    assert result.stdout == (
        "uid=1000(user) gid=100(users) groups=1(daemon),65534(nogroup)\n0027\n640\n"
    ), result.stderr


def test_capability_sets(any_runtime: Runtime, bundle: Bundle):
    chown_raw = ["CAP_CHOWN", "CAP_NET_RAW"]
    bundle.config["process"]["capabilities"] = {
        "bounding": [*chown_raw, "CAP_KILL"],
        "effective": chown_raw,
        "permitted": chown_raw,
        "inheritable": ["CAP_CHOWN"],
        "ambient": ["CAP_CHOWN"],
    }
    result = run(
        any_runtime, bundle, "grep ^Cap /proc/self/status", user={"uid": 1000, "gid": 1000}
    )
    caps = dict(line.split(":\t") for line in result.stdout.splitlines())
    assert caps == {
        "CapInh": "0000000000000001",
        "CapPrm": "0000000000000001",  # a non-root user keeps only the ambient set
        "CapEff": "0000000000000001",
        "CapBnd": "0000000000002021",
        "CapAmb": "0000000000000001",
    }, result.stderr


def test_root_capabilities(any_runtime: Runtime, bundle: Bundle):
    result = run(any_runtime, bundle, "grep -E '^Cap(Eff|Bnd)' /proc/self/status")
    assert result.stdout == "CapEff:\t0000000020000420\nCapBnd:\t0000000020000420\n"


def test_rlimits_no_new_privileges_oom_score(any_runtime: Runtime, bundle: Bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256},
        {"type": "RLIMIT_NPROC", "hard": 4000, "soft": 3000},
    ]
    bundle.config["process"]["oomScoreAdj"] = 500
    script = "ulimit -n; ulimit -Hn; ulimit -u; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj"
    result = run(any_runtime, bundle, script)
    assert result.stdout == "256\n512\n3000\nNoNewPrivs:\t1\n500\n", result.stderr


def test_readonly_root_refuses_writes(any_runtime: Runtime, bundle: Bundle):
    result = run(any_runtime, bundle, "touch /newfile")
    assert result.returncode == 1
    assert "Read-only file system" in result.stderr


def test_writable_root_with_private_rootfs(
    any_runtime: Runtime, bundle: Bundle, private_rootfs: Path
):
    bundle.config["root"] = {"path": str(private_rootfs), "readonly": False}
    result = run(any_runtime, bundle, "echo hi > /root/note && cat /root/note")
    assert result.stdout == "hi\n"
    assert (private_rootfs / "root" / "note").read_text() == "hi\n"


def test_mounts_bind_tmpfs_and_options(any_runtime: Runtime, bundle: Bundle, tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "file").write_text("from host\n")
    add_mount(bundle, "/home", "bind", str(shared), ["rbind", "ro", "nosuid"])
    add_mount(bundle, "/tmp", "tmpfs", "tmpfs", ["noexec", "size=1m", "mode=1770"])
    script = (
        "cat /home/file; touch /home/x 2>/dev/null || echo ro-refused;"
        "grep ' /tmp ' /proc/mounts | cut -d' ' -f3-4; stat -c %a /tmp;"
        "grep ' /dev/mqueue ' /proc/mounts | cut -d' ' -f3; grep ' /dev/pts ' /proc/mounts | cut -d' ' -f3"
    )
    result = run(any_runtime, bundle, script)
    lines = result.stdout.splitlines()
    assert lines[:2] == ["from host", "ro-refused"], result.stderr
    fstype, options = lines[2].split()
    assert fstype == "tmpfs" and {"rw", "noexec", "size=1024k", "mode=1770"} <= set(
        options.split(",")
    )
    assert lines[4:] == ["mqueue", "devpts"]
    if any_runtime.name == "berth-runc":  # runc 1.1.5 leaves the tmpfs root at 1777
        assert lines[3] == "1770"


@pytest.fixture
def shared_mount(tmp_path: Path):
    """A tmpfs on the host with shared propagation, unmounted afterwards."""
    path = tmp_path / "prop"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "berth-prop", str(path)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_mount_propagation(any_runtime: Runtime, bundle: Bundle, shared_mount: Path):
    shared = shared_mount
    add_mount(bundle, "/home", "bind", str(shared), ["rbind", "rslave"])
    result = run(any_runtime, bundle, "grep ' /home ' /proc/self/mountinfo")
    assert "master:" in result.stdout, result.stdout + result.stderr


def test_rootfs_propagation(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["rootfsPropagation"] = "shared"
    result = run(any_runtime, bundle, "awk '$5 == \"/\"' /proc/self/mountinfo")
    assert result.returncode == 0, result.stderr
    if any_runtime.name == "berth-runc":  # runc 1.1.5 leaves the new root unshared
        assert "shared:" in result.stdout, result.stdout


def test_masked_and_readonly_paths(any_runtime: Runtime, bundle: Bundle):
    """Masked files read empty, masked directories list empty (this kernel has no
    /proc/kcore; when it exists it is masked the same way), /proc/sys is read-only."""
    files = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list") if os.path.exists(p)]
    dirs = [p for p in ("/proc/acpi", "/sys/firmware") if os.path.isdir(p)]
    script = "".join(f"wc -c < {f};" for f in files) + "".join(f"ls {d} | wc -l;" for d in dirs)
    script += "echo x 2>/dev/null > /proc/sys/kernel/domainname || echo sys-ro"
    result = run(any_runtime, bundle, script)
    assert result.stdout.split() == ["0"] * (len(files) + len(dirs)) + ["sys-ro"], result.stderr
    assert files and dirs


def test_sysctl_in_the_containers_network_namespace(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["sysctl"] = {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.ping_group_range": "0 10",
    }
    result = run(
        any_runtime, bundle, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ping_group_range"
    )
    assert result.stdout.split() == ["1", "0", "10"], result.stderr
    assert Path("/proc/sys/net/ipv4/ping_group_range").read_text().split() != ["0", "10"]


def test_default_and_listed_devices(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["devices"] = [
        {
            "path": "/dev/mynull",
            "type": "c",
            "major": 1,
            "minor": 3,
            "fileMode": 0o620,
            "uid": 0,
            "gid": 5,
        }
    ]
    script = (
        "for d in null zero full random urandom tty mynull; do stat -c '%n %t:%T %a' /dev/$d; done;"
        "readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx; echo x > /dev/mynull && echo wrote"
    )
    result = run(any_runtime, bundle, script)
    lines = result.stdout.splitlines()
    assert lines[:7] == [
        "/dev/null 1:3 666",
        "/dev/zero 1:5 666",
        "/dev/full 1:7 666",
        "/dev/random 1:8 666",
        "/dev/urandom 1:9 666",
        "/dev/tty 5:0 666",
        "/dev/mynull 1:3 620",
    ], result.stderr
    assert lines[7:] == ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx", "wrote"]


def test_device_cgroup_denies_unlisted_devices(any_runtime: Runtime, bundle: Bundle):
    add_mount(bundle, "/tmp", "tmpfs", "tmpfs", ["mode=1777", "size=1m"])  # dev allowed
    caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]
    bundle.config["process"]["capabilities"] = {
        k: caps for k in ("bounding", "effective", "permitted")
    }
    result = run(
        any_runtime, bundle, "mknod /tmp/mem c 1 1 && echo made; head -c1 /tmp/mem || echo denied"
    )
    assert result.stdout.split() == ["made", "denied"], result.stderr
    assert "Operation not permitted" in result.stderr


def test_memory_limit_oom_kills_a_hog(any_runtime: Runtime, bundle: Bundle):
    limit = 24 * 1024 * 1024
    bundle.config["linux"]["resources"]["memory"] = {"limit": limit, "swap": limit}
    result = run(
        any_runtime, bundle, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exec tail /dev/zero"
    )
    assert result.stdout == f"{limit}\n"
    assert result.returncode == 128 + signal.SIGKILL


def test_pids_limit_stops_a_fork_loop(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["resources"]["pids"] = {"limit": 6}
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; echo looped; kill $(jobs -p) 2>/dev/null"
    result = run(any_runtime, bundle, script)
    assert "can't fork" in result.stderr
    assert result.returncode != 0


def test_cpu_and_cpuset(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["resources"]["cpu"] = {
        "shares": 512,
        "quota": 50000,
        "period": 100000,
        "cpus": "0",
        "mems": "0",
    }
    script = "cd /sys/fs/cgroup; cat cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpuset/cpuset.cpus"
    result = run(any_runtime, bundle, script)
    assert result.stdout.split() == ["512", "50000", "100000", "0"], result.stderr


SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {
            "names": ["chmod"],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}],
        },
        {
            "names": ["fchmodat"],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}],
        },
    ],
}


@pytest.mark.parametrize("no_new_privileges", [True, False])
def test_seccomp_errno_and_argument_rules(
    any_runtime: Runtime, bundle: Bundle, no_new_privileges: bool
):
    writable_tmp(bundle)
    bundle.config["linux"]["seccomp"] = SECCOMP
    bundle.config["process"]["noNewPrivileges"] = no_new_privileges
    script = "mkdir /tmp/d; touch /tmp/f; chmod 777 /tmp/f || echo 777-refused; chmod 755 /tmp/f && echo 755-ok"
    result = run(any_runtime, bundle, script)
    assert "Function not implemented" in result.stderr  # errnoRet 38 (ENOSYS)
    assert result.stdout.split() == ["777-refused", "755-ok"], result.stderr
    assert "Operation not permitted" in result.stderr  # ERRNO without errnoRet: EPERM


@pytest.fixture
def netns_holder():
    """A sleeping process in a fresh network namespace whose lo has MTU 1234."""
    holder = subprocess.Popen(["unshare", "--net", "sleep", "120"])
    try:
        ns_path = f"/proc/{holder.pid}/ns/net"
        wait_for(lambda: os.readlink(ns_path) != os.readlink("/proc/self/ns/net"), what="netns")
        subprocess.run(
            ["nsenter", "-t", str(holder.pid), "-n", "ip", "link", "set", "lo", "mtu", "1234"],
            check=True,
        )
        yield ns_path
    finally:
        holder.kill()
        holder.wait()


def test_joined_network_namespace(any_runtime: Runtime, bundle: Bundle, netns_holder: str):
    namespaces = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "network"]
    bundle.config["linux"]["namespaces"] = [*namespaces, {"type": "network", "path": netns_holder}]
    result = run(
        any_runtime,
        bundle,
        "readlink /proc/self/ns/net; cat /sys/class/net/lo/mtu",
    )
    ns_link, mtu = result.stdout.split()
    assert ns_link == os.readlink(netns_holder)
    assert mtu == "1234"


@pytest.fixture
def userns_rootfs():
    """A busybox rootfs on a path every uid may traverse (pytest's tmp is 0700)."""
    top = Path(tempfile.mkdtemp(prefix="berth-userns-", dir="/tmp"))
    try:
        top.chmod(0o755)
        yield make_busybox_rootfs(top / "rootfs")
    finally:
        shutil.rmtree(top)


def test_user_namespace_mapping(any_runtime: Runtime, bundle: Bundle, userns_rootfs: Path):
    bundle.config["root"]["path"] = str(userns_rootfs)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"] = [
        m for m in bundle.config["mounts"] if m["destination"] in ("/proc", "/dev", "/dev/pts")
    ]
    del bundle.config["linux"]["resources"]
    result = run(
        any_runtime, bundle, "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; sleep 0"
    )
    uid, *mapping, owner = result.stdout.split()
    assert uid == "0", result.stderr
    assert mapping == ["0", "100000", "65536"]
    assert owner == "65534"  # host root is unmapped in the container


def test_cgroup_namespace(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    result = run(any_runtime, bundle, "grep -E ':(memory|pids):' /proc/self/cgroup")
    lines = result.stdout.split()
    assert len(lines) == 2 and all(line.endswith(":/") for line in lines), result.stdout


def test_hooks_run_in_order_with_state(any_runtime: Runtime, bundle: Bundle, tmp_path: Path):
    out = tmp_path / "hooks"
    out.mkdir()
    add_mount(bundle, "/hooks", "bind", str(out), ["rbind"])

    def hook(name: str, where: str) -> dict:
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {where}/{name}.json"]}

    bundle.config["hooks"] = {
        "prestart": [hook("prestart", out)],
        "createRuntime": [hook("createRuntime", out)],
        "createContainer": [hook("createContainer", out)],
        "startContainer": [hook("startContainer", "/hooks")],
        "poststart": [hook("poststart", out)],
        "poststop": [hook("poststop", out)],
    }
    bundle.config["process"]["args"] = ["true"]
    bundle.write()
    cid = any_runtime.new_id()
    assert any_runtime.detached("run", "-b", str(bundle.path), cid).returncode == 0
    for name in (
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ):
        state = json.loads((out / f"{name}.json").read_text())
        assert state["id"] == cid, name
        assert state["bundle"] == str(bundle.path), name


def test_failing_hook_fails_create(any_runtime: Runtime, bundle: Bundle):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/false", "args": ["false"]}]}
    result = run(any_runtime, bundle, "echo never")
    assert result.returncode != 0
    assert "never" not in result.stdout


def test_terminal_through_the_console_socket(any_runtime: Runtime, bundle: Bundle, tmp_path: Path):
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 30, "width": 100}
    bundle.config["process"]["args"] = ["sh", "-c", "tty; stty size; echo hello"]
    bundle.write()
    cid = any_runtime.new_id()
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        created = any_runtime.detached(
            "create", "-b", str(bundle.path), "--console-socket", path, cid
        )
        assert created.returncode == 0, created.stderr
        conn, _ = server.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    (master,) = fds
    try:
        assert any_runtime("start", cid).returncode == 0
        output = b""
        while b"hello" not in output:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
    assert output.decode().split() == ["/dev/pts/0", "30", "100", "hello"]


def test_session_keyring_of_its_own(any_runtime: Runtime, bundle: Bundle):
    bundle.config["linux"]["maskedPaths"] = []
    result = run(any_runtime, bundle, "grep -o '_ses[^ ]*' /proc/keys")
    assert f"_ses.{any_runtime.ids[-1]}:" in result.stdout.split(), result.stdout + result.stderr


def test_exec_into_a_user_namespace(any_runtime: Runtime, bundle: Bundle, userns_rootfs: Path):
    bundle.config["root"]["path"] = str(userns_rootfs)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"] = [
        m for m in bundle.config["mounts"] if m["destination"] in ("/proc", "/dev", "/dev/pts")
    ]
    del bundle.config["linux"]["resources"]
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = any_runtime.new_id()
    assert any_runtime.detached("run", "-d", "-b", str(bundle.path), cid).returncode == 0
    result = any_runtime("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert result.stdout.split() == ["0", "0", "100000", "65536"], result.stderr


def test_exec_gets_the_containers_seccomp_filter(any_runtime: Runtime, bundle: Bundle):
    writable_tmp(bundle)
    bundle.config["linux"]["seccomp"] = SECCOMP
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = any_runtime.new_id()
    assert any_runtime.detached("run", "-d", "-b", str(bundle.path), cid).returncode == 0
    result = any_runtime(
        "exec", cid, "sh", "-c", "mkdir /tmp/x || echo refused; grep Seccomp: /proc/self/status"
    )
    assert result.stdout.split() == ["refused", "Seccomp:", "2"], result.stderr


def test_absolute_cgroups_path_is_made_and_removed(berth_runc: Runtime, bundle: Bundle):
    import secrets

    parent = f"berth-test-{secrets.token_hex(3)}"
    bundle.config["linux"]["cgroupsPath"] = f"/{parent}/inner"
    bundle.config["linux"]["resources"]["pids"] = {"limit": 42}
    result = run(
        berth_runc, bundle, "cat /sys/fs/cgroup/pids/pids.max; grep :pids: /proc/self/cgroup"
    )
    limit, membership = result.stdout.split()
    assert limit == "42", result.stderr
    assert membership.endswith(f":pids:/{parent}/inner")
    assert not Path(f"/sys/fs/cgroup/pids/{parent}").exists()
