"""The Verilog tokenizer of the gate-level reader: one regular expression per token.

``findall`` does the scanning in C, which keeps an 8×8 netlist to a few milliseconds;
:class:`_Source` keeps the text, its name and line offsets for ``file:line`` messages.
"""

from __future__ import annotations

import bisect
import re

from dse.errors import NetlistParseError

# A simple identifier; any other name is written and read as an escaped one (\name).
_SIMPLE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")

# One match per token: group 1 is what is skipped before it (white space, comments,
# attributes), group 2 the token. ``findall`` does the scanning in C; the catch-all ``.``
# keeps matches contiguous, so offsets follow from the lengths.
_TOKEN_RE = re.compile(
    r"""
    ((?:\s+|//[^\n]*|/\*.*?\*/|\(\*(?!\s*\)).*?\*\))*)
    (`[A-Za-z_]\w*[^\n]*
    |\d[\d_]*\s*'\s*[sS]?[bBoOdDhH]\s*[0-9a-fA-FxXzZ?_]+|'[sS]?[bBoOdDhH][0-9a-fA-FxXzZ?_]+|\d[\d_]*
    |[A-Za-z_][A-Za-z0-9_$]*
    |\\\S+
    |"(?:[^"\\\n]|\\.)*"
    |===|!==|~&|~\||~\^|\^~|&&|\|\||==|!=|<=|>=|<<|>>|\*\*|[-+*/%<>!~&|^?:;,.=\#@(){}\[\]]
    |.)
    """,
    re.S | re.X,
)
_OPS = frozenset(
    [
        "===",
        "!==",
        "~&",
        "~|",
        "~^",
        "^~",
        "&&",
        "||",
        "==",
        "!=",
        "<=",
        ">=",
        "<<",
        ">>",
        "**",
        "-",
        "+",
        "*",
        "/",
        "%",
        "<",
        ">",
        "!",
        "~",
        "&",
        "|",
        "^",
        "?",
        ":",
        ";",
        ",",
        ".",
        "=",
        "#",
        "@",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
    ]
)
_FIRST_KIND = {c: "id" for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"}
_FIRST_KIND.update({c: "num" for c in "0123456789'"})
_FIRST_KIND.update({"\\": "esc", "`": "dir", '"': "str"})

_IGNORED_DIRECTIVES = frozenset(
    {
        "`timescale",
        "`default_nettype",
        "`celldefine",
        "`endcelldefine",
        "`resetall",
        "`nounconnected_drive",
        "`unconnected_drive",
    }
)

Tok = tuple[str, str, int]  # (kind, text, offset)


class _Source:
    """One file's text, its tokens and a line lookup for error messages."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self._newlines: list[int] | None = None
        self.tokens = self._tokenize()

    def line(self, pos: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, pos) + 1

    def where(self, pos: int) -> str:
        return f"{self.filename}:{self.line(pos)}"

    def error(self, pos: int, what: str, expected: str = "") -> NetlistParseError:
        msg = f"{self.where(pos)}: {what}"
        if expected:
            msg += f"; expected {expected}"
        return NetlistParseError(msg)

    def _tokenize(self) -> list[Tok]:
        toks: list[Tok] = []
        append = toks.append
        text = self.text
        pos = 0
        kinds = _FIRST_KIND
        ops = _OPS
        for skip, tok in _TOKEN_RE.findall(text):
            pos += len(skip)
            kind = kinds.get(tok[0], "op")
            if kind == "id" or kind == "num":
                append((kind, tok, pos))
            elif kind == "op":
                if tok not in ops:
                    if tok.isspace():  # trailing white space, given back by the skip group
                        pos += len(tok)
                        continue
                    if tok == "/" and text.startswith("/*", pos):
                        raise self.error(pos, "unterminated /* comment")
                    raise self.error(pos, f"unexpected character {tok!r}")
                append(("op", tok, pos))
            elif kind == "esc":
                body = tok[1:]
                append(("id", body if _SIMPLE_ID.match(body) else tok, pos))
            elif kind == "dir":
                # a directive runs to the end of its line
                word = tok.split(None, 1)[0]
                if word not in _IGNORED_DIRECTIVES:
                    raise self.error(
                        pos,
                        f"compiler directive {word} is not supported",
                        "a preprocessed gate-level netlist (only `timescale and the like are ignored)",
                    )
            else:
                append(("str", tok, pos))
            pos += len(tok)
        toks.extend([("eof", "", len(text))] * 4)
        return toks
