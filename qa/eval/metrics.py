"""What ``qa eval --squad`` and ``qa eval --genres`` ask of one answer, and their tables.

A passage *holds* a gold answer when it comes from the question's own file and contains one
of the gold strings (spaces and character widths aside: ``holds``); the answer sentence does
when ``found`` is true, it sits in that file and
contains one. A yes/no question is answered right when ``found`` is true and the short answer
is 是 (YES) or 否 (NO). A question the corpus does not answer is refused when ``found`` is false.
"""

from __future__ import annotations

import math
import statistics
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

from qa.answer.answerer import Answer

#: the short answer the engine gives to a yes/no question
YES_NO_SHORT = {"YES": "是", "NO": "否"}
NAN = float("nan")


def _bare(text: str) -> str:
    """``text`` in NFKC form without whitespace: a scan's OCR sees neither the space in
    "0571-8672 3018" nor the width of a comma, and neither changes what is said."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def holds(text: str, gold: Iterable[str]) -> bool:
    """Whether ``text`` holds one of the ``gold`` strings (``_bare`` on both sides)."""
    bare = _bare(text)
    return any(g and _bare(g) and _bare(g) in bare for g in gold)


def char_errors(truth: str, read: str) -> tuple[int, int]:
    """(edit distance, characters of the truth), whitespace ignored: a character error rate's
    numerator and denominator (OCR, ``bench/ocr.py``)."""
    a, b = "".join(truth.split()), "".join(read.split())
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1], len(a)


def first_hit(answer: Answer, source: str, gold: Iterable[str]) -> int | None:
    """1-based rank of the first passage of ``source`` holding a gold string, or None."""
    gold = [g for g in gold if g]
    return next((i for i, p in enumerate(answer.passages, 1)
                 if p.source == source and holds(p.text, gold)), None)


def sentence_holds(answer: Answer, source: str, gold: Iterable[str]) -> bool:
    """The answer sentence is found, comes from ``source`` and holds a gold string."""
    return answer.found and answer.span is not None and answer.span[0] == source \
        and holds(answer.text, gold)


def yes_no_right(answer: Answer, expected: str | None) -> bool:
    """``found``, and the short answer is 是 for "YES", 否 for "NO"."""
    want = YES_NO_SHORT.get(str(expected or "").upper())
    return want is not None and answer.found and (answer.short or "").strip() == want


def share(flags: Sequence[bool | float]) -> float:
    """The mean of ``flags``, NaN when there are none (shown as "-")."""
    return sum(flags) / len(flags) if flags else NAN


def latency(seconds: Sequence[float]) -> dict[str, float]:
    """The median and 95th percentile of ``seconds``, in milliseconds."""
    if not seconds:
        return {"p50 ms": 0.0, "p95 ms": 0.0}
    return {"p50 ms": 1000 * statistics.median(seconds),
            "p95 ms": 1000 * float(np.percentile(list(seconds), 95))}


def cell(column: str, value: float, width: int) -> str:
    """``value`` formatted for ``column``: counts and characters as integers, milliseconds
    with one decimal, shares with three, and "-" for a share over no questions."""
    if isinstance(value, float) and math.isnan(value):
        return f"{'-':>{width}}"
    if column == "n" or column.startswith("n "):
        return f"{int(value):>{width}d}"
    if column.endswith(" ms"):
        return f"{value:>{width}.1f}"
    if column.endswith(" chars"):
        return f"{value:>{width}.0f}"
    return f"{value:>{width}.3f}"


def render(heads: Sequence[tuple[str, int]], columns: Sequence[str],
           rows: Iterable[tuple[Sequence[str], dict[str, float]]]) -> str:
    """A plain-text table: label columns ``heads`` (name, width), then ``columns`` (each as
    wide as its name plus two, at least 8), one line per (labels, scores) of ``rows``."""
    widths = [max(8, len(c) + 2) for c in columns]
    head = "".join(f"{h:<{w}}" for h, w in heads) \
        + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    lines = [head, "-" * len(head)]
    for labels, scores in rows:
        lines.append("".join(f"{x:<{w}}" for x, (_, w) in zip(labels, heads, strict=True))
                     + "".join(cell(c, scores.get(c, NAN), w)
                               for c, w in zip(columns, widths, strict=True)))
    return "\n".join(lines)
