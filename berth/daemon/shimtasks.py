"""`Tasks` over berth-shim (`berth.shim.client`): one shim per container.

Shims live under `<exec-root>/shims/<id>/`; a handle is cached per container
and found again after a daemon restart with `probe` + `connect`.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from berth.daemon.cgroupfs import Cgroup
from berth.daemon.tasks import ExecHandle, ExitInfo, SpawnRequest
from berth.errors import NotFound, Unavailable

DEFAULT_DETACH = b"\x10\x11"


def detach_key_bytes(spec: str | None) -> bytes:
    """Docker's --detach-keys ("ctrl-p,ctrl-q", "a,ctrl-@") as bytes."""
    if spec is None:
        return DEFAULT_DETACH
    out = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("ctrl-") and len(part) == 6:
            ch = part[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - 96)
            elif ch in "@[\\]^_":
                out.append(0 if ch == "@" else 0x1B + "[\\]^_".index(ch))
            else:
                from berth.errors import InvalidArgument

                raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
        elif len(part) == 1:
            out.append(ord(part))
        elif part:
            from berth.errors import InvalidArgument

            raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


def _info(rec: Any) -> ExitInfo:
    return ExitInfo(code=rec.exit_code, oom_killed=rec.oom_killed, finished_ns=rec.finished_ns)


class ShimTasks:
    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root
        self._shims: dict[str, Any] = {}
        self._lock = threading.Lock()
        import importlib.util

        # the zygote (a pre-loaded fork server) when this berth has one
        self._zygote = importlib.util.find_spec("berth.shim.zygote") is not None

    def _dir(self, cid: str) -> Path:
        from berth.shim import client

        return client.state_dir(self.state_root, cid)

    def _shim(self, cid: str) -> Any:
        from berth.shim import client

        with self._lock:
            shim = self._shims.get(cid)
        if shim is not None:
            return shim
        try:
            shim = client.connect(self._dir(cid))
        except (Unavailable, OSError) as exc:
            raise NotFound(f"container {cid} has no running shim") from exc
        with self._lock:
            self._shims[cid] = shim
        return shim

    def spawn(self, req: SpawnRequest) -> int:
        from berth.shim import client

        shim = client.spawn(
            client.ShimSpec(
                id=req.id,
                bundle=req.bundle,
                runtime=req.runtime,
                runtime_root=req.runtime_root,
                socket_dir=self.state_root,
                tty=req.tty,
                stdin_open=req.stdin_open,
                log_path=req.log_path,
                log_max_size=req.log_max_size,
                log_max_file=req.log_max_file,
                start=False,
            ),
            zygote=self._zygote,
        )
        with self._lock:
            self._shims[req.id] = shim
        return shim.pid

    def start(self, cid: str) -> None:
        self._shim(cid).start()

    def alive(self, cid: str) -> bool:
        from berth.shim import client

        facts = client.probe(self._dir(cid))
        return facts.answers and facts.exit is None

    def pid(self, cid: str) -> int:
        return self._shim(cid).pid

    def pids(self, cid: str) -> list[int]:
        cg = Cgroup.of(cid)
        text = cg.read("pids", "cgroup.procs") or cg.read("memory", "cgroup.procs") or ""
        return [int(x) for x in text.split()]

    def wait(self, cid: str) -> ExitInfo:
        return _info(self._shim(cid).wait())

    def exit_record(self, cid: str) -> ExitInfo | None:
        from berth.shim import client

        rec = client.exit_record(self._dir(cid))
        return None if rec is None else _info(rec)

    def kill(self, cid: str, signum: int, all_processes: bool = False) -> None:
        self._shim(cid).kill(signum, all_processes)

    def pause(self, cid: str) -> None:
        self._shim(cid).pause()

    def resume(self, cid: str) -> None:
        self._shim(cid).resume()

    def resize(self, cid: str, height: int, width: int) -> None:
        self._shim(cid).resize(height, width)

    def resize_exec(self, cid: str, exec_id: str, height: int, width: int) -> None:
        self._shim(cid).resize(height, width, exec_id=exec_id)

    def attach(
        self, cid: str, stdin: bool, stdout: bool, stderr: bool, detach_keys: str | None,
        stdin_once: bool = False,
    ) -> Any:  # fmt: skip
        return self._shim(cid).attach(
            stdin=stdin, stdout=stdout, stderr=stderr,
            detach_keys=detach_key_bytes(detach_keys), stdin_once=stdin_once,
        )  # fmt: skip

    def exec(
        self, cid: str, exec_id: str, process: dict[str, Any], *, tty: bool, stdin: bool,
        attach: bool, detach_keys: str | None,
    ) -> ExecHandle:  # fmt: skip
        shim = self._shim(cid)
        result = shim.exec(
            exec_id, process, tty=tty, stdin=stdin, detach=not attach,
            detach_keys=detach_key_bytes(detach_keys),
        )  # fmt: skip
        if attach:
            return ExecHandle(pid=int(result.reply.get("pid") or 0), stream=result)
        return ExecHandle(pid=result.pid, stream=None)

    def exec_wait(self, cid: str, exec_id: str) -> int | None:
        """The exec's exit code once it has exited (the shim answers then: no polling);
        None when the shim or its record of the exec is gone."""
        try:
            return self._shim(cid).exec_wait(exec_id).exit_code
        except (NotFound, Unavailable):
            return None

    def cleanup(self, cid: str) -> None:
        from berth.shim import client

        sdir = self._dir(cid)
        with self._lock:
            shim = self._shims.pop(cid, None)
        if shim is None:
            with contextlib.suppress(Exception):
                shim = client.connect(sdir)
        if shim is not None:
            with contextlib.suppress(Exception):
                shim.shutdown()
        facts = client.probe(sdir)
        if facts.shim_alive and facts.shim_pid:
            client.wait_gone(facts.shim_pid, 10.0)
        with contextlib.suppress(Exception):
            client.remove_state(sdir)

    def close(self) -> None:
        """Stop the shims' zygote (the shims it forked keep their containers)."""
        from berth.shim import client

        with contextlib.suppress(Exception):
            client.stop_zygote(self.state_root)
