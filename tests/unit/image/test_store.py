"""The image store on SQLite: names, lookups, Docker's rmi rules, filters."""

from __future__ import annotations

import json

import pytest

from berth.db import open_db
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.image import digest as dg
from berth.image import reference as refs
from berth.image.store import ContainerUse, ImageFilters, ImageStore, LayerRecord, NewImage


@pytest.fixture
def store() -> ImageStore:
    return ImageStore(open_db(":memory:"))


def add(
    store: ImageStore, n: int, *, tags=(), labels=None, parent="", created=None, layers=()
) -> str:
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": created or f"2024-01-{n:02d}T00:00:00Z",
        "config": {"Labels": labels or {}},
        "rootfs": {"type": "layers", "diff_ids": [lay.diff_id for lay in layers]},
        "history": [{"created_by": f"step {n}"}],
    }
    raw = json.dumps(cfg).encode()
    image_id = dg.of_bytes(raw)
    store.add(
        NewImage(
            image_id,
            dg.of_bytes(b"m%d" % n),
            "m",
            raw,
            tuple(x.chain_id for x in layers),
            (),
            parent,
            0,
        ),
        layers,
        tags=[refs.parse_tagged(t) for t in tags],
    )
    return image_id


def test_lookup_by_name_id_prefix(store: ImageStore) -> None:
    a = add(store, 1, tags=["busybox:latest", "localhost:5000/x/y:1"])
    assert store.resolve("busybox").id == a
    assert store.resolve("docker.io/library/busybox:latest").id == a
    assert store.resolve("localhost:5000/x/y:1").id == a
    assert store.resolve(a).id == a
    assert store.resolve(a[7:19]).id == a
    assert store.resolve("sha256:" + a[7:12]).id == a
    rec = store.get(a)
    assert rec.repo_tags == ["busybox:latest", "localhost:5000/x/y:1"]
    assert not rec.dangling
    with pytest.raises(NotFound, match="No such image: nope"):
        store.resolve("nope")


def test_tag_moves_and_untag_leaves_dangling(store: ImageStore) -> None:
    a = add(store, 1, tags=["app:1"])
    b = add(store, 2)
    assert store.get(b).dangling
    store.tag(b, refs.parse("app:1"))
    assert store.get(a).dangling and store.get(b).repo_tags == ["app:1"]
    assert store.untag(refs.parse("app:1")) == b
    with pytest.raises(NotFound):
        store.untag(refs.parse("app:1"))


def test_digest_names(store: ImageStore) -> None:
    a = add(store, 1, tags=["app:1"])
    d = "sha256:" + "c" * 64
    store.add(
        store.get(a) and NewImage(a, "", "", store.get(a).config_raw, (), ()),
        digests=[refs.parse(f"app@{d}")],
    )
    assert store.get(a).repo_digests == [f"app@{d}"]
    assert store.resolve(f"app@{d}").id == a


def test_rmi_by_tag_with_other_tags_only_untags(store: ImageStore) -> None:
    a = add(store, 1, tags=["app:1", "app:2"])
    out = store.delete("app:1")
    assert [r.to_json() for r in out] == [{"Untagged": "app:1"}]
    assert store.get(a).repo_tags == ["app:2"]
    out = store.delete("app:2")
    assert [r.to_json() for r in out] == [{"Untagged": "app:2"}, {"Deleted": a}]
    assert not store.exists(a)


def test_rmi_conflicts(store: ImageStore) -> None:
    a = add(store, 1, tags=["app:1"])
    stopped = {a: [ContainerUse("c0ffee" * 4, running=False)]}
    running = {a: [ContainerUse("beef" * 6, running=True)]}
    with pytest.raises(Conflict, match="container c0ffeec0ffee is using its referenced image"):
        store.delete("app:1", in_use=stopped)
    with pytest.raises(Conflict, match=r"must be forced.*stopped container"):
        store.delete(a, in_use=stopped)
    # by id, tagged, unused: must be forced
    b = add(store, 2, tags=["b:1", "c:1"])
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        store.delete(b)
    assert {r.deleted for r in store.delete(b, force=True)} >= {b}
    # force removes the tag but never an image a running container uses
    out = store.delete("app:1", force=True, in_use=running)
    assert [r.to_json() for r in out] == [{"Untagged": "app:1"}]
    assert store.exists(a) and store.get(a).dangling
    with pytest.raises(Conflict, match=r"cannot be forced.*running container"):
        store.delete(a, force=True, in_use=running)


