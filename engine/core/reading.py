"""Which positions of a long encoding a model reads, by truncation strategy (head, tail,
head+tail, windows): shared by the models (engine.models.truncation) and the tokenizer
inspector's model-input grid, so that what the grid shows is what a run reads."""

from __future__ import annotations

MAX_WINDOWS = 64  # windows read of one text; the rest of a very long one is left out


def pick_positions(
    how: str, head_tokens: int, stride: int, special_mask: list[int], max_length: int
) -> list[list[int]]:
    """Positions of the encoding read: one list, or one per window (see engine.models.truncation)."""
    n = len(special_mask)
    if n <= max_length or how == "head":
        return [list(range(min(n, max_length)))]
    lead = 0
    while lead < n and special_mask[lead]:
        lead += 1
    trail = 0
    while trail < n - lead and special_mask[n - 1 - trail]:
        trail += 1
    room = max_length - lead - trail
    if room < 1:  # nothing but specials would fit: the head, as it comes
        return [list(range(max_length))]
    front, back = list(range(lead)), list(range(n - trail, n))
    body = list(range(lead, n - trail))
    if how == "tail":
        return [front + body[-room:] + back]
    if how == "head+tail":
        head = min(head_tokens or max(1, room // 4), room)
        tail = body[len(body) - (room - head) :] if room > head else []
        return [front + body[:head] + tail + back]
    step = min(stride or max(1, room // 2), room)
    out = []
    start = 0
    while len(out) < MAX_WINDOWS:
        out.append(front + body[start : start + room] + back)
        if start + room >= len(body):
            break
        start += step
    return out
