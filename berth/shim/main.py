"""`berth-shim`: `serve --fd N` (one shim, config read from fd N) or
`zygote --socket-dir D` (a pre-loaded fork server for the shims of D).

Both are started by `berth.shim.client`, never by hand.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "serve" and args[1] == "--fd":
        _lean_dataclasses()
        from berth.shim.server import serve_from_fd

        return serve_from_fd(int(args[2]))
    if len(args) == 3 and args[0] == "zygote" and args[1] == "--socket-dir":
        _lean_dataclasses()
        from berth.shim.zygote import run_zygote

        return run_zygote(args[2])
    print("usage: berth-shim serve --fd N | zygote --socket-dir DIR", file=sys.stderr)
    return 2


def _lean_dataclasses() -> None:
    """Import `dataclasses` without `inspect` (with ast, dis and tokenize: 1.5 MB
    of the zygote that every shim maps, and ~10 ms), as berth-runc does: it is
    only needed for a dataclass without a docstring, and ours all have one."""
    try:
        from berth.runtime.startup import import_dataclasses
    except ImportError:
        return
    import_dataclasses()


if __name__ == "__main__":
    sys.exit(main())
