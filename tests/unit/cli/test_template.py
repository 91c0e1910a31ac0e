"""The --format template engine against the forms docker users write."""

from __future__ import annotations

import pytest

from berth.cli.template import TemplateError, render

DATA = {
    "Id": "abc",
    "Name": "/web",
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "last", "a": "first"}, "Cmd": None},
    "State": {"Pid": 4242, "Running": True, "ExitCode": 0},
    "Mounts": [],
    "Ratio": 1.5,
    "Nets": {"bridge": {"IPAddress": "172.17.0.2"}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{.Name}}", "/web"),
        ("{{.State.Pid}}", "4242"),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.Config.Labels}}", "map[a:first z:last]"),
        ("{{.State}}", "{4242 true 0}"),  # an API object prints as Go prints a struct
        ("{{.Config.Cmd}}", "<nil>"),
        ("{{.Nope}}", "<no value>"),
        ("{{.Ratio}}", "1.5"),
        ("{{json .Config.Env}}", '["A=1","B=2"]'),
        ("{{json .State.Running}}", "true"),
        ('{{index .Config.Labels "a"}}', "first"),
        ("{{index .Config.Env 1}}", "B=2"),
        ('{{join .Config.Env ","}}', "A=1,B=2"),
        ("{{.Name | upper}}", "/WEB"),
        ("{{lower (index .Config.Env 0)}}", "a=1"),
        ("{{len .Config.Env}}", "2"),
        ("{{len .Mounts}}", "0"),
        ('{{split "a:b" ":"}}', "[a b]"),
        ('{{printf "%s=%d" .Name .State.Pid}}', "/web=4242"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if not .State.Running}}a{{else if eq .State.Pid 4242}}b{{else}}c{{end}}", "b"),
        ("{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}", "ok"),
        ("{{if or .Mounts .Nope}}x{{else}}y{{end}}", "y"),
        ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=2]"),
        ("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", "0:A=1 1:B=2 "),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=first;z=last;"),
        ("{{range .Mounts}}m{{else}}none{{end}}", "none"),
        ("{{with .State}}{{.Pid}}{{end}}", "4242"),
        ("{{with .Nope}}x{{else}}empty{{end}}", "empty"),
        ("a  {{- .Id -}}  \n b", "aabcb"),
        ("{{$n := .Name}}{{$n}}", "/web"),
        ("{{range .Config.Env}}{{$.Id}}{{end}}", "abcabc"),
        ('{{"quoted"}} {{`raw`}} {{3}}', "quoted raw 3"),
        ("{{/* a comment */}}x", "x"),
        ('{{(index .Nets "bridge").IPAddress}}', "172.17.0.2"),
        ("{{range .Nets}}{{.IPAddress}}{{end}}", "172.17.0.2"),
        ("{{(index .Config.Env 0) | len}}", "3"),
    ],
)
def test_renders_like_go_text_template(source: str, expected: str) -> None:
    assert render(source, DATA) == expected


def test_json_dot_keeps_key_order_and_escapes_html() -> None:
    assert render("{{json .}}", {"b": "<x>", "a": 1}) == '{"b":"\\u003cx\\u003e","a":1}'


def test_callable_fields_take_arguments() -> None:
    row = {"Label": lambda k: {"app": "web"}.get(k, "")}
    assert render('{{.Label "app"}}', row) == "web"


@pytest.mark.parametrize(
    "source",
    ["{{.Name", "{{if .X}}no end", "{{end}}", "{{nosuchfunc .}}", '{{"open}}', "{{$undefined}}"],
)
def test_bad_templates_raise(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source, DATA)
