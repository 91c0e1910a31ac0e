"""The Dockerfile parser: syntax, instruction checks, errors with file and line."""

from __future__ import annotations

import pytest

from berth.build import instructions as ins
from berth.build.dockerfile import ParseError, parse_text


def one(text: str) -> ins.Instruction:
    df = ins.parse("FROM busybox\n" + text)
    assert len(df.stages[0].instructions) == 1
    return df.stages[0].instructions[0]


def test_directives_comments_continuations_and_line_numbers() -> None:
    df = ins.parse(
        "# syntax=docker/dockerfile:1\n"
        "# escape=`\n"
        "\n"
        "FROM busybox\n"
        "# a comment\n"
        "RUN echo a `\n"
        "  # comment inside a continuation\n"
        "\n"
        "  && echo b\n"
        "ENV P=C:\\path\n"
    )
    assert df.escape == "`"
    run, env = df.stages[0].instructions
    assert isinstance(run, ins.Run)
    assert run.command == ("echo a   && echo b",)
    assert (run.line, run.node.end_line) == (6, 9)
    assert isinstance(env, ins.KeyValues) and env.line == 10
    assert env.pairs == (("P", "C:\\path"),)


def test_directive_after_a_comment_is_a_comment() -> None:
    parsed = parse_text("# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n")
    assert parsed.escape == "\\"
    assert parsed.nodes[1].args == "a  b"


def test_keywords_are_case_insensitive_and_original_is_kept() -> None:
    df = ins.parse("from busybox as Base\nrun echo hi\n")
    assert df.stages[0].name == "base"
    assert df.stages[0].instructions[0].original == "run echo hi"


def test_from_forms_and_meta_args() -> None:
    df = ins.parse(
        "ARG TAG=1.36\nARG OTHER\nFROM --platform=linux/amd64 busybox:${TAG} AS one\n"
        "FROM one\nFROM scratch AS three\n"
    )
    assert [a.pairs for a in df.meta_args] == [(("TAG", "1.36"),), (("OTHER", None),)]
    first = df.stages[0].base
    assert (first.image, first.stage_name, first.platform) == (
        "busybox:${TAG}",
        "one",
        "linux/amd64",
    )
    assert df.stage("one") is df.stages[0]
    assert df.stage("2") is df.stages[2]


def test_run_forms_and_mount_flags() -> None:
    shell = one("RUN echo $HOME")
    assert isinstance(shell, ins.Run) and not shell.exec_form
    exec_ = one('RUN ["echo", "$HOME"]')
    assert isinstance(exec_, ins.Run) and exec_.exec_form and exec_.command == ("echo", "$HOME")
    bad_json = one('RUN ["echo", 1]')
    assert isinstance(bad_json, ins.Run) and not bad_json.exec_form  # Docker: shell form
    mounted = one(
        "RUN --mount=type=cache,target=/root/.cache,id=pip --mount=type=tmpfs,target=/t "
        "--network=none true"
    )
    assert isinstance(mounted, ins.Run)
    assert [(m.type, m.target) for m in mounted.mounts] == [
        ("cache", "/root/.cache"),
        ("tmpfs", "/t"),
    ]
    assert mounted.mounts[0].options == {"id": "pip"}
    assert mounted.network == "none"


def test_cmd_entrypoint_shell_and_exec() -> None:
    cmd = one('CMD ["sh", "-c", "echo"]')
    assert isinstance(cmd, ins.Command) and cmd.exec_form and cmd.args == ("sh", "-c", "echo")
    ep = one("ENTRYPOINT exec top -b")
    assert isinstance(ep, ins.Command) and not ep.exec_form and ep.args == ("exec top -b",)


def test_env_and_label_forms() -> None:
    env = one('ENV A=1 B="two words" C=three\\ words')
    assert isinstance(env, ins.KeyValues)
    assert [k for k, _ in env.pairs] == ["A", "B", "C"]
    legacy = one("ENV NAME some value here")
    assert isinstance(legacy, ins.KeyValues) and legacy.pairs == (("NAME", "some value here"),)
    label = one('LABEL "com.example.vendor"="ACME" version=1.0')
    assert isinstance(label, ins.KeyValues) and len(label.pairs) == 2


def test_arg_forms() -> None:
    arg = one("ARG A B=2 C=${B}x")
    assert isinstance(arg, ins.Arg)
    assert arg.pairs == (("A", None), ("B", "2"), ("C", "${B}x"))


def test_copy_add_forms() -> None:
    c = one("COPY --from=build --chown=1:2 --chmod=640 a b* /dst/")
    assert isinstance(c, ins.Copy)
    assert (c.sources, c.dest, c.from_, c.chown, c.chmod) == (
        ("a", "b*"),
        "/dst/",
        "build",
        "1:2",
        "640",
    )
    j = one('COPY ["with space", "/d/"]')
    assert isinstance(j, ins.Copy) and j.exec_form and j.sources == ("with space",)
    a = one("ADD http://127.0.0.1/x.tar.gz /opt/")
    assert isinstance(a, ins.Copy) and a.is_add


