"""Docker's word processing: quotes, the escape character and `$` substitution.

The builder expands variables itself only in the instructions Docker lists
(ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG,
ONBUILD's inner instruction); RUN, CMD and ENTRYPOINT are left to the shell.
Rules, as Docker's shell lexer applies them:

- outside quotes the escape character (`\\` or the `escape` directive's) makes
  the next character literal; single quotes are literal; inside double quotes
  only `"`, `$` and the escape character can be escaped;
- `$name` and `${name}` expand to the value or to nothing; `${name:-word}`
  (unset or empty), `${name-word}` (unset), `${name:+word}` (set and not
  empty), `${name+word}` (set), `${name:?msg}` / `${name?msg}` (error);
- unquoted whitespace separates words in `split`, never in `expand`.
"""

from __future__ import annotations

from collections.abc import Mapping

from berth.errors import InvalidArgument

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + "0123456789"


class _Lexer:
    def __init__(
        self, text: str, env: Mapping[str, str] | None, escape: str, quotes: bool = True
    ) -> None:
        self.quotes = quotes
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    # -- words -----------------------------------------------------------------

    def words(self, split: bool) -> list[str]:
        out: list[str] = []
        cur: list[str] = []
        started = False
        while self.pos < len(self.text):
            ch = self.take()
            if split and ch in " \t\r\n":
                if started:
                    out.append("".join(cur))
                    cur, started = [], False
                continue
            started = True
            if ch == self.escape:
                nxt = self.take()
                cur.append(nxt if nxt else ch)
            elif ch == "'" and self.quotes:
                cur.append(self.single_quoted())
            elif ch == '"' and self.quotes:
                cur.append(self.double_quoted())
            elif ch == "$" and self.env is not None:
                cur.append(self.dollar())
            else:
                cur.append(ch)
        if started:
            out.append("".join(cur))
        return out

    def single_quoted(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise InvalidArgument("unexpected end of statement while looking for matching '")
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value

    def double_quoted(self) -> str:
        cur: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise InvalidArgument('unexpected end of statement while looking for matching "')
            ch = self.take()
            if ch == '"':
                return "".join(cur)
            if ch == self.escape and self.peek() in ('"', "$", self.escape) and self.peek():
                cur.append(self.take())
            elif ch == "$" and self.env is not None:
                cur.append(self.dollar())
            else:
                cur.append(ch)

    # -- substitution ------------------------------------------------------------

    def dollar(self) -> str:
        ch = self.peek()
        if ch == "{":
            self.pos += 1
            return self.braced()
        if ch and ch in _NAME_START:
            return self.lookup(self.name()) or ""
        return "$"

    def name(self) -> str:
        start = self.pos
        while self.peek() and self.peek() in _NAME_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def lookup(self, name: str) -> str | None:
        assert self.env is not None
        return self.env.get(name)

    def braced(self) -> str:
        name = self.name()
        if not name:
            raise InvalidArgument(f"bad substitution: ${{{self.text[self.pos :]}")
        ch = self.take()
        if ch == "}":
            return self.lookup(name) or ""
        colon = ch == ":"
        if colon:
            ch = self.take()
        if ch not in ("-", "+", "?"):
            raise InvalidArgument(f"unsupported modifier ({ch}) in substitution of {name}")
        word = self.nested_word()
        value = self.lookup(name)
        is_set = value is not None and (value != "" or not colon)
        if ch == "-":
            return value if is_set else word  # type: ignore[return-value]
        if ch == "+":
            return word if is_set else ""
        if not is_set:
            raise InvalidArgument(f"{name}: {word or 'is not allowed to be unset'}")
        return value  # type: ignore[return-value]

    def nested_word(self) -> str:
        """The word after a modifier, up to the matching `}`; it is expanded too."""
        cur: list[str] = []
        while True:
            ch = self.take()
            if not ch:
                raise InvalidArgument("syntax error: missing '}'")
            if ch == "}":
                return "".join(cur)
            if ch == self.escape:
                cur.append(self.take())
            elif ch == "'":
                cur.append(self.single_quoted())
            elif ch == '"':
                cur.append(self.double_quoted())
            elif ch == "$":
                cur.append(self.dollar())
            else:
                cur.append(ch)


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word: quotes removed, variables substituted, whitespace kept."""
    words = _Lexer(text, env, escape).words(split=False)
    return words[0] if words else ""


def expand_text(text: str, env: Mapping[str, str]) -> str:
    """Only `$` substitutions (a heredoc body: quotes and backslashes are content)."""
    words = _Lexer(text, env, "\0", quotes=False).words(split=False)
    return words[0] if words else ""


def split(text: str, env: Mapping[str, str] | None, escape: str = "\\") -> list[str]:
    """Words separated by unquoted whitespace, quotes removed, substituted when `env`."""
    return _Lexer(text, env, escape).words(split=True)


def split_raw(text: str, escape: str = "\\") -> list[str]:
    """Words separated by unquoted whitespace, with their quotes and escapes kept
    (how ENV and LABEL find their key=value pairs before processing each)."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == escape and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in " \t\r\n":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
            if ch == escape and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif ch in ("'", '"'):
                quote = ch
        i += 1
    if quote:
        raise InvalidArgument(f"unexpected end of statement while looking for matching {quote}")
    if cur:
        out.append("".join(cur))
    return out
