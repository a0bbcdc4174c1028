"""Words of a text as the discrete attacks edit them: each word's character span, texts with
some words replaced (the separators kept as they were) or one word left out.

A word is a run of letters and digits, with inner apostrophes or hyphens ("don't", "well-made"),
as TextAttack's words_from_text splits them; everything between words is kept verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")


class Words:
    """A text's words and their spans; texts made from it with words replaced."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: list[tuple[int, int]] = [(m.start(), m.end()) for m in WORD.finditer(text)]
        self.words: list[str] = [text[a:b] for a, b in self.spans]

    def __len__(self) -> int:
        return len(self.words)

    def with_changes(self, changes: Mapping[int, str]) -> str:
        """The text with word i replaced by changes[i] (everything else as it was)."""
        if not changes:
            return self.text
        out: list[str] = []
        last = 0
        for i in sorted(changes):
            a, b = self.spans[i]
            out.append(self.text[last:a])
            out.append(changes[i])
            last = b
        out.append(self.text[last:])
        return "".join(out)

    def without(self, i: int) -> str:
        """The text with word i left out (and one space next to it, so no double spaces)."""
        a, b = self.spans[i]
        if b < len(self.text) and self.text[b] == " ":
            b += 1
        elif a > 0 and self.text[a - 1] == " ":
            a -= 1
        return self.text[:a] + self.text[b:]


def match_case(original: str, new: str) -> str:
    """new written in original's case: UPPER, Capitalised or as it is."""
    if len(original) > 1 and original.isupper():
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def token_words(words: Words, spans: list[tuple[int, int]], special: list[bool]) -> list[list[int]]:
    """For each word, the positions of the (non-special) tokens inside its span."""
    out: list[list[int]] = [[] for _ in words.words]
    w = 0
    for pos, ((a, b), sp) in enumerate(zip(spans, special, strict=True)):
        if sp or b <= a:
            continue
        while w < len(words.spans) and words.spans[w][1] <= a:
            w += 1
        if w < len(words.spans) and words.spans[w][0] <= a and b <= words.spans[w][1]:
            out[w].append(pos)
    return out
