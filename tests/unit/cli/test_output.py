"""Tables, ps/images rows, progress rendering and detach-key filtering."""

from __future__ import annotations

import io
import json

import pytest

from berth import errors
from berth.cli import progress, streams, table
from berth.cli.commands.containers import PS_HEADERS, display_ports, ps_row
from berth.cli.commands.images import IMAGE_HEADERS, image_rows

CONTAINER = {
    "Id": "d0eaeaa5b59e" + "0" * 52,
    "Names": ["/web"],
    "Image": "busybox",
    "Command": "sh -c 'sleep 1000; echo done'",
    "Created": 1000,
    "State": "running",
    "Status": "Up 5 seconds",
    "Ports": [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 443, "Type": "tcp"},
    ],
    "Labels": {"app": "web"},
}


def test_ps_table_matches_docker_layout() -> None:
    fmt = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    out = table.render(fmt, [ps_row(CONTAINER, True, now=1005)], PS_HEADERS)
    assert out.splitlines() == [
        "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS                           NAMES",
        'd0eaeaa5b59e   busybox   "sh -c \'sleep 1000; …"   5 seconds ago   Up 5 seconds   0.0.0.0:8080->80/tcp, 443/tcp   web',
    ]


def test_custom_formats() -> None:
    row = ps_row(CONTAINER, True, now=1005)
    assert table.render('{{.Names}}: {{.Label "app"}}', [row], PS_HEADERS) == "web: web\n"
    assert (
        table.render("table {{.Names}}\\t{{.State}}", [row], PS_HEADERS)
        == "NAMES     STATE\nweb       running\n"
    )
    assert '"Names":"web"' in table.render("json", [row], PS_HEADERS)


def test_display_ports_orders_and_brackets_ipv6() -> None:
    ports = [
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 22, "Type": "tcp"},
    ]
    assert display_ports(ports) == "22/tcp, [::]:8080->80/tcp"


def test_image_rows_per_tag_and_untagged() -> None:
    images = [
        {
            "Id": "sha256:" + "a" * 64,
            "RepoTags": ["busybox:latest", "bb:1"],
            "Created": 100,
            "Size": 1979520,
        },
        {
            "Id": "sha256:" + "b" * 64,
            "RepoTags": None,
            "RepoDigests": None,
            "Created": 50,
            "Size": 10,
        },
    ]
    rows = image_rows(images, True, now=160)
    out = table.render(
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
        rows,
        IMAGE_HEADERS,
    )
    assert out.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED              SIZE",
        "busybox      latest    aaaaaaaaaaaa   About a minute ago   1.98MB",
        "bb           1         aaaaaaaaaaaa   About a minute ago   1.98MB",
        "<none>       <none>    bbbbbbbbbbbb   About a minute ago   10B",
    ]


def test_progress_plain_drops_bars_and_raises_errors() -> None:
    out = io.StringIO()
    r = progress.Renderer(out, tty=False)
    r.feed({"status": "Pulling from library/busybox", "id": "latest"})
    r.feed({"status": "Pulling fs layer", "progressDetail": {}, "id": "abc"})
    r.feed({"status": "Downloading", "progressDetail": {"current": 5, "total": 10}, "id": "abc"})
    r.feed({"status": "Pull complete", "progressDetail": {}, "id": "abc"})
    r.feed({"stream": "Step 1/2 : FROM busybox\n"})
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\nabc: Pulling fs layer\nabc: Pull complete\nStep 1/2 : FROM busybox\n"
    )
    with pytest.raises(errors.InternalError, match="manifest unknown"):
        r.feed({"error": "manifest unknown", "errorDetail": {"message": "manifest unknown"}})


def test_progress_tty_rewrites_a_line_per_layer() -> None:
    out = io.StringIO()
    r = progress.Renderer(out, tty=True)
    r.feed({"status": "Downloading", "progressDetail": {"current": 500, "total": 1000}, "id": "l1"})
    r.feed({"status": "Downloading", "progressDetail": {"current": 10, "total": 1000}, "id": "l2"})
    r.feed(
        {"status": "Downloading", "progressDetail": {"current": 1000, "total": 1000}, "id": "l1"}
    )
    text = out.getvalue()
    assert "\033[2A" in text  # l1 is two lines up when l2 exists
    assert "[" + "=" * 25 + ">" in text and "500B/1kB" in text


def test_progress_bar_text() -> None:
    assert progress.progress_text({"current": 0, "total": 0}) == ""
    bar = progress.progress_text({"current": 250, "total": 1000})
    assert bar.startswith("[" + "=" * 12 + ">" + " " * 38 + "]")
    assert bar.endswith("250B/1kB")


def test_detach_keys_and_escape_filter() -> None:
    keys = streams.parse_detach_keys("ctrl-p,ctrl-q")
    assert keys == b"\x10\x11"
    assert streams.parse_detach_keys("ctrl-a,x") == b"\x01x"
    with pytest.raises(ValueError):
        streams.parse_detach_keys("ctrl-1")
    f = streams.EscapeFilter(keys)
    assert f.feed(b"ls\r") == (b"ls\r", False)
    assert f.feed(b"a\x10") == (b"a", False)  # held back: might be the sequence
    assert f.feed(b"b") == (b"\x10b", False)  # was not: sent on
    assert f.feed(b"\x10\x10") == (b"\x10", False)
    assert f.feed(b"\x11rest") == (b"", True)


def test_rows_marshal_like_dockers_formatter_contexts() -> None:
    row = ps_row(CONTAINER, True, now=1005)
    line = table.render("{{json .}}", [row], PS_HEADERS)
    keys = list(json.loads(line))
    assert keys == sorted(keys) and "Label" not in keys
    assert json.loads(line)["Names"] == "web"


def test_image_digests_only_with_the_flag() -> None:
    digest = "sha256:" + "c" * 64
    images = [
        {
            "Id": "sha256:" + "a" * 64,
            "RepoTags": ["r:1"],
            "RepoDigests": [f"r@{digest}", f"other@{digest}"],
            "Created": 1,
            "Size": 1,
        }
    ]
    plain = image_rows(images, True, now=2)
    assert [(r["Repository"], r["Tag"], r["Digest"]) for r in plain] == [
        ("r", "1", "<none>"),
        ("other", "<none>", ""),
    ]
    shown = image_rows(images, True, now=2, show_digests=True)
    assert [(r["Repository"], r["Tag"], r["Digest"]) for r in shown] == [
        ("r", "1", digest),
        ("other", "<none>", digest),
    ]
