"""The real docker CLI against berthd: the everyday commands."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.poll import poll


def _name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _wait_status(d, name: str, want: str, deadline: float = 30) -> dict:
    """The container's inspect document once its status is `want` (or at the deadline)."""
    poll(lambda: _inspect(d, name)["State"]["Status"] == want, deadline)
    return _inspect(d, name)


def _inspect(d, name: str) -> dict:
    return json.loads(d.docker("inspect", name).stdout)[0]


def test_ping_version_info(berthd):
    out = berthd.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    assert out == "1.43"
    info = json.loads(berthd.docker("info", "--format", "{{json .}}").stdout)
    assert info["DockerRootDir"] == str(berthd.data_root)
    assert info["Driver"] in ("overlay2", "vfs")


def test_run_prints_output_and_exit_code(berthd):
    name = _name()
    res = berthd.docker(
        "run", "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert res.returncode == 3
    assert res.stdout == "out\n" and res.stderr == "err\n"
    doc = json.loads(berthd.docker("inspect", name).stdout)[0]
    assert doc["State"]["ExitCode"] == 3 and doc["State"]["Status"] == "exited"
    assert doc["Name"] == "/" + name and doc["Config"]["Hostname"] == doc["Id"][:12]
    berthd.docker("rm", name)


def test_run_rm_leaves_nothing(berthd):
    name = _name()
    res = berthd.docker("run", "--rm", "--name", name, "busybox", "echo", "hi")
    assert res.stdout == "hi\n"
    assert berthd.docker("ps", "-a", "--filter", f"name={name}", "-q").stdout.strip() == ""


def test_detached_lifecycle_logs_exec_stop_rm(berthd):
    name = _name()
    cid = berthd.docker(
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "echo started; while true; do sleep 1; done",
    ).stdout.strip()
    assert len(cid) == 64
    ps = berthd.docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").stdout
    assert f"{cid[:12]} {name} Up" in ps
    poll(lambda: "started" in berthd.docker("logs", name).stdout, 10)
    assert berthd.docker("logs", name).stdout == "started\n"
    assert berthd.docker("exec", name, "cat", "/etc/hostname").stdout == cid[:12] + "\n"
    res = berthd.docker("exec", name, "sh", "-c", "exit 7", check=False)
    assert res.returncode == 7
    top = berthd.docker("top", name).stdout
    assert "sleep" in top or "sh" in top
    berthd.docker("stop", "-t", "1", name)
    doc = _wait_status(berthd, name, "exited")
    assert doc["State"]["Status"] == "exited"
    berthd.docker("rm", name)
    res = berthd.docker("inspect", name, check=False)
    assert res.returncode != 0


def test_images_tag_rmi(berthd):
    tag = f"busybox:{uuid.uuid4().hex[:6]}"
    berthd.docker("tag", "busybox", tag)
    out = berthd.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert tag in out and "busybox:latest" in out
    assert "Untagged: " + tag in berthd.docker("rmi", tag).stdout
    out = berthd.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert tag not in out


def test_bad_input(berthd):
    res = berthd.docker("inspect", "--type", "container", "nosuchthing", check=False)
    assert res.returncode != 0 and "No such container: nosuchthing" in res.stderr
    res = berthd.docker("create", "no-such-image-here:v9", check=False)
    assert res.returncode != 0
    name = _name()
    berthd.docker("create", "--name", name, "busybox", "true")
    res = berthd.docker("create", "--name", name, "busybox", "true", check=False)
    assert res.returncode != 0 and "is already in use" in res.stderr
    berthd.docker("rm", name)


def test_api_statuses(berthd):
    status, body = berthd.request("POST", "/containers/create", None)
    assert status == 400
    import http.client
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.connect(str(berthd.sock))
    s.sendall(
        b"POST /v1.43/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{nope"
    )
    resp = http.client.HTTPResponse(s)
    resp.begin()
    assert resp.status == 400 and b"invalid JSON" in resp.read()
    s.close()
    status, body = berthd.request("GET", "/containers/nope/json")
    assert status == 404 and body == {"message": "No such container: nope"}
    status, body = berthd.request("POST", "/containers/create", {"Image": "busybox", "Env": [1]})
    assert status == 400 and "cannot unmarshal" in body["message"]
    name = _name()
    status, body = berthd.request(
        "POST",
        f"/containers/create?name={name}",
        {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "none"}},
    )
    assert status == 201
    cid = body["Id"]
    assert berthd.request("POST", f"/containers/{cid}/stop")[0] == 304
    assert berthd.request("POST", f"/containers/{cid}/start")[0] == 204
    assert berthd.request("POST", f"/containers/{cid}/start")[0] == 304
    status, body = berthd.request("DELETE", f"/containers/{cid}")
    assert status == 409 and "cannot remove a running container" in body["message"]
    assert berthd.request("POST", f"/containers/{cid}/kill")[0] == 204
    assert berthd.request("DELETE", f"/containers/{cid}?force=1")[0] == 204
    assert berthd.request("GET", f"/containers/{cid}/json")[0] == 404
    status, _ = berthd.request(
        "POST",
        "/containers/create",
        {
            "Image": "busybox",
            "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}},
        },
    )
    assert status == 400
    status, docs = berthd.request("GET", "/containers/json?all=1")
    assert all(d["Names"] != [f"/{name}"] for d in docs)


@pytest.mark.parametrize("policy", ["no"])
def test_docker_py(berthd, policy):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=berthd.host, version="1.43")
    out = client.containers.run("busybox", ["echo", "from-py"], remove=True)
    assert out == b"from-py\n"
    c = client.containers.run("busybox", ["sleep", "30"], detach=True, name=_name("py"))
    try:
        c.reload()
        assert c.status == "running"
        code, output = c.exec_run(["echo", "exec-py"])
        assert code == 0 and output == b"exec-py\n"
        assert any(x.id == c.id for x in client.containers.list())
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("nope-nope")
    client.close()
