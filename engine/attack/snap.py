"""Snapping: perturbed token vectors back to real tokens, and those tokens back to text.

Each movable position's vector becomes its nearest row of the victim's token table (by L2
distance or by cosine), never a special token or padding; specials and padding keep their ids.
The snapped ids then become text by replacing, in the original text, each run of changed
tokens' characters with the decoded new tokens, so that the rest of the text (its case, its
spacing) stays as it was and the service can show the changes and run the model on the text.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from engine.attack.victim import Encoded, Victim
from engine.core.errors import EngineError

METRICS = ("l2", "cosine")
_ROWS = 512  # vectors per distance block: [512, V] scores at a time


def nearest_tokens(
    vectors: Tensor, table: Tensor, exclude: Iterable[int] = (), metric: str = "l2"
) -> Tensor:
    """The id [N] of each vector's [N, D] nearest table row [V, D], excluded ids never chosen."""
    if metric not in METRICS:
        raise EngineError(f"snap must be one of {', '.join(METRICS)}, got {metric!r}")
    table = table.detach().to(vectors.device, torch.float32)
    vectors = vectors.detach().float()
    banned = torch.zeros(table.shape[0], dtype=torch.bool, device=table.device)
    ids = [i for i in exclude if 0 <= i < table.shape[0]]
    if ids:
        banned[torch.tensor(ids, device=table.device)] = True
    if metric == "cosine":
        table = table / table.norm(dim=1, keepdim=True).clamp_min(1e-12)
        sq = None
    else:
        sq = table.pow(2).sum(dim=1)  # ||t||^2; ||v||^2 is the same for every candidate
    out = []
    for start in range(0, vectors.shape[0], _ROWS):
        v = vectors[start : start + _ROWS]
        if metric == "cosine":
            v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
            scores = v @ table.T
        else:
            scores = 2 * (v @ table.T) - sq  # -(||v - t||^2) + ||v||^2
        scores[:, banned] = float("-inf")
        out.append(scores.argmax(dim=1))
    if not out:
        return torch.zeros(0, dtype=torch.long, device=vectors.device)
    return torch.cat(out)


def snap_ids(
    victim: Victim, adv: Tensor, ids: Tensor, movable: Tensor, metric: str = "l2"
) -> Tensor:
    """ids [B, T] with every movable position replaced by its perturbed vector's nearest token
    (adv [B, T, D]); the other positions keep theirs."""
    out = ids.clone()
    where = movable.bool()
    if where.any():
        chosen = nearest_tokens(adv[where], victim.table(), victim.special_ids(), metric)
        out[where] = chosen.to(out.device)
    return out


def text_of_ids(victim: Victim, text: str, encoded: Encoded, new_ids: list[int]) -> str:
    """The original text with each run of changed tokens replaced by the new tokens' text
    (the text itself when nothing changed). new_ids align with encoded.ids."""
    n = len(encoded.ids)
    changed = [i for i in range(n) if new_ids[i] != encoded.ids[i] and not encoded.special[i]]
    if not changed:
        return text
    runs: list[list[int]] = []
    for i in changed:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    pieces = []
    cursor = 0
    for run in runs:
        start, end = encoded.spans[run[0]][0], encoded.spans[run[-1]][1]
        new = victim.decode([new_ids[i] for i in run])
        new = new.removeprefix("##")
        first_new = victim.token_of(new_ids[run[0]])
        first_old = encoded.tokens[run[0]]
        if first_old.startswith("##") and not first_new.startswith("##"):
            new = " " + new  # a word of its own, not glued to the one before
        nxt = run[-1] + 1
        if nxt < n and encoded.tokens[nxt].startswith("##"):
            new = new + " "  # the old word's rest stays a word of its own
        pieces.append(text[cursor:start])
        pieces.append(new)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
