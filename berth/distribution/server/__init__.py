"""berth's registry server: `berth registry serve` and `berth registry garbage-collect`.

    main(argv) -> int       the command line (also `python -m berth.distribution.server`)
    app.RegistryServer      the HTTP server over a `store.Store` root
    gc.collect(root)        the garbage collector

See docs/distribution.md for usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="berth registry", description="berth's OCI registry")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve a registry from a directory")
    for parser in (p, serve):
        parser.add_argument("--addr", default="127.0.0.1:5000", help="host:port to listen on")
        parser.add_argument("--root", default="/var/lib/berth/registry", help="storage directory")
        parser.add_argument(
            "--htpasswd", help="htpasswd file of bcrypt entries (enables basic auth)"
        )
        parser.add_argument("--tls-cert", help="PEM certificate (enables TLS)")
        parser.add_argument("--tls-key", help="PEM private key")
        parser.add_argument("--debug", action="store_true", help="log every request")
    gc = sub.add_parser("garbage-collect", help="remove blobs no manifest references")
    gc.add_argument("--root", default="/var/lib/berth/registry")
    gc.add_argument(
        "--grace", type=float, default=3600.0, help="keep blobs younger than this (seconds)"
    )
    gc.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    if args.command == "garbage-collect":
        from berth.distribution.server.gc import collect

        report = collect(Path(args.root), grace=args.grace, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        for digest in report.removed:
            print(f"{verb} {digest}")
        print(
            f"{len(report.removed)} blobs {verb} ({report.freed_bytes} bytes), {report.live} live"
        )
        return 0
    from berth.distribution.server.app import RegistryServer, TLSFiles, serve_forever

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s")
    host, _, port = args.addr.rpartition(":")
    if (args.tls_cert is None) != (args.tls_key is None):
        print("berth registry: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    tls = TLSFiles(Path(args.tls_cert), Path(args.tls_key)) if args.tls_cert else None
    server = RegistryServer(
        Path(args.root),
        (host or "0.0.0.0", int(port)),
        Path(args.htpasswd) if args.htpasswd else None,
        tls,
    )
    print(
        f"berth registry listening on {server.scheme}://{server.address} (root {args.root})",
        flush=True,
    )
    serve_forever(server)
    return 0
