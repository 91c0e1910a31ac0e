"""Variable substitution and quoting, as Docker's shell lexer applies them."""

from __future__ import annotations

import pytest

from berth.build import words
from berth.errors import InvalidArgument

ENV = {"A": "alpha", "EMPTY": "", "SP": "two words"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "alpha"),
        ("${A}", "alpha"),
        ("x${A}y", "xalphay"),
        ("$A-b", "alpha-b"),
        ("$MISSING", ""),
        ("${MISSING:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${MISSING-def}", "def"),
        ("${A:-def}", "alpha"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${MISSING:+alt}", ""),
        ("${MISSING:-${A}}", "alpha"),
        ("'$A'", "$A"),
        ('"$A"', "alpha"),
        ('"\\$A"', "$A"),
        ("\\$A", "$A"),
        ('"a \\"quoted\\" word"', 'a "quoted" word'),
        ("$", "$"),
        ("$1", "$1"),
        ("a\\ b", "a b"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert words.expand(text, ENV) == expected


def test_split_keeps_quoted_words_together() -> None:
    assert words.split("a 'b c' \"$A d\"  e", ENV) == ["a", "b c", "alpha d", "e"]
    assert words.split("  ", ENV) == []


def test_split_raw_keeps_quotes() -> None:
    assert words.split_raw("A=\"x y\" B='z' C=d\\ e") == ['A="x y"', "B='z'", "C=d\\ e"]


def test_escape_directive_backtick() -> None:
    assert words.expand("C:\\dir`$A", ENV, "`") == "C:\\dir$A"


def test_errors() -> None:
    with pytest.raises(InvalidArgument, match="MISSING: must be set"):
        words.expand("${MISSING:?must be set}", ENV)
    with pytest.raises(InvalidArgument):
        words.expand("${A", ENV)
    with pytest.raises(InvalidArgument):
        words.expand("'open", ENV)


def test_heredoc_text_expansion_keeps_quotes() -> None:
    assert words.expand_text("say \"$A\" and '$SP'\\n", ENV) == "say \"alpha\" and 'two words'\\n"
