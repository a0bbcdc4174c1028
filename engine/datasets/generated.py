"""Generated sequence-to-sequence tasks that need no download: (source, target) pairs made from
a seed, so a seq2seq model trains and is tested offline.

dates         a date written out in one of many human forms -> ISO 8601 (YYYY-MM-DD)
number-words  English number words -> digits ("four thousand two hundred and seven" -> "4207")

Each is a pure function of (size, seed): the same arguments give the same pairs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

MONTHS = (
    "January February March April May June July August September October November December"
).split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
FIRST = dt.date(1950, 1, 1)
LAST = dt.date(2049, 12, 31)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _year(d: dt.date, short: bool) -> str:
    """Four digits, or two: every date is from 1950 to 2049, so 50-99 read as 19xx and 00-49
    as 20xx without ambiguity."""
    return f"{d.year % 100:02d}" if short else str(d.year)


DATE_FORMS: tuple[Callable[[dt.date, bool, bool], str], ...] = (
    lambda d, abbr, short: f"{d.day} {_month(d, abbr)} {_year(d, short)}",
    lambda d, abbr, short: f"{_month(d, abbr)} {d.day}, {_year(d, short)}",
    lambda d, abbr, short: f"{ordinal(d.day)} of {_month(d, abbr)} {_year(d, short)}",
    lambda d, abbr, short: f"{DAYS[d.weekday()]}, {_month(d, abbr)} {d.day} {_year(d, short)}",
    lambda d, abbr, short: f"{d.day:02d}/{d.month:02d}/{_year(d, short)}",
    lambda d, abbr, short: f"{d.day}.{d.month}.{_year(d, short)}",
    lambda d, abbr, short: f"{_month(d, abbr).lower()} {ordinal(d.day)} {_year(d, short)}",
    lambda d, abbr, short: f"{DAYS[d.weekday()][:3]} {d.day} {_month(d, abbr).upper()} {d.year}",
)


def _month(d: dt.date, abbr: bool) -> str:
    name = MONTHS[d.month - 1]
    return name[:3] if abbr else name


def dates(n: int, seed: int) -> list[tuple[str, str]]:
    """n (written date, ISO date) pairs, days drawn uniformly from 1950 to 2049."""
    rng = np.random.default_rng([seed, 1])
    span = (LAST - FIRST).days + 1
    days = rng.integers(0, span, n)
    forms = rng.integers(0, len(DATE_FORMS), n)
    abbr = rng.random(n) < 0.4
    short = rng.random(n) < 0.3
    out = []
    for k, f, a, s in zip(
        days.tolist(), forms.tolist(), abbr.tolist(), short.tolist(), strict=True
    ):
        d = FIRST + dt.timedelta(days=int(k))
        out.append((DATE_FORMS[f](d, bool(a), bool(s)), d.isoformat()))
    return out


ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _below_100(n: int) -> str:
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + (f"-{ONES[ones]}" if ones else "")


def _below_1000(n: int, with_and: bool) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_100(rest)
    head = f"{ONES[hundreds]} hundred"
    if not rest:
        return head
    return f"{head} {'and ' if with_and else ''}{_below_100(rest)}"


def number_words(n: int, with_and: bool = True) -> str:
    """English words for 0 <= n < 1,000,000 (British "and" after hundreds when with_and)."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"{n} is outside 0..999,999")
    if n < 1000:
        return _below_1000(n, with_and)
    thousands, rest = divmod(n, 1000)
    head = f"{_below_1000(thousands, with_and)} thousand"
    if not rest:
        return head
    joiner = " and " if with_and and rest < 100 else " "
    return head + joiner + _below_1000(rest, with_and)


def numbers(n: int, seed: int) -> list[tuple[str, str]]:
    """n (number words, digits) pairs: a third below 100, a third below 10,000, the rest
    below 1,000,000 (so short and long numbers are both common); "and" in half of them."""
    rng = np.random.default_rng([seed, 2])
    tops = np.array([100, 10_000, 1_000_000])[rng.integers(0, 3, n)]
    values = (rng.random(n) * tops).astype(np.int64)
    with_and = rng.random(n) < 0.5
    return [
        (number_words(int(v), bool(a)), str(int(v)))
        for v, a in zip(values.tolist(), with_and.tolist(), strict=True)
    ]


TASKS: dict[str, tuple[Callable[[int, int], list[tuple[str, str]]], str]] = {
    "dates": (dates, "dates written out in one of eight forms, to ISO 8601 (YYYY-MM-DD)"),
    "number-words": (numbers, "English number words below a million, to digits"),
}
