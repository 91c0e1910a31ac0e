"""Image commands: images, rmi, tag, history, save, load, import, image prune."""

from __future__ import annotations

import sys
import time

from berth.cli import common, humanize, table
from berth.cli.flags import BOOL, LIST, STR, Flag, Spec, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FORMAT = Flag("--format", STR, help="Format output using a custom template")

SPECS: dict[str, Spec] = {
    "images": Spec(
        "images [OPTIONS] [REPOSITORY[:TAG]]",
        "List images",
        [
            Flag("-a, --all", help="Show all images (default hides intermediate images)"),
            Flag("--digests", help="Show digests"),
            Flag("-f, --filter", LIST, help="Filter output based on conditions provided"),
            _FORMAT,
            Flag("--no-trunc", help="Don't truncate output"),
            Flag("-q, --quiet", help="Only show image IDs"),
        ],
        max_args=1,
    ),
    "rmi": Spec(
        "rmi [OPTIONS] IMAGE [IMAGE...]",
        "Remove one or more images",
        [
            Flag("-f, --force", help="Force removal of the image"),
            Flag("--no-prune", help="Do not delete untagged parents"),
        ],
        min_args=1,
    ),
    "tag": Spec(
        "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        [],
        2,
        2,
    ),
    "history": Spec(
        "history [OPTIONS] IMAGE",
        "Show the history of an image",
        [
            _FORMAT,
            Flag("-H, --human", BOOL, True, "Print sizes and dates in human readable format"),
            Flag("--no-trunc", help="Don't truncate output"),
            Flag("-q, --quiet", help="Only show image IDs"),
        ],
        1,
        1,
    ),
    "save": Spec(
        "save [OPTIONS] IMAGE [IMAGE...]",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
        [Flag("-o, --output", STR, help="Write to a file, instead of STDOUT")],
        min_args=1,
    ),
    "load": Spec(
        "load [OPTIONS]",
        "Load an image from a tar archive or STDIN",
        [
            Flag("-i, --input", STR, help="Read from tar archive file, instead of STDIN"),
            Flag("-q, --quiet", help="Suppress the load output"),
        ],
        max_args=0,
    ),
    "import": Spec(
        "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        "Import the contents from a tarball to create a filesystem image",
        [
            Flag("-c, --change", LIST, help="Apply Dockerfile instruction to the created image"),
            Flag("-m, --message", STR, help="Set commit message for imported image"),
            Flag("--platform", STR, help="Set platform if server is multi-platform capable"),
        ],
        1,
        2,
    ),
    "image prune": Spec(
        "image prune [OPTIONS]",
        "Remove unused images",
        [
            Flag("-a, --all", help="Remove all unused images, not just dangling ones"),
            Flag("--filter", LIST, help='Provide filter values (e.g. "until=<timestamp>")'),
            Flag("-f, --force", help="Do not prompt for confirmation"),
        ],
        max_args=0,
    ),
}

IMAGE_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "ID": "IMAGE ID",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
    "Containers": "CONTAINERS",
}


def image_rows(
    images: list[dict[str, Any]], trunc: bool, now: float, show_digests: bool = False
) -> list[dict[str, Any]]:
    """Docker's rows: one per repo:tag (per digest too with --digests), digest-only
    repositories as `<none>` tags, `<none> <none>` for an untagged image; newest first."""
    from berth.cli.humanize import go_time
    from berth.cli.values import Row

    rows = []
    for img in sorted(images, key=lambda i: -(i.get("Created") or 0)):
        iid = img.get("Id", "")
        shared = img.get("SharedSize", -1)
        containers = img.get("Containers", -1)
        base = {
            "ID": humanize.short_id(iid) if trunc else iid,
            "CreatedSince": humanize.ago(img.get("Created", 0), now),
            "CreatedAt": go_time(img.get("Created", 0)),
            "Size": humanize.size(img.get("Size", 0), 3),
            "VirtualSize": humanize.size(img.get("VirtualSize", img.get("Size", 0))),
            "SharedSize": humanize.size(shared) if shared != -1 else "N/A",
            "UniqueSize": humanize.size(img.get("Size", 0) - shared) if shared != -1 else "N/A",
            "Containers": str(containers) if containers != -1 else "N/A",
        }
        tags: dict[str, list[str]] = {}
        for ref in img.get("RepoTags") or []:
            if ref != "<none>:<none>":
                repo, _, tag = ref.rpartition(":")
                tags.setdefault(repo, []).append(tag)
        digests: dict[str, list[str]] = {}
        for ref in img.get("RepoDigests") or []:
            repo, _, digest = ref.partition("@")
            if repo != "<none>":
                digests.setdefault(repo, []).append(digest)
        for repo, repo_tags in tags.items():
            shown = digests.pop(repo, []) if show_digests else []
            digests.pop(repo, None)
            for tag in repo_tags:
                for digest in shown or ["<none>"]:
                    rows.append(Row(base, Repository=repo, Tag=tag, Digest=digest))
        for repo, repo_digests in digests.items():
            for digest in repo_digests if show_digests else [""]:
                rows.append(Row(base, Repository=repo, Tag="<none>", Digest=digest))
        if not tags and not digests:
            rows.append(Row(base, Repository="<none>", Tag="<none>", Digest="<none>"))
    return rows


