import pytest

from berth.errors import InvalidArgument
from berth.volumes.mounts import (
    MountRequest,
    collect,
    from_api_mount,
    parse_bind,
    parse_mount_flag,
    parse_tmpfs,
)


def test_bind_specs():
    m = parse_bind("/srv/data:/data:ro")
    assert (m.type, m.source, m.target, m.readonly, m.create_host_path) == (
        "bind",
        "/srv/data",
        "/data",
        True,
        True,
    )
    assert parse_bind("/a:/b:z").mode == "z"
    assert parse_bind("/a:/b:rshared").propagation == "rshared"
    v = parse_bind("dbdata:/var/lib/db")
    assert (v.type, v.source) == ("volume", "dbdata")
    anon = parse_bind("/cache")
    assert (anon.type, anon.source) == ("volume", "")


@pytest.mark.parametrize(
    "bad",
    ["a:b:c:d", "/a:relative", "/a:/b:bogus", "bad name!:/x", "/a:/", ":/x", "vol:/x:rshared"],
)
def test_bad_bind_specs(bad):
    with pytest.raises(InvalidArgument):
        parse_bind(bad)


def test_mount_flag_to_api_and_back():
    api = parse_mount_flag("type=bind,src=/srv,dst=/data,readonly")
    assert api == {"Type": "bind", "Source": "/srv", "Target": "/data", "ReadOnly": True}
    m = from_api_mount(api)
    assert (m.type, m.readonly, m.create_host_path) == ("bind", True, False)
    t = from_api_mount(parse_mount_flag("type=tmpfs,dst=/run/x,tmpfs-size=64m,tmpfs-mode=1770"))
    assert t.tmpfs_options == ("size=67108864", "mode=1770")
    v = from_api_mount(parse_mount_flag("type=volume,src=v1,dst=/v,volume-nocopy,volume-label=a=b"))
    assert (v.source, v.nocopy, v.volume_labels) == ("v1", True, {"a": "b"})
    with pytest.raises(InvalidArgument):
        parse_mount_flag("type=bind,src=/x")
    with pytest.raises(InvalidArgument):
        parse_mount_flag("type=weird,dst=/x")
    with pytest.raises(InvalidArgument):
        from_api_mount({"Type": "bind", "Source": "rel", "Target": "/x"})
    with pytest.raises(InvalidArgument):
        from_api_mount({"Type": "tmpfs", "Source": "x", "Target": "/x"})


def test_tmpfs_and_collection_order_and_duplicates():
    t = parse_tmpfs("/run", "size=1m,ro")
    assert t.readonly and t.tmpfs_options == ("size=1m",)
    got = collect(["/h:/a/b/c", "vol:/a"], [], {"/t": ""}, image_volumes=["/a", "/img"])
    assert [m.target for m in got] == ["/a", "/t", "/img", "/a/b/c"]
    with pytest.raises(InvalidArgument, match="Duplicate"):
        collect(["/h:/a", "vol:/a"])
    inherited = [MountRequest("volume", "/img", "named")]
    assert [m.source for m in collect([], [], None, ["/img"], inherited)] == ["named"]