def test_parent_with_children_cannot_go(store: ImageStore) -> None:
    p = add(store, 1)
    c = add(store, 2, parent=p, tags=["child:1"])
    with pytest.raises(Conflict, match="dependent child images"):
        store.delete(p, force=True)
    # deleting the child prunes the untagged parent too
    out = store.delete("child:1")
    assert {r.deleted for r in out} == {c, p, ""}


def test_list_filters(store: ImageStore) -> None:
    a = add(store, 1, tags=["alpha:1"], labels={"team": "x"})
    b = add(store, 2, tags=["beta:1", "beta:2"], labels={"team": "y"})
    c = add(store, 3)
    ids = lambda f, **kw: [r.id for r in store.list(f, **kw)]  # noqa: E731
    assert ids(None) == [c, b, a]
    assert ids(ImageFilters.from_api({"dangling": ["true"]})) == [c]
    assert ids(ImageFilters.from_api({"dangling": ["false"]})) == [b, a]
    assert ids(ImageFilters.from_api({"label": ["team=x"]})) == [a]
    assert ids(ImageFilters.from_api({"label": ["team"]})) == [b, a]
    assert ids(ImageFilters.from_api({"reference": ["be*"]})) == [b]
    assert store.list(ImageFilters.from_api({"reference": ["beta:2"]}))[0].repo_tags == ["beta:2"]
    assert ids(ImageFilters.from_api({"before": ["beta:1"]})) == [a]
    assert ids(ImageFilters.from_api({"since": ["alpha:1"]})) == [c, b]
    with pytest.raises(InvalidArgument):
        ImageFilters.from_api({"bogus": ["1"]})


def test_intermediate_images_hidden_without_all(store: ImageStore) -> None:
    p = add(store, 1)
    c = add(store, 2, parent=p, tags=["x:1"])
    assert [r.id for r in store.list()] == [c]
    assert {r.id for r in store.list(all=True)} == {c, p}


def test_prune_candidates(store: ImageStore) -> None:
    a = add(store, 1, tags=["a:1"])
    b = add(store, 2)
    c = add(store, 3)
    assert set(store.prune_candidates(False)) == {b, c}
    assert set(store.prune_candidates(True, in_use={c: [ContainerUse("x")]})) == {a, b}


def test_layers_shared_and_unreferenced(store: ImageStore) -> None:
    l1 = LayerRecord("sha256:" + "1" * 64, "sha256:" + "1" * 64, None, 10)
    l2 = LayerRecord("sha256:" + "2" * 64, "sha256:" + "9" * 64, l1.chain_id, 20)
    l3 = LayerRecord("sha256:" + "3" * 64, "sha256:" + "8" * 64, l1.chain_id, 30)
    a = add(store, 1, tags=["a:1"], layers=[l1, l2])
    add(store, 2, tags=["b:1"], layers=[l1, l3])
    assert store.unreferenced_layers() == []
    store.delete(a)
    assert [x.chain_id for x in store.unreferenced_layers()] == [l2.chain_id]
    store.delete("b:1")
    order = [x.chain_id for x in store.unreferenced_layers()]
    assert (
        set(order[:2]) == {l2.chain_id, l3.chain_id} and order[2] == l1.chain_id
    )  # children first


def test_history_rows(store: ImageStore) -> None:
    a = add(store, 1, tags=["h:1"])
    rows = store.history("h:1")
    assert rows[0]["Id"] == a and rows[0]["CreatedBy"] == "step 1" and rows[0]["Tags"] == ["h:1"]


def test_summary_shape(store: ImageStore) -> None:
    a = add(store, 1, labels={"k": "v"})
    s = store.get(a).summary(shared_size=0, containers=2)
    assert s["RepoTags"] == ["<none>:<none>"] and s["Labels"] == {"k": "v"}
    assert s["Created"] == 1704067200 and s["Containers"] == 2


def test_forget_images_on_a_lost_layer(store: ImageStore) -> None:
    l1 = LayerRecord("sha256:" + "1" * 64, "sha256:" + "1" * 64, None, 10)
    a = add(store, 1, tags=["a:1"], layers=[l1])
    assert store.forget_images_on_layer(l1.chain_id) == [a]
    assert not store.exists(a) and store.layers() == []
