"""Safety: nothing of the runtime reaches into the container.

- no file descriptor of the runtime leaks into the container;
- the container cannot open the runtime's executable through /proc (the class
  of runc's CVE-2019-5736), neither the waiting init's nor through a
  `#!/proc/self/exe` script;
- the process's cwd and every fd it holds are inside the container's root
  (the class of CVE-2024-21626).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import Bundle, Runtime


def test_no_fd_of_the_runtime_leaks(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = [
        "sh",
        "-c",
        "ls /proc/self/fd; ls -l /proc/self/fd | grep -c /tmp",
    ]
    bundle.write()
    host_dir = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)  # inheritable on purpose
    r, w = os.pipe()
    try:
        result = berth_runc(
            "run", "-b", str(bundle.path), berth_runc.new_id(), pass_fds=(host_dir, r, w)
        )
    finally:
        for fd in (host_dir, r, w):
            os.close(fd)
    assert result.returncode == 1, result.stderr  # grep -c found nothing
    *fds, host_refs = result.stdout.split()
    assert sorted(fds) == ["0", "1", "2", "3"]  # stdio and the one ls reads /proc/self/fd with
    assert host_refs == "0"


def test_waiting_init_cannot_be_opened_through_proc(berth_runc: Runtime, bundle: Bundle):
    """While created, the init is berth-runc's Python: non-dumpable, so even root in
    the container cannot open /proc/1/exe (for reading or writing) nor its fds."""
    bundle.config["process"]["args"] = ["true"]
    bundle.write()
    cid = berth_runc.new_id()
    assert berth_runc.detached("create", "-b", str(bundle.path), cid).returncode == 0
    probe = (
        "cat /proc/1/exe >/dev/null 2>&1 && echo read-exe;"
        "echo x 2>/dev/null >>/proc/1/exe && echo wrote-exe;"
        "readlink /proc/1/fd/0 >/dev/null 2>&1 && echo read-fd-link;"
        "echo done"
    )
    result = berth_runc("exec", cid, "sh", "-c", probe)
    assert result.stdout == "done\n", result.stdout + result.stderr


def test_proc_self_exe_script_does_not_reach_the_host_interpreter(
    berth_runc: Runtime, bundle: Bundle, private_rootfs: Path
):
    """A program that is `#!/proc/self/exe` gets the sealed stub, never Python."""
    evil = private_rootfs / "evil"
    evil.write_text("#!/proc/self/exe\nprint('host python ran')\n")
    evil.chmod(0o755)
    bundle.config["root"]["path"] = str(private_rootfs)
    bundle.config["process"]["args"] = ["/evil"]
    result = berth_runc.run(bundle)
    assert "host python ran" not in result.stdout
    assert result.returncode == 127


def test_cwd_through_a_leaked_fd_is_refused(berth_runc: Runtime, bundle: Bundle):
    """cwd /proc/self/fd/N must never land outside the root: the runtime's fds are
    closed before chdir, so each attempt fails cleanly or stays inside."""
    for fd in range(3, 9):
        bundle.config["process"]["cwd"] = f"/proc/self/fd/{fd}"
        bundle.config["process"]["args"] = ["sh", "-c", "pwd; ls /proc/self/cwd/ | head -50"]
        result = berth_runc.run(bundle)
        if result.returncode == 0:
            assert result.stdout.startswith("/"), result.stdout
            assert "bin" not in result.stdout.split() or "busybox" not in result.stdout
        else:
            assert "chdir" in result.stderr


def test_every_fd_and_cwd_is_inside_the_root(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["cwd"] = "/tmp"
    bundle.config["process"]["args"] = ["sh", "-c", "readlink /proc/1/cwd; ls -l /proc/1/fd"]
    bundle.write()
    host_dir = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        result = berth_runc(
            "run", "-b", str(bundle.path), berth_runc.new_id(), pass_fds=(host_dir,)
        )
    finally:
        os.close(host_dir)
    cwd, *listing = result.stdout.splitlines()
    assert cwd == "/tmp"
    targets = [line.split(" -> ")[1] for line in listing if " -> " in line]
    assert targets and all(t.startswith(("pipe:", "/dev/")) for t in targets), targets


def test_host_interpreter_unchanged(berth_runc: Runtime, bundle: Bundle):
    """After all of the above, the interpreter berth-runc runs on is intact and runs."""
    import sys

    result = subprocess.run([sys.executable, "-c", "print(40 + 2)"], capture_output=True, text=True)
    assert result.stdout == "42\n"


def test_preserve_fds_passes_only_the_named_ones(
    berth_runc: Runtime, bundle: Bundle, tmp_path: Path
):
    """--preserve-fds 1 passes fd 3 (and not fd 4) into the container."""
    bundle.config["process"]["args"] = ["sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '"]
    bundle.write()
    (tmp_path / "message").write_text("through fd 3\n")
    command = (
        f"exec 3<{tmp_path / 'message'} 4</etc; exec {berth_runc.binary} --root {berth_runc.root}"
        f" run --preserve-fds 1 -b {bundle.path} {berth_runc.new_id()}"
    )
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    first, rest = result.stdout.split("\n", 1)
    assert first == "through fd 3", result.stderr
    assert rest.split() == ["0", "1", "2", "3", "4"]  # 4 here is the directory ls reads
