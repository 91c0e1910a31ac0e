"""Registry commands: pull, push, login, logout, search, manifest inspect, and berth's
own registry server (registry serve, registry garbage-collect)."""

from __future__ import annotations

import sys

from berth.cli import common, humanize, progress, table
from berth.cli.flags import LIST, STR, Flag, Spec, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FORMAT = Flag("--format", STR, help="Format output using a custom template")

SPECS: dict[str, Spec] = {
    "pull": Spec(
        "pull [OPTIONS] NAME[:TAG|@DIGEST]",
        "Download an image from a registry",
        [
            Flag("-a, --all-tags", help="Download all tagged images in the repository"),
            Flag("--platform", STR, help="Set platform if server is multi-platform capable"),
            Flag("-q, --quiet", help="Suppress verbose output"),
        ],
        1,
        1,
    ),
    "push": Spec(
        "push [OPTIONS] NAME[:TAG]",
        "Upload an image to a registry",
        [
            Flag("-a, --all-tags", help="Push all tags of an image to the repository"),
            Flag("-q, --quiet", help="Suppress verbose output"),
        ],
        1,
        1,
    ),
    "login": Spec(
        "login [OPTIONS] [SERVER]",
        "Log in to a registry",
        [
            Flag("-p, --password", STR, help="Password"),
            Flag("--password-stdin", help="Take the password from stdin"),
            Flag("-u, --username", STR, help="Username"),
        ],
        max_args=1,
    ),
    "logout": Spec("logout [SERVER]", "Log out from a registry", [], max_args=1),
    "search": Spec(
        "search [OPTIONS] TERM",
        "Search registries for images",
        [
            Flag("-f, --filter", LIST, help="Filter output based on conditions provided"),
            _FORMAT,
            Flag("--limit", STR, help="Max number of search results"),
            Flag("--no-trunc", help="Don't truncate output"),
        ],
        1,
        1,
    ),
    "manifest inspect": Spec(
        "manifest inspect [OPTIONS] MANIFEST",
        "Display an image's manifest (through the daemon's distribution endpoint)",
        [Flag("-v, --verbose", help="Output additional info")],
        1,
        1,
    ),
    "registry serve": Spec(
        "registry serve [OPTIONS]",
        "Run berth's own registry server in the foreground",
        [
            Flag("--addr", STR, "127.0.0.1:5000", "Address to listen on"),
            Flag("--root", STR, "/var/lib/berth/registry", "Directory holding the registry's data"),
            Flag("--htpasswd", STR, help="htpasswd file (bcrypt) enabling basic auth"),
            Flag("--tls-cert", STR, help="TLS certificate"),
            Flag("--tls-key", STR, help="TLS key"),
            Flag("--debug", help="Log every request"),
        ],
        max_args=0,
    ),
    "registry garbage-collect": Spec(
        "registry garbage-collect [OPTIONS]",
        "Remove blobs no manifest references from berth's registry storage",
        [
            Flag("--root", STR, "/var/lib/berth/registry", "Directory holding the registry's data"),
            Flag("--grace", STR, "3600", "Keep blobs younger than this many seconds"),
            Flag("--dry-run", help="Only print what would be removed"),
        ],
        max_args=0,
    ),
}


