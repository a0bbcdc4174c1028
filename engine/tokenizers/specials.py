"""Finding the special tokens a tokenizer needs by their role: unknown, padding, CLS/SEP, start/end.

Users spell specials many ways (<PAD>, [PAD], <pad>); a role is matched on the token's core:
the text inside its brackets, case-folded.
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer

from engine.core.errors import EngineError

# A role's names, most preferred first: the core of the token, lowercased, brackets removed.
UNK = ("unk",)
PAD = ("pad",)
CLS = ("cls",)
SEP = ("sep",)
START = ("start", "bos", "s")
END = ("end", "eos", "/s")


def core(token: str) -> str:
    """The token without one layer of <>, [] or <||> brackets, lowercased: "[CLS]" -> "cls"."""
    t = token.strip()
    for left, right in (("<|", "|>"), ("<", ">"), ("[", "]")):
        if len(t) > len(left) + len(right) and t.startswith(left) and t.endswith(right):
            t = t[len(left) : -len(right)]
            break
    return t.lower()


def find_role(tokens: list[str], role: tuple[str, ...]) -> str | None:
    """The first token (in the role's order of preference, then the list's) playing the role."""
    for name in role:
        for token in tokens:
            if core(token) == name:
                return token
    return None


def unk_special(specials: list[str]) -> str:
    """The unknown token among the specials: <UNK>, else the first that contains "unk"."""
    if "<UNK>" in specials:
        return "<UNK>"
    found = find_role(specials, UNK)
    if found is None:
        found = next((s for s in specials if "unk" in s.lower()), None)
    if found is None:
        raise EngineError(
            "this tokenizer needs an unknown-word token among its specials",
            hint="add <UNK> to the special tokens, e.g. <PAD>, <UNK>",
        )
    return found


def special_tokens(tok: Tokenizer) -> dict[int, str]:
    """Id -> content of the tokens the tokenizer treats as special, in id order."""
    added = tok.get_added_tokens_decoder()
    return {i: a.content for i, a in sorted(added.items()) if a.special}


def pad_token(tok: Tokenizer) -> tuple[str, int] | None:
    """The padding token and its id: the tokenizer's own padding setting, else a PAD special."""
    if tok.padding is not None:
        token = str(tok.padding.get("pad_token", ""))
        pad_id = tok.token_to_id(token) if token else None
        if pad_id is not None:
            return token, pad_id
    for token in ("<PAD>", "[PAD]", "<pad>", "<|pad|>", "[pad]"):
        pad_id = tok.token_to_id(token)
        if pad_id is not None:
            return token, pad_id
    found = find_role(list(special_tokens(tok).values()), PAD)
    if found is not None:
        pad_id = tok.token_to_id(found)
        if pad_id is not None:
            return found, pad_id
    return None


def unk_id(tok: Tokenizer) -> int | None:
    """The id the model gives to pieces it does not know; None for byte-level models."""
    token = getattr(tok.model, "unk_token", None)
    if isinstance(token, str) and token:
        return tok.token_to_id(token)
    if type(tok.model).__name__ == "Unigram":  # Unigram keeps an id, not a token
        found = json.loads(tok.to_str()).get("model", {}).get("unk_id")
        return int(found) if found is not None else None
    return None


def is_lowercasing(tok: Tokenizer) -> bool:
    """Whether the tokenizer's normalizer lowercases (Lowercase, or BertNormalizer's option)."""
    normalizer = json.loads(tok.to_str()).get("normalizer")
    return _lowercases(normalizer)


def _lowercases(node: object) -> bool:
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    if kind == "Lowercase":
        return True
    if kind == "BertNormalizer":
        return bool(node.get("lowercase"))
    if kind == "Sequence":
        return any(_lowercases(n) for n in node.get("normalizers", []))
    return False


def template_of(tok: Tokenizer) -> str:
    """What encoding adds around one text: none, cls-sep, start-end, or the added tokens."""
    empty = tok.encode("", add_special_tokens=True)
    added = [t for t, m in zip(empty.tokens, empty.special_tokens_mask, strict=True) if m]
    if not added:
        return "none"
    if find_role(added[:1], CLS) is not None:
        return "cls-sep"
    if find_role(added[:1], START) is not None:
        return "start-end"
    return " ".join(added)
