"""`kill` of a stopped container, as runc answers it: `--all` signals what is left
(nothing) and succeeds, so a force-remove racing the container's exit does not
fail; a plain `kill` says the container is not running."""

from __future__ import annotations

from tests.integration.runtime.conftest import Bundle, Runtime, wait_for


def test_kill_all_of_a_stopped_container_succeeds(any_runtime: Runtime, bundle: Bundle) -> None:
    bundle.config["process"]["args"] = ["sleep", "600"]
    bundle.write()
    cid = any_runtime.new_id()
    assert any_runtime.detached("create", "-b", str(bundle.path), cid).returncode == 0
    assert any_runtime("start", cid).returncode == 0
    assert any_runtime("kill", cid, "KILL").returncode == 0
    wait_for(lambda: any_runtime.state(cid)["status"] == "stopped", what="the init to die")
    result = any_runtime("kill", "--all", cid, "KILL")
    assert result.returncode == 0, result.stderr
    result = any_runtime("kill", cid, "KILL")
    assert result.returncode == 1
    assert "container not running" in result.stderr
    assert any_runtime("delete", cid).returncode == 0
