"""`.dockerignore` with Docker's matching rules."""

from __future__ import annotations

import pytest

from berth.build.dockerignore import Matcher


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("*.log", "a.log", True),
        ("*.log", "dir/a.log", False),
        ("**/*.log", "dir/sub/a.log", True),
        ("**/*.log", "a.log", True),
        ("dir", "dir/deep/file", True),
        ("/dir/", "dir/x", True),
        ("./dir/../other", "other/x", True),
        ("d?r", "dir", True),
        ("d?r", "dr", False),
        ("[a-c].txt", "b.txt", True),
        ("[!a-c].txt", "b.txt", False),
        ("*\n!keep.log", "keep.log", False),
        ("*.log\n!keep.log", "drop.log", True),
        ("!keep.log\n*.log", "keep.log", True),  # the last match wins
        ("# comment\n\n  spaced  ", "spaced", True),
        ("docs/**", "docs/a/b/c.md", True),
        ("docs/**\n!docs/**/*.md", "docs/a/b/c.md", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
    ],
)
def test_matching(patterns: str, path: str, excluded: bool) -> None:
    assert Matcher.from_text(patterns).excluded(path) is excluded


def test_excluded_dir_is_walked_when_an_exception_may_match_inside() -> None:
    m = Matcher.from_text("vendor\n!vendor/keep")
    assert m.excluded("vendor")
    assert m.may_include_below("vendor")
    assert not m.excluded("vendor/keep")
    assert not Matcher.from_text("vendor").may_include_below("vendor")


def test_root_is_never_excluded() -> None:
    assert not Matcher.from_text("*").excluded(".")
