"""`berth cp`: tar archives to and from a container, with docker's path rules.

Copying out: `GET /containers/{id}/archive?path=SRC` returns a tar whose top
entry is SRC's basename; it lands inside DEST when DEST is an existing directory,
or becomes DEST otherwise. Copying in: the local SRC is packed under the name it
should have in the container and extracted into DEST's directory with
`PUT /containers/{id}/archive?path=DIR`. `-` means a tar stream on stdin/stdout.
"""

from __future__ import annotations

import io
import os
import sys

from berth.cli import common

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.api import Client


def split_container_path(arg: str) -> tuple[str | None, str]:
    """`name:/path` -> ("name", "/path"); local paths (also `./a:b`, `/x:y`) -> (None, path)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    name, _, path = arg.partition(":")
    return name, path or "/"


def copy_from_container(client: Client, cid: str, src: str, dst: str, follow: bool) -> None:
    import tarfile

    resp = client.request("GET", f"/containers/{common.quote(cid)}/archive", params={"path": src})
    try:
        data = resp.read()
    finally:
        resp.close()
    if dst == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        if not members:
            return
        top = members[0].name.split("/")[0]
        if os.path.isdir(dst):
            target_dir, rename = dst, None
        else:
            parent = os.path.dirname(os.path.abspath(dst))
            if not os.path.isdir(parent):
                from berth import errors

                raise errors.NotFound(f"no such directory: {parent}")
            target_dir, rename = parent, os.path.basename(dst)
        for member in members:
            if rename is not None:
                rest = member.name[len(top) :]
                member.name = rename + rest
        from berth.tarextract import extract_all

        extract_all(tar, target_dir, members=members, filter="tar")


def copy_to_container(client: Client, src: str, cid: str, dst: str, follow: bool) -> None:
    import tarfile

    if src == "-":
        body = sys.stdin.buffer.read()
        client.put(f"/containers/{common.quote(cid)}/archive", params={"path": dst}, body=body)
        return
    if not os.path.lexists(src):
        from berth import errors

        raise errors.NotFound(f"could not find the file {src} in the local filesystem")
    # Where does it go: into dst if dst is an existing directory, else renamed to dst.
    target_dir, name = dst, os.path.basename(os.path.normpath(src))
    from berth import errors

    try:
        is_dir = _is_dir_stat(client, cid, dst)
    except errors.NotFound:
        is_dir = False  # a new name: the copy is renamed to it
    if not is_dir:
        target_dir = os.path.dirname(dst.rstrip("/")) or "/"
        name = os.path.basename(dst.rstrip("/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(os.path.realpath(src) if follow else src, arcname=name, recursive=True)
    client.put(
        f"/containers/{common.quote(cid)}/archive",
        params={"path": target_dir},
        body=buf.getvalue(),
        headers={"Content-Type": "application/x-tar"},
    )


def _is_dir_stat(client: Client, cid: str, path: str) -> bool:
    """Read the `X-Docker-Container-Path-Stat` header (base64 JSON with a mode)."""
    import base64

    from berth import jsoncodec as json

    headers = client.head(f"/containers/{common.quote(cid)}/archive", params={"path": path})
    raw = headers.get("x-docker-container-path-stat")
    if not raw:
        return False
    stat = json.loads(base64.b64decode(raw))
    return bool(stat.get("mode", 0) & (1 << 31))  # Go's os.ModeDir