def run_images(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    filters = common.parse_filters(o["filter"]) or {}
    if args:
        filters.setdefault("reference", []).append(args[0])
    from berth import jsoncodec as json

    params = {
        "all": o["all"] or None,
        "digests": o["digests"] or None,
        "filters": json.dumps({k: dict.fromkeys(v, True) for k, v in filters.items()})
        if filters
        else None,
    }
    images = ctx.client.get("/images/json", params=params) or []
    rows = image_rows(images, not o["no_trunc"], time.time(), o["digests"])
    if o["quiet"]:
        seen, out = set(), []
        for r in rows:
            if r["ID"] not in seen:
                seen.add(r["ID"])
                out.append(r["ID"])
        sys.stdout.write("".join(i + "\n" for i in out))
        return 0
    fmt = o["format"]
    if not fmt:
        fmt = "table {{.Repository}}\t{{.Tag}}\t"
        if o["digests"]:
            fmt += "{{.Digest}}\t"
        fmt += "{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    sys.stdout.write(table.render(fmt, rows, IMAGE_HEADERS))
    return 0


def run_rmi(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    def remove(name: str) -> str:
        result = (
            ctx.client.delete(
                f"/images/{common.quote(name)}",
                params={"force": o["force"] or None, "noprune": o["no_prune"] or None},
            )
            or []
        )
        lines = []
        for item in result:
            if item.get("Untagged"):
                lines.append(f"Untagged: {item['Untagged']}")
            if item.get("Deleted"):
                lines.append(f"Deleted: {item['Deleted']}")
        return "\n".join(lines)

    from berth.errors import BerthError

    status = 0
    for name in args:
        try:
            text = remove(name)
        except BerthError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            status = 1
            continue
        if text:
            print(text)
    return status


def run_tag(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli.refs import split_tag

    repo, tag = split_tag(args[1])
    ctx.client.post(
        f"/images/{common.quote(args[0])}/tag", params={"repo": repo, "tag": tag or "latest"}
    )
    return 0


HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def run_history(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli.humanize import go_time

    history = ctx.client.get(f"/images/{common.quote(args[0])}/history") or []
    now = time.time()
    trunc = not o["no_trunc"]
    rows = []
    for h in history:
        hid = h.get("Id") or ""
        created_by = (h.get("CreatedBy") or "").replace("\t", " ")
        if trunc:
            created_by = humanize.ellipsis(created_by, 45)
        rows.append(
            {
                "ID": "<missing>"
                if hid in ("", "<missing>")
                else (humanize.short_id(hid) if trunc else hid),
                "CreatedSince": humanize.ago(h.get("Created", 0), now)
                if o["human"]
                else go_time(h.get("Created", 0)),
                "CreatedAt": go_time(h.get("Created", 0)),
                "CreatedBy": created_by,
                "Size": humanize.size(h.get("Size", 0), 3) if o["human"] else str(h.get("Size", 0)),
                "Comment": h.get("Comment") or "",
            }
        )
    if o["quiet"]:
        sys.stdout.write("".join(r["ID"] + "\n" for r in rows))
        return 0
    fmt = o["format"] or "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    sys.stdout.write(table.render(fmt, rows, HISTORY_HEADERS))
    return 0


def run_save(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    if not o["output"] and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    resp = ctx.client.request("GET", "/images/get", params={"names": args})
    try:
        common.write_binary(resp.iter_raw(), o["output"], "save")
    finally:
        resp.close()
    return 0


def file_chunks(path: str | None) -> Any:
    """A file (or stdin) as an iterator of chunks, for chunked uploads."""
    import contextlib

    with contextlib.ExitStack() as stack:
        f = sys.stdin.buffer
        if path and path != "-":
            f = stack.enter_context(open(path, "rb"))
        while chunk := f.read(1 << 20):
            yield chunk


def run_load(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    if not o["input"] and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty", 1)
    import os

    from berth.cli import progress

    if o["input"] and not os.path.exists(o["input"]):
        raise UsageError(f"open {o['input']}: no such file or directory", 1)
    messages = ctx.client.stream_json(
        "POST",
        "/images/load",
        params={"quiet": o["quiet"] or None},
        body=file_chunks(o["input"]),
        headers={"Content-Type": "application/x-tar"},
    )
    progress.render_stream(messages)
    return 0


def run_import(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli.refs import split_tag

    source = args[0]
    repo, tag = split_tag(args[1]) if len(args) > 1 else (None, None)
    params: dict[str, Any] = {
        "repo": repo,
        "tag": tag,
        "message": o["message"],
        "changes": o["change"] or None,
        "platform": o["platform"],
    }
    body = None
    if "://" in source:
        params["fromSrc"] = source
    else:
        params["fromSrc"] = "-"
        import os

        if source != "-" and not os.path.exists(source):
            raise UsageError(f"open {source}: no such file or directory", 1)
        body = file_chunks(source)
    last = None
    for msg in ctx.client.stream_json(
        "POST",
        "/images/create",
        params=params,
        body=body,
        headers={"Content-Type": "application/x-tar"},
    ):
        if msg.get("error"):
            from berth import errors

            raise errors.InternalError(msg["error"])
        last = msg.get("status") or last
    if last:
        print(last)
    return 0


def run_image_prune(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth import jsoncodec as json

    warning = (
        "WARNING! This will remove all images without at least one container associated to them."
        if o["all"]
        else "WARNING! This will remove all dangling images."
    )
    if not common.confirm(warning, o["force"]):
        return 0
    filters = common.parse_filters(o["filter"]) or {}
    filters["dangling"] = ["false" if o["all"] else "true"]
    result = (
        ctx.client.post(
            "/images/prune",
            params={"filters": json.dumps({k: dict.fromkeys(v, True) for k, v in filters.items()})},
        )
        or {}
    )
    deleted = result.get("ImagesDeleted") or []
    if deleted:
        print("Deleted Images:")
        for item in deleted:
            for k, v in item.items():
                print(f"{k.lower()}: {v}")
        print()
    print(f"Total reclaimed space: {humanize.size(result.get('SpaceReclaimed') or 0)}")
    return 0
