"""Word arithmetic queries: `king - man + woman`, `paris - france + italy`, or one word.

Grammar: an optional leading sign, then words joined by `+` or `-`. A word holds letters,
digits, apostrophes, dots, `#` and `_`, and hyphens between them (`well-known` is one word; write
`king - man` with spaces to subtract). Positions in messages count characters from 1.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from engine.core.errors import EngineError

MAX_TERMS = 32
MAX_CHARS = 1000
_WORD = re.compile(r"[\w'.#]+(?:-[\w'.#]+)*")
_SPACE = re.compile(r"\s+")
HINT = "join words with + and -, for example: king - man + woman"


@dataclass(frozen=True)
class Term:
    word: str
    sign: int  # +1 or -1
    position: int  # where the word starts, counting from 1


def parse(query: str) -> list[Term]:
    """The signed words of query; EngineError saying what is wrong and where."""
    if len(query) > MAX_CHARS:
        raise EngineError(
            f"the query is {len(query):,} characters long; the limit is {MAX_CHARS:,}"
        )
    tokens = _tokens(query)
    if not tokens:
        raise EngineError("the query is empty", hint="type a word, or " + HINT)
    terms: list[Term] = []
    op: tuple[str, int] | None = None  # the sign waiting for its word
    for text, pos, is_word in tokens:
        if not is_word:
            if op is not None:
                raise EngineError(
                    f"expected a word after '{op[0]}' at position {op[1]}, "
                    f"found '{text}' at position {pos}",
                    hint=HINT,
                )
            op = (text, pos)
            continue
        if terms and op is None:
            raise EngineError(
                f"expected '+' or '-' between '{terms[-1].word}' and '{text}' (position {pos})",
                hint=HINT,
            )
        terms.append(Term(text, -1 if op is not None and op[0] == "-" else 1, pos))
        op = None
        if len(terms) > MAX_TERMS:
            raise EngineError(f"the query has more than {MAX_TERMS} words", hint=HINT)
    if op is not None:
        raise EngineError(
            f"expected a word after '{op[0]}' at position {op[1]}, found the end of the query",
            hint=HINT,
        )
    return terms


def _tokens(query: str) -> list[tuple[str, int, bool]]:
    """(text, position from 1, is a word) for each word and sign of query."""
    out: list[tuple[str, int, bool]] = []
    i = 0
    while i < len(query):
        space = _SPACE.match(query, i)
        if space:
            i = space.end()
            continue
        ch = query[i]
        if ch in "+-":
            out.append((ch, i + 1, False))
            i += 1
            continue
        word = _WORD.match(query, i)
        if word is None:
            raise EngineError(
                f"unexpected character '{ch}' at position {i + 1}",
                hint="words hold letters, digits, apostrophes and hyphens; " + HINT,
            )
        out.append((word.group(), i + 1, True))
        i = word.end()
    return out


def split_hint(word: str, known: Container[str] | None = None) -> str:
    """For an unknown hyphenated word: the hint to put spaces around '-' to subtract."""
    parts = word.split("-")
    if len(parts) > 1 and all(parts) and (known is None or all(p in known for p in parts)):
        return f"to subtract, put spaces around '-': {' - '.join(parts)}"
    return ""