def run_pull(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli import auth, refs

    ref = args[0]
    repo, tag = refs.split_tag(ref)
    if o["all_tags"] and tag:
        raise UsageError("tag can't be used with --all-tags/-a", 1)
    if not o["all_tags"] and not tag and "@" not in ref:
        tag = "latest"
        if not o["quiet"]:
            print("Using default tag: latest")
    params = {"fromImage": repo, "tag": tag, "platform": o["platform"]}
    messages = ctx.client.stream_json(
        "POST", "/images/create", params=params, headers=auth.header_for(ref)
    )
    progress.render_stream(messages, quiet=o["quiet"])
    if o["quiet"]:
        print(ref if (tag is None or "@" in ref) else f"{repo}:{tag}")
    return 0


def run_push(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli import auth, refs

    ref = args[0]
    repo, tag = refs.split_tag(ref)
    if not o["all_tags"] and not tag:
        tag = "latest"
        if not o["quiet"]:
            print("Using default tag: latest")
    messages = ctx.client.stream_json(
        "POST",
        f"/images/{common.quote(repo)}/push",
        params={"tag": tag},
        headers=auth.header_for(ref),
    )
    progress.render_stream(messages, quiet=o["quiet"])
    if o["quiet"]:
        print(f"{repo}:{tag}" if tag else repo)
    return 0


def run_login(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli import auth

    server = args[0] if args else auth.DEFAULT_INDEX
    user = o["username"]
    password = o["password"]
    if o["password_stdin"]:
        if password:
            raise UsageError("--password and --password-stdin are mutually exclusive", 1)
        if not user:
            raise UsageError("Must provide --username with --password-stdin", 1)
        password = sys.stdin.read().rstrip("\r\n")
    if not user:
        sys.stdout.write("Username: ")
        sys.stdout.flush()
        user = sys.stdin.readline().strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
    if o["password"] and not o["password_stdin"]:
        print(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
            file=sys.stderr,
        )
    result = (
        ctx.client.post(
            "/auth", body={"username": user, "password": password, "serveraddress": server}
        )
        or {}
    )
    token = result.get("IdentityToken") or ""
    auth.store(server, user, "" if token else password, ctx.opts.get("config"), token)  # type: ignore[arg-type]
    print(result.get("Status") or "Login Succeeded")
    return 0


def run_logout(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli import auth

    server = args[0] if args else auth.DEFAULT_INDEX
    if auth.remove(server, ctx.opts.get("config")):  # type: ignore[arg-type]
        print(f"Removing login credentials for {server}")
    else:
        print(f"Not logged in to {server}")
    return 0


def run_search(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    results = (
        ctx.client.get(
            "/images/search",
            params={
                "term": args[0],
                "limit": o["limit"],
                "filters": common.filters_param(o["filter"]),
            },
        )
        or []
    )
    rows = []
    for r in results:
        desc = (r.get("description") or "").replace("\n", " ")
        if not o["no_trunc"]:
            desc = humanize.ellipsis(desc, 45)
        rows.append(
            {
                "Name": r.get("name", ""),
                "Description": desc,
                "StarCount": str(r.get("star_count", 0)),
                "IsOfficial": "[OK]" if r.get("is_official") else "",
                "IsAutomated": "[OK]" if r.get("is_automated") else "",
            }
        )
    fmt = o["format"] or "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
    headers = {
        "Name": "NAME",
        "Description": "DESCRIPTION",
        "StarCount": "STARS",
        "IsOfficial": "OFFICIAL",
        "IsAutomated": "AUTOMATED",
    }
    sys.stdout.write(table.render(fmt, rows, headers))
    return 0


def run_manifest_inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """Fetched by the client from the registry, as docker's CLI does (no daemon call)."""
    from pathlib import Path

    from berth import jsoncodec as json
    from berth.cli import auth
    from berth.distribution.credentials import CredentialStore
    from berth.distribution.remote import inspect_manifest
    from berth.distribution.session import Session

    store = CredentialStore(Path(auth.config_dir(ctx.opts.get("config"))))  # type: ignore[arg-type]
    session = Session(credentials=store.get)
    try:
        manifest = inspect_manifest(session, args[0])
    finally:
        session.close()
    print(json.dumps(manifest, indent="\t"))
    return 0


def run_registry_serve(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """Run berth's registry server in this process (berth/distribution owns it)."""
    from berth.distribution.server import main as registry_main

    argv = ["serve", "--addr", o["addr"]]
    for flag, key in (
        ("--root", "root"),
        ("--htpasswd", "htpasswd"),
        ("--tls-cert", "tls_cert"),
        ("--tls-key", "tls_key"),
    ):
        if o[key]:
            argv += [flag, o[key]]
    if o["debug"]:
        argv.append("--debug")
    return int(registry_main(argv) or 0)


def run_registry_garbage_collect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.distribution.server import main as registry_main

    argv = ["garbage-collect", "--root", o["root"], "--grace", str(o["grace"])]
    if o["dry_run"]:
        argv.append("--dry-run")
    return int(registry_main(argv) or 0)
