"""Real builds on busybox: each instruction's effect on the image config and files."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

from berth.build.instructions import parse_duration


def test_config_instructions(env, ctx: Path) -> None:
    _, out = env.build(
        ctx,
        "FROM busybox\n"
        "MAINTAINER Jane <jane@example.com>\n"
        'ENV A=1 B="two words"\n'
        "ENV C ${A}-x\n"
        'LABEL org.example.name="demo app" version=${A}\n'
        "EXPOSE 80 443/udp 8000-8001\n"
        "VOLUME /data /logs\n"
        'VOLUME ["/cache"]\n'
        "WORKDIR /srv\n"
        "WORKDIR app\n"
        "USER 1000:1000\n"
        "STOPSIGNAL SIGINT\n"
        'HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD ["true"]\n'
        'SHELL ["/bin/sh", "-ec"]\n'
        "ENTRYPOINT echo\n"
        "CMD hello\n"
        "ONBUILD RUN echo triggered > /onbuild\n",
        tags=["cfg:1"],
    )
    cfg = env.config("cfg:1")
    assert "A=1" in cfg["Env"] and "B=two words" in cfg["Env"] and "C=1-x" in cfg["Env"]
    assert cfg["Labels"] == {"org.example.name": "demo app", "version": "1"}
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "443/udp", "8000/tcp", "8001/tcp"}
    assert set(cfg["Volumes"]) == {"/data", "/logs", "/cache"}
    assert cfg["WorkingDir"] == "/srv/app"
    assert cfg["User"] == "1000:1000"
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"] == {
        "Test": ["CMD", "true"],
        "Interval": parse_duration("5s"),
        "Timeout": parse_duration("2s"),
        "StartPeriod": parse_duration("1s"),
        "Retries": 4,
    }
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-ec", "echo"]
    assert cfg["Cmd"] == ["/bin/sh", "-ec", "hello"]
    assert cfg["OnBuild"] == ["RUN echo triggered > /onbuild"]
    inspect = env.svc.inspect("cfg:1")
    assert inspect["Author"] == "Jane <jane@example.com>"
    assert "Step 17/17 : ONBUILD RUN echo triggered > /onbuild" in out
    assert out.endswith("Successfully tagged cfg:1\n")
    with env.tree("cfg:1") as root:
        assert (root / "srv" / "app").is_dir()
    history = env.svc.history("cfg:1")
    assert any("ENV A=1 B=two words" in h["CreatedBy"] for h in history)
    env.assert_clean()


def test_entrypoint_resets_inherited_cmd(env, ctx: Path) -> None:
    env.build(ctx, 'FROM busybox\nENTRYPOINT ["echo"]\n', tags=["ep:1"])
    cfg = env.config("ep:1")
    assert cfg["Entrypoint"] == ["echo"]
    assert not cfg.get("Cmd")


def test_onbuild_triggers_fire_in_child(env, ctx: Path) -> None:
    env.build(
        ctx,
        "FROM busybox\nONBUILD RUN echo fired > /fired\nONBUILD ENV CHILD=1\n",
        tags=["parent:1"],
    )
    _, out = env.build(ctx, "FROM parent:1\nRUN cat /fired\n", tags=["child:1"])
    assert "# Executing 2 build triggers" in out
    cfg = env.config("child:1")
    assert "CHILD=1" in cfg["Env"]
    assert not cfg.get("OnBuild")
    with env.tree("child:1") as root:
        assert (root / "fired").read_text() == "fired\n"
    with env.tree("parent:1") as root:
        assert not (root / "fired").exists()


def test_run_forms_user_workdir_and_env(env, ctx: Path) -> None:
    env.build(
        ctx,
        "FROM busybox\n"
        "ENV GREETING=hi\n"
        "WORKDIR /work\n"
        "RUN echo $GREETING > shell.txt && pwd > pwd.txt\n"
        'RUN ["/bin/sh", "-c", "echo exec-$GREETING > /work/exec.txt"]\n'
        "RUN <<EOF\n"
        "echo line1 > /work/heredoc.txt\n"
        "echo line2 >> /work/heredoc.txt\n"
        "EOF\n"
        "RUN cat <<EOF > /work/inline.txt\n"
        "inline $GREETING\n"
        "EOF\n"
        "RUN <<EOF\n"
        "#!/usr/bin/awk -f\n"
        'BEGIN { print "run by awk" > "/work/awk.txt" }\n'
        "EOF\n"
        "USER 1000\n"
        "RUN id -u > /tmp/uid.txt\n",
        tags=["runs:1"],
    )
    with env.tree("runs:1") as root:
        w = root / "work"
        assert (w / "shell.txt").read_text() == "hi\n"
        assert (w / "pwd.txt").read_text() == "/work\n"
        assert (w / "exec.txt").read_text() == "exec-hi\n"
        assert (w / "heredoc.txt").read_text() == "line1\nline2\n"
        assert (w / "inline.txt").read_text() == "inline hi\n"
        assert (w / "awk.txt").read_text() == "run by awk\n"  # a #! heredoc is a script
        assert (root / "tmp" / "uid.txt").read_text() == "1000\n"
        assert (root / "tmp" / "uid.txt").stat().st_uid == 1000
    env.assert_clean()


def test_copy_and_add(env, ctx: Path) -> None:
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("b\n")
    os.chmod(ctx / "b.txt", 0o750)
    (ctx / "skip.log").write_text("no\n")
    (ctx / "dir" / "sub").mkdir(parents=True)
    (ctx / "dir" / "sub" / "deep.txt").write_text("deep\n")
    (ctx / "dir" / "top.txt").write_text("top\n")
    (ctx / "dir" / "link").symlink_to("top.txt")
    (ctx / "dir" / "ignored.log").write_text("no\n")
    (ctx / ".dockerignore").write_text("*.log\n**/*.log\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"from the archive\n"
        info = tarfile.TarInfo("pkg/inside.txt")
        info.size = len(data)
        info.uid = 42
        tf.addfile(info, io.BytesIO(data))
    (ctx / "pkg.tar.gz").write_bytes(buf.getvalue())
    env.build(
        ctx,
        "FROM busybox\n"
        "COPY a.txt /single\n"
        "COPY a.txt /intodir/\n"
        "COPY *.txt /glob/\n"
        "COPY --chown=1000:100 --chmod=600 a.txt b.txt /owned/\n"
        "COPY --chown=daemon a.txt /byname/\n"
        "COPY dir /copied\n"
        "WORKDIR /rel\n"
        "COPY a.txt here.txt\n"
        "ADD pkg.tar.gz /extracted/\n"
        "COPY pkg.tar.gz /notextracted/\n"
        "COPY <<EOF /heredoc/hello.txt\n"
        "hello $HOSTNAME_UNSET-x\n"
        "EOF\n",
        tags=["copies:1"],
    )
    with env.tree("copies:1") as root:
        assert (root / "single").read_text() == "a\n"
        assert (root / "intodir" / "a.txt").read_text() == "a\n"
        assert sorted(os.listdir(root / "glob")) == ["a.txt", "b.txt"]
        st = (root / "glob" / "b.txt").stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 0, 0)
        st = (root / "owned" / "b.txt").stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 1000, 100)
        assert (root / "owned").stat().st_uid == 1000  # created by the copy
        st = (root / "byname" / "a.txt").stat()
        assert (st.st_uid, st.st_gid) == (1, 1)
        assert sorted(os.listdir(root / "copied")) == ["link", "sub", "top.txt"]
        assert (root / "copied" / "sub" / "deep.txt").read_text() == "deep\n"
        assert os.readlink(root / "copied" / "link") == "top.txt"
        assert (root / "rel" / "here.txt").read_text() == "a\n"
        inside = root / "extracted" / "pkg" / "inside.txt"
        assert inside.read_text() == "from the archive\n"
        assert inside.stat().st_uid == 42
        assert (root / "notextracted" / "pkg.tar.gz").is_file()
        assert (root / "heredoc" / "hello.txt").read_text() == "hello -x\n"
        assert (root / "tmp").stat().st_mode & 0o1777 == 0o1777  # parents untouched
    env.assert_clean()


def test_arg_and_build_args(env, ctx: Path) -> None:
    _, out = env.build(
        ctx,
        "ARG BASE=busybox\n"
        "FROM ${BASE}\n"
        "ARG BASE\n"
        "ARG WHO=world\n"
        "ARG FROM_CLI\n"
        "ENV SHADOW=env\n"
        "ARG SHADOW=arg\n"
        "RUN echo $BASE $WHO $FROM_CLI $SHADOW > /args.txt\n"
        "ENV SAVED=${WHO}\n",
        tags=["args:1"],
        build_args={"FROM_CLI": "cli", "WHO": "you", "UNUSED": "x", "HTTP_PROXY": "http://p"},
    )
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in out
    with env.tree("args:1") as root:
        assert (root / "args.txt").read_text() == "busybox you cli env\n"
    cfg = env.config("args:1")
    assert "SAVED=you" in cfg["Env"]
    assert not any(e.startswith(("WHO=", "FROM_CLI=")) for e in cfg["Env"])
    created = [h["CreatedBy"] for h in env.svc.history("args:1")]
    assert any(
        c.startswith("|3 BASE=busybox FROM_CLI=cli WHO=you /bin/sh -c echo") for c in created
    )
    assert not any("HTTP_PROXY" in c for c in created)


def test_labels_option_and_quiet_steps(env, ctx: Path) -> None:
    _, out = env.build(ctx, "FROM busybox\n", tags=["lab:1"], labels={"team": "build"})
    assert 'Step 2/2 : LABEL "team"="build"' in out
    assert env.config("lab:1")["Labels"] == {"team": "build"}