def test_heredocs() -> None:
    df = ins.parse(
        "FROM busybox\n"
        "RUN <<EOF\n"
        "echo one\n"
        "echo two\n"
        "EOF\n"
        "RUN cat <<-'END' > /f\n"
        "\tliteral $X\n"
        "\tEND\n"
        'COPY <<"A" <<B /dir/\n'
        "a\n"
        "A\n"
        "b $X\n"
        "B\n"
        "ENV AFTER=1\n"
    )
    run1, run2, copy, env = df.stages[0].instructions
    assert isinstance(run1, ins.Run) and run1.command == ("echo one\necho two\n",)
    assert isinstance(run2, ins.Run)
    assert run2.command == ("cat <<-'END' > /f\nliteral $X\nEND",)
    assert run2.node.heredocs[0].expand is False
    assert isinstance(copy, ins.Copy) and copy.sources == ("A", "B")
    assert [h.expand for h in copy.heredocs] == [False, True]
    assert [h.content for h in copy.heredocs] == ["a\n", "b $X\n"]
    assert env.line == 14


def test_other_instructions() -> None:
    assert isinstance(one("EXPOSE 80 443/udp"), ins.Words)
    vol = one('VOLUME ["/a", "/b"]')
    assert isinstance(vol, ins.Words) and vol.items == ("/a", "/b") and vol.expanded
    assert isinstance(one("WORKDIR /a b"), ins.Single)
    assert isinstance(one("USER 1000:1000"), ins.Single)
    assert isinstance(one("STOPSIGNAL SIGKILL"), ins.Single)
    assert isinstance(one("MAINTAINER Jane <j@example.com>"), ins.Single)
    hc = one("HEALTHCHECK --interval=5s --retries=2 CMD curl -f http://localhost/")
    assert isinstance(hc, ins.Healthcheck)
    assert hc.test == ("CMD-SHELL", "curl -f http://localhost/") and hc.retries == 2
    none = one("HEALTHCHECK NONE")
    assert isinstance(none, ins.Healthcheck) and none.test == ("NONE",)
    sh = one('SHELL ["/bin/bash", "-c"]')
    assert isinstance(sh, ins.Shell) and sh.shell == ("/bin/bash", "-c")
    ob = one("ONBUILD RUN echo child")
    assert isinstance(ob, ins.Onbuild) and ob.expression == "RUN echo child"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM busybox\nFOO bar\n", 2, "unknown instruction: FOO"),
        ("FROM\n", 1, "FROM requires either one or three arguments"),
        ("FROM a b c d\n", 1, "FROM requires either one or three arguments"),
        ("FROM a AS 1bad\n", 1, "invalid name for build stage"),
        ("FROM a AS x\nFROM b AS x\n", 2, "duplicate name"),
        ("FROM a\n\nRUN\n", 3, "RUN requires at least one argument"),
        ("FROM a\nENV\n", 2, "ENV requires at least one argument"),
        ("FROM a\nENV A\n", 2, "ENV must have two arguments"),
        ("FROM a\nENV A=1 B\n", 2, "Syntax error - can't find = in 'B'"),
        ("FROM a\nCOPY onlyone\n", 2, "COPY requires at least two arguments"),
        ("FROM a\nADD x\n", 2, "ADD requires at least two arguments"),
        ("FROM a\nSHELL /bin/sh -c\n", 2, "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nUSER a b\n", 2, "USER requires exactly one argument"),
        ("FROM a\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
        ("FROM a\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument"),
        ("FROM a\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
        ("FROM a\nARG\n", 2, "ARG requires at least one argument"),
        ("FROM a\nHEALTHCHECK FOO x\n", 2, 'Unknown type "FOO" in HEALTHCHECK'),
        ("FROM a\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK --interval=x CMD true\n", 2, "invalid --interval"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", 2, "Chaining ONBUILD"),
        ("FROM a\nONBUILD FROM b\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nRUN --bogus=1 true\n", 2, "unknown flag: bogus"),
        ("FROM a\nCOPY --from x /y\n", 2, "missing a value on flag: from"),
        ("FROM a\nRUN --mount=type=secret,target=/s true\n", 2, "unsupported mount type"),
        ("RUN echo\nFROM a\n", 1, "no build stage in current context"),
        ("ARG A\n", 1, "no build stage in current context"),
        ("# only a comment\n", 1, "cannot be empty"),
        ("FROM a\nRUN <<EOF\necho\n", 2, "unterminated heredoc EOF"),
        ("# escape=x\nFROM a\n", 1, "invalid escape token"),
        ("# escape=`\n# escape=\\\nFROM a\n", 2, "only one escape parser directive"),
        ("FROM a\nENV A='unterminated\n", 2, "unexpected end of statement"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        ins.parse(text, "sub/Dockerfile.dev")
    err = info.value
    assert err.line == line
    assert err.file == "sub/Dockerfile.dev"
    assert message in err.message
    assert f"sub/Dockerfile.dev line {line}" in err.message


def test_duration() -> None:
    assert ins.parse_duration("1m30s") == 90 * 10**9
    assert ins.parse_duration("500ms") == 5 * 10**8
    with pytest.raises(ValueError):
        ins.parse_duration("5 s")


def test_parse_change() -> None:
    inst = ins.parse_change("ENV X=1")
    assert isinstance(inst, ins.KeyValues) and inst.pairs == (("X", "1"),)
    with pytest.raises(ParseError):
        ins.parse_change("BOGUS 1")
