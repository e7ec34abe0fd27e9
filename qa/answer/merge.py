"""Answers of several knowledge bases as one (``kb="*"``): the most confident found answer,
the passages of every base by score, each citation naming its base."""

from __future__ import annotations

import re
from dataclasses import replace

from qa.answer.answerer import Answer, Passage

_NUMBER = re.compile(r"^\[\d+\] ")


def cite_across(passages: list[Passage]) -> list[Passage]:
    """``passages`` renumbered in order, each citation naming its base
    (``[1] legal/合同.txt · 第3段 · 字符 …``)."""
    return [replace(p, citation=f"[{n}] {p.kb}/" + _NUMBER.sub("", p.citation))
            for n, p in enumerate(passages, 1)]


def merge_passages(by_kb: dict[str, list[Passage]], k: int) -> list[Passage]:
    """The ``k`` best passages of every base, by score (ties: base order), cited across."""
    pooled = [p for passages in by_kb.values() for p in passages]
    return cite_across(sorted(pooled, key=lambda p: -p.score)[:k])


def merge_answers(by_kb: dict[str, Answer], k: int) -> Answer:
    """One answer from each base's answer to the same question: the found answer of highest
    confidence (none found: the most confident refusal), its own passage first, then the
    others of every base by score, at most ``k``; ``generation`` names each base's."""
    if not by_kb:
        raise ValueError("no knowledge base to ask")
    answers = list(by_kb.values())
    found = [a for a in answers if a.found]
    best = max(found or answers, key=lambda a: a.confidence)
    own = best.passages[:1] if best.found else []
    rest = sorted((p for a in answers for p in a.passages if not (own and p is own[0])),
                  key=lambda p: -p.score)
    passages = cite_across([*own, *rest][:k])
    generation = ",".join(f"{kb}={a.generation}" for kb, a in by_kb.items())
    return replace(best, passages=passages, generation=generation)
